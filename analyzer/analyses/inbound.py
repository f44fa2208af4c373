"""The inbound-reachability check as the jobs run it: the exported configuration from
the dataset's ``_config`` folder, the period's inbound records, and the server log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult
from analyzer.errors import InputError
from analyzer.inbound import (
    NO_RECEIVED_REQUESTS,
    WEBHOOK_ALERTS,
    CallbackCheck,
    InboundCheck,
    Received,
    check_callbacks,
    check_numbers,
    not_sends,
    received_requests,
    webhook_path,
)
from analyzer.results import (
    ALERTS_FILE,
    CONFIG_COLUMNS,
    CONFIG_DIR,
    INBOUND_SUMMARY_FILE,
    NUMBERS_CHECK_FILE,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
    STATUS_CALLBACKS_FILE,
    UNHANDLED_INBOUND_FILE,
    InboundSummary,
)
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.store import scan_messages

#: The message columns the check reads (inbound records, and outbound ones near the
#: server log's span for the status callbacks, are kept).
INBOUND_COLUMNS = ("sid", "from", "to", "direction", "date_created")
OUTBOUND_COLUMNS = (
    "sid",
    "from",
    "to",
    "status",
    "error_code",
    "messaging_service_sid",
    "date_created",
    "date_updated",
)
COLUMNS = tuple(dict.fromkeys([*INBOUND_COLUMNS, *OUTBOUND_COLUMNS]))
#: Seconds around the server log's span within which records are judged against it.
TOLERANCE_S = 30.0
DayLike = date | datetime | str | None
MISSING_CONFIG = (
    "no account configuration in {folder}: run `analyzer export --config` (nightly does it "
    "with the export) to check inbound reachability"
)


def run_inbound(given: AnalysisInput) -> AnalysisResult:
    """Check every number of the exported configuration against the period's inbound,
    and the outbound messages' status callbacks against the server log."""
    source = Path(given.source)
    # A dataset holds its configuration; beside a single Parquet file, its folder does.
    config = (source if source.is_dir() else source.parent) / CONFIG_DIR
    summary = InboundSummary(source=str(given.source))
    if not (config / NUMBERS_FILE).exists():
        summary.warnings.append(MISSING_CONFIG.format(folder=config))
        return AnalysisResult("inbound", {}, summary, INBOUND_SUMMARY_FILE)
    tables = {name: _read(config / name) for name in CONFIG_COLUMNS}
    received = received_requests(given.parsed_logs().requests) if given.logs.paths else None
    start, end = (given.day, given.day) if given.day is not None else (given.start, given.end)
    records = _records(given.source, start, end, received)
    found = check_numbers(
        tables[NUMBERS_FILE],
        tables[SERVICES_FILE],
        tables[SERVICE_NUMBERS_FILE],
        tables[ALERTS_FILE],
        records.inbound,
        received,
        TOLERANCE_S,
    )
    callbacks = None
    if received is not None and received.shows_any:
        webhooks = set(found.numbers["webhook"].map(webhook_path)) - {""}
        callbacks = check_callbacks(
            records.outbound, received, tables[SERVICES_FILE], webhooks, TOLERANCE_S
        )
    _summarize(summary, found, callbacks, records, received, tables[ALERTS_FILE])
    files = {
        NUMBERS_CHECK_FILE: _table(found.numbers),
        UNHANDLED_INBOUND_FILE: _table(found.unhandled),
    }
    if callbacks is not None:
        files[STATUS_CALLBACKS_FILE] = _table(callbacks.problems)
    return AnalysisResult(
        "inbound",
        files,
        summary,
        INBOUND_SUMMARY_FILE,
        detail={"check": found, "callbacks": callbacks},
    )


