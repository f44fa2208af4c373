"""The nightly job: locking, exit codes, history, configuration precedence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.errors import UserError
from analyzer.nightly import load_config
from analyzer.results import CONFIG_DIR, INBOUND_SUMMARY_FILE, NUMBERS_FILE, InboundSummary
from tests.fakes.twilio import FakeTwilio

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
    # The export also fetched the account's configuration, and the inbound check used it.
    assert (tmp_path / "dataset" / CONFIG_DIR / NUMBERS_FILE).exists()
    inbound = InboundSummary.read(reports / "2026-11-29" / "results" / INBOUND_SUMMARY_FILE)
    assert inbound.numbers > 0
    # The server log is the application's calls to Twilio: it cannot say what the
    # application received, and the check says so rather than calling webhooks not hit.
    assert [w for w in inbound.warnings if "no request from Twilio" not in w] == []
    assert "webhook_not_hit" not in inbound.by_verdict


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


# ---------------------------------------------------------------- issue 11


def _run(args: list[str], env: dict[str, str] | None = None):
    """The CLI in-process with a clean environment (plus ``env``)."""
    return CliRunner().invoke(app, ["nightly", *args], env=env, catch_exceptions=False)


def _entries(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def _sample_dataset(folder: Path) -> Path:
    from analyzer.store import write_messages

    write_messages(folder, pq.read_table(SAMPLE / "messages.parquet"))
    return folder


@pytest.mark.parametrize("dataset", ["typo/dataset", "missing"])
def test_no_export_on_a_missing_dataset_is_a_config_error_that_creates_nothing(
    tmp_path: Path, dataset: str
) -> None:
    result = _run(
        [
            "--dataset",
            str(tmp_path / dataset),
            "--reports",
            str(tmp_path / "reports"),
            "--date",
            "2026-11-29",
            "--no-export",
        ]
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "does not exist" in lines[0], lines
    assert str(tmp_path / dataset) in lines[0]
    assert _entries(tmp_path) == []


@pytest.mark.parametrize(
    ("dataset", "reports", "server_log", "message"),
    [
        ("typo/dataset", "reports", None, "neither does its parent"),
        ("dataset", "typo/reports", None, "neither does its parent"),
        ("dataset", "reports", "no-such-requests.jsonl", "log file not found"),
        ("dataset", "reports", "no-such-*.jsonl.gz", "no log file matches"),
    ],
)
def test_local_settings_are_checked_before_the_export_starts(
    tmp_path: Path,
    records: object,
    dataset: str,
    reports: str,
    server_log: str | None,
    message: str,
) -> None:
    account = account_of(records)
    args = [
        "--dataset",
        str(tmp_path / dataset),
        "--reports",
        str(tmp_path / reports),
        "--date",
        "2026-11-29",
        "--server-log",
        str(tmp_path / server_log) if server_log else str(SAMPLE / "server_requests.jsonl"),
    ]
    with FakeTwilio(records, account_sid=account, auth_token=TOKEN) as server:
        result = _run(args, nightly_env(server, account))
        asked = server.list_requests("")
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert message in lines[-1], lines
    assert asked == []  # nothing was fetched
    assert _entries(tmp_path) == []  # nor created


def test_first_run_with_export_creates_the_dataset_and_a_failed_one_leaves_nothing(
    tmp_path: Path, records: object
) -> None:
    account = account_of(records)
    with FakeTwilio(records, account_sid=account, auth_token=TOKEN) as server:
        env = nightly_env(server, account)
        denied = _run(
            nightly_args(tmp_path, "--quiet")[4:], {**env, "TWILIO_AUTH_TOKEN": "wrong-token-1234"}
        )
        assert denied.exit_code == 2, denied.output
        assert "rejected the credentials" in denied.stderr
        assert _entries(tmp_path) == []  # no empty dataset with its locks
        first = _run(nightly_args(tmp_path, "--quiet")[4:], env)
    assert first.exit_code == 0, first.output
    assert (tmp_path / "dataset").is_dir() and (tmp_path / "reports" / "2026-11-29").is_dir()


def test_a_day_without_messages_is_reported_in_words(tmp_path: Path) -> None:
    dataset = _sample_dataset(tmp_path / "dataset")
    reports = tmp_path / "reports"
    common = ["--dataset", str(dataset), "--reports", str(reports), "--no-export", "--quiet"]
    full = _run([*common, "--date", "2026-11-29"])
    empty = _run([*common, "--date", "2026-11-28"])
    assert full.exit_code == 0 and empty.exit_code == 0, empty.output
    assert "no messages" not in full.stderr
    warning = empty.stderr.strip().splitlines()
    assert len(warning) == 1, warning  # shown even with --quiet
    assert "WARNING" in warning[0] and "no messages on 2026-11-28" in warning[0]
    assert str(dataset) in warning[0]
    history = (reports / "index.html").read_text()
    rows = {
        day: next(line for line in history.splitlines() if f'href="{day}/index.html"' in line)
        for day in ("2026-11-28", "2026-11-29")
    }
    assert 'class="empty"' in rows["2026-11-28"] and "no messages" in rows["2026-11-28"]
    assert "0.000%" not in rows["2026-11-28"]  # not a duplicate rate of zero
    assert 'class="empty"' not in rows["2026-11-29"] and "no messages" not in rows["2026-11-29"]
    assert "1 day(s) without any message" in history
    day_report = (reports / "2026-11-28" / "index.html").read_text()
    assert "No messages in this period: nothing to analyse" in day_report
    assert "Period: no messages" in day_report and "None" not in day_report


def test_a_day_without_messages_warns_in_json_too(tmp_path: Path) -> None:
    dataset = _sample_dataset(tmp_path / "dataset")
    args = ["--dataset", str(dataset), "--reports", str(tmp_path / "r"), "--no-export"]
    result = _run([*args, "--date", "2026-11-30", "--log-json"])
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stderr.strip().splitlines()]
    warnings = [r for r in records if r["level"] == "warning"]
    assert len(warnings) == 1 and "no messages on 2026-11-30" in warnings[0]["message"]


@pytest.mark.parametrize(
    ("given", "environ", "content", "message"),
    [
        ({"threshold": float("nan")}, {}, "", r"threshold \(--threshold"),
        ({"window": float("nan")}, {}, "", r"window \(--window"),
        ({"window": float("inf")}, {}, "", "window"),
        ({"window": -1.0}, {}, "", "window"),
        ({}, {"ANALYZER_THRESHOLD": "nan"}, "", r"threshold \(ANALYZER_THRESHOLD\)"),
        ({}, {"ANALYZER_THRESHOLD": "inf"}, "", "ANALYZER_THRESHOLD"),
        ({}, {"ANALYZER_WINDOW": "NaN"}, "", "ANALYZER_WINDOW"),
        ({}, {"ANALYZER_TRAILING_DAYS": "nan"}, "", "ANALYZER_TRAILING_DAYS"),
        ({}, {"ANALYZER_EXPORT": "maybe"}, "", "ANALYZER_EXPORT"),
        ({}, {}, "threshold = nan", "threshold in"),
        ({}, {}, "threshold = 101", "threshold in"),
        ({}, {}, "threshold = -0.5", "threshold in"),
        ({}, {}, "window = inf", "window in"),
        ({}, {}, "window = true", "window in"),
        ({}, {}, "window = 172800", "window in"),
        ({}, {}, "trailing_days = 0", "trailing_days in"),
        ({}, {}, "trailing_days = 2.5", "trailing_days in"),
        ({}, {}, "trailing_days = 100000", "trailing_days in"),
        ({}, {}, 'export = "maybe"', "export in"),
        ({}, {}, 'log_format = "nginx"', "log_format in"),
        ({}, {}, "date = 2026-11-29T10:00:00Z", "date in"),
    ],
)
def test_numbers_and_switches_are_checked_where_they_enter(
    tmp_path: Path, given: dict, environ: dict, content: str, message: str
) -> None:
    config = tmp_path / "analyzer.toml"
    config.write_text(f'[analyzer]\ndataset = "/d"\nreports = "/r"\n{content}\n')
    with pytest.raises(UserError, match=message) as info:
        load_config(given, environ, config)
    assert len(str(info.value).splitlines()) == 1
    assert "bad value for" in str(info.value)


def test_good_values_pass_and_a_quoted_false_is_false(tmp_path: Path) -> None:
    settings = load_config(
        {"dataset": Path("/d"), "reports": Path("/r"), "window": 0.0, "threshold": 100.0},
        {"ANALYZER_TRAILING_DAYS": "7", "ANALYZER_EXPORT": "off"},
    )
    assert (settings.window, settings.threshold, settings.trailing_days) == (0.0, 100.0, 7)
    assert settings.export is False
    config = tmp_path / "analyzer.toml"
    config.write_text('dataset = "/d"\nreports = "/r"\nexport = "false"\ntrailing_days = 2\n')
    assert load_config({}, {}, config).export is False


@pytest.mark.parametrize(
    ("option", "value"),
    [("--threshold", "nan"), ("--window", "nan"), ("--window", "inf"), ("--threshold", "-1")],
)
def test_nan_on_the_command_line_is_one_clear_error(
    tmp_path: Path, option: str, value: str
) -> None:
    dataset = _sample_dataset(tmp_path / "dataset")
    result = _run(
        [
            "--dataset",
            str(dataset),
            "--reports",
            str(tmp_path / "r"),
            "--date",
            "2026-11-29",
            "--no-export",
            option,
            value,
        ]
    )
    assert result.exit_code == 2, result.output
    first = result.stderr.strip().splitlines()[0]
    assert first.startswith("analyzer: error:") and option.strip("-") in first, first
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize("url", ["not a url", "ftp://example.com/", "http://", "https:///2010"])
def test_a_bad_api_base_url_is_refused_before_anything(tmp_path: Path, url: str) -> None:
    result = _run(
        [
            "--dataset",
            str(tmp_path / "dataset"),
            "--reports",
            str(tmp_path / "r"),
            "--api-base-url",
            url,
        ],
        {"TWILIO_ACCOUNT_SID": "AC" + "0" * 32, "TWILIO_AUTH_TOKEN": TOKEN},
    )
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad Twilio API base URL" in lines[0], lines
    assert _entries(tmp_path) == []


def test_log_json_prints_the_final_error_as_json(tmp_path: Path) -> None:
    result = _run(
        [
            "--dataset",
            str(tmp_path / "nowhere"),
            "--reports",
            str(tmp_path / "r"),
            "--no-export",
            "--log-json",
        ]
    )
    assert result.exit_code == 2
    records = [json.loads(line) for line in result.stderr.strip().splitlines()]
    assert records[-1]["level"] == "error" and records[-1]["logger"].startswith("analyzer")
    assert "does not exist" in records[-1]["message"]


def test_log_json_error_never_shows_the_token(tmp_path: Path, records: object) -> None:
    account = account_of(records)
    with FakeTwilio(records, account_sid=account, auth_token=TOKEN) as server:
        env = nightly_env(server, account)
        env["TWILIO_API_BASE_URL"] = f"{server.base_url}/{TOKEN}"
        result = _run(nightly_args(tmp_path, "--log-json", "--quiet")[4:], env)
    assert result.exit_code == 2, result.output
    assert TOKEN not in result.stderr + result.stdout
    last = json.loads(result.stderr.strip().splitlines()[-1])
    assert last["level"] == "error" and "404" in last["message"]


def test_nightly_takes_the_log_key_tolerance_and_complaint_settings(tmp_path: Path) -> None:
    dataset = _sample_dataset(tmp_path / "dataset")
    reports = tmp_path / "reports"
    renamed = tmp_path / "requests.jsonl"
    # The application logs the recipient under another name, in Berlin time.
    lines = []
    for text in (SAMPLE / "server_requests.jsonl").read_text().splitlines():
        try:
            record = json.loads(text)
        except ValueError:
            continue
        if record.get("timestamp"):
            moment = pd.Timestamp(record["timestamp"]).tz_convert("Europe/Berlin")
            record["timestamp"] = moment.tz_localize(None).isoformat()
        record["recipient"] = record.pop("to", None)
        lines.append(json.dumps(record))
    renamed.write_text("\n".join(lines) + "\n")
    args = [
        "--dataset", str(dataset), "--reports", str(reports), "--no-export", "--quiet",
        "--date", "2026-11-29", "--server-log", str(renamed), "--log-tz", "Europe/Berlin",
        "--log-field", "to=recipient", "--log-field", "message_sid=not_logged",
        "--tolerance", "2",
        "--complaints", str(SAMPLE / "complaints.csv"),
    ]  # fmt: skip
    result = _run(args, env={"ANALYZER_KEY": "from"})
    assert result.exit_code == 0, result.output
    day = reports / "2026-11-29"
    summary = json.loads((day / "summary.json").read_text())
    assert summary["key"] == ["to", "body", "from"]
    assert summary["match_mode"] == "recipient_time"  # renamed field found, SIDs left out
    assert abs(summary["skew_seconds"]) < 5  # Berlin time read as Berlin time
    assert summary["by_verdict"].get("app_side", 0) > 0
    assert (day / "results" / "carrier.parquet").exists()
    assert "Carrier investigation" in (day / "index.html").read_text()


def test_nightly_log_settings_are_checked_where_they_enter(tmp_path: Path) -> None:
    dataset = _sample_dataset(tmp_path / "dataset")
    common = ["--dataset", str(dataset), "--reports", str(tmp_path / "r"), "--no-export"]
    for bad, words in (
        (["--log-tz", "Mars/Olympus"], "IANA time zone"),
        (["--log-field", "recipient"], "NAME=FIELD"),
        (["--complaints", str(tmp_path / "none.csv")], "none.csv"),
    ):
        result = _run([*common, *bad])
        assert result.exit_code == 2, (bad, result.output)
        assert words in result.output
    assert not (tmp_path / "r").exists()
