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
