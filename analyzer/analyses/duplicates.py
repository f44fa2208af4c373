"""The duplicates analysis as the jobs run it: detection on an engine, then, with
request logs, the cross-reference that gives each cluster a verdict."""

from __future__ import annotations

from dataclasses import asdict

import pyarrow as pa

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult
from analyzer.duplicates.crossref import (
    CrossReference,
    IncompleteLog,
    LogScope,
    cross_reference,
)
from analyzer.duplicates.detect import DEFAULT_KEY, Detection, detect_columns
from analyzer.engines import cross_reference_on_dask, detect
from analyzer.errors import InputError
from analyzer.logs import LogParseResult
from analyzer.results import (
    CLUSTERS_FILE,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    CrossrefSummary,
    LogFileSummary,
    format_time,
    time_from_micros,
)
from analyzer.store import read_messages

#: Message columns the cross-reference needs.
CROSSREF_COLUMNS = ["sid", "to", "direction", "date_created", "status"]


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
    start, end = given.read_period
    if given.engine.name == "dask":  # time partitions on the cluster's workers
        logs = given.parsed_logs()
        given.feedback.step("Cross-referencing")
        return logs, cross_reference_on_dask(
            detection.clusters,
            logs.requests,
            given.engine,
            source=given.source,
            period=(start, end),
            formats={f.path: f.format for f in logs.files},
            skew=given.options.skew,
            tolerance=given.options.tolerance,
        )
    messages = read_messages(
        given.source, start=start, end=end, columns=CROSSREF_COLUMNS, dictionary=["direction"]
    )
    # Only the request rows the clusters can need are kept from the logs (and those the
    # job's other analyses read), unless the log proves to need every row.
    logs = given.parsed_logs(LogScope(detection.clusters, messages))
    given.feedback.step("Cross-referencing")
    try:
        return logs, _judged(detection, logs, messages, given)
    except IncompleteLog:
        logs = given.reread_logs()
        given.feedback.step("Cross-referencing")
        return logs, _judged(detection, logs, messages, given)


def _judged(
    detection: Detection, logs: LogParseResult, messages: pa.Table, given: AnalysisInput
) -> CrossReference:
    return cross_reference(
        detection.clusters,
        logs.requests,
        messages,
        formats={f.path: f.format for f in logs.files},
        skew=given.options.skew,
        tolerance=given.options.tolerance,
        timeline=logs.timeline,
    )


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
    # Detection and the cross-reference each go to the engine on their own.
    spreads_itself=True,
)
