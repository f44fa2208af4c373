"""Reading a file's bytes (gzipped or not) and wording a reader's error."""

from __future__ import annotations

import gzip
from pathlib import Path

from analyzer.errors import InputError


def open_bytes(path: Path, limit: int | None = None) -> bytes:
    """The file's bytes (unzipped when gzipped), at most ``limit`` of them; InputError
    when it cannot be read."""
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
            handle.seek(0)
            if magic == b"\x1f\x8b":
                with gzip.open(handle) as unzipped:
                    return unzipped.read(limit) if limit else unzipped.read()
            return handle.read(limit) if limit else handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


def first_line(exc: Exception) -> str:
    """The first line of an exception's message (its type when it has none)."""
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
