"""Finding log files, opening them (plain or gzip) and reading them as chunks of lines."""

from __future__ import annotations

import collections
import glob
import gzip
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError

#: The longest line kept whole; a longer one is cut to this and read as malformed.
MAX_LINE_BYTES = 16 * 1024 * 1024
#: Bytes read at a time; a chunk of lines holds at most this many (parsers work on a few
#: chunks at once, one per core).
READ_BLOCK_BYTES = 4 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
#: Threads preparing chunks at most (beyond a few cores, the caller's feed() limits).
_MAX_WORKERS = 4


def expand_paths(paths: Sequence[str | Path] | str | Path) -> list[Path]:
    """The log files that ``paths`` names (paths or globs), each once, in order.

    Raises InputError for a glob that matches no file, a directory or a missing file.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Path] = []
    for raw in paths:
        text = str(raw)
        if glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise InputError(f"no log file matches {text}")
            out.extend(matches)
        else:
            path = Path(text)
            if path.is_dir():
                raise InputError(f"log path is a directory, not a file: {path}")
            if not path.is_file():
                raise InputError(f"log file not found: {path}")
            out.append(path)
    return list(dict.fromkeys(out))


def open_log(path: Path) -> IO[bytes]:
    """The file's bytes, decompressed when it is gzip (whatever its name)."""
    try:
        f = path.open("rb")
        magic = f.read(2)
        f.seek(0)
    except OSError as exc:
        raise InputError(f"cannot read log file {path}: {exc.strerror}") from exc
    if magic == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def head_lines(f: IO[bytes], n: int) -> list[str]:
    """The first ``n`` non-blank lines of a file."""
    out: list[str] = []
    for _ in range(50 * n):  # bounded even for a file of blank lines
        raw = f.readline(MAX_LINE_BYTES)
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.strip():
            out.append(line)
            if len(out) >= n:
                break
    return out


class LineChunk:
    """Consecutive lines of a file: their bytes as read, and the lines as text on demand.

    ``data`` holds the lines each followed by "\\n" (the chunk's last line possibly not);
    line i spans ``data[offsets[i]:offsets[i + 1]]``, its "\\n" included. Without
    ``offsets`` (a chunk whose last line has no "\\n"), ``n_lines`` gives the number of
    lines and the offsets are found when first asked for: on the thread that prepares the
    chunk, not the one that reads the file.
    """

    def __init__(
        self,
        data: pa.Buffer,
        offsets: np.ndarray | None,
        first_line: int,
        n_lines: int | None = None,
    ) -> None:
        if offsets is None and n_lines is None:
            raise ValueError("a LineChunk needs its line offsets or its number of lines")
        self.data = data
        self.first_line = first_line
        self._offsets = offsets
        self._n_lines = len(offsets) - 1 if offsets is not None else int(n_lines or 0)
        self._lines: pa.StringArray | None = None
        self._valid: bool | None = None

    def __len__(self) -> int:
        return self._n_lines

    @property
    def offsets(self) -> np.ndarray:
        """Where each line starts, and the data's end (int32)."""
        if self._offsets is None:
            self._offsets = _line_offsets(self.data)
        return self._offsets

    @property
    def is_utf8(self) -> bool:
        """Whether the bytes are valid UTF-8."""
        if self._valid is None:
            self._valid = _is_utf8(self.data)
        return self._valid

    @property
    def lines(self) -> pa.StringArray:
        """The lines as text, without their line ends (invalid UTF-8 replaced)."""
        if self._lines is None:
            self._lines = _decode_lines(self.data, self.offsets, self.is_utf8)
        return self._lines

    def lines_start_with(self, byte: bytes) -> bool:
        """Whether every line starts with ``byte`` (so none is empty)."""
        raw = np.frombuffer(self.data, dtype=np.uint8)
        if not len(raw) or raw[0] != ord(byte):
            return False
        # Every line but the first starts after a "\n".
        return count_pair(raw, 10, ord(byte)) == len(self) - 1

    def lines_end_with(self, byte: bytes) -> bool:
        """Whether every line seems to end with ``byte``, before its "\n" or "\r\n" (a
        line cut short does not); a hint only, which a parser must not rely on."""
        raw = np.frombuffer(self.data, dtype=np.uint8)
        if not len(raw):
            return False
        closed = count_pair(raw, ord(byte), 10) + count_pair(raw, 13, 10)
        # The chunk's last line has no "\n" of its own.
        last = raw[-2] if raw[-1] == 13 and len(raw) > 1 else raw[-1]
        return closed == count_byte(raw, 10) and last == ord(byte)


