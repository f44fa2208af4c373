"""Finding log files, opening them (plain or gzip) and reading them as chunks of lines."""

from __future__ import annotations

import contextlib
import glob
import gzip
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError

#: The longest line kept whole; a longer one is cut to this and read as malformed.
MAX_LINE_BYTES = 16 * 1024 * 1024
_GZIP_MAGIC = b"\x1f\x8b"


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


def iter_line_chunks(f: IO[bytes], chunk_lines: int) -> Iterator[tuple[pa.StringArray, int]]:
    """Yield (lines, first line number) with at most chunk_lines lines each."""
    block_size = max(64 * 1024, min(16 * 1024 * 1024, chunk_lines * 256))
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
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > MAX_LINE_BYTES:
                    # A "line" too long to hold: keep its head as one (malformed) line.
                    data, carry, skipping = data[:MAX_LINE_BYTES], b"", True
                else:
                    carry = data
                    continue
            else:
                data, carry = data[:cut], data[cut + 1 :]
        lines = _split_lines(data)
        for start in range(0, len(lines), chunk_lines):
            yield lines.slice(start, chunk_lines), lineno + start
        lineno += len(lines)


def _split_lines(data: bytes) -> pa.StringArray:
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 10)
    # Each line keeps its "\n" in the shared buffer (no copy); rtrim drops it below.
    offsets = np.concatenate(([0], newlines + 1, [len(buf)])).astype(np.int32)
    lines = pa.Array.from_buffers(
        pa.string(), len(newlines) + 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        # Invalid UTF-8 somewhere: decode with replacement characters instead.
        text = data.decode("utf-8", "replace")
        lines = pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()
        lines = lines.cast(pa.string())
    return pc.utf8_rtrim(lines, characters="\r\n")


@dataclass
class _Failure:
    exc: BaseException


def prefetch(
    chunks: Iterator[tuple[pa.StringArray, int]], prepare: Callable[[pa.StringArray, int], Any]
) -> Iterator[tuple[int, Any]]:
    """Yield (line count, prepare(lines, first line)) computed one chunk ahead in a thread.

    Reading, decompressing and the stateless first half of parsing (Arrow kernels that
    release the GIL) overlap with the second half in the caller's thread.
    """
    handover: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for lines, first_line in chunks:
                if stop.is_set():
                    return
                handover.put((len(lines), prepare(lines, first_line)))
            handover.put(done)
        except BaseException as exc:  # handed over to the consumer
            handover.put(_Failure(exc))

    thread = threading.Thread(target=run, name="log-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = handover.get()
            if item is done:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                handover.get(timeout=0.05)
        thread.join()
