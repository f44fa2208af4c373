"""Dates in the forms exported files hold them, and the day/month order of ``NN/NN/YYYY``
dates, decided per file from its values."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError
from analyzer.schema import TIMESTAMP
from analyzer.sources.files.model import ParsedFile

#: The date fields of a message record.
DATE_FIELDS = ("date_created", "date_sent", "date_updated")
# The two leading numbers of a NN/NN/YYYY date, whichever order they are in.
_SLASH_DATE = r"^\s*(?P<first>\d{1,2})/(?P<second>\d{1,2})/\d{4}(?:\D|$)"
_ORDER_OPTION = "--date-order month-first or --date-order day-first (date_order= in Python)"

#: Picks, from the two leading numbers of each date, the dates of one kind.
Selector = Callable[[np.ndarray, np.ndarray], np.ndarray]


def _date_formats(order: str) -> tuple[str, ...]:
    """Forms seen or plausible for the undocumented Console SentDate (spreadsheets
    re-save it in their locale's order); all read as UTC unless they carry an offset."""
    day_month = "%d/%m/%Y" if order == "day-first" else "%m/%d/%Y"
    return (
        f"{day_month} %H:%M:%S",
        f"{day_month} %H:%M",
        f"{day_month} %I:%M:%S %p",
        f"{day_month} %I:%M %p",
        "%a, %d %b %Y %H:%M:%S %z",
        "%d %b %Y %H:%M:%S %z",
    )


def parse_dates(
    values: pa.ChunkedArray | pa.Array, order: Literal["month-first", "day-first"] = "month-first"
) -> pa.Array:
    """Parse date strings in any accepted form to UTC timestamps; null where unreadable.

    Accepted: ISO 8601 (naive means UTC), RFC 2822, ``MM/DD/YYYY HH:MM[:SS][ AM|PM]``
    (``DD/MM/YYYY …`` with ``order="day-first"``), optionally followed by
    ``UTC``/``GMT``/``Z``.
    """
    if pa.types.is_timestamp(values.type):
        return (
            pc.cast(values, TIMESTAMP)
            if values.type.tz
            else pc.assume_timezone(values, "UTC").cast(TIMESTAMP)
        )
    series = pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype=object)
    text = series.str.strip().str.replace(r"\s*(UTC|GMT)$", "", regex=True)
    result = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    for fmt in _date_formats(order):
        missing = result.isna() & text.notna()
        if not missing.any():
            break
        if "%z" in fmt:
            attempt = pd.to_datetime(text[missing], format=fmt, errors="coerce", utc=True)
        else:
            attempt = pd.to_datetime(text[missing], format=fmt, errors="coerce").dt.tz_localize(
                "UTC"
            )
        result = result.where(~missing, attempt)
    return pa.Array.from_pandas(result.dt.as_unit("us")).cast(TIMESTAMP)


def _slash_fields(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The two leading numbers of each ``NN/NN/YYYY`` date (0 for other values)."""
    if not pa.types.is_string(column.type):
        return np.zeros(len(column), np.int64), np.zeros(len(column), np.int64)
    parts = pc.extract_regex(column.combine_chunks(), _SLASH_DATE)

    def number(name: str) -> np.ndarray:
        values = pc.fill_null(pc.cast(pc.struct_field(parts, name), pa.int64()), 0)
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)

    return number("first"), number("second")


def _ambiguous(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dates that read as two different days in the two orders."""
    return (first >= 1) & (second >= 1) & (first <= 12) & (second <= 12) & (first != second)


def _first_example(
    parsed: ParsedFile, fields: dict[str, tuple[np.ndarray, np.ndarray]], select: Selector
) -> tuple[str, str] | None:
    """The first value (in file order) that ``select(first, second)`` picks, and where."""
    found = [
        (int(np.flatnonzero(mask)[0]), name)
        for name, (first, second) in fields.items()
        if (mask := select(first, second)).any()
    ]
    if not found:
        return None
    row, name = min(found)
    where = (
        f"line {parsed.lines[row]}" if parsed.lines is not None else f"record {parsed.records[row]}"
    )
    return str(parsed.table[name][row].as_py()), where


def decide_date_order(parsed: ParsedFile, file_name: str, requested: str) -> str:
    """How to read the file's NN/NN/YYYY dates: month-first, day-first, or "mixed" when
    both orders occur (each date is then read the one way it can be)."""
    if requested != "auto":
        return requested
    names = [n for n in DATE_FIELDS if n in parsed.table.column_names]
    if parsed.created_from_sent:
        names = [n for n in names if n != "date_created"]
    fields = {name: _slash_fields(parsed.table[name]) for name in names}

    def example(select: Selector) -> tuple[str, str] | None:
        return _first_example(parsed, fields, select)

    day_first = example(lambda a, b: (a > 12) & (a <= 31) & (b >= 1) & (b <= 12))
    month_first = example(lambda a, b: (b > 12) & (b <= 31) & (a >= 1) & (a <= 12))
    if day_first and month_first:
        parsed.notes.append(
            f"dates in both orders, day-first ({day_first[0]!r}, {day_first[1]}) and "
            f"month-first ({month_first[0]!r}, {month_first[1]}): a date with a number "
            "above 12 is read the only way it can be, the others whose day and month "
            "differ are reported malformed"
        )
        return "mixed"
    if day_first:
        parsed.notes.append(f"dates read day-first (DD/MM/YYYY), as in {day_first[0]!r}")
        return "day-first"
    if month_first:
        return "month-first"
    ambiguous = example(_ambiguous)
    if ambiguous:
        raise InputError(
            f"{file_name}: cannot tell whether dates such as {ambiguous[0]!r} ({ambiguous[1]}) "
            f"are month-first or day-first (no day above 12 in the file); use {_ORDER_OPTION}"
        )
    return "month-first"


def read_dates(
    column: pa.ChunkedArray, order: str, name: str
) -> tuple[pa.Array, np.ndarray, tuple[np.ndarray, str] | None]:
    """Timestamps of a date column, which rows are unreadable, and (when the file mixes
    orders) which rows are ambiguous and why."""
    ambiguous = None
    if order == "mixed":
        first, second = _slash_fields(column)
        unknown = _ambiguous(first, second)
        read = pc.if_else(
            pa.array(first > 12), parse_dates(column, "day-first"), parse_dates(column)
        )
        dates = pc.if_else(pa.array(unknown), pa.nulls(len(column), TIMESTAMP), read)
        ambiguous = (unknown, f"day and month order unknown in {name} (the file mixes both)")
    else:
        dates = parse_dates(column, "day-first" if order == "day-first" else "month-first")
    unreadable = np.asarray(
        pc.and_(pc.is_valid(column), pc.is_null(dates)).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if ambiguous is not None:
        unreadable &= ~ambiguous[0]
    return dates, unreadable, ambiguous