def iter_line_chunks(f: IO[bytes], chunk_lines: int) -> Iterator[LineChunk]:
    """Yield the file's lines in chunks of at most chunk_lines lines."""
    block_size = max(64 * 1024, min(READ_BLOCK_BYTES, chunk_lines * 256))
    carry = b""
    lineno = 1
    skipping = False  # inside an over-long line whose head was already emitted
    while True:
        # The carried head of a line, then the next block, in one buffer: the chunks are
        # slices of it. Arrow's memory pool reuses freed memory (no page faults).
        buf = pa.allocate_buffer(len(carry) + block_size)
        view = memoryview(buf).cast("B")
        view[: len(carry)] = carry
        got = _read_into(f, view[len(carry) :])
        raw = np.frombuffer(buf, dtype=np.uint8, count=len(carry) + got)
        if not got:
            if skipping or not carry:
                return
            start, stop, carry = 0, len(raw), b""
        else:
            start = 0
            if skipping:
                cut = _find(raw, 0)
                if cut < 0:
                    continue
                skipping, start = False, cut + 1
            cut = _rfind(raw, start)
            if cut >= 0:
                stop, carry = cut, raw[cut + 1 :].tobytes()
            elif len(raw) - start > MAX_LINE_BYTES:
                # A "line" too long to hold: keep its head as one (malformed) line.
                stop, carry, skipping = start + MAX_LINE_BYTES, b"", True
            else:
                carry = raw[start:].tobytes()
                continue
        data = buf.slice(start, stop - start)
        n_lines = count_byte(raw[start:stop], 10) + 1
        if n_lines <= chunk_lines:
            yield LineChunk(data, None, lineno, n_lines=n_lines)
        else:
            yield from _chunks_of(data, _line_offsets(data), lineno, chunk_lines)
        lineno += n_lines


def _is_utf8(data: pa.Buffer) -> bool:
    """Whether data is valid UTF-8."""
    if np.frombuffer(data, dtype=np.uint8).max(initial=0) < 0x80:
        return True  # ASCII, as most logs are: no need to validate characters
    ends = pa.py_buffer(np.array([0, data.size], dtype=np.int32))
    whole = pa.Array.from_buffers(pa.string(), 1, [None, ends, data])
    try:
        whole.validate(full=True)
    except pa.ArrowInvalid:
        return False
    return True


def _read_into(f: IO[bytes], view: memoryview) -> int:
    """Fill view from f (less only at the file's end); the number of bytes read."""
    readinto = getattr(f, "readinto", None)
    if readinto is not None:
        return int(readinto(view) or 0)
    block = f.read(len(view))
    view[: len(block)] = block
    return len(block)


def _find(raw: np.ndarray, start: int) -> int:
    """Where the first "\\n" at or after start is in raw (-1: none)."""
    found = byte_positions(raw[start:], 10)
    return int(found[0]) + start if len(found) else -1


def _rfind(raw: np.ndarray, start: int) -> int:
    """Where the last "\\n" at or after start is in raw (-1: none)."""
    # Lines are short: the last one most often ends in the last few kilobytes.
    tail = max(start, len(raw) - (1 << 16))
    at = raw[tail:].tobytes().rfind(b"\n")
    if at >= 0:
        return tail + at
    found = byte_positions(raw[start:tail], 10)
    return int(found[-1]) + start if len(found) else -1


