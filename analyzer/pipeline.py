"""Jobs that chain the library's steps: read, detect, write results."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Protocol

import pandas as pd
import pyarrow as pa

from analyzer.atomic import ensure_output_dir, write_parquet, write_text
from analyzer.crossref import DEFAULT_TOLERANCE, CrossReference, cross_reference
from analyzer.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    LOW_CARDINALITY,
    SENSITIVITY_WINDOWS,
    Detection,
    combine_detections,
    detect_batches,
    detect_columns,
    find_duplicates,
)
from analyzer.errors import InputError
from analyzer.investigate import (
    DEFAULT_AFTER,
    DEFAULT_BEFORE,
    Investigation,
    investigate,
    report_rows,
)
from analyzer.logs import LogParseResult, read_server_logs
from analyzer.paths import check_output
from analyzer.results import (
    CARRIER_FILE,
    CLUSTERS_FILE,
    INVESTIGATION_FILE,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    CrossrefSummary,
    LogFileSummary,
    format_time,
    time_from_micros,
    write_json,
)
from analyzer.store import as_day, list_days, read_messages, scan_messages


class Feedback(Protocol):
    """Where a long job reports what it is doing (a progress bar, a log)."""

    def step(self, name: str, total: int | None = None) -> None:
        """A new step begins; ``total`` is its amount of work in records, if known."""

    def advance(self, amount: int) -> None:
        """``amount`` more records of the current step are done."""


class _Silent:
    def step(self, name: str, total: int | None = None) -> None:
        pass

    def advance(self, amount: int) -> None:
        pass


#: Message columns the cross-reference needs.
CROSSREF_COLUMNS = ["sid", "to", "direction", "date_created", "status"]


@dataclass
class DetectRun:
    """A finished detection job and where its results were written."""

    detection: Detection
    out_dir: Path
    crossref: CrossReference | None = None
    logs: LogParseResult | None = None

    @property
    def clusters_path(self) -> Path:
        return self.out_dir / CLUSTERS_FILE


def run_detect(
    source: str | Path,
    out_dir: str | Path,
    *,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    server_logs: Sequence[str | Path] = (),
    log_format: str = "auto",
    log_tz: str = "UTC",
    log_fields: Mapping[str, str] | None = None,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    day: date | None = None,
    allow_empty: bool = False,
    engine: str = "pandas",
    scheduler: str | None = None,
    partitions: int | None = None,
    feedback: Feedback | None = None,
) -> DetectRun:
    """Read messages, find duplicate clusters and write the results to ``out_dir``.

    With ``server_logs``, every cluster also gets a verdict from the application's
    request logs (see analyzer.crossref). Writes ``clusters.parquet`` (duplicate
    clusters only), ``sensitivity.csv`` and ``summary.json``. Raises InputError
    when there is nothing to analyse. With ``day``, only the clusters that start
    on that UTC day are kept (the days around it are read to see them whole).
    """
    # Before any long work: a bad output folder should not cost a night's run.
    check_output(out_dir, source)
    report = feedback or _Silent()
    if engine == "dask":
        if day is not None:
            raise InputError("the dask engine analyses date ranges; use --start/--end")
        from analyzer.dask_engine import dask_client, detect_dask

        with dask_client(scheduler) as client:
            detection = detect_dask(
                source,
                client=client,
                window=window,
                key=key,
                start=start,
                end=end,
                partitions=partitions,
            )
    elif engine == "pandas":
        detection = detect_path(
            source, window=window, key=key, start=start, end=end, day=day, feedback=report
        )
    else:
        raise InputError(f"unknown engine {engine!r}: expected pandas or dask")
    if day is not None:
        start, end = day - timedelta(days=1), day + timedelta(days=1)
    if detection.summary.messages == 0 and not allow_empty:
        raise InputError(f"no message records in {source}" + _range_text(start, end))
    logs: LogParseResult | None = None
    crossref: CrossReference | None = None
    if server_logs:
        report.step("Reading server logs (lines)")
        logs = read_server_logs(
            server_logs,
            format=log_format,
            log_tz=log_tz,
            fields=log_fields,
            progress=report.advance,
        )
        report.step("Cross-referencing")
        messages = read_messages(
            source, start=start, end=end, columns=CROSSREF_COLUMNS, dictionary=["direction"]
        )
        crossref = cross_reference(
            detection.clusters,
            logs.requests,
            messages,
            formats={f.path: f.format for f in logs.files},
            skew=skew,
            tolerance=tolerance,
        )
        detection.clusters = crossref.clusters
        detection.summary.crossref = crossref_summary(crossref, logs)
        del messages
    report.step("Writing results")
    out = Path(out_dir)
    write_detection(detection, out, source=source)
    return DetectRun(detection=detection, out_dir=out, crossref=crossref, logs=logs)


def detect_path(
    source: str | Path,
    *,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    day: date | None = None,
    feedback: Feedback | None = None,
) -> Detection:
    """Find duplicates in a Parquet file or dataset, reading it batch by batch.

    Memory holds compact per-record keys, not the records; only the records of
    duplicate clusters are read in full. On a dataset, the days are analysed one
    at a time, each with the days around it, and the results added up: memory
    stays that of a few days however long the range. With ``day``, only the
    clusters that start on that UTC day are kept.
    """
    report = feedback or _Silent()
    if day is not None:
        return _detect_day(source, day, window=window, key=key, feedback=report)
    days = _days_of(source)
    first, last = as_day(start), as_day(end)
    selected = [
        date.fromisoformat(d)
        for d in days
        if (first is None or d >= first.isoformat()) and (last is None or d <= last.isoformat())
    ]
    if len(selected) > 1:
        parts = [_detect_day(source, d, window=window, key=key, feedback=report) for d in selected]
        return combine_detections(parts, window=window, key=key)
    return _detect_range(source, window=window, key=key, start=start, end=end, feedback=report)


def _detect_day(
    source: str | Path, day: date, *, window: float, key: Sequence[str], feedback: Feedback
) -> Detection:
    """Clusters that start on ``day``, read with enough of the days around to see them whole."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    focus = (_us(midnight), _us(midnight + timedelta(days=1)))
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    # Every record a window or less before the day is read, so a run that seems to
    # start on the day really does.
    before = max(1, math.ceil(widest / 86_400))
    after = 1
    while True:
        last = day + timedelta(days=after)
        detection = _detect_range(
            source,
            window=window,
            key=key,
            start=day - timedelta(days=before),
            end=last,
            focus=focus,
            feedback=feedback,
            label=f"Finding duplicates on {day.isoformat()}",
        )
        read_end = _us(midnight + timedelta(days=after + 1))
        # A run that starts on the day and comes within a window of the end of what
        # was read may go on beyond it: read one more day.
        reaches_end = detection.reach is not None and detection.reach + widest * 1e6 >= read_end
        if not reaches_end or not any(d > last.isoformat() for d in _days_of(source)):
            return detection
        after += 1


