"""Reported duplicates: carrier_side, app_side, twilio_side or not_found."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import InputError
from analyzer.investigate import complaints_frame, investigate, read_complaints
from analyzer.logs import read_server_logs
from analyzer.schema import MESSAGE_SCHEMA

ACCOUNT = "AC" + "0" * 32
T0 = datetime(2026, 11, 29, 10, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(sid: str, to: str, body: str, seconds: float) -> dict[str, Any]:
    return {
        "sid": sid,
        "to": to,
        "body": body,
        "direction": "outbound-api",
        "status": "delivered",
        "account_sid": ACCOUNT,
        "from": "+15005550006",
        "date_created": at(seconds),
    }


RECORDS = [
    record("SMa1", "+447700900001", "Your table is booked", 0),  # carrier: one record
    record("SMb1", "+447700900002", "Order shipped", 0),  # app: two POSTs
    record("SMb2", "+447700900002", "Order shipped", 15),
    record("SMc1", "+14155550003", "Code 1234", 100),  # twilio: one POST, two records
    record("SMc2", "+14155550003", "Code 1234", 100),
    record("SMe1", "+4915112345678", "Reminder", 86_400),  # carrier, the next day
]


def post(sid: str | None, to: str, seconds: float) -> str:
    return json.dumps(
        {
            "timestamp": (at(seconds) + timedelta(milliseconds=300)).isoformat(),
            "method": "POST",
            "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            "status": 201 if sid else None,
            "to": to,
            "message_sid": sid,
        }
    )


LOG = [
    post("SMa1", "+447700900001", 0),
    post(None, "+447700900002", 0),  # timed out: no SID
    post("SMb2", "+447700900002", 15),
    post("SMc1", "+14155550003", 100),
    post("SMe1", "+4915112345678", 86_400),
]


@pytest.fixture
def messages() -> pa.Table:
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in RECORDS], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(LOG) + "\n")
    return path


def reports(*rows: tuple[str, float]) -> pd.DataFrame:
    return complaints_frame(
        pd.DataFrame({"to": [r[0] for r in rows], "reported_at": [at(r[1]) for r in rows]})
    )


def test_each_kind_of_report(messages: pa.Table, log_file: Path) -> None:
    requests = read_server_logs([log_file]).requests
    found = investigate(
        messages,
        reports(
            ("+447700900001", 1800),
            ("+447700900002", 600),
            ("+14155550003", 700),
            ("+33612345678", 0),
        ),
        requests=requests,
    )
    assert found.reports["verdict"].tolist() == [
        "carrier_side",
        "app_side",
        "twilio_side",
        "not_found",
    ]
    assert found.reports["sids"].tolist() == [["SMa1"], ["SMb1", "SMb2"], ["SMc1", "SMc2"], []]
    assert found.by_verdict == {"carrier_side": 1, "app_side": 1, "twilio_side": 1, "not_found": 1}


def test_report_outside_the_searched_period_is_not_found(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900001", 8 * 3600)))
    assert found.reports["verdict"].tolist() == ["not_found"]


def test_without_logs_a_duplicate_is_unverified(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900002", 600)))
    assert found.reports["verdict"].tolist() == ["unverified"]


def test_carrier_reports_across_days_go_to_twilio_support(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900001", 60), ("+4915112345678", 86_460)))
    assert found.reports["verdict"].tolist() == ["carrier_side", "carrier_side"]
    assert found.escalate
    assert "Twilio support" in found.escalation
    assert "SMa1" in found.escalation and "SMe1" in found.escalation
    single = investigate(messages, reports(("+447700900001", 60)))
    assert not single.escalate


def test_complaints_csv_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("to,reported_at,note\n+447700900001,2026-11-29T10:30:00Z,twice\n")
    assert read_complaints(good)["to"].tolist() == ["+447700900001"]
    bad = tmp_path / "bad.csv"
    bad.write_text("to,reported_at\n+447700900001,yesterday\n")
    with pytest.raises(InputError, match="not ISO 8601"):
        read_complaints(bad)
    with pytest.raises(InputError, match="reported_at"):
        (tmp_path / "x.csv").write_text("to\n+1\n")
        read_complaints(tmp_path / "x.csv")


def test_cli_investigate_writes_carrier_results(
    messages: pa.Table, log_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "m.parquet"
    pq.write_table(messages, data)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "investigate",
            str(data),
            "--to",
            "+447700900002",
            "--around",
            "2026-11-29T10:10:00Z",
            "--server-log",
            str(log_file),
            "--out",
            str(tmp_path / "inv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "app_side" in result.output
    carrier = pq.read_table(tmp_path / "inv" / "carrier.parquet").to_pylist()
    assert [row["verdict"] for row in carrier] == ["app_side"]
    missing = runner.invoke(app, ["investigate", str(data)])
    assert missing.exit_code == 2 and "--complaints" in missing.stderr
