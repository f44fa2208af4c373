"""The summaries of a duplicate detection, its cross-reference and an investigation."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.results.text import duplicate_rate, format_time, parse_time, write_json


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
