"""Reading an analysis's summary file for the report."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

from analyzer.errors import InputError
from analyzer.results import PeriodSummary

S = TypeVar("S", bound=PeriodSummary)


def read_summary(kind: type[S], path: Path, what: str) -> S | None:
    """The summary at ``path`` (None when there is none); InputError naming ``what`` (e.g.
    "a failures summary") when it cannot be read."""
    if not path.is_file():
        return None
    try:
        return kind.read(path)
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path} is not {what}: {exc}") from None
