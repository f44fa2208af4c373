"""64-bit keys of the grouping columns, so records are grouped without holding their text."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

#: The polynomial's base (odd, so that it has an inverse modulo 2**64).
_BASE = 0x9E3779B97F4A7C15
_BASE_INVERSE = pow(_BASE, -1, 1 << 64)
_NULL_HASH = np.uint64(0x9E3779B97F4A7C15)
_COMBINE = np.uint64(0x2545F4914F6CDD1D)
#: Strings, and bytes of text, hashed at a time: their words then stay in the
#: processor's cache, and the table of powers stays small.
_HASH_SLICE = 1 << 16
_HASH_SLICE_BYTES = 1 << 23
#: The low ``8 * r`` bits of a word, for a string's last ``r`` bytes (r = 0: all).
_TAIL_MASKS = np.array([(1 << (8 * r)) - 1 for r in range(8)], dtype=np.uint64)
_TAIL_MASKS[0] = np.uint64(0xFFFFFFFFFFFFFFFF)


class _Powers:
    """Powers of the base and of its inverse, grown as longer slices need them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        one = np.ones(1, dtype=np.uint64)
        self.tables = (one, one)

    def upto(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """At least ``n`` powers of the base, and as many of its inverse."""
        tables = self.tables  # read once: other threads may replace it meanwhile
        if len(tables[0]) < n:
            with self._lock:
                size = 1 << max(16, (n - 1).bit_length())
                tables = (_powers(_BASE, size), _powers(_BASE_INVERSE, size))
                self.tables = tables
        return tables


def _powers(base: int, n: int) -> np.ndarray:
    factors = np.full(n, base, dtype=np.uint64)
    factors[0] = 1
    return np.cumprod(factors, dtype=np.uint64)


_POWERS = _Powers()


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer: spreads every input bit over the output."""
    x = x ^ (x >> np.uint64(30))
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return x


def _string_words(array: pa.Array) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The strings' bytes as little-endian 64-bit words (the last one of each string
    zero-padded), each string's byte length, and where its words end."""
    n = len(array)
    offsets_type = np.int64 if pa.types.is_large_string(array.type) else np.int32
    buffers = array.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offsets_type)[array.offset : array.offset + n + 1]
    offsets = offsets.astype(np.int64)
    lo, nbytes = int(offsets[0]), int(offsets[-1] - offsets[0])
    lengths = np.diff(offsets)
    n_words = (lengths + 7) >> 3
    word_end = np.cumsum(n_words)
    total = int(word_end[-1]) if n else 0
    if nbytes >= 8:
        # Every byte position read as the start of a word: no copy of the text.
        source = np.ndarray((nbytes - 7,), np.uint64, buffer=buffers[2], offset=lo, strides=(1,))
    else:
        padded = np.zeros(8, dtype=np.uint8)
        if nbytes:
            padded[:nbytes] = np.frombuffer(buffers[2], np.uint8, count=nbytes, offset=lo)
        source = padded.view(np.uint64)
    limit = len(source) - 1
    at = np.repeat(offsets[:-1] - lo - 8 * (word_end - n_words), n_words)
    at += np.arange(0, 8 * total, 8, dtype=np.int64)
    beyond = np.flatnonzero(at > limit)  # the last word of the text, when short
    shifts = (at[beyond] - limit).astype(np.uint64) * np.uint64(8)
    at[beyond] = limit
    words = source[at]
    words[beyond] >>= shifts
    partial = np.flatnonzero(lengths & 7)
    words[word_end[partial] - 1] &= _TAIL_MASKS[lengths[partial] & 7]
    return words, lengths, word_end


def _hash_strings(array: pa.Array) -> np.ndarray:
    """Return a 64-bit hash per string of a (large_)string array; nulls get one fixed value.

    The hash is a polynomial over the strings' 64-bit words modulo 2**64: each word is
    weighted by the base's power at its place in the slice, and each string's sum is
    brought back to its own first word by the inverse's power, so equal strings hash
    equal wherever they are.
    """
    words, lengths, word_end = _string_words(array)
    up, down = _POWERS.upto(len(words) + 1)
    words *= up[: len(words)]
    sums = np.zeros(len(words) + 1, dtype=np.uint64)
    np.cumsum(words, dtype=np.uint64, out=sums[1:])
    word_start = word_end - ((lengths + 7) >> 3)
    raw = (sums[word_end] - sums[word_start]) * down[word_start]
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
        parts.extend(_hash_strings(piece) for piece in _slices(chunk))
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint64)


def _slices(array: pa.Array) -> Iterator[pa.Array]:
    """The array in consecutive slices of at most _HASH_SLICE strings and, unless one
    string is longer, _HASH_SLICE_BYTES bytes."""
    lengths = np.asarray(pc.binary_length(array).fill_null(0).to_numpy(zero_copy_only=False))
    ends = np.cumsum(lengths, dtype=np.int64)
    start, n = 0, len(array)
    while start < n:
        before = int(ends[start - 1]) if start else 0
        fits = int(np.searchsorted(ends, before + _HASH_SLICE_BYTES, side="right"))
        stop = min(start + _HASH_SLICE, max(fits, start + 1))
        yield array.slice(start, stop - start)
        start = stop


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
