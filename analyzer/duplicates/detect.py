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

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.clusters import (
    LIST_COLUMNS,
    SENSITIVITY_WINDOWS,
    among,
    build_clusters,
    duplicate_positions,
    empty_members,
    extra_reached_handset,
    keys_consistent,
    max_known,
    member_columns,
    repeated_keys,
    run_reach,
    run_starts,
    sensitivity_table,
    touching,
)
from analyzer.duplicates.hashing import exact_key
from analyzer.duplicates.keys import (
    Counts,
    Keys,
    Limits,
    created_micros,
    fetch_rows,
    scan_keys,
    table_keys,
    within,
)
from analyzer.errors import InputError, SchemaError
from analyzer.results import COUNTS, SENSITIVITY_COUNTS, DuplicatesSummary
from analyzer.schema import MESSAGE_SCHEMA, MICROS_PER_SECOND, require_columns

DEFAULT_WINDOW = 60.0
DEFAULT_KEY: tuple[str, ...] = ("to", "body")

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


def key_columns(key: Sequence[str] = DEFAULT_KEY) -> list[str]:
    """Return the message columns read to key the candidates (see ``scan_keys``)."""
    return list(dict.fromkeys(["direction", "status", "date_created", *key]))


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
    focus: Limits = (None, None),
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

    keys = table_keys(table, key)
    detection = detect_keys(keys, window, key, fetch, focus)
    if detection is None:  # a 64-bit hash collision: compare the keys themselves
        keys.hashes = exact_key(table, keys.rows, key).astype(np.uint64)
        detection = detect_keys(keys, window, key, fetch, focus)
        assert detection is not None
    return detection


