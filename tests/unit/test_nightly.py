"""The nightly job: locking, exit codes, history, configuration precedence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import UserError
from analyzer.nightly import load_config
from tests.fake_twilio import FakeTwilio

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample"
TOKEN = "nightly-test-token-0123456789abcdef"


@pytest.fixture(scope="module")
def records() -> object:
    return pq.read_table(SAMPLE / "messages.parquet")


def account_of(records: object) -> str:
    return str(pc.unique(records["account_sid"])[0])  # type: ignore[index]


def nightly_env(server: FakeTwilio, account: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "ANALYZER_"))}
    env.update(
        {
            "TWILIO_ACCOUNT_SID": account,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_API_BASE_URL": server.base_url,
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def nightly_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "analyzer",
        "nightly",
        "--dataset",
        str(tmp_path / "dataset"),
        "--reports",
        str(tmp_path / "reports"),
        "--server-log",
        str(SAMPLE / "server_requests.jsonl"),
        "--date",
        "2026-11-29",
        *extra,
    ]


def test_two_runs_at_once_one_waits_for_cron_and_a_third_succeeds(
    tmp_path: Path, records: object
) -> None:
    account = account_of(records)
    with FakeTwilio(records, account_sid=account, auth_token=TOKEN, latency=0.4) as server:
        env = nightly_env(server, account)
        first = subprocess.Popen(
            nightly_args(tmp_path, "--quiet"),
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        second = subprocess.Popen(
            nightly_args(tmp_path, "--quiet"),
            env=env,
            cwd=ROOT,
            stderr=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        outcomes = sorted(
            [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in (first, second)]
        )
        third = subprocess.run(
            nightly_args(tmp_path, "--threshold", "50", "--log-json"),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    codes = [code for code, _ in outcomes]
    assert codes[0] in (0, 3) and codes[1] == 75, outcomes
    locked_stderr = outcomes[1][1].strip().splitlines()
    assert len(locked_stderr) == 1 and "another run holds the lock" in locked_stderr[0]
    assert third.returncode == 0, third.stderr
    for line in third.stderr.strip().splitlines():
        assert json.loads(line)["logger"].startswith("analyzer")
    assert TOKEN not in third.stderr + third.stdout

    reports = tmp_path / "reports"
    history = (reports / "index.html").read_text()
    assert history.count('href="2026-11-29/index.html"') == 1
    summary = json.loads((reports / "2026-11-29" / "summary.json").read_text())
    assert summary["duplicate_clusters"] > 0
    assert set(summary["by_verdict"]) >= {"app_side", "twilio_side"}
    assert (reports / "2026-11-29" / "ticket.md").exists()
    assert not [p for p in reports.iterdir() if p.name.startswith(".")]


def test_threshold_exceeded_exits_3_and_bad_credentials_exit_2(
    tmp_path: Path, records: object
) -> None:
    account = account_of(records)
    with FakeTwilio(records, account_sid=account, auth_token=TOKEN) as server:
        env = nightly_env(server, account)
        over = subprocess.run(
            nightly_args(tmp_path, "--threshold", "0.01", "--quiet"),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        env["TWILIO_AUTH_TOKEN"] = "not-the-token-xyz"
        denied = subprocess.run(
            nightly_args(tmp_path, "--quiet"),
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    assert over.returncode == 3, over.stderr
    assert "above the threshold" in over.stderr
    assert denied.returncode == 2
    assert "rejected the credentials" in denied.stderr
    assert "not-the-token-xyz" not in denied.stderr + denied.stdout


def test_config_precedence_command_line_then_environment_then_file(tmp_path: Path) -> None:
    config = tmp_path / "analyzer.toml"
    config.write_text(
        '[analyzer]\ndataset = "/from/file"\nreports = "/reports/file"\nwindow = 30\n'
        'threshold = 1.5\nserver_log = ["a.log", "b.log"]\n'
    )
    environ = {"ANALYZER_WINDOW": "45", "ANALYZER_REPORTS": "/reports/env"}
    settings = load_config({"reports": Path("/reports/cli")}, environ, config)
    assert settings.reports == Path("/reports/cli")
    assert settings.window == 45.0
    assert settings.dataset == Path("/from/file")
    assert settings.threshold == 1.5
    assert settings.server_log == ["a.log", "b.log"]
    assert load_config({}, environ, config).reports == Path("/reports/env")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("dataset = [", "not valid TOML"),
        ('dataset = "/d"\nreports = "/r"\ncolour = "red"', "unknown setting"),
        ('dataset = "/d"\nreports = "/r"\nwindow = "soon"', "bad value for window"),
        ('dataset = "/d"', "--reports is required"),
    ],
)
def test_bad_configuration_is_one_clear_error(tmp_path: Path, content: str, message: str) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(content)
    with pytest.raises(UserError, match=message):
        load_config({}, {}, config)
    result = CliRunner().invoke(app, ["nightly", "--config", str(config), "--no-export"])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1


def test_rerun_without_export_gives_the_same_report(tmp_path: Path) -> None:
    from analyzer.store import write_messages

    write_messages(tmp_path / "dataset", pq.read_table(SAMPLE / "messages.parquet"))
    args = [
        "nightly",
        "--dataset",
        str(tmp_path / "dataset"),
        "--reports",
        str(tmp_path / "r"),
        "--date",
        "2026-11-29",
        "--no-export",
        "--quiet",
        "--server-log",
        str(SAMPLE / "server_requests.jsonl"),
    ]
    runner = CliRunner()
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    before = (tmp_path / "r" / "2026-11-29" / "summary.json").read_text()
    again = runner.invoke(app, args)
    assert again.exit_code == 0
    assert (tmp_path / "r" / "2026-11-29" / "summary.json").read_text() == before
    assert json.loads(before)["outbound_messages"] > 0
