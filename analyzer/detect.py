"""Duplicate detection: clusters of records to one recipient with one body, seconds apart.

Records are grouped by a key (``to`` + ``body`` by default), ordered by
``date_created`` with ties broken by ``sid``, and split wherever the gap to the
previous record exceeds the window. Runs of two or more records are duplicate
clusters. All work is vectorized over sorted arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError, SchemaError
from analyzer.schema import MESSAGE_SCHEMA, require_columns

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
    summary: dict[str, Any] = field(default_factory=dict)

    def clusters_frame(self) -> pd.DataFrame:
        """Return the clusters as a pandas DataFrame (lists as Python lists)."""
        return self.clusters.to_pandas()


def find_duplicates(
    messages: pa.Table | pd.DataFrame,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
) -> Detection:
    """Find duplicate clusters among outbound messages.

    ``window`` is the largest gap in seconds between consecutive records of one
    cluster (inclusive). ``key`` names the columns that must be equal; it always
    contains ``to`` and ``body``.
    """
    key = _check_key(key)
    if window < 0 or not np.isfinite(window):
        raise InputError(f"window must be a non-negative number of seconds, got {window}")
    table = _as_table(messages)
    require_columns(table, detect_columns(key))
    total = table.num_rows

    outbound = _string_mask(table["direction"], lambda a: pc.starts_with(a, "outbound"))
    has_body = _string_mask(table["body"], lambda a: pc.greater(pc.utf8_length(a), 0))
    outbound_count = int(outbound.sum())
    candidates = np.flatnonzero(outbound & has_body)

    for exact in (False, True):
        order, same, gaps = _sort_and_gaps(table, candidates, key, exact=exact)
        rows = candidates[order]  # candidate rows of ``table`` in cluster order
        clusters, members = _build_clusters(table, rows, _starts(same, gaps, window), gaps, key)
        if _keys_consistent(clusters, members, key):
            break
    del members
    clusters = clusters.sort_by([("first_created", "ascending"), ("cluster_id", "ascending")])
    sensitivity = _sensitivity(same, gaps, window)

    n_clusters = clusters.num_rows
    in_clusters = int(pc.sum(clusters["n_records"]).as_py() or 0) if n_clusters else 0
    summary: dict[str, Any] = {
        "messages": total,
        "outbound_messages": outbound_count,
        "skipped_no_body": outbound_count - len(candidates),
        "candidate_messages": len(candidates),
        "duplicate_clusters": n_clusters,
        "records_in_clusters": in_clusters,
        "extra_messages": in_clusters - n_clusters,
        "window_seconds": float(window),
        "key": list(key),
    }
    if len(candidates):
        created = table["date_created"]
        summary["period_start"] = pc.min(created).as_py()
        summary["period_end"] = pc.max(created).as_py()
    return Detection(clusters=clusters, sensitivity=sensitivity, summary=summary)


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


def _sort_and_gaps(
    table: pa.Table, candidates: np.ndarray, key: Sequence[str], *, exact: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Order candidate rows by (key, date_created, sid).

    Returns the order (positions into ``candidates``), and per ordered row
    whether it has the same key as the previous row and the gap to it in seconds.
    Keys are compared by a 64-bit hash unless ``exact``; the caller checks the
    resulting clusters and asks again with ``exact`` on a collision.
    """
    n = len(candidates)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), np.zeros(0)
    codes = _exact_key(table, candidates, key) if exact else _hashed_key(table, candidates, key)
    created_all = pc.cast(table["date_created"], pa.int64()).to_numpy(zero_copy_only=False)
    created = created_all[candidates]
    del created_all
    sort_keys = [("key", "ascending"), ("ts", "ascending")]
    order = pc.sort_indices(pa.table({"key": codes, "ts": created}), sort_keys=sort_keys)
    order = order.to_numpy()
    codes_s = codes[order]
    same = np.empty(n, dtype=bool)
    same[0] = False
    np.equal(codes_s[1:], codes_s[:-1], out=same[1:])
    del codes_s, codes
    created_s = created[order]
    tie = same.copy()
    tie[1:] &= created_s[1:] == created_s[:-1]
    if tie.any():
        order = _break_ties_by_sid(order, tie, table["sid"], candidates)
    gaps = np.zeros(n, dtype=np.float64)
    gaps[1:] = np.diff(created_s) / _US
    return order, same, gaps


