"""Atomic file writes: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.errors import InputError


@contextmanager
def atomic_path(target: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; on success it replaces ``target``.

    The temporary name starts with a dot, so dataset readers skip it.
    """
    target = Path(target)
    tmp = _temporary_path(target)
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


def _temporary_path(target: Path) -> Path:
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries to disk so a rename survives a crash."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_parquet(table: pa.Table, target: str | Path, **options: object) -> None:
    """Write a Parquet file atomically (zstd-compressed)."""
    with atomic_path(target) as tmp:
        pq.write_table(table, tmp, compression="zstd", **options)


def write_text(text: str, target: str | Path) -> None:
    """Write a UTF-8 text file atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_with(writer: Callable[[Path], None], target: str | Path) -> None:
    """Let ``writer`` fill a temporary path, then move it over ``target`` atomically."""
    with atomic_path(target) as tmp:
        writer(tmp)


class AtomicFileSet:
    """Files written aside and put in place together at the end, or not at all."""

    def __init__(self) -> None:
        self._pending: list[tuple[Path, Path]] = []

    def path(self, target: str | Path) -> Path:
        """A temporary path beside ``target`` to write it to; it replaces ``target`` at commit."""
        target = Path(target)
        tmp = _temporary_path(target)
        self._pending.append((tmp, target))
        return tmp

    def commit(self, obsolete: Iterable[Path] = ()) -> None:
        """Put every file in place, then remove the ``obsolete`` files not rewritten."""
        targets = {target for _, target in self._pending}
        for tmp, _ in self._pending:
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
        blocked = {signal.SIGINT, signal.SIGTERM}
        in_main = threading.current_thread() is threading.main_thread()
        # A few renames: Ctrl-C waits for them rather than splitting the set.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if in_main else None
        try:
            for tmp, target in self._pending:
                os.replace(tmp, target)
            for path in set(obsolete) - targets:
                path.unlink(missing_ok=True)
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for folder in {target.parent for target in targets}:
            fsync_dir(folder)

    def discard(self) -> None:
        """Remove every temporary file written so far."""
        for tmp, _ in self._pending:
            tmp.unlink(missing_ok=True)


@contextmanager
def atomic_file_set(obsolete: Iterable[Path] = ()) -> Iterator[AtomicFileSet]:
    """Yield a set of files to write aside; on success they are put in place together
    and the ``obsolete`` files (of an older set) not rewritten are removed.

    A reader sees the older set or the new one, never a mix; an interrupted run leaves
    the older set whole.
    """
    files = AtomicFileSet()
    try:
        yield files
    except BaseException:
        files.discard()
        raise
    files.commit(obsolete)


def ensure_output_dir(path: str | Path, *, create: bool = True) -> Path:
    """Return ``path`` as a folder that results can be written into, made if missing.

    Raises InputError, one line naming the path, for an existing file (or anything
    else that is not a folder), a folder that cannot be created and one that is not
    writable. With ``create=False`` it only checks, so a command can refuse a bad
    output before a long run without leaving a folder behind.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"the output folder {folder} exists and is not a folder")
    absolute = folder.absolute()
    nearest = next(p for p in (absolute, *absolute.parents) if p.exists())
    if not nearest.is_dir():
        raise InputError(f"cannot create the output folder {folder}: {nearest} is not a folder")
    if not os.access(nearest, os.W_OK | os.X_OK):
        where = "" if nearest == absolute else f" ({nearest} is not writable)"
        raise InputError(f"cannot write into the output folder {folder}{where}")
    if create:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            raise InputError(f"cannot create the output folder {folder}: {reason}") from None
    return folder