def detect_batches(
    scan: Callable[[Sequence[str]], Iterator[pa.RecordBatch]],
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    bounds: Limits = (None, None),
    focus: Limits = (None, None),
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
    keys = scan_keys(scan(key_columns(key)), key, bounds, progress)

    def fetch(rows: np.ndarray) -> pa.Table:
        return fetch_rows(scan(members), rows)

    return detect_keys(keys, window, key, fetch, focus)


def _check_window(window: float) -> None:
    if window < 0 or not np.isfinite(window):
        raise InputError(f"window must be a non-negative number of seconds, got {window}")


@dataclass
class _Sorted:
    """The candidates in (key, time) order: where each sits in the input, its time,
    whether it has the key of the one before, the seconds since that one, whether it is
    in the focus; and the runs at the widest window of interest with the latest time
    they reach."""

    order: np.ndarray
    created: np.ndarray
    same_key: np.ndarray
    gaps: np.ndarray
    in_focus: np.ndarray
    wide_starts: np.ndarray
    reach: int | None


def _sort_candidates(keys: Keys, focus: Limits, widest: float) -> _Sorted:
    # A candidate whose key no other has is a run of one at every window: it takes
    # part in nothing but the reach, so only the others are sorted.
    repeated = repeated_keys(keys.hashes)
    alone = keys.created[~repeated & within(keys.created, focus)]
    alone_reach = int(alone.max()) if len(alone) else None
    candidates = np.flatnonzero(repeated)
    n = len(candidates)
    if not n:
        nothing = np.zeros(0, dtype=bool)
        gaps = np.zeros(0, dtype=np.float64)
        none = np.zeros(0, dtype=np.int64)
        return _Sorted(none, none, nothing, gaps, nothing, nothing, alone_reach)
    # lexsort is stable: records of one key and time stay in the order read.
    order = candidates[np.lexsort((keys.created[candidates], keys.hashes[candidates]))]
    del candidates
    sorted_hashes = keys.hashes[order]
    same = np.empty(n, dtype=bool)
    same[0] = False
    np.equal(sorted_hashes[1:], sorted_hashes[:-1], out=same[1:])
    del sorted_hashes
    created = keys.created[order]
    gaps = np.zeros(n, dtype=np.float64)
    gaps[1:] = np.diff(created) / MICROS_PER_SECOND
    in_focus = within(created, focus)
    wide_starts = run_starts(same, gaps, widest)
    reach = max_known(run_reach(wide_starts, created, in_focus), alone_reach)
    return _Sorted(order, created, same, gaps, in_focus, wide_starts, reach)


def detect_keys(
    keys: Keys,
    window: float,
    key: Sequence[str],
    fetch: Callable[[np.ndarray], pa.Table],
    focus: Limits = (None, None),
) -> Detection | None:
    """Cluster the candidates of ``keys`` (see ``scan_keys``); None when records of one
    cluster have different keys (a hash collision: compare the keys themselves).

    ``fetch(rows)`` returns the member columns of these source rows (ascending), in
    that order. ``focus`` works as in ``detect_batches``.
    """
    # Clusters nest as the window grows: the records of every duplicate cluster at
    # any window of interest are among those at the widest one.
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    ordered = _sort_candidates(keys, focus, widest)
    # Only the wide clusters that reach into the focus can hold a cluster that starts
    # in it (or one the sensitivity table counts): the others are neither read nor checked.
    wide_pos, wide_cluster = touching(
        *duplicate_positions(ordered.wide_starts), ordered.created, focus
    )
    members_wide = _fetch_members(keys.rows[ordered.order[wide_pos]], key, fetch)
    if not keys_consistent(members_wide, wide_cluster, key):
        return None

    sel_pos, sel_cluster = duplicate_positions(run_starts(ordered.same_key, ordered.gaps, window))
    picked, sel_cluster = among(sel_pos, sel_cluster, wide_pos)
    members = members_wide.take(pa.array(picked, type=pa.int64()))
    clusters = build_clusters(members, sel_cluster, key)
    if focus != (None, None):
        starts_inside = within(created_micros(clusters["first_created"]), focus)
        clusters = clusters.filter(pa.array(starts_inside))
    sensitivity = sensitivity_table(ordered.same_key, ordered.gaps, window, ordered.in_focus)
    summary = _summary(keys.counts(focus), clusters, window, key)
    return Detection(
        clusters=clusters, sensitivity=sensitivity, summary=summary, reach=ordered.reach
    )


def _fetch_members(
    source_rows: np.ndarray, key: Sequence[str], fetch: Callable[[np.ndarray], pa.Table]
) -> pa.Table:
    """The member columns of these source rows, in the order given (fetched in row order)."""
    if not len(source_rows):
        return empty_members(key)
    by_row = np.argsort(source_rows, kind="stable")
    fetched = fetch(source_rows[by_row])
    return fetched.take(pa.array(np.argsort(by_row, kind="stable"), type=pa.int64()))


def _summary(
    counts: Counts, clusters: pa.Table, window: float, key: Sequence[str]
) -> DuplicatesSummary:
    n_clusters = clusters.num_rows
    in_clusters = int(pc.sum(clusters["n_records"]).as_py() or 0)
    summary = DuplicatesSummary(
        messages=counts.total,
        outbound_messages=counts.outbound,
        skipped_no_body=counts.no_body,
        skipped_not_sent=counts.not_sent,
        candidate_messages=counts.candidates,
        duplicate_clusters=n_clusters,
        records_in_clusters=in_clusters,
        extra_messages=in_clusters - n_clusters,
        extra_reached_handset=extra_reached_handset(clusters),
        window_seconds=float(window),
        key=list(key),
    )
    first, last = counts.period
    if first is not None and last is not None:
        summary.period_start = pd.Timestamp(first, unit="us", tz="UTC").to_pydatetime()
        summary.period_end = pd.Timestamp(last, unit="us", tz="UTC").to_pydatetime()
    return summary


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


def combine_detections(
    parts: Sequence[Detection], *, window: float, key: Sequence[str]
) -> Detection:
    """Combine detections over disjoint sets of records (keys, or days of focus) into one."""
    if not parts:
        raise InputError("no partitions to combine")
    clusters = pa.concat_tables([p.clusters for p in parts]).sort_by(
        [("first_created", "ascending"), ("cluster_id", "ascending")]
    )
    sensitivity = parts[0].sensitivity.copy()
    for name in SENSITIVITY_COUNTS:
        sensitivity[name] = sum(p.sensitivity[name] for p in parts)
    summary = DuplicatesSummary(window_seconds=float(window), key=list(key))
    for name in COUNTS:
        setattr(summary, name, sum(int(getattr(p.summary, name)) for p in parts))
    starts = [p.summary.period_start for p in parts if p.summary.period_start is not None]
    ends = [p.summary.period_end for p in parts if p.summary.period_end is not None]
    if starts and ends:
        summary.period_start, summary.period_end = min(starts), max(ends)
    return Detection(clusters=clusters, sensitivity=sensitivity, summary=summary)
