"""Reading an analysis's results files (its summary, its tables) for the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

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


def empty_table(columns: Sequence[str]) -> pd.DataFrame:
    """A table with these columns and no rows (for a results file that is not there)."""
    return pd.DataFrame({column: pd.Series(dtype=object) for column in columns})


def read_results_csv(path: Path, columns: Sequence[str], text: Sequence[str]) -> pd.DataFrame:
    """A results CSV file, the ``text`` columns as text; an empty table with ``columns``
    if it is not there; InputError if it cannot be read or lacks one of ``columns``."""
    if not path.is_file():
        return empty_table(columns)
    try:
        frame = pd.read_csv(path, dtype=dict.fromkeys(text, "string"))
    except (ValueError, pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    return with_columns(frame, columns, path)


def read_results_parquet(
    path: Path,
    columns: Sequence[str],
    convert: Callable[[pa.Table], pa.Table] | None = None,
) -> pd.DataFrame:
    """A results Parquet file (``convert`` applied to its table first); an empty table
    with ``columns`` if it is not there; InputError if it cannot be read or lacks one of
    ``columns``."""
    if not path.is_file():
        return empty_table(columns)
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    return with_columns((convert(table) if convert else table).to_pandas(), columns, path)


def with_columns(frame: pd.DataFrame, columns: Sequence[str], path: Path) -> pd.DataFrame:
    """``frame``, or InputError naming the ``columns`` it lacks."""
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise InputError(f"{path} lacks columns: {', '.join(missing)}")
    return frame
