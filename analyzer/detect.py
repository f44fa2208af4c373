"""Duplicate detection: clusters of records to one recipient with one body, seconds apart.

Records are grouped by a key (``to`` + ``body`` by default), ordered by
``date_created`` with ties broken by ``sid``, and split wherever the gap to the
previous record exceeds the window. Runs of two or more records are duplicate
clusters. Only outbound records with a body that went out (not ``canceled`` or
``scheduled``) are compared; records without ``date_created`` cannot be placed in
time and are not counted. All work is vectorized over sorted arrays.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError, SchemaError
from analyzer.results import DuplicatesSummary
from analyzer.schema import HANDSET_STATUSES, MESSAGE_SCHEMA, NOT_SENT_STATUSES, require_columns

DEFAULT_WINDOW = 60.0
DEFAULT_KEY: tuple[str, ...] = ("to", "body")
#: Windows of the sensitivity table, in seconds: 5 s, 10 s, 30 s, 60 s, 5 min, 1 h.
SENSITIVITY_WINDOWS: tuple[float, ...] = (5, 10, 30, 60, 300, 3600)
#: Per-record columns carried into each cluster as lists, in cluster order.
LIST_COLUMNS: dict[str, str] = {
    "sid": "sids",
    "date_created": "created",
    "from": "from_numbers",
    "messaging_service_sid": "messaging_service_sids",
    "account_sid": "account_sids",
    "status": "statuses",
    "error_code": "error_codes",
}
_US = 1_000_000


#: Columns with few distinct values, worth reading dictionary-encoded.
LOW_CARDINALITY: tuple[str, ...] = (
    "direction",
    "from",
    "messaging_service_sid",
    "account_sid",
    "status",
)


def detect_columns(key: Sequence[str] = DEFAULT_KEY) -> list[str]:
    """Return the message columns detection reads for a key (for projection)."""
    needed = ["direction", *key, *LIST_COLUMNS]
    return list(dict.fromkeys(needed))


@dataclass
class Detection:
    """The result of a detection run."""

    clusters: pa.Table
    sensitivity: pd.DataFrame
    #: Counts; besides the figures of the clusters, ``skipped_no_body`` (outbound without
    #: a body), ``skipped_not_sent`` (outbound with a body, canceled or scheduled) and
    #: ``extra_reached_handset`` (see ``extra_reached_handset``).
    summary: DuplicatesSummary = field(default_factory=DuplicatesSummary)
    #: Latest date_created (µs) of any run, at the widest window, that starts in the
    #: focus: a caller that read a limited period checks it against the period's end.
    reach: int | None = None

    def clusters_frame(self) -> pd.DataFrame:
        """Return the clusters as a pandas DataFrame (lists as Python lists)."""
        return self.clusters.to_pandas()


def find_duplicates(
    messages: pa.Table | pd.DataFrame,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    focus: tuple[int | None, int | None] = (None, None),
) -> Detection:
    """Find duplicate clusters among outbound messages held in memory.

    ``window`` is the largest gap in seconds between consecutive records of one
    cluster (inclusive). ``key`` names the columns that must be equal; it always
    contains ``to`` and ``body``. ``focus`` works as in ``detect_batches``.

    Example::

        result = find_duplicates(messages, window=60)
        result.clusters_frame()[["to", "n_records", "sids"]]
    """
    key = _check_key(key)
    _check_window(window)
    table = _as_table(messages)
    require_columns(table, detect_columns(key))
    members = member_columns(key)

    def fetch(rows: np.ndarray) -> pa.Table:
        return table.select(members).take(pa.array(rows, type=pa.int64()))

    keys = _table_keys(table, key, focus)
    detection = _detect(keys, window, key, fetch, focus)
    if detection is None:  # a 64-bit hash collision: compare the keys themselves
        keys.hashes = _exact_key(table, keys.rows, key).astype(np.uint64)
        detection = _detect(keys, window, key, fetch, focus)
        assert detection is not None
    return detection


def detect_batches(
    scan: Callable[[Sequence[str]], Iterator[pa.RecordBatch]],
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    bounds: tuple[int | None, int | None] = (None, None),
    focus: tuple[int | None, int | None] = (None, None),
    progress: Callable[[int], None] | None = None,
) -> Detection | None:
    """Find duplicate clusters in data read batch by batch, holding only compact keys.

    ``scan(columns)`` must yield the same rows in the same order every time it is
    called. ``bounds`` limits date_created (microseconds since the epoch, end
    exclusive). ``focus`` (same units) keeps only the clusters that start inside
    it and counts only its records, while records around it still join clusters:
    a cluster crossing midnight is seen whole and counted on the day it starts.
    ``progress(n)`` is called as each batch of n records has been read.
    Returns None when the fast path met a hash collision: the caller then runs
    ``find_duplicates`` on the data in memory.
    """
    key = _check_key(key)
    _check_window(window)
    members = member_columns(key)
    columns = [*dict.fromkeys(["direction", "status", "date_created", *key])]
    keys = _scan_keys(scan(columns), key, bounds, focus, progress)

    def fetch(rows: np.ndarray) -> pa.Table:
        return _fetch_rows(scan(members), rows)

    return _detect(keys, window, key, fetch, focus)


@dataclass
class _Keys:
    """What clustering needs per candidate record, and the counts around them."""

    rows: np.ndarray  # positions of the candidates in the source
    hashes: np.ndarray  # one 64-bit key per candidate (a hash, or exact codes)
    created: np.ndarray  # date_created, microseconds since the epoch
    total: int
    outbound: int
    no_body: int
    not_sent: int
    candidates: int
    period: tuple[int | None, int | None] = (None, None)


def member_columns(key: Sequence[str]) -> list[str]:
    """Columns fetched for the records of duplicate clusters."""
    return list(dict.fromkeys([*key, *LIST_COLUMNS]))


def _check_window(window: float) -> None:
    if window < 0 or not np.isfinite(window):
        raise InputError(f"window must be a non-negative number of seconds, got {window}")


def _created_us(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    as_us = pc.cast(column, pa.timestamp("us", tz="UTC"))
    return np.asarray(pc.cast(as_us, pa.int64()).to_numpy(zero_copy_only=False))


@dataclass
class _Masks:
    """Per-record classes; records without a creation time are in none of them."""

    outbound: np.ndarray
    no_body: np.ndarray  # outbound without a body
    not_sent: np.ndarray  # outbound with a body that never went out
    candidate: np.ndarray  # outbound with a body that went out: compared


_NOT_SENT = pa.array(NOT_SENT_STATUSES, pa.string())
_HANDSET = pa.array(HANDSET_STATUSES, pa.string())


def _candidate_mask(batch: pa.Table) -> _Masks:
    """Classify the rows that have a creation time."""
    created = np.asarray(pc.is_valid(batch["date_created"]).to_numpy(zero_copy_only=False))
    outbound = created & _string_mask(batch["direction"], lambda a: pc.starts_with(a, "outbound"))
    has_body = _string_mask(batch["body"], lambda a: pc.greater(pc.utf8_length(a), 0))
    not_sent = _string_mask(batch["status"], lambda a: pc.is_in(a, value_set=_NOT_SENT))
    return _Masks(
        outbound=outbound,
        no_body=outbound & ~has_body,
        not_sent=outbound & has_body & not_sent,
        candidate=outbound & has_body & ~not_sent,
    )


def _counted(
    created: pa.ChunkedArray | pa.Array, limits: tuple[int | None, int | None]
) -> np.ndarray:
    """Rows with a creation time inside the limits."""
    valid = np.asarray(pc.is_valid(created).to_numpy(zero_copy_only=False), dtype=bool)
    return valid & _within(_created_us(pc.fill_null(created, 0)), limits)


def _table_keys(table: pa.Table, key: Sequence[str], focus: tuple[int | None, int | None]) -> _Keys:
    masks = _candidate_mask(table)
    counted = _counted(table["date_created"], focus)
    rows = np.flatnonzero(masks.candidate)
    created = _created_us(table["date_created"].take(pa.array(rows, type=pa.int64())))
    return _Keys(
        rows=rows,
        hashes=_hashed_key(table, rows, key),
        created=created,
        total=int(counted.sum()),
        outbound=int((masks.outbound & counted).sum()),
        no_body=int((masks.no_body & counted).sum()),
        not_sent=int((masks.not_sent & counted).sum()),
        candidates=int((masks.candidate & counted).sum()),
        period=_period(created[_within(created, focus)]),
    )


def _within(values: np.ndarray, limits: tuple[int | None, int | None]) -> np.ndarray:
    mask = np.ones(len(values), dtype=bool)
    if limits[0] is not None:
        mask &= values >= limits[0]
    if limits[1] is not None:
        mask &= values < limits[1]
    return mask


def _scan_keys(
    batches: Iterator[pa.RecordBatch],
    key: Sequence[str],
    bounds: tuple[int | None, int | None],
    focus: tuple[int | None, int | None],
    progress: Callable[[int], None] | None = None,
) -> _Keys:
    rows: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    created: list[np.ndarray] = []
    offset = total = outbound_count = no_body = not_sent = candidate_count = 0
    for batch in batches:
        table = pa.Table.from_batches([batch])
        when = _created_us(pc.fill_null(table["date_created"], 0))
        inside = _counted(table["date_created"], bounds)
        counted = inside & _within(when, focus)
        masks = _candidate_mask(table)
        local = np.flatnonzero(masks.candidate & inside)
        rows.append(local + offset)
        hashes.append(_hashed_key(table, local, key))
        created.append(when[local])
        total += int(counted.sum())
        outbound_count += int((masks.outbound & counted).sum())
        no_body += int((masks.no_body & counted).sum())
        not_sent += int((masks.not_sent & counted).sum())
        candidate_count += int((masks.candidate & counted).sum())
        offset += batch.num_rows
        if progress is not None:
            progress(batch.num_rows)
    all_created = np.concatenate(created) if created else np.zeros(0, dtype=np.int64)
    return _Keys(
        rows=np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
        hashes=np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64),
        created=all_created,
        total=total,
        outbound=outbound_count,
        no_body=no_body,
        not_sent=not_sent,
        candidates=candidate_count,
        period=_period(all_created[_within(all_created, focus)]),
    )


def _period(created: np.ndarray) -> tuple[int | None, int | None]:
    if not len(created):
        return (None, None)
    return (int(created.min()), int(created.max()))


def _fetch_rows(batches: Iterator[pa.RecordBatch], rows: np.ndarray) -> pa.Table:
    """Take the given source rows (sorted ascending) from a fresh scan."""
    parts: list[pa.Table] = []
    offset = 0
    for batch in batches:
        lo = np.searchsorted(rows, offset, side="left")
        hi = np.searchsorted(rows, offset + batch.num_rows, side="left")
        if hi > lo:
            local = pa.array(rows[lo:hi] - offset, type=pa.int64())
            parts.append(pa.Table.from_batches([batch]).take(local))
        offset += batch.num_rows
    if not parts:
        raise InputError("the data changed while it was being read")
    return pa.concat_tables(parts, promote_options="permissive").combine_chunks()


def _detect(
    keys: _Keys,
    window: float,
    key: Sequence[str],
    fetch: Callable[[np.ndarray], pa.Table],
    focus: tuple[int | None, int | None] = (None, None),
) -> Detection | None:
    """Cluster the candidates; None when records of one cluster have different keys."""
    n = len(keys.rows)
    if n:
        order = pc.sort_indices(
            pa.table({"key": keys.hashes, "ts": keys.created}),
            sort_keys=[("key", "ascending"), ("ts", "ascending")],
        ).to_numpy()
        hashes_s = keys.hashes[order]
        created_s = keys.created[order]
        same = np.empty(n, dtype=bool)
        same[0] = False
        np.equal(hashes_s[1:], hashes_s[:-1], out=same[1:])
        del hashes_s
        gaps = np.zeros(n, dtype=np.float64)
        gaps[1:] = np.diff(created_s) / _US
        in_focus = _within(created_s, focus)
    else:
        created_s = np.zeros(0, dtype=np.int64)
        in_focus = np.zeros(0, dtype=bool)
        order = np.zeros(0, dtype=np.int64)
        same = np.zeros(0, dtype=bool)
        gaps = np.zeros(0, dtype=np.float64)

    # Clusters nest as the window grows: the records of every duplicate cluster at
    # any window of interest are among those at the widest one.
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    wide_starts = _starts(same, gaps, widest)
    reach = _reach(wide_starts, created_s, in_focus)
    del created_s
    wide_pos, wide_cluster = _dup_positions(wide_starts)
    source_rows = keys.rows[order[wide_pos]]
    by_row = np.argsort(source_rows, kind="stable")
    fetched = fetch(source_rows[by_row]) if len(source_rows) else None
    members_wide = (
        fetched.take(pa.array(np.argsort(by_row, kind="stable"), type=pa.int64()))
        if fetched is not None
        else _empty_members(key)
    )
    if not _keys_consistent(members_wide, wide_cluster, key):
        return None

    sel_pos, sel_cluster = _dup_positions(_starts(same, gaps, window))
    picked = np.searchsorted(wide_pos, sel_pos)
    members = members_wide.take(pa.array(picked, type=pa.int64()))
    clusters = _build_clusters(members, sel_cluster, key)
    if focus != (None, None):
        starts_inside = _within(_created_us(clusters["first_created"]), focus)
        clusters = clusters.filter(pa.array(starts_inside))
    sensitivity = _sensitivity(same, gaps, window, in_focus)

    n_clusters = clusters.num_rows
    in_clusters = int(pc.sum(clusters["n_records"]).as_py() or 0)
    summary = DuplicatesSummary(
        messages=keys.total,
        outbound_messages=keys.outbound,
        skipped_no_body=keys.no_body,
        skipped_not_sent=keys.not_sent,
        candidate_messages=keys.candidates,
        duplicate_clusters=n_clusters,
        records_in_clusters=in_clusters,
        extra_messages=in_clusters - n_clusters,
        extra_reached_handset=extra_reached_handset(clusters),
        window_seconds=float(window),
        key=list(key),
    )
    if keys.period[0] is not None and keys.period[1] is not None:
        summary.period_start = pd.Timestamp(keys.period[0], unit="us", tz="UTC").to_pydatetime()
        summary.period_end = pd.Timestamp(keys.period[1], unit="us", tz="UTC").to_pydatetime()
    return Detection(clusters=clusters, sensitivity=sensitivity, summary=summary, reach=reach)


def extra_reached_handset(clusters: pa.Table) -> int:
    """Extra messages that reached a handset: over the clusters, the records whose
    status is sent, delivered or read, less one per cluster (never below zero).

    ``clusters`` needs the ``statuses`` list column of ``find_duplicates``.
    """
    statuses = clusters["statuses"]
    n = clusters.num_rows
    if n == 0:
        return 0
    lists = statuses.combine_chunks() if isinstance(statuses, pa.ChunkedArray) else statuses
    flat = _decoded(pa.chunked_array([pc.list_flatten(lists)]))
    reached = np.asarray(
        pc.fill_null(pc.is_in(flat, value_set=_HANDSET), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False))
    per_cluster = np.bincount(parents[reached], minlength=n)
    return int(np.maximum(per_cluster - 1, 0).sum())


def _reach(starts: np.ndarray, created: np.ndarray, counted: np.ndarray) -> int | None:
    """The latest record of any run whose first record is counted."""
    first = np.flatnonzero(starts)
    if not len(first):
        return None
    last = np.append(first[1:], len(starts)) - 1
    kept = counted[first]
    return int(created[last[kept]].max()) if kept.any() else None


def _dup_positions(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions in duplicate clusters, and a dense cluster number for each."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cluster_of = np.cumsum(starts) - 1
    sizes = np.bincount(cluster_of)
    positions = np.flatnonzero(sizes[cluster_of] >= 2)
    dense = np.cumsum(starts[positions]) - 1
    return positions, dense


def _empty_members(key: Sequence[str]) -> pa.Table:
    return pa.schema([MESSAGE_SCHEMA.field(c) for c in member_columns(key)]).empty_table()


def _keys_consistent(members: pa.Table, cluster: np.ndarray, key: Sequence[str]) -> bool:
    """True when every member has the same key values as the first of its cluster."""
    if not len(cluster):
        return True
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    leader = pa.array(first[cluster], type=pa.int64())
    for name in key:
        left = _decoded(members[name])
        right = left.take(leader)
        both_null = pc.and_(pc.is_null(left), pc.is_null(right))
        equal = pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)
        if not pc.all(equal, min_count=0).as_py():
            return False
    return True


def _build_clusters(members: pa.Table, cluster: np.ndarray, key: Sequence[str]) -> pa.Table:
    """One row per cluster from its member records (in key, time order)."""
    created = _created_us(members["date_created"]) if members.num_rows else np.zeros(0, np.int64)
    # Equal timestamps are ordered by sid: re-sort members inside each cluster.
    order = pc.sort_indices(
        pa.table({"c": cluster, "t": created, "sid": _decoded(members["sid"])}),
        sort_keys=[("c", "ascending"), ("t", "ascending"), ("sid", "ascending")],
    )
    members = members.take(order)
    created = created[order.to_numpy()]
    sizes = np.bincount(cluster).astype(np.int64) if len(cluster) else np.zeros(0, np.int64)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    firsts = pa.array(offsets[:-1], type=pa.int64())
    lasts = pa.array(offsets[1:] - 1, type=pa.int64())
    first_rows = members.take(firsts)

    not_first = np.ones(len(created), dtype=bool)
    not_first[offsets[:-1]] = False
    gap_values = np.diff(created, prepend=created[:1]) / _US if len(created) else created
    gap_offsets = (offsets - np.arange(len(offsets), dtype=np.int32)).astype(np.int32)

    columns: dict[str, pa.Array | pa.ChunkedArray] = {"cluster_id": _decoded(first_rows["sid"])}
    for name in key:
        columns[name] = _decoded(first_rows[name])
    columns["n_records"] = pa.array(sizes, type=pa.int64())
    columns["first_created"] = first_rows["date_created"]
    columns["last_created"] = members.take(lasts)["date_created"]
    span = (created[offsets[1:] - 1] - created[offsets[:-1]]) / _US if len(sizes) else np.zeros(0)
    columns["span_seconds"] = pa.array(span, type=pa.float64())
    columns["gaps_seconds"] = pa.ListArray.from_arrays(
        pa.array(gap_offsets), pa.array(gap_values[not_first], type=pa.float64())
    )
    offsets_array = pa.array(offsets)
    for source, target in LIST_COLUMNS.items():
        values = _decoded(members[source]).combine_chunks()
        columns[target] = pa.ListArray.from_arrays(offsets_array, values)
    clusters = pa.table(columns)
    return clusters.sort_by([("first_created", "ascending"), ("cluster_id", "ascending")])


def _check_key(key: Sequence[str]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(key))
    unknown = [k for k in names if k not in MESSAGE_SCHEMA.names]
    if unknown:
        raise InputError("unknown key column(s): " + ", ".join(unknown))
    if "to" not in names or "body" not in names:
        raise InputError("the grouping key must contain 'to' and 'body'")
    return names


def _as_table(messages: pa.Table | pd.DataFrame) -> pa.Table:
    if isinstance(messages, pa.Table):
        return messages
    if isinstance(messages, pd.DataFrame):
        return pa.Table.from_pandas(messages, preserve_index=False)
    raise SchemaError(f"expected a DataFrame or an Arrow table, got {type(messages).__name__}")


def _string_mask(column: pa.ChunkedArray, predicate: Any) -> np.ndarray:
    """Evaluate a string predicate per row (nulls are False), also on dictionary columns."""
    if pa.types.is_dictionary(column.type):
        parts = []
        for chunk in column.chunks:
            on_values = pc.fill_null(predicate(chunk.dictionary), False)
            parts.append(on_values.take(chunk.indices))
        chunked: Any = pa.chunked_array(parts, type=pa.bool_())
    else:
        chunked = predicate(column)
    mask = pc.fill_null(chunked, False)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


_HASH_BASE = np.uint64(0x100000001B3)
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_HASH_SLICE = 1 << 18


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the output."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _hash_strings(array: pa.Array) -> np.ndarray:
    """Return a 64-bit hash per string of a (large_)string array; nulls get one fixed value."""
    n = len(array)
    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[array.offset : array.offset + n + 1]
    offsets = offsets.astype(np.int64)
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else None
    lengths = np.diff(offsets)
    lo, hi = int(offsets[0]), int(offsets[-1])
    starts = offsets[:-1] - lo
    with np.errstate(over="ignore"):
        if data is None or hi == lo:
            raw = np.zeros(n, dtype=np.uint64)
        else:
            powers = np.full(int(lengths.max()) + 1, _HASH_BASE, dtype=np.uint64)
            powers[0] = 1
            powers = np.cumprod(powers, dtype=np.uint64)
            exponents = np.arange(hi - lo, dtype=np.int64) - np.repeat(starts, lengths)
            weighted = (data[lo:hi].astype(np.uint64) + np.uint64(1)) * powers[exponents]
            sums = np.zeros(hi - lo + 1, dtype=np.uint64)
            np.cumsum(weighted, dtype=np.uint64, out=sums[1:])
            raw = sums[starts + lengths] - sums[starts]
        hashed = _mix64(raw ^ lengths.astype(np.uint64))
    if array.null_count:
        valid = np.asarray(array.is_valid().to_numpy(zero_copy_only=False), dtype=bool)
        hashed[~valid] = _NULL_HASH
    return hashed


def _hash_column(column: pa.ChunkedArray) -> np.ndarray:
    """Return a 64-bit hash per value of a string column (dictionary-encoded or not)."""
    parts: list[np.ndarray] = []
    for chunk in column.chunks:
        if pa.types.is_dictionary(chunk.type):
            values = _hash_strings(chunk.dictionary.cast(pa.large_string()))
            indices = chunk.indices.to_numpy(zero_copy_only=False)
            part = np.full(len(chunk), _NULL_HASH, dtype=np.uint64)
            valid = ~pd.isna(indices)
            part[valid] = values[indices[valid].astype(np.int64)]
            parts.append(part)
            continue
        if not (pa.types.is_string(chunk.type) or pa.types.is_large_string(chunk.type)):
            chunk = chunk.cast(pa.large_string())
        for start in range(0, len(chunk), _HASH_SLICE):
            parts.append(_hash_strings(chunk.slice(start, _HASH_SLICE)))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _hashed_key(table: pa.Table, candidates: np.ndarray, key: Sequence[str]) -> np.ndarray:
    """One 64-bit hash per candidate row over all key columns."""
    combined = np.zeros(len(candidates), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in key:
            combined = _mix64(
                combined * np.uint64(0x2545F4914F6CDD1D) + _hash_column(table[name])[candidates]
            )
    return combined


def _exact_key(table: pa.Table, candidates: np.ndarray, key: Sequence[str]) -> np.ndarray:
    """One int64 code per candidate row, equal exactly when all key columns are equal."""
    codes = np.zeros(len(candidates), dtype=np.int64)
    for name in key:
        column = table[name].take(pa.array(candidates, type=pa.int64())).combine_chunks()
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        part = np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        codes = pd.factorize(codes * len(encoded.dictionary) + part)[0].astype(np.int64)
    return codes


def _starts(same: np.ndarray, gaps: np.ndarray, window: float) -> np.ndarray:
    return ~same | (gaps > window)


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _sensitivity(
    same: np.ndarray, gaps: np.ndarray, window: float, counted: np.ndarray
) -> pd.DataFrame:
    """Clusters and extra messages per window, for clusters whose first record is counted."""
    windows = sorted({*SENSITIVITY_WINDOWS, float(window)})
    n = len(same)
    rows = []
    for w in windows:
        first = np.flatnonzero(_starts(same, gaps, w))
        sizes = np.diff(np.append(first, n))
        keep = counted[first]
        dup = keep & (sizes >= 2)
        rows.append(
            {
                "window_seconds": float(w),
                "duplicate_clusters": int(dup.sum()),
                "extra_messages": int((sizes[keep] - 1).sum()),
                "records_in_clusters": int(sizes[dup].sum()),
                "selected": float(w) == float(window),
            }
        )
    return pd.DataFrame(rows)


def combine_detections(
    parts: Sequence[Detection], *, window: float, key: Sequence[str]
) -> Detection:
    """Combine detections over disjoint sets of records (keys, or days of focus) into one."""
    if not parts:
        raise InputError("no partitions to combine")
    clusters = pa.concat_tables([p.clusters for p in parts]).sort_by(
        [("first_created", "ascending"), ("cluster_id", "ascending")]
    )
    counts = [
        "duplicate_clusters",
        "extra_messages",
        "records_in_clusters",
    ]
    sensitivity = parts[0].sensitivity.copy()
    for name in counts:
        sensitivity[name] = sum(p.sensitivity[name] for p in parts)
    summary = DuplicatesSummary(window_seconds=float(window), key=list(key))
    for name in DuplicatesSummary.ADDITIVE:
        setattr(summary, name, sum(int(getattr(p.summary, name)) for p in parts))
    starts = [p.summary.period_start for p in parts if p.summary.period_start is not None]
    ends = [p.summary.period_end for p in parts if p.summary.period_end is not None]
    if starts and ends:
        summary.period_start, summary.period_end = min(starts), max(ends)
    return Detection(clusters=clusters, sensitivity=sensitivity, summary=summary)