def _summarize(
    summary: InboundSummary,
    found: InboundCheck,
    callbacks: CallbackCheck | None,
    records: PeriodRecords,
    received: Received | None,
    alerts: pd.DataFrame,
) -> None:
    """Fill the summary from the checks."""
    summary.numbers = len(found.numbers)
    summary.inbound_messages = len(records.inbound)
    summary.by_verdict = {
        str(k): int(n) for k, n in found.numbers["verdict"].value_counts().items()
    }
    summary.unhandled_inbound = len(found.unhandled) if found.judged else None
    summary.webhook_alerts = int(alerts["error_code"].isin(WEBHOOK_ALERTS).sum())
    summary.period_start, summary.period_end = records.period
    if received is not None and not found.judged:
        summary.warnings.append(
            f"inbound not checked against the server log: {NO_RECEIVED_REQUESTS}"
        )
    if callbacks is not None:
        summary.callbacks_logged = callbacks.logged
        summary.callback_messages = callbacks.judged
        summary.callback_problems = {
            str(k): int(n)
            for k, n in callbacks.problems["problem"].value_counts().sort_index().items()
        }
        summary.warnings += callbacks.warnings


@dataclass
class PeriodRecords:
    """The period's inbound records, the outbound ones the server log spans, and the
    period of all records."""

    inbound: pd.DataFrame
    outbound: pd.DataFrame
    period: tuple[datetime | None, datetime | None]


def _records(
    source: str | Path, start: DayLike, end: DayLike, received: Received | None
) -> PeriodRecords:
    """Read the period batch by batch, keeping only what the checks need."""
    scan = scan_messages(source, start, end, columns=COLUMNS, dictionary=["direction"])
    low, high = scan.bounds
    span = _span_micros(received)
    inbound: list[pa.Table] = []
    outbound: list[pa.Table] = []
    times: list[datetime] = []
    for batch in scan.batches(COLUMNS):
        table = pa.Table.from_batches([batch])
        micros = pc.cast(table["date_created"], pa.int64())
        inside = _between(micros, low, high)
        table = table.filter(pc.fill_null(inside, False))
        if not table.num_rows:
            continue
        times += [pc.min(table["date_created"]).as_py(), pc.max(table["date_created"]).as_py()]
        direction = table["direction"].cast(pa.string())
        inbound.append(table.filter(pc.equal(direction, "inbound")))
        if span is not None:
            near = _between(pc.cast(table["date_created"], pa.int64()), *span)
            sent = pc.and_(pc.equal(direction, "outbound-api"), pc.fill_null(near, False))
            outbound.append(table.filter(sent))
    return PeriodRecords(
        inbound=_frame(inbound, INBOUND_COLUMNS),
        outbound=_frame(outbound, OUTBOUND_COLUMNS),
        period=(min(times), max(times)) if times else (None, None),
    )


def _span_micros(received: Received | None) -> tuple[int, int] | None:
    """The server log's span in epoch microseconds, widened by the tolerance."""
    if received is None or received.start is None or received.end is None:
        return None
    pad = int(TOLERANCE_S * 1_000_000)
    return received.start.value // 1000 - pad, received.end.value // 1000 + pad


def _between(micros: pa.ChunkedArray | pa.Array, low: int | None, high: int | None) -> pa.Array:
    inside = pc.is_valid(micros)
    if low is not None:
        inside = pc.and_(inside, pc.greater_equal(micros, low))
    if high is not None:
        inside = pc.and_(inside, pc.less(micros, high))
    return inside


def _frame(parts: list[pa.Table], columns: tuple[str, ...]) -> pd.DataFrame:
    schema = pa.schema([MESSAGE_SCHEMA.field(c) for c in columns if c != "direction"])
    table = pa.concat_tables(
        [p.select(list(schema.names)).cast(schema) for p in parts] or [schema.empty_table()]
    )
    return table.to_pandas()


def _read(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except FileNotFoundError:
        return pd.DataFrame(columns=list(CONFIG_COLUMNS[path.name]))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from None


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


INBOUND = Analysis(
    name="inbound",
    title="Inbound reachability",
    columns=COLUMNS,
    run=run_inbound,
    log_rows=not_sends,
)
