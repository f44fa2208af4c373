"""`analyzer optouts` and the opt-out step of `nightly`, on records made by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.results import (
    NEAR_MISSES_FILE,
    OPTOUT_SENDS_FILE,
    OPTOUTS_SUMMARY_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
)
from analyzer.schema import coerce_messages
from analyzer.store import write_messages

runner = CliRunner()
DAY = datetime(2026, 11, 29, 9, tzinfo=UTC)


def _records() -> pd.DataFrame:
    """+441 says STOP to +100 (service MG1) on the 28th; on the 29th MG1's other number
    +101 sends to them (blocked) and +200 (no service) too (fine); +442 says ARRET to
    +200, then +200 sends to them without a 21610 (sent anyway); +443 writes "stop pls"."""

    def row(sid: str, direction: str, frm: str, to: str, body: str, at: datetime, **extra):  # type: ignore[no-untyped-def]
        return {"sid": sid, "account_sid": "AC" + "0" * 32, "direction": direction,
                "from": frm, "to": to, "body": body, "date_created": at,
                "status": "received" if direction == "inbound" else "delivered",
                **extra}  # fmt: skip

    before = DAY - timedelta(days=1)
    return pd.DataFrame(
        [
            row("SM01", "inbound", "+441", "+100", " stop ", before, messaging_service_sid="MG1"),
            row("SM02", "outbound-api", "+101", "+441", "hi", DAY, messaging_service_sid="MG1",
                status="failed", error_code=21610),  # fmt: skip
            row("SM03", "outbound-api", "+200", "+441", "hi", DAY),
            row("SM04", "inbound", "+442", "+200", "Arret", DAY),
            row("SM05", "outbound-api", "+200", "+442", "hi", DAY + timedelta(minutes=1)),
            row("SM06", "inbound", "+443", "+200", "stop pls", DAY),
        ]
    )


def test_optouts_command_with_a_keywords_file(tmp_path: Path) -> None:
    source = tmp_path / "m.parquet"
    pq.write_table(coerce_messages(_records(), fill_missing=True), source)
    words = tmp_path / "keywords.toml"
    words.write_text('[keywords]\nopt_out = ["STOP", "ARRET"]\n')
    out = tmp_path / "out"
    result = runner.invoke(app, ["optouts", str(source), "-o", str(out), "-q",
                                 "--keywords-file", str(words)])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "1 blocked by Twilio (21610), 1 sent anyway" in result.output
    summary = OptoutsSummary.read(out / OPTOUTS_SUMMARY_FILE)
    assert (summary.blocked, summary.sent_after_opt_out, summary.near_misses) == (1, 1, 1)
    sends = pq.read_table(out / OPTOUT_SENDS_FILE).to_pandas()
    assert dict(zip(sends["sid"], sends["verdict"], strict=True)) == {
        "SM02": "blocked",
        "SM05": "sent_after_opt_out",
    }
    assert sends.set_index("sid").loc["SM02", "scope"] == "MG1"
    suppression = pd.read_csv(out / SUPPRESSION_FILE, dtype=str)
    assert suppression[["scope", "recipient", "keyword"]].values.tolist() == [
        ["+200", "+442", "ARRET"],
        ["MG1", "+441", "STOP"],
    ]
    assert pd.read_csv(out / NEAR_MISSES_FILE, dtype=str)["body"].tolist() == ["stop pls"]
    refused = runner.invoke(app, ["optouts", str(source), "-o", str(tmp_path / "o2"),
                                  "--keywords-file", str(tmp_path / "none.toml")])  # fmt: skip
    assert refused.exit_code == 2
    assert refused.stderr.startswith("analyzer: error: no such keywords file")


def test_nightly_warns_about_sends_after_opt_out_and_alerts_when_asked(tmp_path: Path) -> None:
    records = _records()
    records["body"] = records["body"].replace({"Arret": "STOP"})
    write_messages(tmp_path / "ds", coerce_messages(records, fill_missing=True))
    args = ["nightly", "--dataset", str(tmp_path / "ds"), "--no-export", "--date", "2026-11-29"]
    quiet = runner.invoke(app, [*args, "--reports", str(tmp_path / "r1")])
    assert quiet.exit_code == 0, quiet.output
    assert "1 message(s) went out on 2026-11-29 to recipients who had opted out" in quiet.stderr
    alert = runner.invoke(app, [*args, "--reports", str(tmp_path / "r2"),
                                "--alert-on-sent-after-opt-out"])  # fmt: skip
    assert alert.exit_code == 3, alert.output
    day = tmp_path / "r2" / "2026-11-29" / "results"
    summary = OptoutsSummary.read(day / OPTOUTS_SUMMARY_FILE)
    # The STOP of the 28th sets the state; only the day's sends and keywords are reported.
    assert (summary.blocked, summary.sent_after_opt_out) == (1, 1)
    assert summary.events_by_kind == {"opt_out": 1}
