"""Runs of records with one key, seconds apart, and the cluster table built from them."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.keys import created_micros, decoded
from analyzer.results import SENSITIVITY_COLUMNS
from analyzer.schema import HANDSET_STATUSES, MESSAGE_SCHEMA, MICROS_PER_SECOND

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

_HANDSET = pa.array(HANDSET_STATUSES, pa.string())


def member_columns(key: Sequence[str]) -> list[str]:
    """Columns fetched for the records of duplicate clusters."""
    return list(dict.fromkeys([*key, *LIST_COLUMNS]))


def run_starts(same: np.ndarray, gaps: np.ndarray, window: float) -> np.ndarray:
    """Which sorted records start a run: a new key, or a gap over the window."""
    return ~same | (gaps > window)


def run_reach(starts: np.ndarray, created: np.ndarray, counted: np.ndarray) -> int | None:
    """The latest record of any run whose first record is counted."""
    first = np.flatnonzero(starts)
    if not len(first):
        return None
    last = np.append(first[1:], len(starts)) - 1
    kept = counted[first]
    return int(created[last[kept]].max()) if kept.any() else None


def max_known(*values: int | None) -> int | None:
    """The largest of the values that are not None (None if none is)."""
    known = [v for v in values if v is not None]
    return max(known) if known else None


def repeated_keys(hashes: np.ndarray) -> np.ndarray:
    """Which keys occur more than once (and, rarely, a few that share their high bits
    with another: callers compare whole keys after this)."""
    n = len(hashes)
    if n < 2:
        return np.zeros(n, dtype=bool)
    # Each key's high bits with its position in the low ones: one plain sort (much
    # faster than an argsort) brings equal keys together and says where each came from.
    bits = (n - 1).bit_length()
    low = np.uint64((1 << bits) - 1)
    packed = (hashes.astype(np.uint64, copy=False) & ~low) | np.arange(n, dtype=np.uint64)
    packed.sort()
    high = packed >> np.uint64(bits)
    same = high[1:] == high[:-1]
    del high
    flagged = np.zeros(n, dtype=bool)
    flagged[1:] |= same
    flagged[:-1] |= same
    repeated = np.zeros(n, dtype=bool)
    repeated[(packed[flagged] & low).astype(np.int64)] = True
    return repeated


def duplicate_positions(starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted positions in duplicate clusters, and a dense cluster number for each."""
    if not len(starts):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    cluster_of = np.cumsum(starts) - 1
    sizes = np.bincount(cluster_of)
    positions = np.flatnonzero(sizes[cluster_of] >= 2)
    dense = np.cumsum(starts[positions]) - 1
    return positions, dense


def touching(
    positions: np.ndarray,
    cluster: np.ndarray,
    created: np.ndarray,
    limits: tuple[int | None, int | None],
) -> tuple[np.ndarray, np.ndarray]:
    """The positions (and cluster numbers) of the clusters with a record inside the
    limits or records on both sides of them; ``created`` is per sorted position."""
    if not len(positions):
        return positions, cluster
    edges = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1], True])
    keep = np.ones(len(edges) - 1, dtype=bool)
    if limits[0] is not None:
        keep &= created[positions[edges[1:] - 1]] >= limits[0]
    if limits[1] is not None:
        keep &= created[positions[edges[:-1]]] < limits[1]
    kept = np.repeat(keep, np.diff(edges))
    return positions[kept], _dense(cluster[kept])


def among(positions: np.ndarray, cluster: np.ndarray, known: np.ndarray) -> tuple[np.ndarray, ...]:
    """Of these sorted positions, those also in ``known`` (sorted): where each sits in
    ``known``, and its cluster renumbered densely."""
    at = np.searchsorted(known, positions)
    found = at < len(known)
    found[found] = known[at[found]] == positions[found]
    return at[found], _dense(cluster[found])


def _dense(cluster: np.ndarray) -> np.ndarray:
    """Ascending cluster numbers renumbered 0, 1, 2, ..."""
    if not len(cluster):
        return cluster
    return np.cumsum(np.r_[True, cluster[1:] != cluster[:-1]]) - 1


def empty_members(key: Sequence[str]) -> pa.Table:
    """A members table without rows."""
    return pa.schema([MESSAGE_SCHEMA.field(c) for c in member_columns(key)]).empty_table()


