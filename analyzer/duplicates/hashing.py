"""64-bit keys of the grouping columns, so records are grouped without holding their text."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

_HASH_BASE = np.uint64(0x100000001B3)
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_COMBINE = np.uint64(0x2545F4914F6CDD1D)
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


def hash_column(column: pa.ChunkedArray) -> np.ndarray:
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


def hashed_key(table: pa.Table, candidates: np.ndarray, key: Sequence[str]) -> np.ndarray:
    """One 64-bit hash per candidate row over all key columns."""
    combined = np.zeros(len(candidates), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in key:
            combined = _mix64(combined * _COMBINE + hash_column(table[name])[candidates])
    return combined


def exact_key(table: pa.Table, candidates: np.ndarray, key: Sequence[str]) -> np.ndarray:
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