def _days_of(source: str | Path) -> list[str]:
    return list_days(source) if Path(source).is_dir() else []


def _detect_range(
    source: str | Path,
    *,
    window: float,
    key: Sequence[str],
    start: date | datetime | str | None,
    end: date | datetime | str | None,
    focus: tuple[int | None, int | None] = (None, None),
    feedback: Feedback | None = None,
    label: str = "Finding duplicates",
) -> Detection:
    scan = scan_messages(
        source, start, end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
    )
    report = feedback or _Silent()
    report.step(label, scan.rows)
    detection = detect_batches(
        scan.batches,
        window=window,
        key=key,
        bounds=scan.bounds,
        focus=focus,
        progress=report.advance,
    )
    if detection is None:  # a hash collision: compare the keys themselves, in memory
        messages = read_messages(
            source, start=start, end=end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
        )
        detection = find_duplicates(messages, window=window, key=key, focus=focus)
    return detection


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * 1_000_000


def run_investigate(
    dataset: str | Path,
    complaints: pd.DataFrame,
    *,
    server_logs: Sequence[str | Path] = (),
    log_format: str = "auto",
    log_tz: str = "UTC",
    log_fields: Mapping[str, str] | None = None,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
    window: float | None = None,
    out_dir: str | Path | None = None,
) -> Investigation:
    """Investigate reported duplicates against a message dataset (and request logs).

    With ``out_dir``, writes ``carrier.parquet`` (one row per report) and
    ``investigation.json`` there.
    """
    if complaints.empty:
        raise InputError("no reports to investigate")
    if out_dir is not None:
        check_output(out_dir, dataset)
    first = complaints["reported_at"].min() - before
    last = complaints["reported_at"].max() + after
    messages = read_messages(
        dataset, start=first.date(), end=last.date(), columns=detect_columns(DEFAULT_KEY)
    )
    requests: pa.Table | None = None
    formats: dict[str, str | None] | None = None
    if server_logs:
        logs = read_server_logs(server_logs, format=log_format, log_tz=log_tz, fields=log_fields)
        requests, formats = logs.requests, {f.path: f.format for f in logs.files}
    found = investigate(
        messages,
        complaints,
        requests=requests,
        formats=formats,
        window=window,
        before=before,
        after=after,
        skew=skew,
        tolerance=tolerance,
    )
    if out_dir is not None:
        out = ensure_output_dir(out_dir)
        frame = found.reports.copy()
        frame["reported_at"] = frame["reported_at"].dt.as_unit("us")
        write_parquet(pa.Table.from_pandas(frame, preserve_index=False), out / CARRIER_FILE)
        document = {
            "by_verdict": found.by_verdict,
            "escalate": found.escalate,
            "escalation": found.escalation,
            "reports": report_rows(found),
        }
        write_json(document, out / INVESTIGATION_FILE)
    return found


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


def write_detection(
    detection: Detection, out_dir: Path, *, source: str | Path | None = None
) -> None:
    """Write a detection's clusters, sensitivity table and summary, each atomically."""
    ensure_output_dir(out_dir)
    write_parquet(detection.clusters, out_dir / CLUSTERS_FILE)
    write_text(detection.sensitivity.to_csv(index=False), out_dir / SENSITIVITY_FILE)
    if source is not None:
        detection.summary.source = str(source)
    detection.summary.write(out_dir / SUMMARY_FILE)


def _range_text(start: object, end: object) -> str:
    if start is None and end is None:
        return ""
    return f" between {start or 'the start'} and {end or 'the end'}"
