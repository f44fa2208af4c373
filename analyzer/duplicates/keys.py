"""The records detection compares, reduced to what clustering needs: a key and a time.

Only outbound records with a body that went out (not ``canceled`` or ``scheduled``)
are candidates; records without ``date_created`` cannot be placed in time and are
not counted.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.hashing import hashed_key
from analyzer.errors import InputError
from analyzer.schema import NOT_SENT_STATUSES, TIMESTAMP

#: Limits of date_created (µs since the epoch, end exclusive); None: open.
Limits = tuple[int | None, int | None]


@dataclass
class Counts:
    """The records counted in a focus, by class, and the span of the candidates in it."""

    total: int
    outbound: int
    no_body: int
    not_sent: int
    candidates: int
    period: Limits = (None, None)


#: Classes of the dated records, for the counts.
_OTHER, _CANDIDATE, _NO_BODY, _NOT_SENT = 0, 1, 2, 3


@dataclass
class Keys:
    """What clustering needs per candidate record, and what counting needs per record."""

    rows: np.ndarray  # positions of the candidates in the source
    hashes: np.ndarray  # one 64-bit key per candidate (a hash, or exact codes)
    created: np.ndarray  # date_created, microseconds since the epoch
    #: date_created (µs) and class of every record that has one (inside the bounds).
    when: np.ndarray
    kind: np.ndarray
    #: Records read from the source (where the next source's rows start).
    size: int = 0

    def counts(self, focus: Limits) -> Counts:
        """The records counted inside ``focus``."""
        by_kind = np.bincount(self.kind[within(self.when, focus)], minlength=4)
        total = int(by_kind.sum())
        created = self.created[within(self.created, focus)]
        return Counts(
            total=total,
            outbound=total - int(by_kind[_OTHER]),
            no_body=int(by_kind[_NO_BODY]),
            not_sent=int(by_kind[_NOT_SENT]),
            candidates=int(by_kind[_CANDIDATE]),
            period=(int(created.min()), int(created.max())) if len(created) else (None, None),
        )


def join_keys(parts: Sequence[Keys]) -> Keys:
    """The keys of sources read one after the other, as one source."""
    starts = np.cumsum([0, *(part.size for part in parts)])
    return Keys(
        rows=_concatenate(
            [p.rows + start for p, start in zip(parts, starts, strict=False)], np.int64
        ),
        hashes=_concatenate([p.hashes for p in parts], np.uint64),
        created=_concatenate([p.created for p in parts], np.int64),
        when=_concatenate([p.when for p in parts], np.int64),
        kind=_concatenate([p.kind for p in parts], np.uint8),
        size=int(starts[-1]),
    )


def _concatenate(arrays: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(arrays).astype(dtype, copy=False) if arrays else np.zeros(0, dtype)


@dataclass
class _Masks:
    """Per-record classes; records without a creation time are in none of them."""

    outbound: np.ndarray
    no_body: np.ndarray  # outbound without a body
    not_sent: np.ndarray  # outbound with a body that never went out
    candidate: np.ndarray  # outbound with a body that went out: compared


_NOT_SENT_VALUES = pa.array(NOT_SENT_STATUSES, pa.string())
#: Batches keyed at once, besides the one being read.
_WORKERS = 2


def created_micros(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Times as microseconds since the epoch."""
    as_us = pc.cast(column, TIMESTAMP)
    return np.asarray(pc.cast(as_us, pa.int64()).to_numpy(zero_copy_only=False))


def within(values: np.ndarray, limits: Limits) -> np.ndarray:
    """Which values lie inside the limits (start inclusive, end exclusive)."""
    mask = np.ones(len(values), dtype=bool)
    if limits[0] is not None:
        mask &= values >= limits[0]
    if limits[1] is not None:
        mask &= values < limits[1]
    return mask


def decoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """The column with any dictionary encoding undone."""
    if pa.types.is_dictionary(column.type):
        return column.cast(column.type.value_type)
    return column


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


def _candidate_mask(batch: pa.Table) -> _Masks:
    """Classify the rows that have a creation time."""
    created = np.asarray(pc.is_valid(batch["date_created"]).to_numpy(zero_copy_only=False))
    outbound = created & _string_mask(batch["direction"], lambda a: pc.starts_with(a, "outbound"))
    has_body = _string_mask(batch["body"], lambda a: pc.greater(pc.binary_length(a), 0))
    not_sent = _string_mask(batch["status"], lambda a: pc.is_in(a, value_set=_NOT_SENT_VALUES))
    return _Masks(
        outbound=outbound,
        no_body=outbound & ~has_body,
        not_sent=outbound & has_body & not_sent,
        candidate=outbound & has_body & ~not_sent,
    )


def batch_keys(table: pa.Table, key: Sequence[str], bounds: Limits = (None, None)) -> Keys:
    """The keys of the candidates of a table whose date_created lies inside ``bounds``."""
    dated = np.asarray(pc.is_valid(table["date_created"]).to_numpy(zero_copy_only=False))
    when = created_micros(pc.fill_null(table["date_created"], 0))
    inside = np.flatnonzero(dated & within(when, bounds))
    masks = _candidate_mask(table)
    kind = np.zeros(table.num_rows, dtype=np.uint8)
    kind[masks.candidate] = _CANDIDATE
    kind[masks.no_body] = _NO_BODY
    kind[masks.not_sent] = _NOT_SENT
    kind = kind[inside]
    rows = inside[kind == _CANDIDATE]
    return Keys(
        rows=rows,
        hashes=hashed_key(table, rows, key),
        created=when[rows],
        when=when[inside],
        kind=kind,
        size=table.num_rows,
    )


def table_keys(table: pa.Table, key: Sequence[str]) -> Keys:
    """The keys of the candidates of a table in memory."""
    return batch_keys(table, key)


def scan_keys(
    batches: Iterator[pa.RecordBatch],
    key: Sequence[str],
    bounds: Limits,
    progress: Callable[[int], None] | None = None,
) -> Keys:
    """The keys of the candidates inside ``bounds``, read batch by batch.

    Batches are keyed on a second thread while the next one is read (reading and
    hashing release the interpreter), holding at most two batches at a time.
    """
    parts: list[Keys] = []
    pending: deque[Future[Keys]] = deque()

    def collect() -> None:
        part = pending.popleft().result()
        parts.append(part)
        if progress is not None:
            progress(part.size)

    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        for batch in batches:
            pending.append(pool.submit(batch_keys, pa.Table.from_batches([batch]), key, bounds))
            if len(pending) >= _WORKERS:
                collect()
        while pending:
            collect()
    # The batches read are gone: give their memory back rather than keep it pooled.
    pa.default_memory_pool().release_unused()
    return join_keys(parts)


def fetch_rows(batches: Iterator[pa.RecordBatch], rows: np.ndarray) -> pa.Table:
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
