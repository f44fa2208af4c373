"""Importing files into a dataset: upserts, bad inputs, formats, Parquet files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analyzer.errors import InputError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.files import detect_format, import_files, read_files
from analyzer.store import read_messages
from tests.unit.sources.file_samples import (
    CONSOLE_HEADER,
    sample_records,
    write_console_csv,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return sample_records()


def test_import_is_an_idempotent_upsert(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "m.csv"
    write_console_csv(path, records, CONSOLE_HEADER)
    first = import_files([path], tmp_path / "ds")
    again = import_files([path], tmp_path / "ds", format="console-csv")
    assert first.write.inserted == records.num_rows
    assert (again.write.inserted, again.write.updated) == (0, 0)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_files([tmp_path / "missing.csv"], tmp_path / "ds")
    with pytest.raises(InputError, match="unknown format"):
        import_files([tmp_path / "x"], tmp_path / "ds", format="xml")  # type: ignore[arg-type]
    odd = tmp_path / "odd.txt"
    odd.write_text("hello world\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        import_files([odd], tmp_path / "ds")
    page = tmp_path / "notpage.json"
    page.write_text('{"accounts": []}')
    with pytest.raises(InputError, match="not a Messages list page"):
        import_files([page], tmp_path / "ds", format="api-json")


def test_a_file_read_in_the_wrong_format_is_refused(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = tmp_path / "messages.csv"
    write_console_csv(path, records, CONSOLE_HEADER)
    with pytest.raises(InputError) as refused:
        import_files([path], tmp_path / "ds", format="bulk-export")
    message = str(refused.value)
    lines = sum(1 for line in path.read_text().split("\n") if line.strip())  # bodies span lines
    assert message.startswith(f"{path}: none of its {lines} rows could be read as bulk-export")
    assert "line 1: not JSON" in message and "--format" in message
    assert not (tmp_path / "ds").exists()
    with pytest.raises(InputError, match="none of its"):
        read_files([path], format="bulk-export")
    result = CliRunner().invoke(
        app, ["import", str(path), "--out", str(tmp_path / "ds"), "--format", "bulk-export"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line == f"analyzer: error: {message}"
    # an empty file holds no rows at all: nothing to import, and nothing wrong
    empty = tmp_path / "2026-03-02.json.gz"
    with gzip.open(empty, "wb"):
        pass
    done = import_files([empty], tmp_path / "ds", format="bulk-export")
    assert (done.rows, done.imported, done.malformed) == (0, 0, 0)
    # one readable row is enough: the others are malformed rows of the right format
    mostly_bad = tmp_path / "mostly.jsonl"
    mostly_bad.write_text('{"sid": "SM1", "date_created": "2026-03-01T10:00:00Z"}\nnot json\n')
    assert import_files([mostly_bad], tmp_path / "ds").malformed == 1


def test_a_parquet_file_of_messages_imports(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = tmp_path / "messages.dat"  # found by its PAR1 magic, not its name
    partial = records.drop_columns(["api_version", "price_unit", "source"])
    partial = partial.set_column(
        partial.schema.get_field_index("status"),
        "status",
        partial["status"].dictionary_encode(),
    )
    pq.write_table(partial, path)
    assert detect_format(path) == "parquet"
    result = import_files([path], tmp_path / "ds")
    assert (result.rows, result.imported, result.malformed) == (records.num_rows,) * 2 + (0,)
    assert result.files[0].format == "parquet"
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    expected = records.sort_by("sid")
    for name in MESSAGE_SCHEMA.names:
        if name in ("api_version", "price_unit"):
            assert stored[name].null_count == stored.num_rows
        elif name == "source":
            assert set(stored[name].to_pylist()) == {"parquet:messages.dat"}
        else:
            assert stored[name].equals(expected[name]), name
    again = CliRunner().invoke(
        app, ["import", str(path), "--out", str(tmp_path / "ds"), "--format", "parquet"]
    )
    assert again.exit_code == 0, again.output
    assert (
        f"{path}: parquet, {records.num_rows} of {records.num_rows} rows imported" in again.stdout
    )
    assert f"0 new, 0 updated, {records.num_rows} unchanged" in again.stdout


def test_a_parquet_file_with_another_schema_is_refused(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app
    from analyzer.errors import SchemaError

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"id": [1], "text": ["hi"]}), other)
    with pytest.raises(SchemaError, match=rf"^{other}: missing column\(s\): sid, date_created$"):
        import_files([other], tmp_path / "ds")
    epoch = tmp_path / "epoch.parquet"
    index = records.schema.get_field_index("date_created")
    millis = pc.divide(records["date_created"].cast(pa.int64()), 1000)
    pq.write_table(records.set_column(index, "date_created", millis), epoch)
    with pytest.raises(SchemaError, match=rf"^{epoch}: column date_created is int64, not a"):
        import_files([epoch], tmp_path / "ds")
    words = tmp_path / "words.parquet"
    pq.write_table(
        records.set_column(
            records.schema.get_field_index("price"), "price", pa.array(["free!"] * records.num_rows)
        ),
        words,
    )
    with pytest.raises(SchemaError, match=rf"^{words}: cannot convert column\(s\): price"):
        import_files([words], tmp_path / "ds")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 and then nothing like Parquet")
    with pytest.raises(InputError, match=rf"^cannot read {garbage} as Parquet"):
        import_files([garbage], tmp_path / "ds")
    result = CliRunner().invoke(
        app, ["import", str(epoch), "--out", str(tmp_path / "ds"), "--format", "parquet"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"analyzer: error: {epoch}: column date_created is int64")
    assert not (tmp_path / "ds").exists()
    # a row without a sid is a malformed row, as in the other formats
    nosid = tmp_path / "nosid.parquet"
    pq.write_table(
        records.set_column(
            0, "sid", pa.array([None] + records["sid"].to_pylist()[1:], pa.string())
        ),
        nosid,
    )
    partial = import_files([nosid], tmp_path / "ds")
    assert (partial.imported, partial.malformed) == (records.num_rows - 1, 1)
    assert str(partial.samples[0]) == "nosid.parquet: record 1: no sid"
