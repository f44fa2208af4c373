"""The export command: bad base URLs, retries shown, secrets never shown."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest

from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    FakeTwilio,
    Faults,
)
from tests.unit.sources.export_helpers import (
    export_records,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return export_records()


def _export_cli(out: Path, *args: str, env: dict[str, str] | None = None):
    from typer.testing import CliRunner

    from analyzer.cli import app

    base = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    command = ["export", "--out", str(out), "--start", "2026-03-01", "--end", "2026-03-01"]
    return CliRunner().invoke(app, [*command, *args], env={**base, **(env or {})})


def test_export_command_refuses_a_bad_base_url_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    result = _export_cli(tmp_path / "ds", "--api-base-url", "not a url")
    assert time.monotonic() - began < 5
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad Twilio API base URL 'not a url'" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_export_command_shows_retries_when_stderr_is_not_a_terminal(
    tmp_path: Path, records: pa.Table
) -> None:
    faults = Faults(schedule={1: "429", 2: "429"}, retry_after="0")
    with FakeTwilio(records, faults=faults) as server:
        result = _export_cli(
            tmp_path / "ds", "--api-base-url", server.base_url, "--concurrency", "1"
        )
    assert result.exit_code == 0, result.output
    retries = [line for line in result.stderr.splitlines() if "; retry " in line]
    assert len(retries) == 2, result.stderr
    assert "HTTP 429" in retries[0] and "retry 1 in" in retries[0] and "retry 2 in" in retries[1]


@pytest.mark.parametrize("use_key", [False, True])
def test_export_error_never_shows_a_secret_embedded_in_the_url(
    tmp_path: Path, records: pa.Table, use_key: bool
) -> None:
    secret = API_SECRET if use_key else AUTH_TOKEN
    env = {"TWILIO_API_KEY": API_KEY, "TWILIO_API_SECRET": API_SECRET} if use_key else {}
    faults = Faults(rate=1.0, kinds=("429",), retry_after="1000")  # gives up at once
    with FakeTwilio(records, faults=faults) as server:
        result = _export_cli(
            tmp_path / "ds", "--api-base-url", f"{server.base_url}/{secret}", env=env
        )
    assert result.exit_code == 1, result.output
    assert secret not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "kept failing" in lines[0], lines
    assert "•••" in lines[0]
    assert not (tmp_path / "ds").exists()
