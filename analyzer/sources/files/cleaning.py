"""One file's raw columns to message-schema records: which rows are malformed (dropped),
which optional values are unreadable (kept as empty), and samples of both."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA, coerce_messages
from analyzer.sources.files.dates import DATE_FIELDS, decide_date_order, read_dates
from analyzer.sources.files.model import MAX_SAMPLES, CleanedFile, MalformedRow, ParsedFile
from analyzer.sources.files.numbers import parse_numbers

_LOWERCASE = ("status", "direction")
_INTEGERS = ("error_code", "num_segments", "num_media")
#: Fields a record can do without: an unreadable value is kept as empty (and counted),
#: not a reason to drop the record. A missing sid or an unreadable date (which places
#: the record in time and decides which version of it is newer) still is.
_OPTIONAL = (*_INTEGERS, "price")


class Flag(NamedTuple):
    """The rows a check found wanting, what it says of them, and the values it read."""

    mask: np.ndarray
    label: str
    values: pa.ChunkedArray


@dataclass
class _Converted:
    """Columns in the schema's types, with what made rows malformed (``problems``) and
    which optional values could not be read (``optional``)."""

    columns: dict[str, pa.Array | pa.ChunkedArray] = field(default_factory=dict)
    problems: list[Flag] = field(default_factory=list)
    optional: list[Flag] = field(default_factory=list)


def clean(
    parsed: ParsedFile, file_name: str, source: str, *, date_order: str = "auto"
) -> CleanedFile:
    """Convert columns to the message schema.

    Rows without a sid or with an unreadable date are dropped (malformed); unreadable
    optional values (numbers) are kept as empty. Returns the records, how many rows were
    malformed and values unreadable, and the first of each (in file order).
    """
    rows = parsed.table.num_rows
    order = decide_date_order(parsed, file_name, date_order)
    converted = _convert_columns(parsed, source, order)
    # A record without a date is kept (the store holds it apart); one without a sid
    # cannot be stored.
    no_sid = pc.is_null(converted.columns["sid"]).to_numpy(zero_copy_only=False)
    nothing = pa.chunked_array([pa.nulls(rows, pa.string())])
    problems = [*converted.problems, Flag(np.asarray(no_sid, dtype=bool), "no sid", nothing)]
    bad = _any_row(problems, rows)
    # A malformed row's unreadable numbers are among its reasons, not counted apart.
    problems += [Flag(mask & bad, label, values) for mask, label, values in converted.optional]
    optional = [Flag(mask & ~bad, label, values) for mask, label, values in converted.optional]
    table = coerce_messages(pa.table(converted.columns).filter(pa.array(~bad)))
    return CleanedFile(
        table=table,
        malformed=len(parsed.malformed) + int(bad.sum()),
        samples=_malformed_samples(parsed, file_name, bad, problems),
        unreadable=sum(int(flag.mask.sum()) for flag in optional),
        unreadable_samples=_unreadable_samples(parsed, file_name, optional),
    )


def _convert_columns(parsed: ParsedFile, source: str, order: str) -> _Converted:
    """Every schema field from the raw columns (null when the file lacks it)."""
    raw = parsed.table
    rows = raw.num_rows
    converted = _Converted()
    for schema_field in MESSAGE_SCHEMA:
        name = schema_field.name
        if name == "source":
            converted.columns["source"] = pa.array([source] * rows, pa.string())
        elif name not in raw.column_names:
            converted.columns[name] = pa.nulls(rows, schema_field.type)
        elif name in DATE_FIELDS:
            converted.columns[name] = _convert_dates(parsed, name, order, converted.problems)
        elif name in _OPTIONAL:
            values, mask = parse_numbers(
                raw[name], integer=name in _INTEGERS, decimal_comma=parsed.decimal_comma
            )
            converted.optional.append(Flag(mask, f"not a number in {name}", raw[name]))
            if name == "error_code":  # Bulk Export writes 0 for "no error"
                values = pc.if_else(pc.equal(values, 0), pa.scalar(None, pa.int64()), values)
            converted.columns[name] = values
        else:
            text = pc.cast(raw[name], pa.string())
            if name in _LOWERCASE:
                text = pc.utf8_lower(pc.utf8_trim_whitespace(text))
            converted.columns[name] = text
    return converted


def _convert_dates(parsed: ParsedFile, name: str, order: str, problems: list[Flag]) -> pa.Array:
    """One date column as timestamps; its unreadable (and, in a file mixing orders,
    ambiguous) dates are added to ``problems``, except for a date_created copied from
    the sent date (those are the sent date's problems already)."""
    column = parsed.table[name]
    dates, mask, ambiguous = read_dates(column, order, name)
    if not (name == "date_created" and parsed.created_from_sent):
        problems.append(Flag(mask, f"unreadable {name}", column))
        if ambiguous is not None:
            problems.append(Flag(ambiguous[0], ambiguous[1], column))
    return dates


def _any_row(flags: list[Flag], rows: int) -> np.ndarray:
    """The rows any of the flags found wanting."""
    found = np.zeros(rows, dtype=bool)
    for flag in flags:
        found |= flag.mask
    return found


def _reasons(row: int, flags: list[Flag]) -> list[str]:
    """What the flags say of one row, each with the value it read."""
    why = []
    for mask, label, values in flags:
        if mask[row]:
            sample = values[row].as_py()
            why.append(f"{label} ({sample!r})" if sample is not None else label)
    return why


def _where(parsed: ParsedFile, file_name: str, row: int, reason: str) -> MalformedRow:
    line = int(parsed.lines[row]) if parsed.lines is not None else None
    return MalformedRow(file_name, line, reason, int(parsed.records[row]))


def _malformed_samples(
    parsed: ParsedFile, file_name: str, bad: np.ndarray, problems: list[Flag]
) -> list[MalformedRow]:
    """The first malformed rows in file order: those the parser rejected and the bad ones."""
    samples = list(parsed.malformed[:MAX_SAMPLES])
    for row in np.flatnonzero(bad)[:MAX_SAMPLES]:
        samples.append(_where(parsed, file_name, int(row), "; ".join(_reasons(int(row), problems))))
    samples.sort(key=lambda m: (m.record or 0, m.line or 0))
    return samples[:MAX_SAMPLES]


def _unreadable_samples(
    parsed: ParsedFile, file_name: str, optional: list[Flag]
) -> list[MalformedRow]:
    """The first optional values that were kept as empty, one entry per value."""
    unreadable = _any_row(optional, parsed.table.num_rows)
    kept: list[MalformedRow] = []
    for row in np.flatnonzero(unreadable)[:MAX_SAMPLES]:
        kept += [
            _where(parsed, file_name, int(row), f"{why}, kept as empty")
            for why in _reasons(int(row), optional)
        ]
    return kept[:MAX_SAMPLES]
