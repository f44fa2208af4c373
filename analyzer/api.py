"""The Python API for notebooks and scripts: pandas DataFrames in, pandas DataFrames out.

Each function wraps one library step; the CLI's jobs (analyzer.pipeline) chain the
same steps.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from analyzer import logs as _logs
from analyzer import store as _store
from analyzer.duplicates import crossref as _crossref
from analyzer.duplicates import detect as _detect
from analyzer.duplicates import investigate as _investigate
from analyzer.options import DetectOptions, LogOptions

DayLike = date | datetime | str | None


def load_messages(
    dataset: str | Path,
    start: DayLike = None,
    end: DayLike = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Load message records from a dataset folder or a Parquet file.

    ``start`` and ``end`` are inclusive UTC days; ``columns`` limits what is read.

    Example::

        messages = load_messages("data/sample/messages.parquet", columns=["sid", "to"])
    """
    return _store.read_messages(dataset, start=start, end=end, columns=columns).to_pandas()


def find_duplicates(
    messages: pd.DataFrame | pa.Table,
    window: float = _detect.DEFAULT_WINDOW,
    key: Sequence[str] = _detect.DEFAULT_KEY,
) -> pd.DataFrame:
    """Return the duplicate clusters (one row each) among outbound messages.

    Example::

        clusters = find_duplicates(messages, window=60)
        clusters[["to", "n_records", "gaps_seconds"]].head()
    """
    return _detect.find_duplicates(messages, window=window, key=key).clusters_frame()


def window_sensitivity(
    messages: pd.DataFrame | pa.Table,
    window: float = _detect.DEFAULT_WINDOW,
    key: Sequence[str] = _detect.DEFAULT_KEY,
) -> pd.DataFrame:
    """Return clusters and extra messages at windows from 5 s to 1 h.

    Example::

        window_sensitivity(messages)[["window_seconds", "duplicate_clusters"]]
    """
    return _detect.find_duplicates(messages, window=window, key=key).sensitivity