def byte_positions(raw: np.ndarray, byte: int) -> np.ndarray:
    """Where ``byte`` is in raw (uint8), in order (int64)."""
    return np.flatnonzero(raw == byte)


def count_byte(raw: np.ndarray, byte: int) -> int:
    """How many times ``byte`` is in raw (uint8)."""
    return int(np.count_nonzero(raw == byte))


def count_pair(raw: np.ndarray, first: int, second: int) -> int:
    """How many times byte ``first`` is followed by byte ``second`` in raw (uint8)."""
    # The pairs as 16-bit words, at even and at odd positions.
    pair = first | (second << 8)
    even = raw[: len(raw) // 2 * 2].view("<u2")
    odd = raw[1 : 1 + (len(raw) - 1) // 2 * 2].view("<u2")
    return int(np.count_nonzero(even == pair) + np.count_nonzero(odd == pair))


def _line_offsets(data: pa.Buffer) -> np.ndarray:
    """Where each line of data (separated by "\\n", none after the last) starts, and
    data's end (int32)."""
    raw = np.frombuffer(data, dtype=np.uint8)
    newlines = byte_positions(raw, 10)
    offsets = np.empty(len(newlines) + 2, dtype=np.int32)
    offsets[0] = 0
    offsets[1:-1] = newlines + 1
    offsets[-1] = len(raw)
    return offsets


def _chunks_of(
    whole: pa.Buffer, offsets: np.ndarray, first_line: int, chunk_lines: int
) -> Iterator[LineChunk]:
    """The lines of data, starting at ``offsets``, in chunks of at most chunk_lines."""
    for start in range(0, len(offsets) - 1, chunk_lines):
        stop = min(start + chunk_lines, len(offsets) - 1)
        begin, end = int(offsets[start]), int(offsets[stop])
        yield LineChunk(
            whole.slice(begin, end - begin), offsets[start : stop + 1] - begin, first_line + start
        )


def _decode_lines(data: pa.Buffer, offsets: np.ndarray, is_utf8: bool) -> pa.StringArray:
    if is_utf8:
        # Each line keeps its "\n" in the shared buffer (no copy); rtrim drops it below.
        lines = pa.Array.from_buffers(
            pa.string(), len(offsets) - 1, [None, pa.py_buffer(offsets), data]
        )
    else:
        # Invalid UTF-8 somewhere: decode with replacement characters instead.
        text = data.to_pybytes().decode("utf-8", "replace")
        lines = pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()
        # A last line ending in "\n" leaves an empty piece after it.
        lines = lines.slice(0, len(offsets) - 1).cast(pa.string())
    return pc.utf8_rtrim(lines, characters="\r\n")


def prefetch(
    chunks: Iterator[LineChunk], prepare: Callable[[LineChunk], Any], workers: int | None = None
) -> Iterator[tuple[int, Any]]:
    """Yield (line count, prepare(chunk)) for each chunk, in order.

    prepare() runs on ``workers`` threads (default: one per core), a few chunks ahead of
    the caller, from the first chunk on: reading, decompressing and the Arrow kernels of
    prepare() (which release the GIL) thus use every core. The chunks are handed to the
    threads in order; a parser that learns from the first chunk (e.g. the types of its
    fields) makes the others wait for what it learns.
    """
    workers = workers or max(1, min(_MAX_WORKERS, os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="log-parse")
    pending: collections.deque[tuple[int, Future[Any]]] = collections.deque()
    failure: Exception | None = None
    try:
        while True:
            try:
                chunk = next(chunks, None)
            except Exception as exc:  # raised once the chunks read before it are given
                failure, chunk = exc, None
            if chunk is None:
                break
            pending.append((len(chunk), pool.submit(prepare, chunk)))
            if len(pending) > 2 * workers:
                n_lines, future = pending.popleft()
                yield n_lines, future.result()
        while pending:
            n_lines, future = pending.popleft()
            yield n_lines, future.result()
        if failure is not None:
            raise failure
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
