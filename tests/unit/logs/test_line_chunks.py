"""Tests of reading a file as chunks of lines (issue 16): what the reader gives the
parsers is what a plain reading gives, whatever the file's bytes and the chunk size."""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.logs import files
from analyzer.logs.files import (
    LineChunk,
    byte_positions,
    count_byte,
    count_pair,
    iter_line_chunks,
)
from tests.unit.logs.samples import HYPO


def reference_chunks(data: bytes, chunk_lines: int, max_line: int) -> Iterator[LineChunk]:
    """The chunks as the reader made them before issue 16's work: each block read joined
    to the line it ends, its line offsets found at once, cut every chunk_lines lines."""
    f = io.BytesIO(data)
    block_size = max(64 * 1024, min(files.READ_BLOCK_BYTES, chunk_lines * 256))
    carry, lineno, skipping = b"", 1, False
    while True:
        block = f.read(block_size)
        if not block:
            if skipping or not carry:
                return
            text, carry = carry, b""
        else:
            if skipping:
                cut = block.find(b"\n")
                if cut < 0:
                    continue
                skipping, block = False, block[cut + 1 :]
            cut = block.rfind(b"\n")
            if cut >= 0:
                text, carry = carry + block[:cut], block[cut + 1 :]
            elif len(carry) + len(block) > max_line:
                text, carry, skipping = (carry + block)[:max_line], b"", True
            else:
                carry += block
                continue
        newlines = np.flatnonzero(np.frombuffer(text, dtype=np.uint8) == 10)
        offsets = np.concatenate([[0], newlines + 1, [len(text)]]).astype(np.int32)
        for start in range(0, len(offsets) - 1, chunk_lines):
            stop = min(start + chunk_lines, len(offsets) - 1)
            begin, end = int(offsets[start]), int(offsets[stop])
            yield LineChunk(
                pa.py_buffer(text[begin:end]), offsets[start : stop + 1] - begin, lineno + start
            )
        lineno += len(offsets) - 1


def file_bytes() -> st.SearchStrategy[bytes]:
    """Lines of all kinds: short, long (beyond a read block), empty, CRLF, bad UTF-8."""
    piece = st.one_of(
        st.binary(max_size=40),
        st.sampled_from([b"{}", b"\r", b"\xff\xc3", b"  ", "é".encode()]),
        st.integers(60_000, 140_000).map(lambda n: b"x" * n),
    )
    line_end = st.sampled_from([b"\n", b"\n", b"\r\n", b"\n\n", b""])
    return st.lists(st.tuples(piece, line_end), max_size=12).map(
        lambda parts: b"".join(a + b for a, b in parts)
    )


class _NoReadinto:
    """A file object with read() alone."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def read(self, n: int) -> bytes:
        return self._f.read(n)


@HYPO
@given(
    data=file_bytes(),
    chunk_lines=st.sampled_from([1, 3, 1000, 200_000]),
    max_line=st.sampled_from([70_000, 100_000, files.MAX_LINE_BYTES]),
    opener=st.sampled_from(["plain", "read only", "gzip"]),
)
def test_chunks_are_those_of_a_plain_reading(
    monkeypatch: pytest.MonkeyPatch, data: bytes, chunk_lines: int, max_line: int, opener: str
) -> None:
    monkeypatch.setattr(files, "MAX_LINE_BYTES", max_line)
    f = {
        "plain": lambda: io.BytesIO(data),
        "read only": lambda: _NoReadinto(data),
        "gzip": lambda: gzip.GzipFile(fileobj=io.BytesIO(gzip.compress(data))),
    }[opener]()
    got = list(iter_line_chunks(f, chunk_lines))  # type: ignore[arg-type]
    want = list(reference_chunks(data, chunk_lines, max_line))
    assert [(c.first_line, len(c)) for c in got] == [(c.first_line, len(c)) for c in want]
    for chunk, ref in zip(got, want, strict=True):
        assert chunk.data.to_pybytes() == ref.data.to_pybytes()
        assert chunk.offsets.tolist() == ref.offsets.tolist()
        assert chunk.offsets.dtype == np.int32
        text = ref.data.to_pybytes()
        try:
            text.decode("utf-8")
            valid = True
        except UnicodeDecodeError:
            valid = False
        assert chunk.is_utf8 == valid
        lines = text.decode("utf-8", "replace").split("\n")[: len(ref)]
        assert chunk.lines.to_pylist() == [line.rstrip("\r\n") for line in lines]
        firsts = {text[a:b][:1] for a, b in zip(ref.offsets[:-1], ref.offsets[1:], strict=True)}
        assert chunk.lines_start_with(b"{") == (firsts == {b"{"})


def test_an_over_long_line_is_cut_and_the_next_lines_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(files, "MAX_LINE_BYTES", 100_000)
    data = b"a\n" + b"x" * 300_000 + b"\nb\nc"
    chunks = list(iter_line_chunks(io.BytesIO(data), 1))
    assert [c.lines.to_pylist() for c in chunks] == [["a"], ["x" * 100_000], ["b"], ["c"]]
    assert [c.first_line for c in chunks] == [1, 2, 3, 4]


@HYPO
@given(raw=st.binary(max_size=300).map(lambda b: b.replace(b"a", b"\n").replace(b"b", b"{")))
def test_byte_scans(raw: bytes) -> None:
    data = np.frombuffer(raw, dtype=np.uint8)
    newlines = [i for i, byte in enumerate(raw) if byte == 10]
    assert byte_positions(data, 10).tolist() == newlines
    assert count_byte(data, 10) == len(newlines)
    # Every pair at every position, odd or even, and at either end.
    assert count_pair(data, 10, ord("{")) == raw.count(b"\n{")
    assert count_pair(data[1:], 10, ord("{")) == raw[1:].count(b"\n{")


def test_chunks_of_a_large_file_hold_its_lines_once() -> None:
    # Several read blocks, lines cut across them, and a last line without its "\n".
    lines = [f'{{"n": {i}, "pad": "{"x" * (i % 700)}"}}' for i in range(40_000)]
    data = "\n".join(lines).encode()
    chunks = list(iter_line_chunks(io.BytesIO(data), 200_000))
    assert len(chunks) > 3
    assert [c.first_line for c in chunks] == list(
        np.cumsum([1] + [len(c) for c in chunks[:-1]])
    )
    assert [s for c in chunks for s in c.lines.to_pylist()] == lines
    assert all(c.lines_start_with(b"{") for c in chunks)


@pytest.mark.parametrize(
    ("text", "closed"),
    [
        (b'{"a": 1}\n{"b": 2}\n', True),
        (b'{"a": 1}\n{"b": 2}', True),
        (b'{"a": 1}\r\n{"b": 2}\r\n', True),
        (b'{"a": 1}\n{"b": "cut sh', False),
        (b'{"a": 1}\n{"b": "cut\n{"c": 3}\n', False),
        (b'{"a": 1}\n\n', False),
    ],
)
def test_lines_cut_short_are_seen_before_parsing(text: bytes, closed: bool) -> None:
    chunks = list(iter_line_chunks(io.BytesIO(text), 1000))
    assert all(chunk.lines_end_with(b"}") for chunk in chunks) is closed
