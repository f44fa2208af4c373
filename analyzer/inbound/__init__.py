"""The inbound-reachability analysis: whether inbound messages reach the application.

``check`` resolves each number's webhook and judges it against the inbound records,
the server log and Twilio's alerts.
"""

from __future__ import annotations

from analyzer.inbound.callbacks import (
    CALLBACK_COLUMNS,
    CallbackCheck,
    callback_paths,
    check_callbacks,
)
from analyzer.inbound.check import (
    DEMO_URLS,
    NO_RECEIVED_REQUESTS,
    NUMBER_COLUMNS,
    VERDICTS,
    WEBHOOK_ALERTS,
    InboundCheck,
    check_numbers,
    resolve_webhooks,
    webhook_path,
)
from analyzer.inbound.received import Received, not_sends, received_requests

__all__ = [
    "CALLBACK_COLUMNS",
    "NO_RECEIVED_REQUESTS",
    "CallbackCheck",
    "callback_paths",
    "check_callbacks",
    "DEMO_URLS",
    "NUMBER_COLUMNS",
    "VERDICTS",
    "Received",
    "not_sends",
    "received_requests",
    "WEBHOOK_ALERTS",
    "InboundCheck",
    "check_numbers",
    "resolve_webhooks",
    "webhook_path",
]
