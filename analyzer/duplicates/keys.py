"""The records detection compares, reduced to what clustering needs: a key and a time.

Only outbound records with a body that went out (not ``canceled`` or ``scheduled``)
are candidates; records without ``date_created`` cannot be placed in time and are
not counted.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
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
class Keys:
    """What clustering needs per candidate record, and the counts around them."""

    rows: np.ndarray  # positions of the candidates in the source
    hashes: np.ndarray  # one 64-bit key per candidate (a hash, or exact codes)
    created: np.ndarray  # date_created, microseconds since the epoch
    total: int
    outbound: int
    no_body: int
    not_sent: int
    candidates: int
    period: Limits = (None, None)


@dataclass
class _Masks:
    """Per-record classes; records without a creation time are in none of them."""

    outbound: np.ndarray
    no_body: np.ndarray  # outbound without a body
    not_sent: np.ndarray  # outbound with a body that never went out
    candidate: np.ndarray  # outbound with a body that went out: compared


_NOT_SENT = pa.array(NOT_SENT_STATUSES, pa.string())


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
    has_body = _string_mask(batch["body"], lambda a: pc.greater(pc.utf8_length(a), 0))
    not_sent = _string_mask(batch["status"], lambda a: pc.is_in(a, value_set=_NOT_SENT))
    return _Masks(
        outbound=outbound,
        no_body=outbound & ~has_body,
        not_sent=outbound & has_body & not_sent,
        candidate=outbound & has_body & ~not_sent,
    )


def _counted(created: pa.ChunkedArray | pa.Array, limits: Limits) -> np.ndarray:
    """Rows with a creation time inside the limits."""
    valid = np.asarray(pc.is_valid(created).to_numpy(zero_copy_only=False), dtype=bool)
    return valid & within(created_micros(pc.fill_null(created, 0)), limits)


def _period(created: np.ndarray) -> Limits:
    if not len(created):
        return (None, None)
    return (int(created.min()), int(created.max()))


def table_keys(table: pa.Table, key: Sequence[str], focus: Limits) -> Keys:
    """The keys of the candidates of a table in memory; counts only inside ``focus``."""
    masks = _candidate_mask(table)
    counted = _counted(table["date_created"], focus)
    rows = np.flatnonzero(masks.candidate)
    created = created_micros(table["date_created"].take(pa.array(rows, type=pa.int64())))
    return Keys(
        rows=rows,
        hashes=hashed_key(table, rows, key),
        created=created,
        total=int(counted.sum()),
        outbound=int((masks.outbound & counted).sum()),
        no_body=int((masks.no_body & counted).sum()),
        not_sent=int((masks.not_sent & counted).sum()),
        candidates=int((masks.candidate & counted).sum()),
        period=_period(created[within(created, focus)]),
    )


def scan_keys(
    batches: Iterator[pa.RecordBatch],
    key: Sequence[str],
    bounds: Limits,
    focus: Limits,
    progress: Callable[[int], None] | None = None,
) -> Keys:
    """The keys of the candidates inside ``bounds``, read batch by batch; counts only
    inside ``focus``."""
    rows: list[np.ndarray] = []
    hashes: list[np.ndarray] = []
    created: list[np.ndarray] = []
    offset = total = outbound_count = no_body = not_sent = candidate_count = 0
    for batch in batches:
        table = pa.Table.from_batches([batch])
        when = created_micros(pc.fill_null(table["date_created"], 0))
        inside = _counted(table["date_created"], bounds)
        counted = inside & within(when, focus)
        masks = _candidate_mask(table)
        local = np.flatnonzero(masks.candidate & inside)
        rows.append(local + offset)
        hashes.append(hashed_key(table, local, key))
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
    return Keys(
        rows=np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64),
        hashes=np.concatenate(hashes) if hashes else np.zeros(0, dtype=np.uint64),
        created=all_created,
        total=total,
        outbound=outbound_count,
        no_body=no_body,
        not_sent=not_sent,
        candidates=candidate_count,
        period=_period(all_created[within(all_created, focus)]),
    )


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
