"""The summary of an inbound-reachability check."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analyzer.results.text import PeriodSummary


@dataclass
class InboundSummary(PeriodSummary):
    """The counts of an inbound check (``inbound_summary.json``)."""

    numbers: int = 0
    inbound_messages: int = 0
    #: Numbers by verdict.
    by_verdict: dict[str, int] = field(default_factory=dict)
    #: Inbound messages no webhook request answered (None: no server log given).
    unhandled_inbound: int | None = None
    webhook_alerts: int = 0
    #: Status callbacks the server log shows (None: no server log, or none it could show).
    callbacks_logged: int | None = None
    #: Outbound messages whose final status callback was looked for.
    callback_messages: int = 0
    #: Callback problems by kind (missing_final, refused, disagrees).
    callback_problems: dict[str, int] = field(default_factory=dict)
    period_start: datetime | None = None
    period_end: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
