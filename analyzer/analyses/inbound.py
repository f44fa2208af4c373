"""The inbound-reachability check as the jobs run it: the exported configuration from
the dataset's ``_config`` folder, the period's inbound records, and the server log."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult
from analyzer.errors import InputError
from analyzer.inbound import WEBHOOK_ALERTS, check_numbers
from analyzer.results import (
    ALERTS_FILE,
    CONFIG_COLUMNS,
    CONFIG_DIR,
    INBOUND_SUMMARY_FILE,
    NUMBERS_CHECK_FILE,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
    UNHANDLED_INBOUND_FILE,
    InboundSummary,
)
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.store import scan_messages

#: The message columns the check reads (inbound records only are kept).
COLUMNS = ("sid", "from", "to", "direction", "date_created")
DayLike = date | datetime | str | None
MISSING_CONFIG = (
    "no account configuration in {folder}: run `analyzer export --config` (nightly does it "
    "with the export) to check inbound reachability"
)


def run_inbound(given: AnalysisInput) -> AnalysisResult:
    """Check every number of the exported configuration against the period's inbound."""
    source = Path(given.source)
    # A dataset holds its configuration; beside a single Parquet file, its folder does.
    config = (source if source.is_dir() else source.parent) / CONFIG_DIR
    summary = InboundSummary(source=str(given.source))
    if not (config / NUMBERS_FILE).exists():
        summary.warnings.append(MISSING_CONFIG.format(folder=config))
        return AnalysisResult("inbound", {}, summary, INBOUND_SUMMARY_FILE)
    tables = {name: _read(config / name) for name in CONFIG_COLUMNS}
    start, end = (given.day, given.day) if given.day is not None else (given.start, given.end)
    inbound, period = _inbound_records(given.source, start, end)
    requests = given.parsed_logs().requests.to_pandas() if given.logs.paths else None
    found = check_numbers(
        tables[NUMBERS_FILE],
        tables[SERVICES_FILE],
        tables[SERVICE_NUMBERS_FILE],
        tables[ALERTS_FILE],
        inbound,
        requests,
    )
    alerts = tables[ALERTS_FILE]
    summary.numbers = len(found.numbers)
    summary.inbound_messages = len(inbound)
    summary.by_verdict = {
        str(k): int(n) for k, n in found.numbers["verdict"].value_counts().items()
    }
    summary.unhandled_inbound = None if requests is None else len(found.unhandled)
    summary.webhook_alerts = int(alerts["error_code"].isin(WEBHOOK_ALERTS).sum())
    summary.period_start, summary.period_end = period
    return AnalysisResult(
        "inbound",
        {
            NUMBERS_CHECK_FILE: _table(found.numbers),
            UNHANDLED_INBOUND_FILE: _table(found.unhandled),
        },
        summary,
        INBOUND_SUMMARY_FILE,
        detail={"check": found},
    )


def _inbound_records(
    source: str | Path, start: DayLike, end: DayLike
) -> tuple[pd.DataFrame, tuple[datetime | None, datetime | None]]:
    """The inbound records of the period (read batch by batch: only they are kept), and
    the period of all records."""
    scan = scan_messages(source, start, end, columns=COLUMNS, dictionary=["direction"])
    low, high = scan.bounds
    parts: list[pa.Table] = []
    times: list[datetime] = []
    for batch in scan.batches(COLUMNS):
        table = pa.Table.from_batches([batch])
        micros = pc.cast(table["date_created"], pa.int64())
        inside = pc.is_valid(micros)
        if low is not None:
            inside = pc.and_(inside, pc.greater_equal(micros, low))
        if high is not None:
            inside = pc.and_(inside, pc.less(micros, high))
        table = table.filter(pc.fill_null(inside, False))
        if table.num_rows:
            times += [pc.min(table["date_created"]).as_py(), pc.max(table["date_created"]).as_py()]
        direction = table["direction"].cast(pa.string())
        parts.append(table.filter(pc.equal(direction, "inbound")).drop_columns(["direction"]))
    schema = pa.schema([MESSAGE_SCHEMA.field(c) for c in COLUMNS if c != "direction"])
    inbound = pa.concat_tables([p.cast(schema) for p in parts] or [schema.empty_table()])
    return inbound.to_pandas(), ((min(times), max(times)) if times else (None, None))


def _read(path: Path) -> pd.DataFrame:
    try:
        return pq.read_table(path).to_pandas()
    except FileNotFoundError:
        return pd.DataFrame(columns=list(CONFIG_COLUMNS[path.name]))
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {exc}") from None


def _table(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata(None)


INBOUND = Analysis(name="inbound", title="Inbound reachability", columns=COLUMNS, run=run_inbound)
