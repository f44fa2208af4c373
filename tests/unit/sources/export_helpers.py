"""Shared pieces of the export tests: records, the range, and running an export."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.twilio_api import Credentials, ExportResult, RetryPolicy, export_messages
from analyzer.store import read_messages
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, generate_messages

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
FAST = RetryPolicy(base=0.01, cap=0.05, max_retry_time=10, timeout=10)
CREDS = Credentials(ACCOUNT_SID, AUTH_TOKEN)
NOW = DAY0 + timedelta(days=30)


def export_records() -> pa.Table:
    """3000 records over four days."""
    return generate_messages(3000, DAY0, DAY0 + timedelta(days=4), seed=7)


def day_range(first_day: int, last_day: int) -> tuple[datetime, datetime]:
    """The first and last second of days ``first_day`` to ``last_day`` after DAY0."""
    return DAY0 + timedelta(days=first_day), DAY0 + timedelta(days=last_day + 1, seconds=-1)


def sorted_records(table: pa.Table) -> pa.Table:
    """Every field but source, rows sorted by sid."""
    return table.select([n for n in MESSAGE_SCHEMA.names if n != "source"]).sort_by("sid")


def assert_same_records(dataset: Path, expected: pa.Table) -> None:
    """The dataset holds exactly the expected records, each once, from the API."""
    got = read_messages(dataset)
    assert got.num_rows == expected.num_rows
    assert pc.count_distinct(got["sid"]).as_py() == got.num_rows  # exactly once
    assert set(got["source"].to_pylist()) <= {"api"}
    left, right = sorted_records(got), sorted_records(expected)
    for name in left.column_names:
        assert left[name].equals(right[name]), name


def run_export(
    server: FakeTwilio, dataset: Path, first: int, last: int, **kwargs: object
) -> ExportResult:
    """Export days ``first`` to ``last`` from the fake, fast retries, small pages."""
    start, end = day_range(first, last)
    options: dict[str, object] = {
        "credentials": CREDS,
        "api_base_url": server.base_url,
        "retry": FAST,
        "now": NOW,
        "concurrency": 4,
        "page_size": 100,
    }
    options.update(kwargs)
    return export_messages(dataset, start.date(), end.date(), **options)  # type: ignore[arg-type]


def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
