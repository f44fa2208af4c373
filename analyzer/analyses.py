"""The analyses the jobs run, registered by name.

An analysis reads the message records (and the request logs where it uses them)
and returns tables and a summary, written into a results folder that the report
turns into its section. Duplicates is the first. Adding one is adding its package
(its run over messages, its results, its report section) and registering it here
with an adapter that reads its inputs; the pipeline, nightly, the Python API and
the report go through this registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from analyzer.atomic import ensure_output_dir, write_parquet, write_text
from analyzer.duplicates.crossref import CrossReference, cross_reference
from analyzer.duplicates.detect import DEFAULT_KEY, Detection, detect_columns
from analyzer.engines import detect
from analyzer.errors import InputError
from analyzer.feedback import Feedback, Silent
from analyzer.logs import LogParseResult, read_server_logs
from analyzer.options import DetectOptions, EngineOptions, LogOptions
from analyzer.results import (
    CLUSTERS_FILE,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    CrossrefSummary,
    LogFileSummary,
    format_time,
    time_from_micros,
    write_json,
)
from analyzer.store import read_messages

#: Message columns the cross-reference needs.
CROSSREF_COLUMNS = ["sid", "to", "direction", "date_created", "status"]


class Summary(Protocol):
    """An analysis's counts, as written to its summary file."""

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""


@dataclass
class AnalysisInput:
    """What an analysis reads: the messages, the period, the request logs, the options."""

    source: str | Path
    start: date | datetime | str | None = None
    end: date | datetime | str | None = None
    #: Only what starts on this UTC day (the days around it are read to see it whole).
    day: date | None = None
    logs: LogOptions = field(default_factory=LogOptions)
    options: DetectOptions = field(default_factory=DetectOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    #: Whether an empty period is a result (nightly) rather than an error.
    allow_empty: bool = False
    feedback: Feedback = field(default_factory=Silent)

    @property
    def read_period(self) -> tuple[Any, Any]:
        """The days read: the range, or the day with its neighbours."""
        if self.day is not None:
            return self.day - timedelta(days=1), self.day + timedelta(days=1)
        return self.start, self.end


@dataclass
class AnalysisResult:
    """An analysis's tables and summary, and how to write them."""

    name: str
    #: Results file name → table (Parquet) or text (CSV and the like).
    files: dict[str, pa.Table | str]
    summary: Summary
    summary_file: str
    #: What the analysis worked with, for callers that want more than the files.
    detail: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> Path:
        """Write every file of the result into ``out_dir``, each atomically."""
        out = ensure_output_dir(out_dir)
        for name, content in self.files.items():
            if isinstance(content, pa.Table):
                write_parquet(content, out / name)
            else:
                write_text(content, out / name)
        write_json(self.summary.to_json(), out / self.summary_file)
        return out


@dataclass(frozen=True)
class Analysis:
    """A registered analysis."""

    name: str
    title: str
    #: The message columns it reads.
    columns: tuple[str, ...]
    run: Callable[[AnalysisInput], AnalysisResult]


def _range_text(start: object, end: object) -> str:
    if start is None and end is None:
        return ""
    return f" between {start or 'the start'} and {end or 'the end'}"


def run_duplicates(given: AnalysisInput) -> AnalysisResult:
    """Find duplicate clusters and, with request logs, judge who caused each."""
    detection = detect(
        given.source,
        given.options,
        given.engine,
        start=given.start,
        end=given.end,
        day=given.day,
        feedback=given.feedback,
    )
    start, end = given.read_period
    if detection.summary.messages == 0 and not given.allow_empty:
        raise InputError(f"no message records in {given.source}" + _range_text(start, end))
    logs: LogParseResult | None = None
    crossref: CrossReference | None = None
    if given.logs.paths:
        logs, crossref = _cross_reference(given, detection)
        detection.clusters = crossref.clusters
        detection.summary.crossref = crossref_summary(crossref, logs)
    detection.summary.source = str(given.source)
    return AnalysisResult(
        name="duplicates",
        files={
            CLUSTERS_FILE: detection.clusters,
            SENSITIVITY_FILE: detection.sensitivity.to_csv(index=False),
        },
        summary=detection.summary,
        summary_file=SUMMARY_FILE,
        detail={"detection": detection, "crossref": crossref, "logs": logs},
    )


def _cross_reference(
    given: AnalysisInput, detection: Detection
) -> tuple[LogParseResult, CrossReference]:
    given.feedback.step("Reading server logs (lines)")
    logs = read_server_logs(
        list(given.logs.paths),
        format=given.logs.format,
        log_tz=given.logs.tz,
        fields=given.logs.field_map or None,
        progress=given.feedback.advance,
    )
    given.feedback.step("Cross-referencing")
    start, end = given.read_period
    messages = read_messages(
        given.source, start=start, end=end, columns=CROSSREF_COLUMNS, dictionary=["direction"]
    )
    crossref = cross_reference(
        detection.clusters,
        logs.requests,
        messages,
        formats={f.path: f.format for f in logs.files},
        skew=given.options.skew,
        tolerance=given.options.tolerance,
    )
    return logs, crossref


def crossref_summary(crossref: CrossReference, logs: LogParseResult) -> CrossrefSummary:
    """Summarise a cross-reference and the logs behind it."""
    coverage = crossref.coverage
    skew = crossref.skew
    band = crossref.delay_band
    return CrossrefSummary(
        by_verdict=crossref.by_verdict,
        warnings=[*logs.warnings, *crossref.warnings],
        match_mode=crossref.mode,
        skew_seconds=round(skew.seconds, 3),
        skew_method=skew.method,
        skew_pairs=skew.pairs,
        skew_spread_seconds=None if skew.spread is None else round(skew.spread, 3),
        skew_confidence=skew.confidence,
        skew_note=skew.note,
        delay_band_seconds=None if band is None else [round(band[0], 3), round(band[1], 3)],
        delay_band_method=crossref.delay_band_method,
        sends_by_outcome=crossref.sends,
        request_id_sids={k: v for k, v in crossref.request_ids.items() if k != "note"},
        log_coverage=[
            {"start": time_from_micros(start), "end": time_from_micros(end)}
            for start, end in zip(coverage["start"], coverage["end"], strict=True)
        ],
        logs=[
            LogFileSummary(
                path=f.path,
                format=f.format,
                lines=f.lines,
                requests=f.requests,
                sends=f.sends,
                malformed=f.malformed,
                samples=[asdict(sample) for sample in f.samples],
                first_time=format_time(f.first_time),
                last_time=format_time(f.last_time),
                time_source=f.time_source,
                offset_corrected_seconds=f.offset_corrected_seconds,
                tunnels=f.tunnels,
                warnings=list(f.warnings),
            )
            for f in logs.files
        ],
    )


DUPLICATES = Analysis(
    name="duplicates",
    title="Duplicate messages",
    columns=tuple(detect_columns(DEFAULT_KEY)),
    run=run_duplicates,
)

#: Every analysis, in the order the jobs run them and the report shows them.
ANALYSES: dict[str, Analysis] = {a.name: a for a in (DUPLICATES,)}
