"""Exports from the fake Twilio: every record once despite faults, ranges, accounts, progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

import analyzer
from analyzer.sources.twilio_api import (
    Credentials,
    export_messages,
)
from analyzer.store import LockedError, dataset_lock
from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    SUBACCOUNT_SID,
    FakeTwilio,
    Faults,
    generate_messages,
)
from tests.unit.sources.export_helpers import (
    CREDS,
    DAY0,
    FAST,
    NOW,
    assert_same_records,
    day_range,
    export_records,
    run_export,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return export_records()


def test_export_with_every_fault_gets_each_record_once(tmp_path: Path, records: pa.Table) -> None:
    schedule = {1: "429", 3: "500", 5: "503", 7: "drop", 9: "truncate", 11: "garbage", 12: "drop"}
    with FakeTwilio(records, faults=Faults(schedule=schedule, retry_after="1")) as server:
        result = run_export(server, tmp_path / "ds", 0, 2, slice_hours=4)
        expected = server.in_range(*day_range(0, 2))
        log = server.list_requests()
    assert_same_records(tmp_path / "ds", expected)
    assert result.retries >= len(schedule)
    assert result.records == expected.num_rows
    assert sum(result.days.values()) == expected.num_rows
    assert Counter(r.fault for r in log if r.fault) == Counter(schedule.values())
    # The 429 said Retry-After: 1; the same page was asked for again no sooner.
    throttled = next(r for r in log if r.fault == "429")
    again = next(r for r in log if r is not throttled and r.query == throttled.query)
    assert again.at - throttled.at >= 0.95


@pytest.mark.parametrize("seed", [1, 2])
def test_export_with_random_faults_matches_server(
    tmp_path: Path, records: pa.Table, seed: int
) -> None:
    faults = Faults(
        rate=0.25,
        seed=seed,
        retry_after="0",
        kinds=("429", "500", "503", "drop", "truncate", "garbage"),
    )
    with FakeTwilio(records, faults=faults) as server:
        result = run_export(server, tmp_path / "ds", 1, 3, slice_hours=3, concurrency=6)
        expected = server.in_range(*day_range(1, 3))
    assert_same_records(tmp_path / "ds", expected)
    assert result.retries > 0
    assert result.pages > result.slices  # several pages per slice were followed


def test_export_again_changes_nothing(tmp_path: Path, records: pa.Table) -> None:
    dataset = tmp_path / "ds"
    with FakeTwilio(records) as server:
        first = run_export(server, dataset, 0, 3)
        files = sorted(dataset.glob("date=*/part-0.parquet"))
        before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
        second = run_export(server, dataset, 0, 3, concurrency=2, slice_hours=24)
    assert first.inserted == first.records > 0
    assert (second.inserted, second.updated) == (0, 0)
    assert second.unchanged == first.records
    assert sorted(dataset.glob("date=*/part-0.parquet")) == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_end_is_clamped_to_now_minus_lag(tmp_path: Path, records: pa.Table) -> None:
    now = DAY0 + timedelta(days=1, hours=12)
    with FakeTwilio(records) as server:
        result = run_export(server, tmp_path / "ds", 0, 3, now=now, lag=timedelta(minutes=30))
        cutoff = now - timedelta(minutes=30)
        expected = server.in_range(DAY0, cutoff)
    assert result.end == cutoff
    assert_same_records(tmp_path / "ds", expected)


def test_timestamps_bound_the_range_to_the_second(tmp_path: Path, records: pa.Table) -> None:
    start = DAY0 + timedelta(hours=5, minutes=3, seconds=7)
    end = DAY0 + timedelta(hours=9, seconds=-1)
    with FakeTwilio(records) as server:
        export_messages(
            tmp_path / "ds",
            start,
            end,
            credentials=CREDS,
            retry=FAST,
            now=NOW,
            api_base_url=server.base_url,
            slice_hours=0.25,
        )
        expected = server.in_range(start, end)
    assert expected.num_rows > 0
    assert_same_records(tmp_path / "ds", expected)


def test_subaccounts_and_api_key(tmp_path: Path) -> None:
    data = generate_messages(
        800, DAY0, DAY0 + timedelta(days=1), account_sids=[ACCOUNT_SID, SUBACCOUNT_SID], seed=3
    )
    key = Credentials(ACCOUNT_SID, API_SECRET, api_key=API_KEY)
    with FakeTwilio(data) as server:
        main_only = run_export(server, tmp_path / "main", 0, 0, credentials=key)
        both = run_export(server, tmp_path / "all", 0, 0, credentials=key, include_subaccounts=True)
        expected = server.in_range(*day_range(0, 0))
    assert both.accounts == [ACCOUNT_SID, SUBACCOUNT_SID]
    assert_same_records(tmp_path / "all", expected)
    main = expected.filter(pc.equal(expected["account_sid"], ACCOUNT_SID))
    assert 0 < main_only.records == main.num_rows < expected.num_rows
    assert_same_records(tmp_path / "main", main)


def test_progress_reports_running_totals_and_lock_is_held(
    tmp_path: Path, records: pa.Table
) -> None:
    seen: list[int] = []
    with FakeTwilio(records) as server:
        with dataset_lock(tmp_path / "ds"), pytest.raises(LockedError):
            run_export(server, tmp_path / "ds", 0, 0)
        result = run_export(server, tmp_path / "ds", 0, 1, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == result.fetched == result.records > 0
    assert len(seen) == result.pages


_KILL_SCRIPT = """
import sys
from datetime import date, datetime, timezone
from analyzer.sources.twilio_api import Credentials, RetryPolicy, export_messages
export_messages(
    sys.argv[1], date(2026, 3, 1), date(2026, 3, 4),
    credentials=Credentials(sys.argv[3], sys.argv[4]), api_base_url=sys.argv[2],
    concurrency=2, slice_hours=6, page_size=50, now=datetime(2026, 4, 1, tzinfo=timezone.utc),
    retry=RetryPolicy(base=0.01, cap=0.05, max_retry_time=10),
)
"""


def _day_counts(table: pa.Table) -> dict[str, int]:
    days = pc.strftime(table["date_created"], format="%Y-%m-%d").to_pylist()
    return dict(Counter(days))


def test_sigkill_mid_export_leaves_whole_days_and_rerun_completes(
    tmp_path: Path, records: pa.Table
) -> None:
    dataset = tmp_path / "ds"
    with FakeTwilio(records, latency=0.06) as server:
        expected = server.in_range(*day_range(0, 3))
        full = _day_counts(expected)
        root = Path(analyzer.__file__).parents[1]  # the analyzer under test
        env = {**os.environ, "PYTHONPATH": str(root)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _KILL_SCRIPT,
                str(dataset),
                server.base_url,
                ACCOUNT_SID,
                AUTH_TOKEN,
            ],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not list(dataset.glob("date=*/part-0.parquet")):
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no day was written in time"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        written = sorted(dataset.glob("date=*/part-0.parquet"))
        assert 0 < len(written) < len(full), "the kill came too late to test anything"
        for part in written:
            day = part.parent.name.removeprefix("date=")
            assert pq.read_table(part).num_rows == full[day], f"partial day {day}"
        assert not [
            p
            for p in dataset.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.name != "part-0.parquet"
        ]
        result = run_export(server, dataset, 0, 3, concurrency=4)
    assert_same_records(dataset, expected)
    assert result.days == full
