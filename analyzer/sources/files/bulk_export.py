"""Bulk Export files: JSON lines, usually gzipped, one message per line."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from analyzer.sources.files.json_fields import (
    JSON_TEXT,
    as_string,
    coalesce,
    field_name,
    records_to_strings,
)
from analyzer.sources.files.model import MalformedRow, ParsedFile
from analyzer.sources.files.reading import open_bytes


def parse_bulk_export(path: Path) -> ParsedFile:
    """The schema fields of a JSON-lines file with the line of each record; read line by
    line (reporting the unreadable ones) when Arrow cannot read it whole."""
    data = open_bytes(path)
    try:
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(use_threads=False),
            # Text stays text: left to inference, "2010-04-01" would become a date.
            parse_options=pj.ParseOptions(
                explicit_schema=JSON_TEXT, unexpected_field_behavior="infer"
            ),
        )
        lines = _jsonl_line_numbers(data)
        if len(lines) != table.num_rows:
            raise pa.ArrowInvalid("line count mismatch")
        wanted: dict[str, pa.ChunkedArray] = {}
        for name in table.column_names:
            target = field_name(name)
            if target is None:
                continue
            column = as_string(table[name])
            wanted[target] = coalesce(wanted[target], column) if target in wanted else column
        return ParsedFile(pa.table(wanted), lines, np.arange(1, table.num_rows + 1), [])
    except pa.ArrowInvalid:
        return _parse_jsonl_slowly(path, data)


def _jsonl_line_numbers(data: bytes) -> np.ndarray:
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(buffer)]])
    # a line holds a record unless it is blank (only whitespace)
    nonblank = np.zeros(len(buffer) + 1, dtype=np.int64)
    nonblank[1:] = np.cumsum(~np.isin(buffer, np.frombuffer(b" \t\r\n", dtype=np.uint8)))
    has_content = nonblank[stops] - nonblank[starts] > 0
    return np.flatnonzero(has_content) + 1


def _parse_jsonl_slowly(path: Path, data: bytes) -> ParsedFile:
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    malformed: list[MalformedRow] = []
    for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append(MalformedRow(path.name, number, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            malformed.append(MalformedRow(path.name, number, "not a JSON object"))
            continue
        rows.append(obj)
        lines.append(number)
    return ParsedFile(
        records_to_strings(rows),
        np.array(lines, dtype=np.int64),
        np.arange(1, len(rows) + 1),
        malformed,
    )
