"""`analyzer inbound` on a dataset with a configuration folder made by hand."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.results import (
    ALERTS_FILE,
    CONFIG_DIR,
    INBOUND_SUMMARY_FILE,
    NUMBERS_CHECK_FILE,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
    UNHANDLED_INBOUND_FILE,
    InboundSummary,
)
from analyzer.schema import coerce_messages
from analyzer.store import write_messages
from tests.unit.inbound.test_check import _inbound, _numbers, _requests, _services

runner = CliRunner()


def _dataset(folder: Path) -> Path:
    inbound = _inbound().assign(direction="inbound", account_sid="AC" + "0" * 32, body="hi")
    inbound["from"] = "+4477"
    write_messages(folder, coerce_messages(inbound, fill_missing=True))
    config = folder / CONFIG_DIR
    config.mkdir()
    services, links = _services()
    pq.write_table(pa.Table.from_pandas(_numbers()), config / NUMBERS_FILE)
    pq.write_table(pa.Table.from_pandas(services), config / SERVICES_FILE)
    pq.write_table(pa.Table.from_pandas(links), config / SERVICE_NUMBERS_FILE)
    alerts = pa.table({"sid": ["NO1"], "error_code": [11200], "resource_sid": ["PN4"],
                       "request_url": ["https://app.example.com/broken"]})  # fmt: skip
    pq.write_table(alerts, config / ALERTS_FILE)
    return folder


def test_inbound_command_writes_the_check(tmp_path: Path) -> None:
    dataset = _dataset(tmp_path / "ds")
    log = tmp_path / "requests.jsonl"
    log.write_text(
        "".join(
            f'{{"timestamp": "{t.isoformat()}", "method": "POST", '
            f'"url": "https://app.example.com{p}", "status": {s}}}\n'
            for t, p, s, _sid in _requests()[["time", "path", "status", "message_sid"]].itertuples(
                index=False
            )
        )
    )
    out = tmp_path / "out"
    result = runner.invoke(app, ["inbound", str(dataset), "-o", str(out), "--server-log", str(log)])
    assert result.exit_code == 0, result.output
    summary = InboundSummary.read(out / INBOUND_SUMMARY_FILE)
    assert summary.by_verdict["webhook_not_hit"] == 1
    assert summary.by_verdict["webhook_errors"] == 1
    numbers = pq.read_table(out / NUMBERS_CHECK_FILE).to_pandas()
    assert len(numbers) == 8
    unhandled = pq.read_table(out / UNHANDLED_INBOUND_FILE).to_pandas()
    assert set(unhandled["to"]) == {"+1002", "+1003", "+1005", "+1007"}


def test_without_configuration_it_says_so(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    write_messages(dataset, coerce_messages(_inbound().assign(direction="inbound",
                   account_sid="AC" + "0" * 32, body="x"), fill_missing=True))  # fmt: skip
    result = runner.invoke(app, ["inbound", str(dataset), "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    assert "no account configuration" in result.stderr


def test_the_sample_judged_by_its_logs(tmp_path: Path) -> None:
    """On data/sample: the application's ingress log decides every planted number and
    message; its request log to Twilio decides none of what it cannot see."""
    import json

    sample = Path(__file__).resolve().parents[3] / "data" / "sample"
    planted = json.loads((sample / "simulation.json").read_text())["inbound"]
    messages = str(sample / "messages.parquet")
    ingress = runner.invoke(
        app, ["inbound", messages, "--out", str(tmp_path / "in"),
              "--server-log", str(sample / "app_requests.jsonl")],
    )  # fmt: skip
    assert ingress.exit_code == 0, ingress.output
    numbers = pq.read_table(tmp_path / "in" / NUMBERS_CHECK_FILE).to_pandas()
    assert dict(zip(numbers["phone_number"], numbers["verdict"], strict=True)) == (
        planted["numbers_with_log"]
    )
    unhandled = pq.read_table(tmp_path / "in" / UNHANDLED_INBOUND_FILE).to_pandas()
    assert sorted(unhandled["sid"]) == planted["unhandled"]

    egress = runner.invoke(
        app, ["inbound", messages, "--out", str(tmp_path / "out"),
              "--server-log", str(sample / "server_requests.jsonl")],
    )  # fmt: skip
    assert egress.exit_code == 0, egress.output
    assert "no request from Twilio" in egress.output
    numbers = pq.read_table(tmp_path / "out" / NUMBERS_CHECK_FILE).to_pandas()
    verdicts = dict(zip(numbers["phone_number"], numbers["verdict"], strict=True))
    # What the configuration alone decides stays; whether messages reached the webhooks
    # cannot be judged from this log (the sample has no TwiML App numbers).
    expected = {n: "inconclusive" if v == "ok" else v for n, v in planted["numbers"].items()}
    assert verdicts == expected
    summary = InboundSummary.read(tmp_path / "out" / INBOUND_SUMMARY_FILE)
    assert summary.unhandled_inbound is None
    assert pq.read_table(tmp_path / "out" / UNHANDLED_INBOUND_FILE).num_rows == 0
