"""The real twilio SDK's log, written through logging handlers as users have them."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analyzer.logs import LogParseResult, read_server_logs
from tests.unit.logs.samples import rows


@dataclass
class Capture:
    """The logs of three sends and one list through the real SDK, and what was sent."""

    #: Timestamped (asctime, the machine's local time without a zone).
    log_path: Path
    #: logging.basicConfig()'s format: no time at all.
    basic_path: Path
    #: UTC+5:30 wall-clock time without a zone (a Celery worker's).
    local_path: Path
    sids: list[str]
    account: str
    before: datetime
    after: datetime


@contextmanager
def sdk_logged_to(handlers: list[logging.Handler]) -> Iterator[None]:
    """The twilio.http_client logger writing to ``handlers`` only, at INFO."""
    logger = logging.getLogger("twilio.http_client")
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in handlers:
        logger.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def handlers_for(log_path: Path, basic_path: Path, local_path: Path) -> list[logging.Handler]:
    """The three handlers of Capture's logs."""
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s")
    )
    basic = logging.FileHandler(basic_path, encoding="utf-8")
    basic.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    local = logging.FileHandler(local_path, encoding="utf-8")
    local_fmt = logging.Formatter("[%(asctime)s: %(levelname)s/ForkPoolWorker-7] %(message)s")
    local_fmt.converter = lambda secs: time.gmtime((secs or 0) + 5.5 * 3600)
    local.setFormatter(local_fmt)
    return [handler, basic, local]


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    from twilio.rest import Client

    from tests.fakes.twilio import FakeTwilio

    tmp_path = tmp_path_factory.mktemp("sdk")
    log_path, basic_path, local_path = (tmp_path / f"{n}.log" for n in ("app", "basic", "local"))
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    with sdk_logged_to(handlers_for(log_path, basic_path, local_path)), FakeTwilio() as server:
        client = Client(server.account_sid, server.auth_token, environment={})
        client.api.base_url = server.base_url
        sids = [
            client.messages.create(
                to=f"+1555123000{i}", from_="+15550000000", body=f"hello {i}"
            ).sid
            for i in range(3)
        ]
        list(client.messages.list(limit=5))
        account = server.account_sid
    after = datetime.now(UTC) + timedelta(seconds=1)
    return Capture(log_path, basic_path, local_path, sids, account, before, after)


def read_timestamped(capture: Capture) -> tuple[LogParseResult, list[dict[str, Any]]]:
    """The timestamped log read in the machine's zone, and its rows."""
    # asctime is local time without a zone: the machine's zone is the log's zone
    local_tz = datetime.now().astimezone().tzinfo
    tz_name = getattr(local_tz, "key", None) or "UTC"
    if tz_name == "UTC" and datetime.now().astimezone().utcoffset() != timedelta(0):
        pytest.skip("local zone has no IANA name")
    res = read_server_logs([capture.log_path], log_tz=tz_name)
    got = rows(res, "time", "method", "path", "account_sid", "status", "request_id", "is_send")
    return res, got


def test_real_twilio_sdk_log_parsed(capture: Capture) -> None:
    assert len(capture.sids) == 3
    res, got = read_timestamped(capture)
    st_ = res.files[0]
    account = capture.account
    assert st_.format == "twilio-sdk" and st_.malformed == 0
    send_path = f"/2010-04-01/Accounts/{account}/Messages.json"
    posts = [r for r in got if r["method"] == "POST"]
    assert len(posts) == 3 == st_.sends
    assert all(r["path"] == send_path and r["status"] == 201 and r["is_send"] for r in posts)
    assert all(r["account_sid"] == account for r in got)
    assert all(r["request_id"] and r["request_id"].startswith("RQ") for r in got)
    assert all(capture.before <= r["time"] <= capture.after for r in got)
    assert [r["time"] for r in got] == sorted(r["time"] for r in got)
    gets = [r for r in got if r["method"] == "GET"]
    assert len(gets) == 1 and gets[0]["status"] == 200 and not gets[0]["is_send"]
    # The server's Date header (same machine: same clock, whole seconds) as twilio_time.
    twilio_times = [r["twilio_time"] for r in rows(res, "twilio_time")]
    assert len(twilio_times) == 4
    for r, tw in zip(got, twilio_times, strict=True):
        assert tw is not None and tw.microsecond == 0
        assert timedelta(seconds=-1) <= r["time"] - tw <= timedelta(seconds=1)
    assert (st_.time_source, st_.offset_corrected_seconds, st_.warnings) == ("line", 0.0, [])


def test_real_twilio_sdk_basicconfig_log_timed_by_date(capture: Capture) -> None:
    res, got = read_timestamped(capture)
    twilio_times = [r["twilio_time"] for r in rows(res, "twilio_time")]
    # basicConfig(): every block timed by Twilio's Date, exactly.
    res_basic = read_server_logs([capture.basic_path])
    got_basic = rows(res_basic, "time", "twilio_time", "method", "status", "request_id")
    assert [r["time"] for r in got_basic] == twilio_times
    assert [r["twilio_time"] for r in got_basic] == twilio_times
    assert [r["request_id"] for r in got_basic] == [r["request_id"] for r in got]
    st_basic = res_basic.files[0]
    assert (st_basic.format, st_basic.time_source, st_basic.malformed) == (
        "twilio-sdk",
        "twilio_date",
        0,
    )


def test_real_twilio_sdk_local_time_log_corrected(capture: Capture) -> None:
    _, got = read_timestamped(capture)
    # local time read as UTC: corrected by 5 h 30 min, to the very rows of the UTC log
    local_path = capture.local_path
    res_local = read_server_logs([local_path], log_tz="UTC")
    st_local = res_local.files[0]
    assert st_local.offset_corrected_seconds == 19800.0
    assert st_local.warnings[0].startswith(
        f"times in {local_path} look like local time 5 h 30 min ahead of UTC"
    )
    # asctime has milliseconds: the UTC log's times, truncated to the millisecond
    local_times = [r["time"] for r in rows(res_local, "time")]
    assert local_times == [
        r["time"].replace(microsecond=r["time"].microsecond // 1000 * 1000) for r in got
    ]
