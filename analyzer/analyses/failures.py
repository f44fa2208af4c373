"""The delivery-failures analysis as the jobs run it: the failures of the period (with
a week before it as the baseline for jumps) and, with request logs, the sends Twilio
refused before a record existed."""

from __future__ import annotations

from datetime import timedelta

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult, day_start_micros
from analyzer.failures import (
    COLUMNS,
    LOW_CARDINALITY,
    find_failures,
    read_catalog,
    refused_posts,
    rejected_requests,
)
from analyzer.failures.rollups import BASELINE_DAYS
from analyzer.results import (
    FAILURE_TABLES,
    FAILURES_BY_CODE_DAY_FILE,
    FAILURES_BY_COUNTRY_FILE,
    FAILURES_BY_DAY_FILE,
    FAILURES_BY_SENDER_FILE,
    FAILURES_BY_SERVICE_FILE,
    FAILURES_FILE,
    FAILURES_SUMMARY_FILE,
    SUPPRESS_FILE,
)
from analyzer.store import as_day, scan_messages

#: Records per batch: a quarter of a row group keeps a 10M-message day well under 1 GB.
BATCH_ROWS = 250_000


def run_failures(given: AnalysisInput) -> AnalysisResult:
    """Explain the failed and undelivered records of the period."""
    catalog = read_catalog(given.failures.catalog) if given.failures.catalog else None
    first, last = as_day(given.start), as_day(given.end)
    if given.day is not None:
        first, last = given.day, given.day
    read_from = None if first is None else first - timedelta(days=BASELINE_DAYS)
    scan = scan_messages(
        given.source,
        read_from,
        last,
        columns=COLUMNS,
        dictionary=LOW_CARDINALITY,
        batch_size=BATCH_ROWS,
    )
    given.feedback.step("Explaining delivery failures", scan.rows)
    found = find_failures(
        scan.batches,
        limits=scan.bounds,
        report_from=None if first is None else day_start_micros(first),
        catalog=catalog,
        progress=given.feedback.advance,
    )
    summary = found.summary
    if given.logs.paths:
        logs = given.parsed_logs()
        summary.rejected_requests = rejected_requests(logs.requests, posts=logs.sends)
    summary.source = str(given.source)
    tables = found.rollups
    return AnalysisResult(
        name="failures",
        files={
            FAILURES_FILE: found.failures,
            **{
                name: frame[list(FAILURE_TABLES[name][0])].to_csv(index=False)
                for name, frame in (
                    (SUPPRESS_FILE, found.suppress),
                    (FAILURES_BY_DAY_FILE, tables.by_day),
                    (FAILURES_BY_CODE_DAY_FILE, tables.by_code_day),
                    (FAILURES_BY_SENDER_FILE, tables.by_sender),
                    (FAILURES_BY_SERVICE_FILE, tables.by_service),
                    (FAILURES_BY_COUNTRY_FILE, tables.by_country),
                )
            },
        },
        summary=summary,
        summary_file=FAILURES_SUMMARY_FILE,
        detail={"analysis": found},
    )


FAILURES = Analysis(
    name="failures",
    title="Delivery failures",
    columns=COLUMNS,
    run=run_failures,
    log_rows=refused_posts,
)
