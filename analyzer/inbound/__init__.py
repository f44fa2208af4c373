"""The inbound-reachability analysis: whether inbound messages reach the application.

``check`` resolves each number's webhook and judges it against the inbound records,
the server log and Twilio's alerts.
"""

from __future__ import annotations

from analyzer.inbound.check import (
    DEMO_URLS,
    NUMBER_COLUMNS,
    VERDICTS,
    WEBHOOK_ALERTS,
    InboundCheck,
    check_numbers,
    resolve_webhooks,
    webhook_path,
)

__all__ = [
    "DEMO_URLS",
    "NUMBER_COLUMNS",
    "VERDICTS",
    "WEBHOOK_ALERTS",
    "InboundCheck",
    "check_numbers",
    "resolve_webhooks",
    "webhook_path",
]