def read_server_logs(
    paths: str | Path | Sequence[str | Path],
    format: str = "auto",
    log_tz: str = "UTC",
    fields: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Parse the application's HTTP request logs into one request table.

    ``format`` is auto, jsonl, twilio-sdk, combined or envoy. The frame's
    ``attrs["files"]`` holds per-file statistics (lines, malformed, samples).

    Example::

        requests = read_server_logs("data/sample/server_requests.jsonl")
        requests[requests["is_send"]].head()
    """
    result = _logs.read_server_logs(paths, format=format, log_tz=log_tz, fields=fields)
    table = result.requests
    for name in ("path", "account_sid"):  # text in notebooks, as every other column
        index = table.schema.get_field_index(name)
        table = table.set_column(index, name, table[name].cast(pa.string()))
    frame = table.to_pandas()
    frame.attrs["files"] = [
        {
            "path": f.path,
            "format": f.format,
            "lines": f.lines,
            "sends": f.sends,
            "malformed": f.malformed,
            "samples": [f"line {s.line}: {s.reason}: {s.text}" for s in f.samples],
        }
        for f in result.files
    ]
    return frame


def cross_reference(
    clusters: pd.DataFrame,
    requests: pd.DataFrame | None,
    messages: pd.DataFrame | pa.Table,
    *,
    skew: float | None = None,
    tolerance: float = _crossref.DEFAULT_TOLERANCE,
) -> pd.DataFrame:
    """Give each duplicate cluster a verdict (app_side, twilio_side, webhook_side,
    unverified, inconclusive) with its evidence and a root-cause hint.

    Example::

        judged = cross_reference(clusters, requests, messages)
        judged["verdict"].value_counts()
    """
    cluster_table = pa.Table.from_pandas(clusters, preserve_index=False)
    request_table = _request_table(requests)
    message_table = _message_table(messages)
    result = _crossref.cross_reference(
        cluster_table, request_table, message_table, skew=skew, tolerance=tolerance
    )
    frame = result.clusters.to_pandas()
    frame.attrs["skew_seconds"] = result.skew.seconds
    frame.attrs["match_mode"] = result.mode
    return frame


def investigate(
    messages: pd.DataFrame | pa.Table,
    to: str,
    around: datetime | str,
    *,
    requests: pd.DataFrame | None = None,
    before: timedelta = _investigate.DEFAULT_BEFORE,
    after: timedelta = _investigate.DEFAULT_AFTER,
) -> pd.DataFrame:
    """Decide one reported duplicate: app_side, twilio_side, carrier_side or not_found.

    Example::

        investigate(messages, "+447700900123", "2026-11-29T14:00:00Z", requests=requests)
    """
    reports = _investigate.complaints_frame(pd.DataFrame({"to": [to], "reported_at": [around]}))
    message_table = _message_table(messages)
    request_table = _request_table(requests)
    found = _investigate.investigate(
        message_table, reports, requests=request_table, before=before, after=after
    )
    frame = found.reports
    frame.attrs["escalation"] = found.escalation
    return frame


def build_report(
    results: str | Path,
    out_dir: str | Path,
    *,
    redact: bool = False,
    ticket: bool = False,
    redact_ticket: bool = True,
) -> Path:
    """Write the HTML/Markdown/CSV report of an ``analyzer detect`` output folder.

    Returns the path of ``index.html``.

    Example::

        build_report("out/detect", "out/report", ticket=True)
    """
    from analyzer.report import build_report as _build

    result = _build(results, out_dir, redact=redact, ticket=ticket, redact_ticket=redact_ticket)
    return result.index_html


def run_detect(
    source: str | Path,
    out_dir: str | Path,
    *,
    options: DetectOptions | None = None,
    server_logs: LogOptions | Sequence[str | Path] = (),
    start: DayLike = None,
    end: DayLike = None,
) -> pd.DataFrame:
    """Do what ``analyzer detect`` does: find and judge duplicates, write ``out_dir``.

    ``options`` are those of ``analyzer detect`` (window, extra key columns, skew,
    tolerance); ``server_logs`` are paths, or LogOptions for a format, a time zone
    or field renames. ``out_dir`` then holds clusters.parquet, sensitivity.csv and
    summary.json, the input of ``build_report``. Returns the clusters.

    Example::

        clusters = run_detect("data/sample/messages.parquet", "out/detect",
                              options=DetectOptions(window=60),
                              server_logs=["data/sample/server_requests.jsonl"])
        build_report("out/detect", "out/report", ticket=True)
    """
    from analyzer.pipeline import run_detect as _run

    run = _run(source, out_dir, options=options, server_logs=server_logs, start=start, end=end)
    frame = run.detection.clusters_frame()
    frame.attrs["summary"] = run.detection.summary.to_json()
    return frame


def _message_table(messages: pd.DataFrame | pa.Table) -> pa.Table:
    return messages if isinstance(messages, pa.Table) else pa.Table.from_pandas(messages)


def _request_table(requests: pd.DataFrame | None) -> pa.Table | None:
    if requests is None:
        return None
    # A frame saved before a column was added (or built by hand) lacks the optional ones.
    frame = requests.copy()
    for name in _logs.REQUEST_SCHEMA.names:
        if name not in frame.columns:
            frame[name] = None
    return pa.Table.from_pandas(frame, schema=_logs.REQUEST_SCHEMA, preserve_index=False)


def run_failures(
    source: str | Path,
    out_dir: str | Path,
    *,
    server_logs: LogOptions | Sequence[str | Path] = (),
    start: DayLike = None,
    end: DayLike = None,
    catalog: str | Path | None = None,
) -> pd.DataFrame:
    """Do what ``analyzer failures`` does: explain every failed or undelivered message,
    write ``out_dir``. Returns one row per failure (with its category, the recommended
    action and a title); ``attrs["summary"]`` holds the counts of failures_summary.json.

    Example::

        failures = run_failures("data/sample/messages.parquet", "out/failures")
        failures.groupby("category").size()
    """
    from analyzer.analyses import AnalysisInput
    from analyzer.options import FailuresOptions
    from analyzer.pipeline import run_analysis

    given = AnalysisInput(
        source,
        start=start,
        end=end,
        logs=LogOptions.of(server_logs),
        failures=FailuresOptions(catalog=None if catalog is None else Path(catalog)),
    )
    result = run_analysis("failures", source, out_dir, given)
    frame = result.detail["analysis"].failures.to_pandas()
    frame.attrs["summary"] = result.summary.to_json()
    return frame


def run_optouts(
    source: str | Path,
    out_dir: str | Path,
    *,
    start: DayLike = None,
    end: DayLike = None,
    keywords_file: str | Path | None = None,
) -> pd.DataFrame:
    """Do what ``analyzer optouts`` does: rebuild opt-out state from the keywords and
    judge every send against it, write ``out_dir``. Returns the sends to opted-out
    recipients (``verdict``: blocked or sent_after_opt_out); ``attrs["summary"]`` holds
    the counts of optouts_summary.json and ``attrs["events"]`` the keyword messages.

    Example::

        sends = run_optouts("data/sample/messages.parquet", "out/optouts")
        sends["verdict"].value_counts()
    """
    from analyzer.analyses import AnalysisInput
    from analyzer.options import OptoutsOptions
    from analyzer.pipeline import run_analysis
    from analyzer.results import OPTOUT_EVENTS_FILE, OPTOUT_SENDS_FILE

    given = AnalysisInput(
        source,
        start=start,
        end=end,
        optouts=OptoutsOptions(
            keywords_file=None if keywords_file is None else Path(keywords_file)
        ),
    )
    result = run_analysis("optouts", source, out_dir, given)
    tables = result.detail["analysis"].tables
    frame = tables[OPTOUT_SENDS_FILE].copy()
    frame.attrs["summary"] = result.summary.to_json()
    frame.attrs["events"] = tables[OPTOUT_EVENTS_FILE]
    return frame


def run_inbound(
    source: str | Path,
    out_dir: str | Path,
    *,
    server_logs: LogOptions | Sequence[str | Path] = (),
    start: DayLike = None,
    end: DayLike = None,
) -> pd.DataFrame:
    """Do what ``analyzer inbound`` does: judge every number of the exported configuration
    (``_config`` beside the messages) and, with the server log, the inbound messages and
    status callbacks, write ``out_dir``. Returns one row per number with its verdict;
    ``attrs["summary"]`` holds inbound_summary.json, ``attrs["unhandled"]`` the inbound
    messages no webhook request answered and ``attrs["callbacks"]`` the callback problems.

    Example::

        numbers = run_inbound("data/sample/messages.parquet", "out/inbound",
                              server_logs=["data/sample/app_requests.jsonl"])
        numbers[numbers["verdict"] != "ok"]
    """
    from analyzer.analyses import AnalysisInput
    from analyzer.inbound import CALLBACK_COLUMNS, NUMBER_COLUMNS
    from analyzer.pipeline import run_analysis

    given = AnalysisInput(source, start=start, end=end, logs=LogOptions.of(server_logs))
    result = run_analysis("inbound", source, out_dir, given)
    check = result.detail.get("check")
    callbacks = result.detail.get("callbacks")
    frame = check.numbers.copy() if check is not None else pd.DataFrame(columns=NUMBER_COLUMNS)
    frame.attrs["summary"] = result.summary.to_json()
    frame.attrs["unhandled"] = check.unhandled if check is not None else pd.DataFrame()
    frame.attrs["callbacks"] = (
        callbacks.problems if callbacks is not None else pd.DataFrame(columns=CALLBACK_COLUMNS)
    )
    return frame