def _keys_consistent(clusters: pa.Table, members: pa.Table, key: Sequence[str]) -> bool:
    """True when every cluster member has the same key values as its cluster."""
    sizes = clusters["n_records"].to_numpy(zero_copy_only=False)
    expanded = np.repeat(np.arange(len(sizes)), sizes)
    for name in key:
        left = _decoded(members[name])
        right = _decoded(clusters[name]).take(pa.array(expanded, type=pa.int64()))
        both_null = pc.and_(pc.is_null(left), pc.is_null(right))
        equal = pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)
        if not pc.all(equal, min_count=0).as_py():
            return False
    return True


def _break_ties_by_sid(
    order: np.ndarray, tie: np.ndarray, sids: pa.ChunkedArray, candidates: np.ndarray
) -> np.ndarray:
    """Reorder runs of equal (key, date_created) by sid; ``tie[i]`` marks row i equal to i-1."""
    in_run = tie.copy()
    in_run[:-1] |= tie[1:]
    positions = np.flatnonzero(in_run)
    run_id = np.cumsum(~tie[positions])
    rows = order[positions]
    frame = pd.DataFrame(
        {
            "run": run_id,
            "sid": sids.take(pa.array(candidates[rows])).to_numpy(zero_copy_only=False),
            "row": rows,
        }
    )
    frame = frame.sort_values(["run", "sid"], kind="stable")
    result = order.copy()
    result[positions] = frame["row"].to_numpy()
    return result


def _starts(same: np.ndarray, gaps: np.ndarray, window: float) -> np.ndarray:
    return ~same | (gaps > window)


def _build_clusters(
    table: pa.Table, rows: np.ndarray, starts: np.ndarray, gaps: np.ndarray, key: Sequence[str]
) -> tuple[pa.Table, pa.Table]:
    """Assemble one row per duplicate cluster; ``rows`` are table rows in cluster order.

    Also returns the member records, cluster by cluster.
    """
    n = len(rows)
    cluster_of = np.cumsum(starts) - 1
    sizes = np.bincount(cluster_of, minlength=int(cluster_of[-1]) + 1 if n else 0)
    in_dup = sizes[cluster_of] >= 2 if n else np.zeros(0, dtype=bool)
    dup_sizes = sizes[sizes >= 2].astype(np.int64)
    positions = np.flatnonzero(in_dup)
    member_rows = rows[positions]
    offsets = np.zeros(len(dup_sizes) + 1, dtype=np.int32)
    np.cumsum(dup_sizes, out=offsets[1:])
    firsts = member_rows[offsets[:-1]]
    lasts = member_rows[offsets[1:] - 1]
    members = table.take(pa.array(member_rows, type=pa.int64()))

    first_rows = table.take(pa.array(firsts, type=pa.int64()))
    created_first = first_rows["date_created"]
    created_last = table.take(pa.array(lasts, type=pa.int64()))["date_created"]
    span = (
        pc.cast(created_last, pa.int64()).to_numpy(zero_copy_only=False)
        - pc.cast(created_first, pa.int64()).to_numpy(zero_copy_only=False)
    ) / _US

    not_first = np.ones(len(positions), dtype=bool)
    not_first[offsets[:-1]] = False
    gap_offsets = (offsets - np.arange(len(offsets), dtype=np.int32)).astype(np.int32)
    gap_values = pa.array(gaps[positions[not_first]], type=pa.float64())

    columns: dict[str, pa.Array | pa.ChunkedArray] = {
        "cluster_id": first_rows["sid"],
    }
    for name in key:
        columns[name] = _decoded(first_rows[name])
    columns["n_records"] = pa.array(dup_sizes, type=pa.int64())
    columns["first_created"] = created_first
    columns["last_created"] = created_last
    columns["span_seconds"] = pa.array(span, type=pa.float64())
    columns["gaps_seconds"] = pa.ListArray.from_arrays(pa.array(gap_offsets), gap_values)
    offsets_array = pa.array(offsets)
    for source, target in LIST_COLUMNS.items():
        values = _decoded(members[source]).combine_chunks()
        columns[target] = pa.ListArray.from_arrays(offsets_array, values)
    return pa.table(columns), members


def _decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


def _sensitivity(same: np.ndarray, gaps: np.ndarray, window: float) -> pd.DataFrame:
    windows = sorted({*SENSITIVITY_WINDOWS, float(window)})
    n = len(same)
    rows = []
    for w in windows:
        starts = _starts(same, gaps, w)
        total_clusters = int(starts.sum())
        continues = np.zeros(n, dtype=bool)
        continues[:-1] = ~starts[1:]
        dup_clusters = int((starts & continues).sum())
        rows.append(
            {
                "window_seconds": float(w),
                "duplicate_clusters": dup_clusters,
                "extra_messages": n - total_clusters,
                "records_in_clusters": n - total_clusters + dup_clusters,
                "selected": float(w) == float(window),
            }
        )
    return pd.DataFrame(rows)
