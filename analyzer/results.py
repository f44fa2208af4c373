"""The results contract: the files a job writes, the typed summary, one time format.

Whoever writes a results folder and whoever reads one (the report, nightly's history,
the Python API) go through this module, so a file name or a summary key is written
once, here.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, ClassVar

from analyzer.atomic import write_text
from analyzer.vocabulary import FailureCategory

# The files the jobs write, by name.
#: `analyzer detect`: every duplicate cluster, the window sensitivity table, the counts.
CLUSTERS_FILE = "clusters.parquet"
SENSITIVITY_FILE = "sensitivity.csv"
SUMMARY_FILE = "summary.json"
#: `analyzer investigate --out`: one row per report, and the whole investigation.
CARRIER_FILE = "carrier.parquet"
INVESTIGATION_FILE = "investigation.json"
#: `analyzer report`: the page, its Markdown twin, the clusters for spreadsheets, the ticket.
REPORT_HTML_FILE = "index.html"
REPORT_MD_FILE = "report.md"
REPORT_CSV_FILE = "clusters.csv"
TICKET_FILE = "ticket.md"
CHARTS_DIR = "charts"
#: `analyzer nightly`: the history page in the reports folder.
HISTORY_FILE = "index.html"
#: `analyzer failures`: one row per failed or undelivered record, the counts, the
#: recipients to suppress, and the rollups (CSV, one row per group).
FAILURES_FILE = "failures.parquet"
FAILURES_SUMMARY_FILE = "failures_summary.json"
SUPPRESS_FILE = "recipients_to_suppress.csv"
FAILURES_BY_DAY_FILE = "failures_by_day.csv"
FAILURES_BY_CODE_DAY_FILE = "failures_by_code_day.csv"
FAILURES_BY_SENDER_FILE = "failures_by_sender.csv"
FAILURES_BY_SERVICE_FILE = "failures_by_service.csv"
FAILURES_BY_COUNTRY_FILE = "failures_by_country.csv"
#: The columns of each failures CSV in file order, and those that hold text (numbers
#: such as ``+4477…`` and codes such as ``30007`` stay text when read back).
FAILURE_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    FAILURES_BY_DAY_FILE: (
        ("day", "outbound_messages", "failures", *(c.value for c in FailureCategory)),
        ("day",),
    ),
    FAILURES_BY_CODE_DAY_FILE: (
        ("day", "error_code", "category", "failures"),
        ("day", "error_code", "category"),
    ),
    FAILURES_BY_SENDER_FILE: (("from", "outbound_messages", "failures", "failure_rate"), ("from",)),
    FAILURES_BY_SERVICE_FILE: (
        ("messaging_service_sid", "outbound_messages", "failures", "failure_rate"),
        ("messaging_service_sid",),
    ),
    FAILURES_BY_COUNTRY_FILE: (
        ("calling_code", "outbound_messages", "failures", "failure_rate"),
        ("calling_code",),
    ),
    SUPPRESS_FILE: (
        ("recipient", "opted_out", "attempts", "last_error_code", "last_failed_at"),
        ("recipient", "last_error_code", "last_failed_at"),
    ),
}


def format_time(value: datetime | date | str | None) -> str | None:
    """A time as results text: ISO 8601 in UTC with a ``Z`` (fractions of a second only
    when there are some, in milliseconds where they suffice); a date stays ``YYYY-MM-DD``;
    None stays None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = parse_time(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        micros = value.microsecond
        spec = "microseconds" if micros % 1000 else "milliseconds" if micros else "seconds"
        return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    return value.isoformat()


def duration_text(seconds: float) -> str:
    """A span of seconds in words: ``1 min``, ``6 h``, ``45 s``, ``90 min``."""
    seconds = float(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def time_from_micros(us: int) -> str:
    """A time given in microseconds since the epoch, as results text."""
    text = format_time(datetime.fromtimestamp(int(us) / 1e6, tz=UTC))
    assert text is not None
    return text


def parse_time(text: str) -> datetime:
    """Read a results time (``Z`` or ``+00:00``, as older results wrote) as aware UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def write_json(data: Any, path: Path) -> None:
    """Write JSON data atomically; times in the results format, arrays as lists."""
    write_text(json.dumps(data, indent=2, default=_json_default) + "\n", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return format_time(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def duplicate_rate(extra_messages: int, outbound_messages: int) -> float | None:
    """Extra messages per outbound message, as a fraction; None without outbound messages."""
    return extra_messages / outbound_messages if outbound_messages else None


def percent(fraction: float | None, digits: int = 3) -> str:
    """A fraction as percentage text (``–`` for None)."""
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}%"


@dataclass
class LogFileSummary:
    """What was read from one server log file."""

    path: str
    format: str | None
    lines: int = 0
    requests: int = 0
    sends: int = 0
    malformed: int = 0
    #: Malformed lines kept as examples: ``line``, ``reason``, ``text``.
    samples: list[dict[str, Any]] = field(default_factory=list)
    first_time: str | None = None
    last_time: str | None = None
    time_source: str | None = None
    offset_corrected_seconds: float = 0.0
    tunnels: int = 0
    warnings: list[str] = field(default_factory=list)


@dataclass
class CrossrefSummary:
    """How the clusters were checked against the application's request logs."""

    by_verdict: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    match_mode: str = "none"
    skew_seconds: float = 0.0
    skew_method: str = "none"
    skew_pairs: int = 0
    skew_spread_seconds: float | None = None
    skew_confidence: str | None = None
    skew_note: str = ""
    #: The learned band of POST-to-record delays, [low, high] seconds.
    delay_band_seconds: list[float] | None = None
    delay_band_method: str | None = None
    #: Logged POSTs by outcome (accepted, possible, refused).
    sends_by_outcome: dict[str, int] = field(default_factory=dict)
    #: Whether the logs' Request-Ids are Message SIDs: candidates, found, used.
    request_id_sids: dict[str, Any] = field(default_factory=dict)
    #: The stretches of time the logs cover: ``start``, ``end``.
    log_coverage: list[dict[str, str | None]] = field(default_factory=list)
    logs: list[LogFileSummary] = field(default_factory=list)


_CROSSREF_KEYS = tuple(f.name for f in fields(CrossrefSummary))


@dataclass
class MessageCounts:
    """The counts every duplicate summary starts with; they add up over parts of a
    detection (days, partitions)."""

    messages: int = 0
    outbound_messages: int = 0
    skipped_no_body: int = 0
    skipped_not_sent: int = 0
    candidate_messages: int = 0
    duplicate_clusters: int = 0
    records_in_clusters: int = 0
    extra_messages: int = 0
    extra_reached_handset: int = 0


#: The names of the counts, in file order.
COUNTS: tuple[str, ...] = tuple(f.name for f in fields(MessageCounts))


@dataclass
class DuplicatesSummary(MessageCounts):
    """The counts of a duplicate detection (``summary.json``)."""

    window_seconds: float = 0.0
    key: list[str] = field(default_factory=lambda: ["to", "body"])
    period_start: datetime | None = None
    period_end: datetime | None = None
    #: Present when server logs were given.
    crossref: CrossrefSummary | None = None
    #: The messages file or dataset analysed.
    source: str | None = None

    @property
    def duplicate_rate(self) -> float | None:
        """Extra messages per outbound message (a fraction)."""
        return duplicate_rate(self.extra_messages, self.outbound_messages)

    @property
    def by_verdict(self) -> dict[str, int]:
        """Clusters per verdict; empty without server logs."""
        return {} if self.crossref is None else self.crossref.by_verdict

    @property
    def warnings(self) -> list[str]:
        """Problems with the inputs worth a reader's attention."""
        return [] if self.crossref is None else self.crossref.warnings

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data, in the shape of ``summary.json``."""
        data: dict[str, Any] = {name: getattr(self, name) for name in COUNTS}
        data["window_seconds"] = float(self.window_seconds)
        data["key"] = list(self.key)
        if self.period_start is not None and self.period_end is not None:
            data["period_start"] = format_time(self.period_start)
            data["period_end"] = format_time(self.period_end)
        if self.crossref is not None:
            data.update(asdict(self.crossref))
        if self.source is not None:
            data["source"] = self.source
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DuplicatesSummary:
        """Read the data of a ``summary.json`` (unknown keys are ignored)."""
        plain = {
            f.name: data[f.name]
            for f in fields(cls)
            if f.name in data and f.name not in ("crossref", "period_start", "period_end")
        }
        summary = cls(**plain)
        for name in ("period_start", "period_end"):
            if data.get(name):
                setattr(summary, name, parse_time(str(data[name])))
        if "by_verdict" in data or "match_mode" in data:
            crossref = {k: data[k] for k in _CROSSREF_KEYS if k in data and data[k] is not None}
            crossref["logs"] = [LogFileSummary(**log) for log in data.get("logs") or []]
            summary.crossref = CrossrefSummary(**crossref)
        return summary

    def write(self, path: Path) -> None:
        """Write the summary as JSON, atomically."""
        write_json(self.to_json(), path)

    @classmethod
    def read(cls, path: Path) -> DuplicatesSummary:
        """Read a ``summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


#: The columns of ``sensitivity.csv``: clusters and extra messages at each window.
SENSITIVITY_COLUMNS = (
    "window_seconds",
    "duplicate_clusters",
    "extra_messages",
    "records_in_clusters",
    "selected",
)
#: Of those, the counts that add up over parts of a detection.
SENSITIVITY_COUNTS = SENSITIVITY_COLUMNS[1:4]


@dataclass
class InvestigationSummary:
    """What ``investigation.json`` holds: verdict counts, the escalation, every report."""

    by_verdict: dict[str, int]
    escalate: bool
    escalation: str
    reports: list[dict[str, Any]]

    def write(self, path: Path) -> None:
        """Write the investigation as JSON, atomically."""
        write_json(asdict(self), path)


def short_percent(fraction: float | None) -> str:
    """A fraction as short percentage text for prose: two significant digits below 1 %,
    whole percents above (``0%`` for none or None)."""
    if not fraction or fraction <= 0:
        return "0%"
    share = 100.0 * fraction
    return f"{share:.2g}%" if share < 1 else f"{share:.0f}%"


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
            elif isinstance(value, FailuresSummary):
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
        return cls(**values)

    def to_text(self) -> str:
        """The text of ``summary.json`` (UTF-8 kept as is, as the report writes it)."""
        return json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def read(cls, path: Path) -> ReportSummary:
        """Read a report's ``summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))


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
class FailuresSummary:
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

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data, in the shape of ``failures_summary.json``."""
        data = asdict(self)
        data["period_start"] = format_time(self.period_start)
        data["period_end"] = format_time(self.period_end)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailuresSummary:
        """Read the data of a ``failures_summary.json`` (unknown keys are ignored)."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("period_start", "period_end"):
            if values.get(name):
                values[name] = parse_time(str(values[name]))
        if values.get("rejected_requests") is not None:
            values["rejected_requests"] = RejectedRequests(**values["rejected_requests"])
        values["jumps"] = [FailureJump(**jump) for jump in values.get("jumps") or []]
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> FailuresSummary:
        """Read a ``failures_summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
