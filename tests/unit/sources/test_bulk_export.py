"""Bulk Export imports: gzipped JSON lines, read fast or line by line."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pytest

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.files import detect_format, import_files, read_files
from analyzer.store import read_messages
from tests.unit.sources.file_samples import (
    bulk_line,
    sample_records,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return sample_records()


def test_bulk_export_gzipped_json_lines(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "2026-03-01.json.gz"
    lines = [json.dumps(bulk_line(r)) for r in records.to_pylist()]
    lines.insert(10, '{"sid": "SMbroken", "date_created": ')  # cut off: line 11
    lines.insert(20, "")  # blank lines are not records
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    assert detect_format(path) == "bulk-export"
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (records.num_rows, 1)
    assert result.samples[0].line == 11 and "not JSON" in result.samples[0].reason
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    expected = records.sort_by("sid")
    for name in MESSAGE_SCHEMA.names:
        if name in ("api_version", "price_unit", "error_message", "source"):
            assert stored[name].null_count == stored.num_rows or name == "source"
        else:
            assert stored[name].equals(expected[name]), name
    assert set(stored["source"].to_pylist()) == {"bulk-export:2026-03-01.json.gz"}


def test_bulk_export_fast_path_keeps_types(tmp_path: Path, records: pa.Table) -> None:
    """A clean file goes through Arrow's JSON reader; numbers may come as numbers."""
    path = tmp_path / "day.jsonl"
    rows = []
    for r in records.to_pylist():
        line = bulk_line(r)
        line["num_segments"] = r["num_segments"]  # a number, not a string
        line["price"] = r["price"]
        rows.append(json.dumps(line))
    path.write_text("\n".join(rows) + "\n")
    table = read_files([path])
    got, expected = table.sort_by("sid"), records.sort_by("sid")
    for name in (
        "sid",
        "num_segments",
        "price",
        "date_created",
        "date_sent",
        "date_updated",
        "error_code",
        "body",
    ):
        assert got[name].equals(expected[name]), name


@pytest.mark.parametrize("slow", [False, True])
def test_bulk_export_error_code_zero_means_no_error(tmp_path: Path, slow: bool) -> None:
    rows = [
        {"sid": f"SM{i:032x}", "date_created": "2026-03-01T10:00:00Z", "error_code": code}
        for i, code in enumerate([0, 30007, None, 21610])
    ]
    lines = [json.dumps(r) for r in rows]
    if slow:
        lines.append("{broken")
    path = tmp_path / "2026-03-01.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    table = read_files([path]).sort_by("sid")
    assert table["error_code"].to_pylist() == [None, 30007, None, 21610]


def test_json_lines_keep_text_that_looks_like_a_date(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    rows = [
        {"sid": f"SM{i:032x}", "dateCreated": "2026-03-01T10:00:00Z", "body": body, "apiVersion": v}
        for i, (body, v) in enumerate([("2026-01-01", "2010-04-01"), ("2026-01-02", "2010-04-01")])
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = read_files([path]).sort_by("sid")
    assert table["body"].to_pylist() == ["2026-01-01", "2026-01-02"]
    assert table["api_version"].to_pylist() == ["2010-04-01", "2010-04-01"]
