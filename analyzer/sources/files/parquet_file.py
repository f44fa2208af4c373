"""Parquet files of messages (the message schema, e.g. another dataset's files)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.errors import InputError, SchemaError
from analyzer.schema import coerce_messages
from analyzer.sources.files.model import ParsedFile
from analyzer.sources.files.reading import first_line


def parse_parquet(path: Path) -> ParsedFile:
    """A Parquet file with the message schema (any column order; optional columns may be
    missing; ``source`` is replaced by the file's name, as for the other formats)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {first_line(exc)}") from None
    try:
        typed = coerce_messages(table, fill_missing=True)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None
    records = np.arange(1, typed.num_rows + 1)
    return ParsedFile(typed.drop_columns(["source"]), None, records, [])
