"""JSON keys of message records, in any of their spellings (snake_case from the REST API
and Bulk Export, camelCase from twilio-node and the Twilio CLI, PascalCase), as schema
fields."""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA

_FIELDS = set(MESSAGE_SCHEMA.names) - {"source"}
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def field_name(key: str) -> str | None:
    """The schema field a JSON key names: ``date_created``, ``dateCreated`` or
    ``DateCreated``; None for other keys."""
    if key in _FIELDS:
        return key
    snake = _CAMEL.sub(r"\1_\2", key).lower()
    return snake if snake in _FIELDS else None


def _spellings(name: str) -> list[str]:
    """A field's JSON key as snake_case, camelCase and PascalCase."""
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    return list(dict.fromkeys([name, camel, camel[:1].upper() + camel[1:]]))


#: Every spelling of the text fields, read as text.
JSON_TEXT = pa.schema(
    [
        (spelling, pa.string())
        for f in MESSAGE_SCHEMA
        if pa.types.is_string(f.type) and f.name != "source"
        for spelling in _spellings(f.name)
    ]
)


def coalesce(first: pa.ChunkedArray, second: pa.ChunkedArray) -> pa.ChunkedArray:
    """The first column's values, else the second's (for a field named two ways)."""
    if first.type != second.type:
        first, second = first.cast(pa.string()), second.cast(pa.string())
    return pc.coalesce(first, second)


def as_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A column as text, except timestamps and numbers, which stay as they are."""
    if pa.types.is_string(column.type) or pa.types.is_null(column.type):
        return column.cast(pa.string())
    if pa.types.is_timestamp(column.type):
        return column
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column
    return column.cast(pa.string())


def records_to_strings(rows: list[dict[str, Any]]) -> pa.Table:
    """JSON objects as a table of schema fields, every value as text (the snake_case key
    wins when a field is spelled several ways)."""
    keys: dict[str, list[str]] = {}
    for key in sorted({k for r in rows for k in r}):
        target = field_name(key)
        if target is not None:
            keys.setdefault(target, []).append(key)
    columns = {}
    for target, names in sorted(keys.items()):
        names.sort(key=lambda k: k != target)  # the snake_case key first
        values = [next((r[k] for k in names if r.get(k) is not None), None) for r in rows]
        columns[target] = pa.array([None if v is None else str(v) for v in values], pa.string())
    if not columns:
        columns["sid"] = pa.nulls(len(rows), pa.string())
    return pa.table(columns)
