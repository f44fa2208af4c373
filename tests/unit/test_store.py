"""Message store: atomic per-day rewrite, idempotent upsert, pruning and projection."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from analyzer.errors import InputError, SchemaError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.store import (
    LockedError,
    dataset_lock,
    list_days,
    read_messages,
    scan_messages,
    write_messages,
)

DAY1 = datetime(2026, 11, 28, 23, 59, 59, tzinfo=UTC)


def records(
    n: int, *, start: datetime = DAY1, status: str = "sent", updated: int = 0, prefix: str = "SM"
) -> pa.Table:
    rows: list[dict[str, Any]] = []
    for i in range(n):
        created = start + timedelta(seconds=i)
        rows.append(
            {
                "sid": f"{prefix}{i:032x}",
                "to": "+14155550100",
                "body": f"message {i}",
                "direction": "outbound-api",
                "status": status,
                "date_created": created,
                "date_updated": created + timedelta(seconds=updated),
                "price": -0.0079,
                "num_segments": 1,
            }
        )
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


def test_partitions_by_utc_day_of_date_created(tmp_path: Path) -> None:
    result = write_messages(tmp_path, records(3))
    assert result.days == ["2026-11-28", "2026-11-29"]
    assert list_days(tmp_path) == ["2026-11-28", "2026-11-29"]
    assert (tmp_path / "date=2026-11-28" / "part-0.parquet").exists()
    assert read_messages(tmp_path).num_rows == 3


def test_upsert_is_idempotent(tmp_path: Path) -> None:
    write_messages(tmp_path, records(5))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")}
    again = write_messages(tmp_path, records(5))
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 5)
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.parquet")} == before
    assert read_messages(tmp_path).num_rows == 5


def test_newest_date_updated_wins(tmp_path: Path) -> None:
    write_messages(tmp_path, records(4, status="sent", updated=10))
    older = write_messages(tmp_path, records(4, status="queued", updated=5))
    assert older.updated == 0
    newer = write_messages(tmp_path, records(2, status="delivered", updated=60))
    assert (newer.inserted, newer.updated) == (0, 2)
    table = read_messages(tmp_path, columns=["sid", "status"]).to_pydict()
    statuses = dict(zip(table["sid"], table["status"], strict=True))
    assert sorted(statuses.values()) == ["delivered", "delivered", "sent", "sent"]


def test_duplicate_sids_within_one_write_keep_the_newest(tmp_path: Path) -> None:
    batch = pa.concat_tables([records(2, status="delivered", updated=9), records(2, updated=1)])
    write_messages(tmp_path, batch)
    assert read_messages(tmp_path, columns=["status"])["status"].to_pylist() == ["delivered"] * 2


def test_pruning_and_projection(tmp_path: Path) -> None:
    write_messages(tmp_path, records(3, start=datetime(2026, 11, 1, tzinfo=UTC)))
    write_messages(tmp_path, records(2, start=datetime(2026, 11, 3, tzinfo=UTC), prefix="SMb"))
    only = read_messages(tmp_path, start="2026-11-02", end="2026-11-30", columns=["sid", "to"])
    assert only.column_names == ["sid", "to"]
    assert only.num_rows == 2
    assert read_messages(tmp_path, end="2026-11-01").num_rows == 3
    single = tmp_path / "one.parquet"
    pq.write_table(records(3, start=datetime(2026, 11, 1, 23, 59, 58, tzinfo=UTC)), single)
    assert read_messages(single, start="2026-11-02").num_rows == 1


def test_a_scan_takes_rows_across_files_and_row_groups(tmp_path: Path) -> None:
    write_messages(tmp_path, records(50))  # two days
    scan = scan_messages(tmp_path, columns=["sid", "status"], dictionary=["status"])
    scan.batch_size = 7
    whole = pa.Table.from_batches(list(scan.batches(["sid", "status"])))
    rows = np.array([0, 1, 6, 7, 8, 25, 49])
    taken = scan.take(["status", "sid"], rows)
    assert taken["sid"].to_pylist() == whole["sid"].take(pa.array(rows)).to_pylist()
    assert pa.types.is_dictionary(taken.schema.field("status").type)
    assert taken.column_names == ["status", "sid"]
    assert scan.take(["sid"], np.zeros(0, dtype=np.int64)).num_rows == 0
    with pytest.raises(InputError, match="changed"):
        scan.take(["sid"], np.array([50]))
    single = tmp_path / "one.parquet"
    pq.write_table(records(50), single, row_group_size=6)
    assert pq.ParquetFile(single).num_row_groups == 9
    file_scan = scan_messages(single, columns=["sid"])
    assert file_scan.take(["sid"], rows)["sid"].to_pylist() == [
        f"SM{i:032x}" for i in rows.tolist()
    ]


def test_read_errors_are_user_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        read_messages(tmp_path / "missing")
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"x": [1]}), bad)
    with pytest.raises(SchemaError, match="missing column"):
        read_messages(bad)
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="cannot read"):
        read_messages(garbage)
    with pytest.raises(InputError, match="not a date"):
        read_messages(tmp_path, start="yesterday")


def test_rows_without_sid_are_refused(tmp_path: Path) -> None:
    table = records(1).set_column(0, "sid", pa.array([None], pa.string()))
    with pytest.raises(SchemaError, match="sid"):
        write_messages(tmp_path, table)


def test_other_engines_read_the_dataset(tmp_path: Path) -> None:
    duckdb = pytest.importorskip("duckdb")
    write_messages(tmp_path, records(3))
    rows = (
        duckdb.connect()
        .execute(
            f"SELECT count(*), count(DISTINCT date) FROM read_parquet('{tmp_path}/*/*.parquet', "
            "hive_partitioning=true)"
        )
        .fetchall()
    )
    assert rows == [(3, 2)]
    plain = ds.dataset(tmp_path, format="parquet", partitioning="hive").to_table()
    assert plain.num_rows == 3


def test_lock_is_exclusive(tmp_path: Path) -> None:
    # A second open file description conflicts even within one process.
    with (
        dataset_lock(tmp_path),
        pytest.raises(LockedError, match="another run holds the lock"),
        dataset_lock(tmp_path, blocking=False),
    ):
        pass


WRITER = textwrap.dedent(
    """
    import sys
    import pyarrow as pa
    from analyzer import atomic
    from tests.unit.test_store import records
    from analyzer.store import write_messages

    real = atomic.pq.write_table
    def slow(table, path, **kw):
        real(table, path, **kw)
        print("written", flush=True)
        import time; time.sleep(60)
    atomic.pq.write_table = slow
    write_messages(sys.argv[1], records(50, status="delivered", updated=99))
    """
)


def test_sigkill_mid_write_leaves_the_old_day(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    write_messages(dataset, records(50))
    before = read_messages(dataset).sort_by("sid")
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(dataset)],
        stdout=subprocess.PIPE,
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == b"written"  # temp file complete, not yet renamed
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert read_messages(dataset).sort_by("sid").equals(before)
    assert list(dataset.glob("date=*/part-*.parquet"))
    write_messages(dataset, records(50, status="delivered", updated=99))
    assert set(read_messages(dataset)["status"].to_pylist()) == {"delivered"}


def test_records_without_date_created_are_kept_apart_and_readable(tmp_path: Path) -> None:
    dated = records(2)
    undated = records(2, prefix="SMu").set_column(
        MESSAGE_SCHEMA.get_field_index("date_created"),
        "date_created",
        pa.nulls(2, MESSAGE_SCHEMA.field("date_created").type),
    )
    result = write_messages(tmp_path, pa.concat_tables([dated, undated]))
    assert result.days == ["2026-11-28", "2026-11-29"]
    assert result.inserted == 4
    assert (tmp_path / "date=undated" / "part-0.parquet").is_file()
    assert list_days(tmp_path) == ["2026-11-28", "2026-11-29"]
    assert read_messages(tmp_path).num_rows == 4
    assert read_messages(tmp_path, start="2026-11-28", end="2026-11-29").num_rows == 2
    import pandas as pd

    assert len(pd.read_parquet(tmp_path)) == 4
    duckdb = pytest.importorskip("duckdb")
    count = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{tmp_path}/*/*.parquet', "
            "hive_partitioning = true) WHERE date_created IS NULL AND date = 'undated'"
        )
        .fetchone()
    )
    assert count == (2,)


# -- time columns must be timestamps ------------------------------------------------------


def _with_epoch_ms(table: pa.Table, name: str = "date_created") -> pa.Table:
    """The table with one time column as int64 epoch milliseconds, as some tools write it."""
    index = table.schema.get_field_index(name)
    millis = pa.compute.divide(table[name].cast(pa.int64()), 1000)
    return table.set_column(index, name, millis)


def test_coerce_messages_refuses_numbers_and_dates_as_times() -> None:
    from analyzer.schema import coerce_messages

    epoch = _with_epoch_ms(records(2))
    with pytest.raises(SchemaError, match=r"column date_created is int64, not a timestamp"):
        coerce_messages(epoch)
    with pytest.raises(SchemaError, match=r"column date_sent is double, not a timestamp"):
        coerce_messages(records(2).to_pandas().assign(date_sent=1.5e12))
    day_only = records(2).set_column(
        MESSAGE_SCHEMA.get_field_index("date_updated"),
        "date_updated",
        pa.array([DAY1.date()] * 2, pa.date32()),
    )
    with pytest.raises(SchemaError, match=r"column date_updated is date32\[day\], not a timestamp"):
        coerce_messages(day_only)
    # text is still parsed, timestamps of any unit or zone are converted
    text = records(2).to_pandas().assign(date_sent="2026-11-28T10:00:00Z")
    assert coerce_messages(text)["date_sent"][0].as_py() == datetime(2026, 11, 28, 10, tzinfo=UTC)


def test_reading_a_file_with_epoch_times_is_refused(tmp_path: Path) -> None:
    from analyzer.store import scan_messages

    path = tmp_path / "epoch.parquet"
    pq.write_table(_with_epoch_ms(records(3)), path)
    for read in (read_messages, scan_messages):
        with pytest.raises(SchemaError, match=rf"{path}: column date_created is int64"):
            read(path)
    # the same inside a dataset: a day file written by another tool
    dataset = tmp_path / "ds"
    write_messages(dataset, records(2, start=datetime(2026, 11, 1, tzinfo=UTC)))
    day = dataset / "date=2026-11-02"
    day.mkdir()
    foreign = _with_epoch_ms(records(2, start=datetime(2026, 11, 2, tzinfo=UTC)), "date_updated")
    pq.write_table(foreign, day / "part-0.parquet")
    for read in (read_messages, scan_messages):
        with pytest.raises(SchemaError, match=r"date=2026-11-02/part-0.parquet: column date_upd"):
            read(dataset)
    assert read_messages(dataset, end="2026-11-01").num_rows == 2  # the other days still read
    # writing into that day reads it first: refused, and the file is left as it was
    before = (day / "part-0.parquet").read_bytes()
    with pytest.raises(SchemaError, match=r"date=2026-11-02/part-0.parquet: column date_upd"):
        write_messages(dataset, records(1, start=datetime(2026, 11, 2, 12, tzinfo=UTC)))
    assert (day / "part-0.parquet").read_bytes() == before


def test_detect_on_epoch_milliseconds_exits_2_naming_the_column(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    sample = Path(__file__).resolve().parents[2] / "data" / "sample" / "messages.parquet"
    path = tmp_path / "epoch.parquet"
    pq.write_table(_with_epoch_ms(pq.read_table(sample)), path)
    result = CliRunner().invoke(app, ["detect", str(path), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2, result.output
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("analyzer: error: ")
    assert f"{path}: column date_created is int64, not a timestamp" in line
    assert not (tmp_path / "o" / "clusters.parquet").exists()


# -- writing: the output path and the day files are user input ------------------------------


def _import(csv_file: Path, out: Path) -> Any:
    from typer.testing import CliRunner

    from analyzer.cli import app

    return CliRunner().invoke(app, ["import", str(csv_file), "--out", str(out)])


def _console_csv(path: Path) -> Path:
    path.write_text(
        "Sid,SentDate,To,Body,Status\n"
        f"SM{1:032x},2026-11-28T10:00:00Z,+14155550100,hi,delivered\n"
        f"SM{2:032x},,+14155550100,hi,failed\n"
    )
    return path


def _one_error_line(result: Any) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("analyzer: error: "), result.stderr
    assert "unexpected error" not in lines[0] and "Traceback" not in result.output
    return str(lines[0])


def test_import_into_a_file_is_a_user_error(tmp_path: Path) -> None:
    csv_file = _console_csv(tmp_path / "console.csv")
    taken = tmp_path / "taken"
    taken.write_text("not a dataset")
    line = _one_error_line(_import(csv_file, taken))
    assert f"dataset path is a file, not a folder: {taken}" in line
    assert taken.read_text() == "not a dataset"
    below = taken / "ds"  # a folder inside a file
    assert str(below) in _one_error_line(_import(csv_file, below))
    with pytest.raises(InputError, match="not a folder"), dataset_lock(taken):
        pass


def test_import_into_an_unwritable_folder_is_a_user_error(tmp_path: Path) -> None:
    csv_file = _console_csv(tmp_path / "console.csv")
    locked = tmp_path / "locked"
    (locked / "ds").mkdir(parents=True)
    dataset = tmp_path / "dataset"
    write_messages(dataset, records(1, start=datetime(2026, 11, 28, 9, tzinfo=UTC)))
    day = dataset / "date=2026-11-28"
    read_only = [locked / "ds", locked, day]
    for folder in read_only:
        folder.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("this user (root?) can write in a folder with mode 0o500")
        line = _one_error_line(_import(csv_file, locked / "new"))
        assert f"cannot create the dataset folder {locked / 'new'}" in line
        assert "Permission denied" in line
        line = _one_error_line(_import(csv_file, locked / "ds"))
        assert str(locked / "ds") in line and "Permission denied" in line
        line = _one_error_line(_import(csv_file, dataset))  # a day folder that cannot be written
        assert f"cannot write {day / 'part-0.parquet'}" in line and "Permission denied" in line
        assert read_messages(dataset).num_rows == 1
    finally:
        for folder in read_only:
            folder.chmod(0o700)


def test_a_corrupt_day_file_is_a_user_error(tmp_path: Path) -> None:
    csv_file = _console_csv(tmp_path / "console.csv")
    dataset = tmp_path / "ds"
    write_messages(dataset, records(1, start=datetime(2026, 11, 28, 9, tzinfo=UTC)))
    day_file = dataset / "date=2026-11-28" / "part-0.parquet"
    day_file.write_bytes(b"\x00garbage, not Parquet\xff" * 10)
    line = _one_error_line(_import(csv_file, dataset))
    assert f"cannot read {day_file} as Parquet" in line
    assert day_file.read_bytes().startswith(b"\x00garbage")  # left as it was
    assert not (dataset / "date=undated").exists()  # nothing half-written
    # an undated record is checked against every day file: the same error
    undated = tmp_path / "undated.csv"
    undated.write_text(f"Sid,SentDate,To,Body\nSM{3:032x},,+14155550100,hi\n")
    assert str(day_file) in _one_error_line(_import(undated, dataset))
    # ... and so is the undated partition itself
    day_file.unlink()
    day_file.parent.rmdir()
    write_messages(
        dataset,
        records(1, prefix="SMu").set_column(
            MESSAGE_SCHEMA.get_field_index("date_created"),
            "date_created",
            pa.nulls(1, MESSAGE_SCHEMA.field("date_created").type),
        ),
    )
    undated_file = dataset / "date=undated" / "part-0.parquet"
    undated_file.write_bytes(b"garbage")
    assert f"cannot read {undated_file} as Parquet" in _one_error_line(_import(csv_file, dataset))
