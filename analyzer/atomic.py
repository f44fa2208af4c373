"""Atomic file writes: a reader sees the old file or the new one, never a partial one."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
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
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        yield tmp
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        fsync_dir(target.parent)
    finally:
        if tmp.exists():
            tmp.unlink()


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
