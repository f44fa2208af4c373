"""The opt-out analysis as the jobs run it: keywords from the whole history read (for a
day, the days before it set the state), sends judged in the period."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pyarrow as pa

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult, day_start_micros
from analyzer.optouts import INBOUND_COLUMNS, LOW_CARDINALITY, Keywords, find_optouts
from analyzer.results import OPTOUT_EVENTS_FILE, OPTOUT_SENDS_FILE, OPTOUTS_SUMMARY_FILE
from analyzer.store import as_day, scan_messages

#: A nightly run reads this many days before its day: their keywords set the state.
HISTORY_DAYS = 30
BATCH_ROWS = 250_000


def run_optouts(given: AnalysisInput) -> AnalysisResult:
    """Rebuild opt-out state and judge the period's sends against it."""
    keywords = (
        Keywords.from_file(given.optouts.keywords_file)
        if given.optouts.keywords_file
        else Keywords()
    )
    first, last = as_day(given.start), as_day(given.end)
    report_from = None
    if given.day is not None:
        first, last = given.day - timedelta(days=HISTORY_DAYS), given.day
        report_from = day_start_micros(given.day)
    scan = scan_messages(
        given.source,
        first,
        last,
        columns=INBOUND_COLUMNS,
        dictionary=LOW_CARDINALITY,
        batch_size=BATCH_ROWS,
    )
    given.feedback.step("Rebuilding opt-out state", scan.rows)
    found = find_optouts(
        scan.batches,
        limits=scan.bounds,
        report_from=report_from,
        keywords=keywords,
        progress=given.feedback.advance,
    )
    found.summary.source = str(given.source)
    files: dict[str, pa.Table | str] = {}
    for name, frame in found.tables.items():
        if name in (OPTOUT_EVENTS_FILE, OPTOUT_SENDS_FILE):
            table = pa.Table.from_pandas(frame, preserve_index=False)
            files[name] = table.replace_schema_metadata(None)  # no pandas dtypes in results
        else:
            files[name] = _csv(frame)
    return AnalysisResult(
        name="optouts",
        files=files,
        summary=found.summary,
        summary_file=OPTOUTS_SUMMARY_FILE,
        detail={"analysis": found},
    )


def _csv(frame: pd.DataFrame) -> str:
    """CSV text with times in the results' format (Twilio's times are whole seconds)."""
    times = frame.select_dtypes(include=["datetimetz", "datetime"]).columns
    shown = frame.assign(**{c: frame[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ") for c in times})
    return shown.to_csv(index=False)


OPTOUTS = Analysis(
    name="optouts",
    title="Opt-outs",
    columns=tuple(sorted({*INBOUND_COLUMNS, "status", "error_code"})),
    run=run_optouts,
)
