"""The inbound-reachability check as the jobs run it: the exported configuration from
the dataset's ``config`` folder, the period's inbound records, and the server log."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
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
from analyzer.store import read_messages

#: The message columns the check reads (inbound records only are kept).
COLUMNS = ("sid", "from", "to", "direction", "date_created")
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
    messages = read_messages(given.source, start=start, end=end, columns=list(COLUMNS))
    frame = messages.to_pandas()
    inbound = frame[frame["direction"].astype(str) == "inbound"].drop(columns=["direction"])
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
    if len(frame):
        summary.period_start = frame["date_created"].min().to_pydatetime()
        summary.period_end = frame["date_created"].max().to_pydatetime()
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
