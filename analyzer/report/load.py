"""Reading a results folder of ``analyzer detect`` (and ``investigate``,
``analyzer failures`` and ``analyzer optouts``) for a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer.errors import InputError
from analyzer.report.failures_data import FailuresData, load_failures
from analyzer.report.inbound_data import InboundData, load_inbound
from analyzer.report.optouts_data import OptoutsData, load_optouts
from analyzer.results import (
    CARRIER_FILE,
    CLUSTERS_FILE,
    SENSITIVITY_COLUMNS,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    DuplicatesSummary,
)
from analyzer.vocabulary import Verdict, classify_gaps

#: Why a cluster is unverified when no server log was given.
NO_LOGS_REASON = "no server logs given"
#: Per-record list columns of clusters.parquet, in the order clusters.csv lists them.
LIST_COLUMNS = (
    "sids",
    "created",
    "gaps_seconds",
    "from_numbers",
    "messaging_service_sids",
    "account_sids",
    "statuses",
    "error_codes",
    "matched_lines",
    "matched_times",
    "matched_statuses",
)
#: Per-cluster columns the report knows; any other scalar column is part of the key.
KNOWN_SCALARS = (
    "cluster_id",
    "to",
    "body",
    "n_records",
    "first_created",
    "last_created",
    "span_seconds",
    "verdict",
    "verdict_reason",
    "match_mode",
    "posts",
    "records_in_window",
    "covered",
    "skew_seconds",
    "log_kind",
    "hint",
)
_REQUIRED = {"cluster_id", "to", "n_records", "first_created", "sids", "gaps_seconds"}
#: The clusters of a folder without duplicates results: none.
NO_CLUSTERS = pa.schema(
    [
        ("cluster_id", pa.string()),
        ("to", pa.string()),
        ("n_records", pa.int64()),
        ("first_created", pa.timestamp("us", tz="UTC")),
        ("sids", pa.list_(pa.string())),
        ("gaps_seconds", pa.list_(pa.float64())),
    ]
).empty_table()


@dataclass
class ReportData:
    """A results folder as the report reads it."""

    results: Path
    #: The clusters, worst first (most extra records, then earliest).
    table: pa.Table
    #: The scalar columns of ``table`` in the same order, plus ``extra`` and ``pattern``.
    frame: pd.DataFrame
    detection: DuplicatesSummary
    sensitivity: pd.DataFrame
    carrier: pd.DataFrame | None
    logs_given: bool
    #: The extra key columns the clusters were found with (besides to and body).
    key_columns: list[str]
    #: The delivery failures, when the folder holds ``analyzer failures`` results.
    failures: FailuresData | None = None
    #: Whether the folder holds duplicates results (without them, no clusters).
    duplicates: bool = True
    #: The opt-outs, when the folder holds ``analyzer optouts`` results.
    optouts: OptoutsData | None = None
    #: The inbound reachability check, when the folder holds ``analyzer inbound`` results.
    inbound: InboundData | None = None


def load_results(results: Path) -> ReportData:
    """Read a results folder; InputError if it holds no ``analyzer detect``,
    ``failures``, ``optouts`` or ``inbound`` output."""
    if not results.is_dir():
        raise InputError(f"{results}: no such results folder (run `analyzer detect` first)")
    failures = load_failures(results)
    optouts = load_optouts(results)
    inbound = load_inbound(results)
    others = failures is not None or optouts is not None or inbound is not None
    duplicates = not others or (results / CLUSTERS_FILE).is_file()
    table = _read_clusters(results) if duplicates else NO_CLUSTERS
    detection = DuplicatesSummary()
    summary_path = results / SUMMARY_FILE
    if summary_path.is_file():
        try:
            detection = DuplicatesSummary.read(summary_path)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{summary_path} is not valid JSON: {exc}") from None
    sensitivity = pd.DataFrame(columns=list(SENSITIVITY_COLUMNS))
    if (results / SENSITIVITY_FILE).is_file():
        sensitivity = pd.read_csv(results / SENSITIVITY_FILE)
    carrier = None
    if (results / CARRIER_FILE).is_file():
        try:
            carrier = pq.read_table(results / CARRIER_FILE).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read {results / CARRIER_FILE}: {exc}") from None
    logs_given = "verdict" in table.column_names
    if not logs_given:
        rows = table.num_rows
        table = table.append_column("verdict", pa.array([Verdict.UNVERIFIED] * rows, pa.string()))
        reasons = pa.array([NO_LOGS_REASON] * rows, pa.string())
        table = table.append_column("verdict_reason", reasons)
    table = _worst_first(table)
    key_columns = [
        c
        for c in table.column_names
        if c not in KNOWN_SCALARS
        and c not in LIST_COLUMNS
        and not pa.types.is_list(table.schema.field(c).type)
    ]
    scalars = [c for c in table.column_names if c in KNOWN_SCALARS or c in key_columns]
    frame = table.select(scalars).to_pandas()
    frame["extra"] = frame["n_records"].astype("int64") - 1
    frame["first_created"] = pd.to_datetime(frame["first_created"], utc=True)
    frame["pattern"] = classify_gaps(table["gaps_seconds"])
    return ReportData(
        results,
        table,
        frame,
        detection,
        sensitivity,
        carrier,
        logs_given,
        key_columns,
        failures,
        duplicates,
        optouts,
        inbound,
    )


def _read_clusters(results: Path) -> pa.Table:
    clusters_path = results / CLUSTERS_FILE
    if not clusters_path.is_file():
        raise InputError(f"{results} is not an `analyzer detect` output: no {CLUSTERS_FILE}")
    try:
        table = pq.read_table(clusters_path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {clusters_path}: {str(exc).splitlines()[0]}") from None
    missing = _REQUIRED - set(table.column_names)
    if missing:
        raise InputError(f"{clusters_path} lacks columns: {', '.join(sorted(missing))}")
    return table.combine_chunks()


def _worst_first(table: pa.Table) -> pa.Table:
    """The clusters by most extra records, then earliest, then cluster id."""
    if table.num_rows == 0:
        return table
    extra = pc.subtract(table["n_records"], 1).to_numpy()
    first = table["first_created"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    ids = np.asarray(table["cluster_id"].to_pylist(), dtype=object).astype(str)
    order = np.lexsort((ids, first, -extra))
    return table.take(pa.array(order, pa.int64()))
