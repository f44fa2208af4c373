"""`analyzer failures` and the failures step of `nightly`, on records made by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.results import (
    FAILURES_BY_DAY_FILE,
    FAILURES_FILE,
    FAILURES_SUMMARY_FILE,
    SUPPRESS_FILE,
    FailuresSummary,
)
from analyzer.schema import MESSAGE_SCHEMA, coerce_messages
from analyzer.store import write_messages

runner = CliRunner()
DAY = datetime(2026, 11, 29, tzinfo=UTC)


def _records(days: int = 1, jump: int = 0) -> pa.Table:
    """Each day: 20 delivered messages, two 30003s, one 30007; the last day ``jump``
    more 30007s; and one recipient who only ever fails with 30005."""
    rows = []
    for day in range(days):
        start = DAY - timedelta(days=days - 1 - day)
        plan = [("delivered", None)] * 20 + [("undelivered", 30003)] * 2
        plan += [("undelivered", 30007)] * (1 + (jump if day == days - 1 else 0))
        plan += [("failed", 30005), ("failed", 99999)]
        for i, (status, code) in enumerate(plan):
            dead = code == 30005
            rows.append(
                {
                    "sid": f"SM{day:04d}{i:028x}",
                    "account_sid": "AC" + "0" * 32,
                    "to": "+447700900999" if dead else f"+4477009{day:02d}{i:03d}",
                    "from": "+15550001",
                    "body": f"hello {i}",
                    "status": status,
                    "direction": "outbound-api",
                    "error_code": code,
                    "date_created": start + timedelta(minutes=5 * i),
                }
            )
    return coerce_messages(pd.DataFrame(rows), fill_missing=True)


def test_failures_command_writes_every_file(tmp_path: Path) -> None:
    source = tmp_path / "m.parquet"
    pq.write_table(_records(), source)
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps([{"code": 99999, "message": "Made-up error"}]))
    out = tmp_path / "out"
    result = runner.invoke(app, ["failures", str(source), "-o", str(out), "-q",
                                 "--catalog", str(catalog)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "25 outbound messages: 5 did not arrive" in result.output
    summary = FailuresSummary.read(out / FAILURES_SUMMARY_FILE)
    assert (summary.failed, summary.undelivered) == (2, 3)
    assert summary.by_error_code == {"30003": 2, "30005": 1, "30007": 1, "99999": 1}
    assert summary.by_category == {"recipient": 3, "content": 1, "unknown": 1}
    assert summary.rejected_requests is None
    failures = pq.read_table(out / FAILURES_FILE).to_pandas()
    made_up = failures[failures["error_code"] == 99999].iloc[0]
    assert (made_up["category"], made_up["title"]) == ("unknown", "Made-up error")
    suppress = pd.read_csv(out / SUPPRESS_FILE, dtype={"recipient": str})
    assert suppress["recipient"].tolist() == ["+447700900999"]
    by_day = pd.read_csv(out / FAILURES_BY_DAY_FILE)
    assert by_day.loc[0, ["outbound_messages", "failures", "recipient"]].tolist() == [25, 5, 3]


def test_a_bad_catalog_is_one_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "m.parquet"
    pq.write_table(_records(), source)
    bad = tmp_path / "catalog.json"
    bad.write_text("{not json")
    result = runner.invoke(app, ["failures", str(source), "-o", str(tmp_path / "o"), "-q",
                                 "--catalog", str(bad)])  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith("analyzer: error: cannot read the error catalog")


def test_nightly_flags_a_jump_and_alerts_only_when_asked(tmp_path: Path) -> None:
    dataset = write_messages(tmp_path / "ds", _records(days=8, jump=30)) and tmp_path / "ds"
    args = ["nightly", "--dataset", str(dataset), "--no-export", "--date", "2026-11-29"]
    quiet = runner.invoke(app, [*args, "--reports", str(tmp_path / "r1")])
    assert quiet.exit_code == 0, quiet.output
    assert "error 30007 (content) came 31 times on 2026-11-29" in quiet.stderr
    alert = runner.invoke(app, [*args, "--reports", str(tmp_path / "r2"),
                                "--alert-on-failure-jumps"])  # fmt: skip
    assert alert.exit_code == 3, alert.output
    day = tmp_path / "r2" / "2026-11-29" / "results"
    summary = FailuresSummary.read(day / FAILURES_SUMMARY_FILE)
    assert [(j.error_code, j.count, j.baseline) for j in summary.jumps] == [("30007", 31, 1.0)]
    assert summary.failures == 5 + 30  # the day only; the week before is the baseline


def test_the_schema_keeps_error_codes_whole() -> None:
    assert MESSAGE_SCHEMA.field("error_code").type == pa.int64()
