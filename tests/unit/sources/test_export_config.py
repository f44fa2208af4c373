"""Exporting the account's configuration: the real SDK against the fake Twilio (numbers,
Messaging Services and their numbers, Monitor alerts), paging, faults, refusals, secrets."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.results.files import (
    ALERTS_FILE,
    CONFIG_COLUMNS,
    CONFIG_DIR,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
)
from analyzer.sources.twilio_api import AuthError, Credentials, export_config
from analyzer.sources.twilio_api.sdk_client import route_to_base
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, Faults
from tests.fakes.twilio.config_data import DEMO_URL, alert_sid, number_sid, service_sid
from tests.unit.sources.export_helpers import CREDS, FAST, export_records

NOW = datetime(2026, 3, 31, tzinfo=UTC)


def _export(server: FakeTwilio, dataset: Path, **kwargs: object):
    options: dict[str, object] = {
        "credentials": CREDS,
        "api_base_url": server.base_url,
        "retry": FAST,
        "now": NOW,
        "page_size": 2,
    }
    options.update(kwargs)
    return export_config(dataset, **options)  # type: ignore[arg-type]


def _rows(dataset: Path, name: str) -> list[dict[str, object]]:
    table = pq.read_table(dataset / CONFIG_DIR / name)
    assert tuple(table.column_names) == CONFIG_COLUMNS[name]
    return table.to_pylist()


def test_every_file_holds_the_seeded_configuration(tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    with FakeTwilio() as server:
        result = _export(server, dataset)
    assert sorted(p.name for p in (dataset / CONFIG_DIR).iterdir()) == sorted(CONFIG_COLUMNS)
    assert result.rows == {
        NUMBERS_FILE: 6, SERVICES_FILE: 2, SERVICE_NUMBERS_FILE: 2, ALERTS_FILE: 3
    }  # fmt: skip
    numbers = {r["sid"]: r for r in _rows(dataset, NUMBERS_FILE)}
    assert numbers[number_sid(1)]["sms_url"] == "https://app.example.com/sms/inbound"
    assert numbers[number_sid(1)]["phone_number"] == "+15550000001"
    assert (numbers[number_sid(2)]["sms_capable"], numbers[number_sid(2)]["voice_capable"]) == (
        False,
        True,
    )
    assert numbers[number_sid(3)]["sms_capable"] is True
    assert numbers[number_sid(3)]["sms_url"] is None  # Twilio's "" is null
    assert numbers[number_sid(4)]["sms_url"] == DEMO_URL
    assert numbers[number_sid(1)]["date_updated"] == datetime(2026, 1, 1, tzinfo=UTC)
    services = {r["sid"]: r for r in _rows(dataset, SERVICES_FILE)}
    assert services[service_sid(1)]["inbound_request_url"] == (
        "https://app.example.com/service/inbound"
    )
    assert services[service_sid(1)]["use_inbound_webhook_on_number"] is False
    assert services[service_sid(2)]["use_inbound_webhook_on_number"] is True
    assert _rows(dataset, SERVICE_NUMBERS_FILE) == [
        {"service_sid": service_sid(1), "sid": number_sid(5), "phone_number": "+15550000005"},
        {"service_sid": service_sid(2), "sid": number_sid(1), "phone_number": "+15550000001"},
    ]
    alerts = _rows(dataset, ALERTS_FILE)
    # The alert of January is older than 30 days before NOW: not asked for.
    assert [a["sid"] for a in alerts] == [alert_sid(3), alert_sid(2), alert_sid(1)]
    assert alerts[1]["error_code"] == 11200 and alerts[1]["resource_sid"] == number_sid(6)
    assert alerts[1]["date_generated"] == datetime(2026, 3, 12, 9, tzinfo=UTC)


def test_pages_are_followed_on_every_domain(tmp_path: Path) -> None:
    with FakeTwilio() as server:
        result = _export(server, tmp_path / "ds")
        paths = [r.path for r in server.requests]
        alert_queries = [r.query for r in server.requests if r.path == "/v1/Alerts"]
    # 6 numbers and 3 alerts in pages of 2 (v1 next pages come as https://monitor.twilio.com).
    assert sum(p.endswith("/IncomingPhoneNumbers.json") for p in paths) == 3
    assert len(alert_queries) == 2 and alert_queries[1]["PageToken"] == "PT2"
    assert all(q["StartDate"] == "2026-03-01T00:00:00Z" for q in alert_queries)
    assert paths.count("/v1/Services") == 1
    assert result.pages == len(paths) == 8


def test_alerts_since_is_kept_within_the_last_30_days(tmp_path: Path) -> None:
    with FakeTwilio() as server:
        result = _export(server, tmp_path / "ds", alerts_since=datetime(2026, 3, 11, tzinfo=UTC))
        assert result.rows[ALERTS_FILE] == 2
        old = _export(server, tmp_path / "ds", alerts_since=datetime(2025, 1, 1, tzinfo=UTC))
    assert old.alerts_since == datetime(2026, 3, 1, tzinfo=UTC)


def test_transient_faults_are_retried(tmp_path: Path) -> None:
    faults = Faults(schedule={1: "503", 2: "garbage", 3: "drop"}, path_contains="/v1/")
    with FakeTwilio(faults=faults) as server:
        result = _export(server, tmp_path / "ds")
    assert result.retries == 3
    assert result.rows[SERVICES_FILE] == 2 and result.rows[ALERTS_FILE] == 3


def test_refused_credentials_write_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "wr0ng-s3cr3t-t0ken"
    with FakeTwilio() as server, pytest.raises(AuthError) as info:
        _export(server, tmp_path / "ds", credentials=Credentials(ACCOUNT_SID, secret))
    assert "rejected the credentials" in str(info.value) and "HTTP 401" in str(info.value)
    assert secret not in str(info.value)
    assert list(tmp_path.iterdir()) == []
    out = capsys.readouterr()
    assert secret not in caplog.text + out.out + out.err


def test_urls_of_twilio_domains_go_to_the_base_url() -> None:
    base = "http://127.0.0.1:8080"
    for host in ("api", "messaging", "monitor"):
        url = f"https://{host}.twilio.com/v1/Alerts?PageSize=2&Page=1"
        assert route_to_base(url, base) == f"{base}/v1/Alerts?PageSize=2&Page=1"
    assert route_to_base("https://example.com/x", base) == "https://example.com/x"
    kept = "https://messaging.twilio.com/v1/Services"
    assert route_to_base(kept, "https://api.twilio.com") == kept


def _cli(out: Path, server: FakeTwilio, *args: str, token: str = AUTH_TOKEN):
    from analyzer.cli import app

    env = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": token}
    command = ["export", "--out", str(out), "--start", "2026-03-01", "--end", "2026-03-01"]
    return CliRunner().invoke(app, [*command, "--api-base-url", server.base_url, *args], env=env)


def test_export_command_with_config(tmp_path: Path) -> None:
    with FakeTwilio(export_records()) as server:
        result = _cli(tmp_path / "ds", server, "--config")
    assert result.exit_code == 0, result.output
    assert "Exported the configuration into" in result.stdout
    assert "6 in numbers.parquet" in result.stdout
    assert (tmp_path / "ds" / CONFIG_DIR / ALERTS_FILE).exists()


def test_export_command_without_config_leaves_it_out(tmp_path: Path) -> None:
    with FakeTwilio(export_records()) as server:
        result = _cli(tmp_path / "ds", server)
        assert not any("/v1/" in r.path for r in server.requests)
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "ds" / CONFIG_DIR).exists()


def test_export_command_refused_gives_one_line_without_the_secret(tmp_path: Path) -> None:
    secret = "wr0ng-s3cr3t-t0ken"
    with FakeTwilio() as server:
        result = _cli(tmp_path / "ds", server, "--config", token=secret)
    assert result.exit_code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "rejected the credentials" in lines[0], lines
    assert secret not in result.output + result.stderr
    assert list(tmp_path.iterdir()) == []
