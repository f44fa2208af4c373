"""Delivery failures over every message: which records failed and why, what to do about
each kind, whom to stop sending to, and which codes jumped.

The records are read batch by batch (only the columns needed): memory holds the
failures, small group counts and, for the recipients to suppress, the recipients with
a permanent failure.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.failures.codes import describe_codes
from analyzer.failures.rollups import (
    Rollups,
    code_day_counts,
    counts_by_value,
    find_jumps,
    rollups,
)
from analyzer.phones import calling_code
from analyzer.results import FAILURE_TABLES, SUPPRESS_FILE, FailuresSummary
from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP
from analyzer.vocabulary import FAILED, FAILURE_STATUSES, UNDELIVERED, FailureCategory

#: The message columns the analysis reads.
COLUMNS: tuple[str, ...] = (
    "sid",
    "to",
    "from",
    "messaging_service_sid",
    "status",
    "error_code",
    "date_created",
    "direction",
)
#: Columns with few distinct values, best read dictionary-encoded.
LOW_CARDINALITY: tuple[str, ...] = ("status", "direction", "from", "messaging_service_sid")
#: The columns of ``failures.parquet``.
FAILURE_COLUMNS: tuple[str, ...] = (
    "sid",
    "to",
    "from",
    "messaging_service_sid",
    "status",
    "error_code",
    "category",
    "action",
    "title",
    "date_created",
)
DAY_MICROS = 86_400 * MICROS_PER_SECOND
#: (start, end) of date_created in microseconds since the epoch, end exclusive.
Limits = tuple[int | None, int | None]
#: Reads the given columns of the records, batch by batch, the same on every call.
Scan = Callable[[Sequence[str]], Iterable[pa.RecordBatch]]


@dataclass
class FailureAnalysis:
    """The failures of a period, their counts and their rollups."""

    #: One row per failed or undelivered outbound record of the period (FAILURE_COLUMNS).
    failures: pa.Table
    summary: FailuresSummary
    #: Recipients whose every attempt in the period failed permanently.
    suppress: pd.DataFrame
    rollups: Rollups = field(default_factory=Rollups)


def find_failures(
    scan: Scan,
    *,
    limits: Limits = (None, None),
    report_from: int | None = None,
    catalog: Mapping[int, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> FailureAnalysis:
    """Find and explain the failed and undelivered outbound records read by ``scan``.

    ``limits`` bound what is read; records before ``report_from`` (microseconds) are
    only the baseline against which a code's daily count is judged a jump.
    """
    seen = _Accumulator()
    for batch in scan(COLUMNS):
        seen.add(pa.Table.from_batches([batch]), limits, report_from)
        if progress is not None:
            progress(batch.num_rows)
    counts, found, period = seen.counts, seen.found, seen.period
    failures = _explained(pa.concat_tables(found) if found else _empty(), catalog)
    by_code_day = code_day_counts(failures)
    day_from = None if report_from is None else report_from // DAY_MICROS
    if day_from is not None:
        failures = failures.filter(pc.greater_equal(failures["day"], day_from))
    grouped = _combined(counts)
    suppress = _to_suppress(scan, failures, limits, report_from)
    summary = _summary(grouped, failures, suppress, period)
    summary.jumps = find_jumps(by_code_day, day_from)
    tables = rollups(grouped, failures, by_code_day, day_from)
    return FailureAnalysis(
        failures=failures.select(list(FAILURE_COLUMNS)),
        summary=summary,
        suppress=suppress,
        rollups=tables,
    )


@dataclass
class _Accumulator:
    """What the batches leave behind: group counts, failures and the period."""

    counts: list[pa.Table] = field(default_factory=list)
    found: list[pa.Table] = field(default_factory=list)
    period: list[int] = field(
        default_factory=lambda: [np.iinfo(np.int64).max, np.iinfo(np.int64).min]
    )

    def add(self, table: pa.Table, limits: Limits, report_from: int | None) -> None:
        """Take in one batch."""
        outbound, created = _outbound_in(table, limits)
        reported = outbound if report_from is None else outbound & (created >= report_from)
        failed = outbound & _mask(
            table["status"], lambda s: pc.is_in(s, pa.array(FAILURE_STATUSES))
        )
        self.counts.append(_group_counts(table, created, reported, failed))
        if reported.any():
            self.period = [
                min(self.period[0], int(created[reported].min())),
                max(self.period[1], int(created[reported].max())),
            ]
        self.found.append(_with_day(table.filter(pa.array(failed)), created[failed]))


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _is_failure(status: pa.Array) -> pa.Array:
    return pc.is_in(status, pa.array(FAILURE_STATUSES))


def _mask(column: pa.ChunkedArray, test: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    """``test`` on each value of a string column, on a dictionary's values only once."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if pa.types.is_dictionary(array.type):
        return _np(test(array.dictionary).take(array.indices))
    return _np(test(array))


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _outbound_in(table: pa.Table, limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Which records are outbound and created within the limits; their times (µs)."""
    created_arrow = pc.cast(pc.cast(table["date_created"], TIMESTAMP), pa.int64())
    dated = _np(pc.is_valid(created_arrow))
    created = np.asarray(pc.fill_null(created_arrow, 0).to_numpy(zero_copy_only=False))
    keep = dated & _mask(table["direction"], lambda d: pc.starts_with(d, "outbound"))
    if limits[0] is not None:
        keep &= created >= limits[0]
    if limits[1] is not None:
        keep &= created < limits[1]
    return keep, created


def _group_counts(
    table: pa.Table, created: np.ndarray, reported: np.ndarray, failed: np.ndarray
) -> pa.Table:
    """Outbound records and failures of the reported period by day, sender, service and
    the first characters of the recipient (mapped to a country at the end)."""
    rows = table.filter(pa.array(reported))
    to = rows["to"].cast(pa.string()).combine_chunks()
    prefix = pc.utf8_slice_codeunits(to, 0, 4)
    channel = pc.invert(pc.fill_null(pc.starts_with(to, "+"), True))
    if pc.any(channel).as_py():  # whatsapp:+… and the like: rare, so only they pay the regex
        stripped = pc.replace_substring_regex(to.filter(channel), r"^[^+]*", "")
        prefix = pc.replace_with_mask(prefix, channel, pc.utf8_slice_codeunits(stripped, 0, 4))
    keys = pa.table(
        {
            "day": pa.array(created[reported] // DAY_MICROS),
            "from": rows["from"],
            "messaging_service_sid": rows["messaging_service_sid"],
            "prefix": prefix,
            "failed": pa.array(failed[reported].astype(np.int64)),
        }
    )
    names = ["day", "from", "messaging_service_sid", "prefix"]
    grouped = keys.group_by(names, use_threads=False)
    counted = grouped.aggregate([("failed", "sum"), ("failed", "count")])
    return pa.table(
        {
            # Each batch has its own dictionaries: plain text adds up across batches.
            **{name: _plain(counted[name]) for name in names},
            "failures": counted["failed_sum"],
            "outbound_messages": counted["failed_count"],
        }
    )


_GROUP_SCHEMA = pa.schema(
    [
        ("day", pa.int64()),
        ("from", pa.string()),
        ("messaging_service_sid", pa.string()),
        ("prefix", pa.string()),
        ("failures", pa.int64()),
        ("outbound_messages", pa.int64()),
    ]
)


def _combined(counts: list[pa.Table]) -> pa.Table:
    """The batches' group counts added up, with each recipient prefix's calling code."""
    keys = ["day", "from", "messaging_service_sid", "prefix"]
    if not counts:
        counts = [_GROUP_SCHEMA.empty_table()]
    total = pa.concat_tables(counts).group_by(keys, use_threads=False)
    counted = total.aggregate([("failures", "sum"), ("outbound_messages", "sum")])
    summed = pa.table(
        {
            **{name: counted[name] for name in keys},
            "failures": counted["failures_sum"],
            "outbound_messages": counted["outbound_messages_sum"],
        }
    )
    # A prefix of four characters holds any calling code (at most 3 digits after +).
    return summed.append_column("calling_code", calling_code(summed["prefix"]))


def _with_day(rows: pa.Table, created: np.ndarray) -> pa.Table:
    return rows.append_column("day", pa.array(created // DAY_MICROS))


def _empty() -> pa.Table:
    from analyzer.schema import MESSAGE_SCHEMA

    fields = [MESSAGE_SCHEMA.field(c) for c in COLUMNS]
    return pa.schema(fields).empty_table().append_column("day", pa.array([], pa.int64()))


def _explained(failures: pa.Table, catalog: Mapping[int, str] | None) -> pa.Table:
    """The failures with each code's category, recommended action, title and permanence."""
    described = describe_codes(failures["error_code"], catalog)
    table = failures.cast(
        pa.schema(
            [
                f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f
                for f in failures.schema
            ]
        )
    )
    for name in ("category", "action", "title", "permanent"):
        table = table.append_column(name, described[name])
    order = pc.sort_indices(table, [("date_created", "ascending"), ("sid", "ascending")])
    return table.take(order)


def _to_suppress(
    scan: Scan, failures: pa.Table, limits: Limits, report_from: int | None
) -> pd.DataFrame:
    """Recipients whose every outbound attempt in the period failed permanently (a second
    read, of three columns, counts the attempts to the recipients with such a failure)."""
    columns = list(FAILURE_TABLES[SUPPRESS_FILE][0])
    permanent = failures.filter(failures["permanent"])
    if permanent.num_rows == 0:
        return pd.DataFrame(columns=columns)
    frame = permanent.select(["to", "error_code", "date_created"]).to_pandas()
    frame["to"] = frame["to"].astype(str)
    frame["opted_out"] = _np(pc.equal(permanent["category"], str(FailureCategory.OPTED_OUT)))
    last = frame.groupby("to").agg(
        permanent_failures=("error_code", "size"),
        opted_out=("opted_out", "max"),
        last_error_code=("error_code", "last"),
        last_failed_at=("date_created", "last"),
    )
    candidates = pa.array(last.index, pa.string())
    tried: list[pa.Array] = []
    for batch in scan(["to", "direction", "date_created"]):
        table = pa.Table.from_batches([batch])
        outbound, created = _outbound_in(table, limits)
        if report_from is not None:
            outbound &= created >= report_from
        to = table["to"].cast(pa.string())
        mine = outbound & _np(pc.is_in(to, value_set=candidates))
        tried.append(to.filter(pa.array(mine)).combine_chunks())
    counted = pc.value_counts(pa.chunked_array(tried, pa.string()))
    attempts = pd.Series(
        counted.field("counts").to_numpy(), index=counted.field("values").to_pylist()
    )
    last["attempts"] = attempts.reindex(last.index, fill_value=0).to_numpy()
    every = last[last["attempts"] == last["permanent_failures"]].reset_index()
    every = every.rename(columns={"to": "recipient"})
    every["last_error_code"] = every["last_error_code"].astype("Int64")
    # Twilio's times are whole seconds: the results' time format without a fraction.
    every["last_failed_at"] = every["last_failed_at"].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    return every[columns].sort_values("recipient", ignore_index=True)


def _summary(
    grouped: pa.Table, failures: pa.Table, suppress: pd.DataFrame, period: list[int]
) -> FailuresSummary:
    status = failures["status"].cast(pa.string())
    codes = pc.fill_null(failures["error_code"].cast(pa.string()), "none")
    first, last = (_utc(us) for us in period) if period[0] <= period[1] else (None, None)
    return FailuresSummary(
        outbound_messages=int(pc.sum(grouped["outbound_messages"]).as_py() or 0),
        failed=int(pc.sum(pc.equal(status, FAILED)).as_py() or 0),
        undelivered=int(pc.sum(pc.equal(status, UNDELIVERED)).as_py() or 0),
        by_error_code=counts_by_value(codes),
        by_category=counts_by_value(failures["category"]),
        recipients_to_suppress=len(suppress),
        period_start=first,
        period_end=last,
    )


def _utc(micros: int) -> datetime:
    return datetime.fromtimestamp(int(micros) / MICROS_PER_SECOND, tz=UTC)