def keys_consistent(members: pa.Table, cluster: np.ndarray, key: Sequence[str]) -> bool:
    """True when every member has the same key values as the first of its cluster."""
    if not len(cluster):
        return True
    first = np.flatnonzero(np.r_[True, cluster[1:] != cluster[:-1]])
    leader = pa.array(first[cluster], type=pa.int64())
    for name in key:
        left = decoded(members[name])
        right = left.take(leader)
        both_null = pc.and_(pc.is_null(left), pc.is_null(right))
        equal = pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)
        if not pc.all(equal, min_count=0).as_py():
            return False
    return True


def build_clusters(members: pa.Table, cluster: np.ndarray, key: Sequence[str]) -> pa.Table:
    """One row per cluster from its member records (in key, time order)."""
    created = created_micros(members["date_created"]) if members.num_rows else np.zeros(0, np.int64)
    # Equal timestamps are ordered by sid: re-sort members inside each cluster.
    order = pc.sort_indices(
        pa.table({"c": cluster, "t": created, "sid": decoded(members["sid"])}),
        sort_keys=[("c", "ascending"), ("t", "ascending"), ("sid", "ascending")],
    )
    members = members.take(order)
    created = created[order.to_numpy()]
    sizes = np.bincount(cluster).astype(np.int64) if len(cluster) else np.zeros(0, np.int64)
    offsets = np.zeros(len(sizes) + 1, dtype=np.int32)
    np.cumsum(sizes, out=offsets[1:])
    first_rows = members.take(pa.array(offsets[:-1], type=pa.int64()))

    columns: dict[str, pa.Array | pa.ChunkedArray] = {"cluster_id": decoded(first_rows["sid"])}
    for name in key:
        columns[name] = decoded(first_rows[name])
    columns["n_records"] = pa.array(sizes, type=pa.int64())
    columns["first_created"] = first_rows["date_created"]
    columns["last_created"] = members.take(pa.array(offsets[1:] - 1, type=pa.int64()))[
        "date_created"
    ]
    columns.update(_gap_columns(created, offsets))
    offsets_array = pa.array(offsets)
    for source, target in LIST_COLUMNS.items():
        values = decoded(members[source]).combine_chunks()
        columns[target] = pa.ListArray.from_arrays(offsets_array, values)
    clusters = pa.table(columns)
    return clusters.sort_by([("first_created", "ascending"), ("cluster_id", "ascending")])


def _gap_columns(created: np.ndarray, offsets: np.ndarray) -> dict[str, pa.Array]:
    """Each cluster's span and the gaps between its records, in seconds."""
    n_clusters = len(offsets) - 1
    not_first = np.ones(len(created), dtype=bool)
    not_first[offsets[:-1]] = False
    gap_values = (
        np.diff(created, prepend=created[:1]) / MICROS_PER_SECOND if len(created) else created
    )
    gap_offsets = (offsets - np.arange(len(offsets), dtype=np.int32)).astype(np.int32)
    span = (
        (created[offsets[1:] - 1] - created[offsets[:-1]]) / MICROS_PER_SECOND
        if n_clusters
        else np.zeros(0)
    )
    return {
        "span_seconds": pa.array(span, type=pa.float64()),
        "gaps_seconds": pa.ListArray.from_arrays(
            pa.array(gap_offsets), pa.array(gap_values[not_first], type=pa.float64())
        ),
    }


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
    flat = decoded(pa.chunked_array([pc.list_flatten(lists)]))
    reached = np.asarray(
        pc.fill_null(pc.is_in(flat, value_set=_HANDSET), False).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    parents = np.asarray(pc.list_parent_indices(lists).to_numpy(zero_copy_only=False))
    per_cluster = np.bincount(parents[reached], minlength=n)
    return int(np.maximum(per_cluster - 1, 0).sum())


def sensitivity_table(
    same: np.ndarray, gaps: np.ndarray, window: float, counted: np.ndarray
) -> pd.DataFrame:
    """Clusters and extra messages per window, for clusters whose first record is counted."""
    windows = sorted({*SENSITIVITY_WINDOWS, float(window)})
    n = len(same)
    rows = []
    for w in windows:
        first = np.flatnonzero(run_starts(same, gaps, w))
        sizes = np.diff(np.append(first, n))
        keep = counted[first]
        dup = keep & (sizes >= 2)
        rows.append(
            (
                float(w),
                int(dup.sum()),
                int((sizes[keep] - 1).sum()),
                int(sizes[dup].sum()),
                float(w) == float(window),
            )
        )
    return pd.DataFrame(rows, columns=list(SENSITIVITY_COLUMNS))
