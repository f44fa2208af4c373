"""Every CLI command, run through typer's CliRunner, and the docs that list them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "messages.parquet"
runner = CliRunner()


def test_detect_on_the_sample_writes_results(tmp_path: Path) -> None:
    result = runner.invoke(app, ["detect", str(SAMPLE), "--out", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    clusters = pq.read_table(tmp_path / "clusters.parquet")
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["duplicate_clusters"] == clusters.num_rows > 0
    assert f"{clusters.num_rows:,} duplicate clusters" in result.output
    assert (tmp_path / "sensitivity.csv").read_text().startswith("window_seconds,")
    assert min(pa.compute.list_value_length(clusters["sids"]).to_pylist()) >= 2


def test_detect_extra_key_column_narrows_clusters(tmp_path: Path) -> None:
    wide = runner.invoke(app, ["detect", str(SAMPLE), "-o", str(tmp_path / "a"), "-q"])
    narrow = runner.invoke(
        app, ["detect", str(SAMPLE), "-o", str(tmp_path / "b"), "-q", "--key", "from"]
    )
    assert wide.exit_code == narrow.exit_code == 0
    count_a = json.loads((tmp_path / "a" / "summary.json").read_text())["duplicate_clusters"]
    count_b = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert count_b["key"] == ["to", "body", "from"]
    assert count_b["duplicate_clusters"] <= count_a


@pytest.mark.parametrize(
    ("make_input", "message"),
    [
        (lambda p: p / "missing.parquet", "no such file"),
        (lambda p: _write(p / "x.parquet", pa.table({"a": [1]})), "missing column"),
        (lambda p: _bytes(p / "junk.parquet", b"junk"), "cannot read"),
        (lambda p: _empty_dataset(p), "no message records"),
    ],
)
def test_detect_bad_input_is_one_line_and_nonzero(tmp_path: Path, make_input, message) -> None:  # type: ignore[no-untyped-def]
    path = make_input(tmp_path)
    result = runner.invoke(app, ["detect", str(path), "--out", str(tmp_path / "o"), "-q"])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and lines[0].startswith("analyzer: error:")
    assert "Traceback" not in result.output


def test_simulate_is_deterministic(tmp_path: Path) -> None:
    for name in ("a", "b"):
        result = runner.invoke(
            app, ["simulate", "--out", str(tmp_path / name), "-n", "500", "--seed", "3", "-q"]
        )
        assert result.exit_code == 0, result.output
    assert (tmp_path / "a" / "messages.parquet").read_bytes() == (
        tmp_path / "b" / "messages.parquet"
    ).read_bytes()
    written = pq.read_table(tmp_path / "a" / "messages.parquet").num_rows
    assert 500 <= written <= 510  # the opt-out scenarios add a few records on top
    assert f"Wrote {written:,} messages" in result.output


def test_simulate_rejects_bad_count(tmp_path: Path) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "-n", "0"])
    assert result.exit_code == 2


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "detect" in proc.stdout and "simulate" in proc.stdout


def test_every_command_is_documented_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = [
        c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands
    ]
    assert commands
    for name in commands:
        assert re.search(rf"analyzer {name}\b", readme), f"`analyzer {name}` is not in README.md"


def _write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def _bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _empty_dataset(path: Path) -> Path:
    folder = path / "ds"
    folder.mkdir()
    return folder


def test_export_against_the_fake_twilio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from analyzer.store import read_messages
    from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, generate_messages

    records = generate_messages(
        300, datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 29, tzinfo=UTC), seed=4
    )
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT_SID)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
    with FakeTwilio(records) as server:
        monkeypatch.setenv("TWILIO_API_BASE_URL", server.base_url)
        args = ["export", "--out", str(tmp_path / "ds"), "--start", "2026-11-27"]
        result = runner.invoke(app, [*args, "--end", "2026-11-29", "--quiet"])
        assert result.exit_code == 0, result.output
        assert "Exported" in result.output
        sent = [d for d in records["date_sent"].to_pylist() if d is not None]
        assert read_messages(tmp_path / "ds").num_rows == len(sent)

        monkeypatch.setenv("TWILIO_AUTH_TOKEN", "wrong-secret-token-value")
        denied = runner.invoke(app, [*args, "--end", "2026-11-29", "--quiet"])
    assert denied.exit_code == 2
    assert "rejected the credentials" in denied.stderr
    assert len(denied.stderr.strip().splitlines()) == 1
    assert "wrong-secret-token-value" not in denied.output + denied.stderr
    assert AUTH_TOKEN not in denied.output + denied.stderr


def test_export_without_credentials_names_the_variables(tmp_path: Path) -> None:
    result = runner.invoke(app, ["export", "--out", str(tmp_path), "--start", "2026-11-27"])
    assert result.exit_code == 2
    assert "TWILIO_ACCOUNT_SID" in result.stderr


def test_import_console_csv(tmp_path: Path) -> None:
    csv_file = tmp_path / "console.csv"
    csv_file.write_text(
        "Sid,From,To,Body,Status,SentDate,Direction,Price,PriceUnit\n"
        "SM" + "1" * 32 + ",+15005550006,+14155550100,hi,delivered,"
        "2026-11-29T10:00:00Z,outbound-api,-0.0079,USD\n"
        "SM" + "2" * 32 + ",+15005550006,+14155550100,hi,delivered,"
        "not a date,outbound-api,-0.0079,USD\n"
    )
    result = runner.invoke(app, ["import", str(csv_file), "--out", str(tmp_path / "ds")])
    assert result.exit_code == 0, result.output
    assert "1 new" in result.output
    assert "line 3" in result.stderr
    strict = runner.invoke(
        app, ["import", str(csv_file), "--out", str(tmp_path / "ds2"), "--strict"]
    )
    assert strict.exit_code == 2


def test_import_date_order_and_never_sent_rows(tmp_path: Path) -> None:
    csv_file = tmp_path / "resaved.csv"
    csv_file.write_text(
        "Sid,From,To,Body,Status,SentDate,Direction\n"
        "SM" + "1" * 32 + ",+15005550006,+14155550100,hi,delivered,03/04/2026 10:00,outbound-api\n"
        "SM" + "2" * 32 + ",+15005550006,+14155550100,hi,failed,,outbound-api\n"
    )
    refused = runner.invoke(app, ["import", str(csv_file), "--out", str(tmp_path / "ds")])
    assert refused.exit_code == 2
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "--date-order month-first or --date-order day-first" in refused.stderr
    assert "Traceback" not in refused.output + refused.stderr

    args = ["import", str(csv_file), "--out", str(tmp_path / "ds"), "--date-order", "day-first"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert (
        f"{csv_file}: console-csv, 2 of 2 rows imported, 0 malformed, 1 never sent "
        "(no sent date) (1 without a creation date, kept under date=undated)"
    ) in result.stdout
    from analyzer.store import read_messages

    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["date_sent"][0].as_py().isoformat() == "2026-04-03T10:00:00+00:00"
    bad = runner.invoke(app, [*args[:-1], "mdy"])
    assert bad.exit_code == 2 and "unknown date order" in bad.stderr


def test_unexpected_errors_are_one_line_without_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import typer

    from analyzer.cli import user_errors

    secret = "tok-3f9a1c2e7b5d4a6f8e0c"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", secret)
    with pytest.raises(typer.Exit) as exit_info, user_errors():
        raise RuntimeError(f"request to https://AC1:{secret}@api.twilio.com failed\nmore")
    assert exit_info.value.exit_code == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "unexpected error: RuntimeError" in err
    assert secret not in err
