"""Vectorized building of string columns: digits, SIDs, joins, quoting and hashing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

HEX_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def fixed_width(mat: np.ndarray) -> pa.Array:
    """Turn an (n, w) uint8 matrix of ASCII into a string array of width w."""
    n, width = mat.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = np.ascontiguousarray(mat, dtype=np.uint8)
    if n * width < 2**31:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
    large = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return large.cast(pa.string())


def digits(values: np.ndarray, width: int, base: int = 10) -> pa.Array:
    """Zero-padded fixed-width rendering of non-negative integers (base 10 or 16)."""
    values = np.asarray(values, dtype=np.uint64)
    mat = np.empty((values.size, width), dtype=np.uint8)
    rest = values.copy()
    for j in range(width - 1, -1, -1):
        mat[:, j] = HEX_DIGITS[(rest % base).astype(np.intp)]
        rest //= base
    return fixed_width(mat)


def hex_sids(raw: np.ndarray, prefix: np.ndarray) -> pa.Array:
    """SID strings from (n, 16) random bytes and (n, 2) ASCII prefixes."""
    mat = np.empty((raw.shape[0], 34), dtype=np.uint8)
    mat[:, :2] = prefix
    mat[:, 2::2] = HEX_DIGITS[raw >> 4]
    mat[:, 3::2] = HEX_DIGITS[raw & 15]
    return fixed_width(mat)


def random_sid(rng: np.random.Generator, prefix: str) -> str:
    """One SID with this prefix from 16 random bytes."""
    return prefix + "".join(f"{b:02x}" for b in rng.integers(0, 256, 16, dtype=np.uint8))


def hex_matrix(raw: np.ndarray) -> np.ndarray:
    """(n, 2k) ASCII hex digits of (n, k) bytes."""
    mat = np.empty((raw.shape[0], 2 * raw.shape[1]), dtype=np.uint8)
    mat[:, 0::2] = HEX_DIGITS[raw >> 4]
    mat[:, 1::2] = HEX_DIGITS[raw & 15]
    return mat


def uuid4(raw: np.ndarray) -> pa.Array:
    """UUID version 4 text from (n, 16) random bytes."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = hex_matrix(raw)
    return compose(
        raw.shape[0],
        [h[:, :8], "-", h[:, 8:12], "-", h[:, 12:16], "-", h[:, 16:20], "-", h[:, 20:]],
    )


def pick(index: np.ndarray, choices: Sequence[str | None]) -> pa.Array:
    """choices[index] for each index, as a string array."""
    return pa.array(list(choices), type=pa.string()).take(pa.array(np.asarray(index, np.int64)))


def join(pieces: Sequence[str | pa.Array]) -> pa.Array:
    """Row-wise concatenation of literals and string arrays."""
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in pieces]
    joined = pc.binary_join_element_wise(*args, "")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


def as_text(values: np.ndarray) -> pa.Array:
    """Decimal text of numbers."""
    return pc.cast(pa.array(values), pa.string())


def compose(n: int, parts: Sequence[str | tuple[np.ndarray, int] | np.ndarray]) -> pa.Array:
    """Fixed-width ASCII strings from literals, (number, zero-padded width) pairs and
    (n, w) uint8 matrices."""
    widths = [
        len(p) if isinstance(p, str) else p[1] if isinstance(p, tuple) else p.shape[1]
        for p in parts
    ]
    mat = np.empty((n, sum(widths)), dtype=np.uint8)
    col = 0
    for part, width in zip(parts, widths, strict=True):
        if isinstance(part, str):
            mat[:, col : col + width] = np.frombuffer(part.encode("ascii"), np.uint8)
        elif isinstance(part, tuple):
            rest = part[0].astype(np.int64)
            for j in range(col + width - 1, col - 1, -1):
                mat[:, j] = rest % 10 + 48
                rest = rest // 10
        else:
            mat[:, col : col + width] = part
        col += width
    return fixed_width(mat)


def json_escape(values: pa.Array) -> pa.Array:
    """JSON string escaping (quotes, backslashes, control characters)."""
    if not pc.any(pc.match_substring_regex(values, r'["\\\x00-\x1f]')).as_py():
        return values
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        values = pc.replace_substring(values, raw, escaped)
    for code in range(32):
        if chr(code) not in "\n\r\t" and pc.any(pc.match_substring(values, chr(code))).as_py():
            values = pc.replace_substring(values, chr(code), f"\\u{code:04x}")
    return values


def json_quoted(values: pa.Array) -> pa.Array:
    """JSON string values, ``null`` for nulls."""
    return pc.fill_null(pc.binary_join_element_wise('"', json_escape(values), '"', ""), "null")


def python_repr(values: pa.Array) -> pa.Array:
    """Python's repr() of str values (the quoting the SDK's PAYLOAD line shows)."""
    esc = pc.replace_substring(values, "\\", "\\\\")
    for raw, escaped in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        esc = pc.replace_substring(esc, raw, escaped)
    double = pc.and_(pc.match_substring(values, "'"), pc.invert(pc.match_substring(values, '"')))
    single = pc.binary_join_element_wise("'", pc.replace_substring(esc, "'", "\\'"), "'", "")
    return pc.if_else(double, pc.binary_join_element_wise('"', esc, '"', ""), single)


def present(mask: np.ndarray | pa.Array, values: pa.Array) -> pa.Array:
    """values where mask holds, "" elsewhere (for optional pieces of a line)."""
    return pc.fill_null(pc.if_else(mask, values, pa.scalar(None, pa.string())), "")


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a fixed bijection scrambling uint64 values."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def counter_bytes(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """16 pseudo-random bytes per index, independent of how indices are chunked."""
    base = np.uint64((seed * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03) % 2**64)
    idx = index.astype(np.uint64)
    with np.errstate(over="ignore"):
        hi = mix64(idx * np.uint64(2) + base)
        lo = mix64(idx * np.uint64(2) + np.uint64(1) + base)
    both = np.stack([hi, lo], axis=1).astype(">u8")
    return both.view(np.uint8).reshape(index.size, 16)


def write_text(handle: BinaryIO, text: pa.Array | pa.ChunkedArray) -> None:
    """Write the strings one after another, as UTF-8 bytes."""
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    if len(text):
        handle.write(memoryview(buffers[2])[offsets[0] : offsets[-1]])
