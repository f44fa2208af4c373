"""Jobs that chain the library's steps: read, analyse, write results."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analyzer.analyses import ANALYSES, AnalysisInput, AnalysisResult
from analyzer.atomic import ensure_output_dir, write_parquet
from analyzer.duplicates.crossref import CrossReference
from analyzer.duplicates.detect import DEFAULT_KEY, Detection, detect_columns
from analyzer.duplicates.investigate import (
    Investigation,
    complaints_frame,
    investigate,
    read_complaints,
    report_rows,
)
from analyzer.engines import run_on_engine
from analyzer.errors import InputError, UserError
from analyzer.feedback import Feedback, Silent
from analyzer.logs import LogParseResult, read_server_logs
from analyzer.options import DetectOptions, EngineOptions, InvestigateOptions, LogOptions
from analyzer.paths import check_output
from analyzer.results import (
    CARRIER_FILE,
    CLUSTERS_FILE,
    INVESTIGATION_FILE,
    InvestigationSummary,
)
from analyzer.store import read_messages


@dataclass
class DetectRun:
    """A finished detection job and where its results were written."""

    detection: Detection
    out_dir: Path
    crossref: CrossReference | None = None
    #: The request logs as read for the cross-reference: only the rows its clusters can
    #: need, unless ``logs.complete`` (the timeline still has every row).
    logs: LogParseResult | None = None

    @property
    def clusters_path(self) -> Path:
        return self.out_dir / CLUSTERS_FILE


def run_analysis(
    name: str,
    source: str | Path,
    out_dir: str | Path,
    given: AnalysisInput | None = None,
) -> AnalysisResult:
    """Run one registered analysis over ``source`` and write its results to ``out_dir``."""
    analysis = ANALYSES.get(name)
    if analysis is None:
        raise InputError(f"unknown analysis {name!r}: expected one of {', '.join(ANALYSES)}")
    # Before any long work: a bad output folder should not cost a night's run.
    check_output(out_dir, source)
    given = given or AnalysisInput(source)
    result = analysis.run(given) if analysis.spreads_itself else run_on_engine(analysis.run, given)
    given.feedback.step("Writing results")
    result.write(out_dir)
    return result


def run_detect(
    source: str | Path,
    out_dir: str | Path,
    *,
    options: DetectOptions | None = None,
    server_logs: LogOptions | Sequence[str | Path] = (),
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    day: date | None = None,
    allow_empty: bool = False,
    engine: EngineOptions | None = None,
    feedback: Feedback | None = None,
) -> DetectRun:
    """Read messages, find duplicate clusters and write the results to ``out_dir``.

    With ``server_logs`` (paths, or LogOptions), every cluster also gets a verdict
    from the application's request logs (see analyzer.duplicates.crossref). Writes
    ``clusters.parquet`` (duplicate clusters only), ``sensitivity.csv`` and
    ``summary.json``. Raises InputError when there is nothing to analyse. With
    ``day``, only the clusters that start on that UTC day are kept (the days around
    it are read to see them whole).
    """
    given = AnalysisInput(
        source,
        start=start,
        end=end,
        day=day,
        logs=LogOptions.of(server_logs),
        options=options or DetectOptions(),
        engine=engine or EngineOptions(),
        allow_empty=allow_empty,
        feedback=feedback or Silent(),
        # No other analysis reads the logs: the cross-reference keeps only what it needs.
        log_rows=(),
    )
    result = run_analysis("duplicates", source, out_dir, given)
    return DetectRun(out_dir=Path(out_dir), **result.detail)


def run_investigate(
    dataset: str | Path,
    complaints: pd.DataFrame,
    *,
    server_logs: LogOptions | Sequence[str | Path] = (),
    options: InvestigateOptions | None = None,
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
    options = options or InvestigateOptions()
    logs = LogOptions.of(server_logs)
    first = complaints["reported_at"].min() - options.before
    last = complaints["reported_at"].max() + options.after
    messages = read_messages(
        dataset, start=first.date(), end=last.date(), columns=detect_columns(DEFAULT_KEY)
    )
    requests: pa.Table | None = None
    formats: dict[str, str | None] | None = None
    if logs.paths:
        parsed = read_server_logs(
            list(logs.paths), format=logs.format, log_tz=logs.tz, fields=logs.field_map or None
        )
        requests, formats = parsed.requests, {f.path: f.format for f in parsed.files}
    found = investigate(
        messages,
        complaints,
        requests=requests,
        formats=formats,
        window=options.window,
        before=options.before,
        after=options.after,
        skew=options.skew,
        tolerance=options.tolerance,
    )
    if out_dir is not None:
        out = ensure_output_dir(out_dir)
        frame = found.reports.copy()
        frame["reported_at"] = frame["reported_at"].dt.as_unit("us")
        write_parquet(pa.Table.from_pandas(frame, preserve_index=False), out / CARRIER_FILE)
        InvestigationSummary(
            by_verdict=found.by_verdict,
            escalate=found.escalate,
            escalation=found.escalation,
            reports=report_rows(found),
        ).write(out / INVESTIGATION_FILE)
    return found


def load_complaints(
    path: str | Path | None = None, to: str | None = None, around: str | None = None
) -> pd.DataFrame:
    """The reports to investigate: a complaints CSV, or one report (recipient and time)."""
    if path is not None:
        return read_complaints(path)
    if to and around:
        return complaints_frame(pd.DataFrame({"to": [to], "reported_at": [around]}))
    raise UserError("give --to and --around, or --complaints FILE.csv")
