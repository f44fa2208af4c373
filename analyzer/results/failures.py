"""The summary of a delivery-failure analysis."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from analyzer.results.text import PeriodSummary


@dataclass
class FailureJump:
    """A day on which an error code came far more often than in the days before."""

    error_code: str
    category: str
    day: str
    count: int
    #: Mean daily count over the days before (up to a week).
    baseline: float


@dataclass
class RejectedRequests:
    """The application's POSTs to Messages.json that Twilio answered with a 4xx."""

    posts: int = 0
    rejected: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    #: Twilio error codes where the log carries them (``unknown`` where it does not).
    by_error_code: dict[str, int] = field(default_factory=dict)


@dataclass
class FailuresSummary(PeriodSummary):
    """The counts of a delivery-failure analysis (``failures_summary.json``)."""

    outbound_messages: int = 0
    failed: int = 0
    undelivered: int = 0
    by_error_code: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    #: None without server logs.
    rejected_requests: RejectedRequests | None = None
    recipients_to_suppress: int = 0
    jumps: list[FailureJump] = field(default_factory=list)
    period_start: datetime | None = None
    period_end: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        """Records that did not arrive: failed plus undelivered."""
        return self.failed + self.undelivered

    @property
    def failure_rate(self) -> float | None:
        """Failures per outbound message (a fraction)."""
        return self.failures / self.outbound_messages if self.outbound_messages else None

    @classmethod
    def _parts(cls, values: dict[str, Any]) -> dict[str, Any]:
        if values.get("rejected_requests") is not None:
            values["rejected_requests"] = RejectedRequests(**values["rejected_requests"])
        values["jumps"] = [FailureJump(**jump) for jump in values.get("jumps") or []]
        return values
