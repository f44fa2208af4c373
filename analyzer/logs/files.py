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
    line i spans ``data[offsets[i]:offsets[i + 1]]``, its "\\n" included.
    """

    def __init__(self, data: pa.Buffer, offsets: np.ndarray, first_line: int) -> None:
        self.data = data
        self.offsets = offsets
        self.first_line = first_line
        self._lines: pa.StringArray | None = None
        self._valid: bool | None = None

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def is_utf8(self) -> bool:
        """Whether the bytes are valid UTF-8."""
        if self._valid is None:
            ends = pa.py_buffer(np.array([0, self.data.size], dtype=np.int32))
            whole = pa.Array.from_buffers(pa.string(), 1, [None, ends, self.data])
            try:
                whole.validate(full=True)
                self._valid = True
            except pa.ArrowInvalid:
                self._valid = False
        return self._valid

    @property
    def lines(self) -> pa.StringArray:
        """The lines as text, without their line ends (invalid UTF-8 replaced)."""
        if self._lines is None:
            self._lines = _decode_lines(self.data, self.offsets, self.is_utf8)
        return self._lines


def iter_line_chunks(f: IO[bytes], chunk_lines: int) -> Iterator[LineChunk]:
    """Yield the file's lines in chunks of at most chunk_lines lines."""
    block_size = max(64 * 1024, min(READ_BLOCK_BYTES, chunk_lines * 256))
    carry = b""
    lineno = 1
    skipping = False  # inside an over-long line whose head was already emitted
    while True:
        block = f.read(block_size)
        if not block:
            if skipping or not carry:
                return
            data, carry = carry, b""
        else:
            if skipping:
                cut = block.find(b"\n")
                if cut < 0:
                    continue
                skipping = False
                block = block[cut + 1 :]
            cut = block.rfind(b"\n")
            if cut >= 0:
                # One copy: the carried head of a line, and the block up to its last line end.
                data, carry = b"".join((carry, memoryview(block)[:cut])), block[cut + 1 :]
            elif len(carry) + len(block) > MAX_LINE_BYTES:
                # A "line" too long to hold: keep its head as one (malformed) line.
                data, carry, skipping = (carry + block)[:MAX_LINE_BYTES], b"", True
            else:
                carry += block
                continue
        offsets = _line_offsets(data)
        yield from _chunks_of(data, offsets, lineno, chunk_lines)
        lineno += len(offsets) - 1


def _line_offsets(data: bytes) -> np.ndarray:
    """Where each line of data (separated by "\\n", none after the last) starts, and
    data's end."""
    newlines = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == 10)
    return np.concatenate(([0], newlines + 1, [len(data)])).astype(np.int64)


def _chunks_of(
    data: bytes, offsets: np.ndarray, first_line: int, chunk_lines: int
) -> Iterator[LineChunk]:
    """The lines of data, starting at ``offsets``, in chunks of at most chunk_lines."""
    whole = pa.py_buffer(data)
    for start in range(0, len(offsets) - 1, chunk_lines):
        stop = min(start + chunk_lines, len(offsets) - 1)
        begin, end = int(offsets[start]), int(offsets[stop])
        yield LineChunk(
            whole.slice(begin, end - begin),
            (offsets[start : stop + 1] - begin).astype(np.int32),
            first_line + start,
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

    The first chunk is prepared before any other (a parser may learn from it, e.g. the
    types of its fields); the others on ``workers`` threads (default: one per core), a
    few chunks ahead of the caller. Reading, decompressing and the Arrow kernels of
    prepare() (which release the GIL) thus use every core.
    """
    first = next(chunks, None)
    if first is None:
        return
    yield len(first), prepare(first)
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
