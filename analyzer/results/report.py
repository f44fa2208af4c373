"""The report's own summary and its parts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from analyzer.results.duplicates import CrossrefSummary, LogFileSummary, MessageCounts
from analyzer.results.failures import FailuresSummary
from analyzer.results.optouts import OptoutsSummary
from analyzer.results.text import duplicate_rate, format_time, parse_time


@dataclass
class Span:
    """A stretch of time in results text (``start``, ``end``)."""

    start: str | None
    end: str | None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Span:
        """Read a span; times are brought to the results format."""
        return cls(format_time(data.get("start")), format_time(data.get("end")))

    def to_json(self) -> dict[str, str | None]:
        """The span as JSON-ready data."""
        return {"start": self.start, "end": self.end}


def coverage_spans(crossref: CrossrefSummary | None) -> list[Span]:
    """The stretches of time the request logs cover (none without logs)."""
    return [] if crossref is None else [Span.from_json(c) for c in crossref.log_coverage]


@dataclass
class MalformedLine:
    """One malformed server log line kept as an example."""

    line: int | None
    reason: str | None
    text: str | None

    @classmethod
    def of(cls, log: LogFileSummary) -> list[MalformedLine]:
        """The examples kept for this log file."""
        return [cls(s.get("line"), s.get("reason"), s.get("text")) for s in log.samples]


@dataclass
class SendOutcomes:
    """Logged message POSTs by outcome (``CrossrefSummary.sends_by_outcome``)."""

    accepted: int = 0
    possible: int = 0
    refused: int = 0

    @classmethod
    def of(cls, data: dict[str, int] | None) -> SendOutcomes | None:
        """Read ``sends_by_outcome``; None when there are none."""
        if not data:
            return None
        return cls(**{f.name: int(data.get(f.name, 0)) for f in fields(cls)})


@dataclass
class RequestIdSids:
    """Whether the logs' Request-Ids are Message SIDs (``CrossrefSummary.request_id_sids``)."""

    candidates: int = 0
    found: int = 0
    used: bool = False

    @classmethod
    def of(cls, data: dict[str, Any] | None) -> RequestIdSids:
        """Read ``request_id_sids`` (zero without logs)."""
        data = data or {}
        return cls(
            int(data.get("candidates", 0) or 0),
            int(data.get("found", 0) or 0),
            bool(data.get("used", False)),
        )


@dataclass
class CarrierSummary:
    """The reports an investigation wrote (``carrier.parquet``), by verdict."""

    reports: int = 0
    by_verdict: dict[str, int] = field(default_factory=dict)


#: The version of the report's own ``summary.json``.
REPORT_VERSION = 1


@dataclass
class ReportSummary(MessageCounts):
    """The numbers of a report (the report folder's ``summary.json``)."""

    report_version: int = REPORT_VERSION
    #: Extra messages per outbound message (a fraction, 6 decimals; 0 without messages).
    extra_share_of_outbound: float = 0.0
    by_verdict: dict[str, int] = field(default_factory=dict)
    extra_by_verdict: dict[str, int] = field(default_factory=dict)
    gap_patterns: dict[str, int] = field(default_factory=dict)
    window_seconds: float | None = None
    key: list[str] = field(default_factory=lambda: ["to", "body"])
    period_start: datetime | None = None
    period_end: datetime | None = None
    logs_given: bool = False
    match_mode: str | None = None
    skew_seconds: float | None = None
    skew_method: str | None = None
    skew_pairs: int | None = None
    skew_spread_seconds: float | None = None
    skew_confidence: str | None = None
    delay_band_seconds: list[float] | None = None
    sends_by_outcome: dict[str, int] = field(default_factory=dict)
    request_id_sids: dict[str, Any] = field(default_factory=dict)
    log_coverage: list[Span] = field(default_factory=list)
    uncovered_periods: list[Span] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    carrier: CarrierSummary | None = None
    redacted: bool = False
    source: str | None = None
    headline: str = ""
    #: The delivery-failure analysis's counts, when the results folder holds them.
    failures: FailuresSummary | None = None
    #: The opt-out analysis's counts, when the results folder holds them.
    optouts: OptoutsSummary | None = None

    _TIMES: ClassVar[tuple[str, ...]] = ("period_start", "period_end")
    _SPANS: ClassVar[tuple[str, ...]] = ("log_coverage", "uncovered_periods")

    @property
    def duplicate_rate(self) -> float | None:
        """Extra messages per outbound message (a fraction)."""
        return duplicate_rate(self.extra_messages, self.outbound_messages)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data, in the shape of the report's ``summary.json``."""
        data: dict[str, Any] = {"report_version": self.report_version}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name in self._TIMES:
                value = format_time(value)
            elif item.name in self._SPANS:
                value = [span.to_json() for span in value]
            elif isinstance(value, CarrierSummary):
                value = asdict(value)
            elif isinstance(value, FailuresSummary | OptoutsSummary):
                value = value.to_json()
            data[item.name] = value
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ReportSummary:
        """Read the data of a report's ``summary.json`` (unknown keys are ignored)."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in cls._TIMES:
            if values.get(name):
                values[name] = parse_time(str(values[name]))
        for name in cls._SPANS:
            values[name] = [Span.from_json(span) for span in values.get(name) or []]
        if values.get("carrier") is not None:
            values["carrier"] = CarrierSummary(**values["carrier"])
        if values.get("failures") is not None:
            values["failures"] = FailuresSummary.from_json(values["failures"])
        if values.get("optouts") is not None:
            values["optouts"] = OptoutsSummary.from_json(values["optouts"])
        return cls(**values)

    def to_text(self) -> str:
        """The text of ``summary.json`` (UTF-8 kept as is, as the report writes it)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> ReportSummary:
        """Read a report's ``summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
