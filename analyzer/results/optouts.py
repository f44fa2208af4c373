"""The summary of an opt-out analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from analyzer.results.text import PeriodSummary


@dataclass
class OptoutsSummary(PeriodSummary):
    """The counts of an opt-out analysis (``optouts_summary.json``)."""

    inbound_messages: int = 0
    outbound_messages: int = 0
    #: Keyword messages by kind (opt_out, opt_in, help).
    events_by_kind: dict[str, int] = field(default_factory=dict)
    #: (scope, recipient) pairs opted out at the end of the period.
    opted_out_at_end: int = 0
    blocked: int = 0
    sent_after_opt_out: int = 0
    inferred_opt_outs: int = 0
    #: Opt-ins that ended an opt-out.
    re_opt_ins: int = 0
    near_misses: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)
