"""Export from the Twilio API: the real SDK over HTTP against the fake Twilio server."""

from __future__ import annotations

import email.utils
import json
import logging
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client

import analyzer
from analyzer.errors import UserError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.twilio_api import (
    AuthError,
    Credentials,
    RetryPolicy,
    TwilioAPIError,
    _rfc2822,
    export_messages,
    page_to_table,
    plan_slices,
)
from analyzer.store import LockedError, dataset_lock, read_messages
from tests.fake_twilio import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    SUBACCOUNT_SID,
    FakeTwilio,
    Faults,
    generate_messages,
)

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
FAST = RetryPolicy(base=0.01, cap=0.05, max_retry_time=10, timeout=10)
CREDS = Credentials(ACCOUNT_SID, AUTH_TOKEN)
NOW = DAY0 + timedelta(days=30)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return generate_messages(3000, DAY0, DAY0 + timedelta(days=4), seed=7)


def _range(first_day: int, last_day: int) -> tuple[datetime, datetime]:
    return DAY0 + timedelta(days=first_day), DAY0 + timedelta(days=last_day + 1, seconds=-1)


def _sorted(table: pa.Table) -> pa.Table:
    return table.select([n for n in MESSAGE_SCHEMA.names if n != "source"]).sort_by("sid")


def _assert_same_records(dataset: Path, expected: pa.Table) -> None:
    got = read_messages(dataset)
    assert got.num_rows == expected.num_rows
    assert pc.count_distinct(got["sid"]).as_py() == got.num_rows  # exactly once
    assert set(got["source"].to_pylist()) <= {"api"}
    left, right = _sorted(got), _sorted(expected)
    for name in left.column_names:
        assert left[name].equals(right[name]), name


def _export(server: FakeTwilio, dataset: Path, first: int, last: int, **kwargs: object):
    start, end = _range(first, last)
    options: dict[str, object] = {
        "credentials": CREDS,
        "api_base_url": server.base_url,
        "retry": FAST,
        "now": NOW,
        "concurrency": 4,
        "page_size": 100,
    }
    options.update(kwargs)
    return export_messages(dataset, start.date(), end.date(), **options)  # type: ignore[arg-type]


def test_export_with_every_fault_gets_each_record_once(tmp_path: Path, records: pa.Table) -> None:
    schedule = {1: "429", 3: "500", 5: "503", 7: "drop", 9: "truncate", 11: "garbage", 12: "drop"}
    with FakeTwilio(records, faults=Faults(schedule=schedule, retry_after="1")) as server:
        result = _export(server, tmp_path / "ds", 0, 2, slice_hours=4)
        expected = server.in_range(*_range(0, 2))
        log = server.list_requests()
    _assert_same_records(tmp_path / "ds", expected)
    assert result.retries >= len(schedule)
    assert result.records == expected.num_rows
    assert sum(result.days.values()) == expected.num_rows
    assert Counter(r.fault for r in log if r.fault) == Counter(schedule.values())
    # The 429 said Retry-After: 1; the same page was asked for again no sooner.
    throttled = next(r for r in log if r.fault == "429")
    again = next(r for r in log if r is not throttled and r.query == throttled.query)
    assert again.at - throttled.at >= 0.95


@pytest.mark.parametrize("seed", [1, 2])
def test_export_with_random_faults_matches_server(
    tmp_path: Path, records: pa.Table, seed: int
) -> None:
    faults = Faults(
        rate=0.25,
        seed=seed,
        retry_after="0",
        kinds=("429", "500", "503", "drop", "truncate", "garbage"),
    )
    with FakeTwilio(records, faults=faults) as server:
        result = _export(server, tmp_path / "ds", 1, 3, slice_hours=3, concurrency=6)
        expected = server.in_range(*_range(1, 3))
    _assert_same_records(tmp_path / "ds", expected)
    assert result.retries > 0
    assert result.pages > result.slices  # several pages per slice were followed


def test_export_again_changes_nothing(tmp_path: Path, records: pa.Table) -> None:
    dataset = tmp_path / "ds"
    with FakeTwilio(records) as server:
        first = _export(server, dataset, 0, 3)
        files = sorted(dataset.glob("date=*/part-0.parquet"))
        before = {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files}
        second = _export(server, dataset, 0, 3, concurrency=2, slice_hours=24)
    assert first.inserted == first.records > 0
    assert (second.inserted, second.updated) == (0, 0)
    assert second.unchanged == first.records
    assert sorted(dataset.glob("date=*/part-0.parquet")) == files
    assert {p: (p.stat().st_mtime_ns, p.read_bytes()) for p in files} == before


def test_end_is_clamped_to_now_minus_lag(tmp_path: Path, records: pa.Table) -> None:
    now = DAY0 + timedelta(days=1, hours=12)
    with FakeTwilio(records) as server:
        result = _export(server, tmp_path / "ds", 0, 3, now=now, lag=timedelta(minutes=30))
        cutoff = now - timedelta(minutes=30)
        expected = server.in_range(DAY0, cutoff)
    assert result.end == cutoff
    _assert_same_records(tmp_path / "ds", expected)


def test_timestamps_bound_the_range_to_the_second(tmp_path: Path, records: pa.Table) -> None:
    start = DAY0 + timedelta(hours=5, minutes=3, seconds=7)
    end = DAY0 + timedelta(hours=9, seconds=-1)
    with FakeTwilio(records) as server:
        export_messages(
            tmp_path / "ds",
            start,
            end,
            credentials=CREDS,
            retry=FAST,
            now=NOW,
            api_base_url=server.base_url,
            slice_hours=0.25,
        )
        expected = server.in_range(start, end)
    assert expected.num_rows > 0
    _assert_same_records(tmp_path / "ds", expected)


def test_subaccounts_and_api_key(tmp_path: Path) -> None:
    data = generate_messages(
        800, DAY0, DAY0 + timedelta(days=1), account_sids=[ACCOUNT_SID, SUBACCOUNT_SID], seed=3
    )
    key = Credentials(ACCOUNT_SID, API_SECRET, api_key=API_KEY)
    with FakeTwilio(data) as server:
        main_only = _export(server, tmp_path / "main", 0, 0, credentials=key)
        both = _export(server, tmp_path / "all", 0, 0, credentials=key, include_subaccounts=True)
        expected = server.in_range(*_range(0, 0))
    assert both.accounts == [ACCOUNT_SID, SUBACCOUNT_SID]
    _assert_same_records(tmp_path / "all", expected)
    main = expected.filter(pc.equal(expected["account_sid"], ACCOUNT_SID))
    assert 0 < main_only.records == main.num_rows < expected.num_rows
    _assert_same_records(tmp_path / "main", main)


def test_wrong_token_is_a_user_error_without_the_token(
    tmp_path: Path,
    records: pa.Table,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    secret = "wrong" + "0123456789abcdef" * 2
    caplog.set_level(logging.DEBUG)
    with FakeTwilio(records) as server:
        for creds in (
            Credentials(ACCOUNT_SID, secret),
            Credentials(ACCOUNT_SID, secret, api_key=API_KEY),
        ):
            with pytest.raises(AuthError) as info:
                _export(server, tmp_path / "ds", 0, 3, credentials=creds)
            error = info.value
            assert isinstance(error, UserError) and error.exit_code == 2
            assert f"Twilio rejected the credentials for {creds.describe()}" in str(error)
            chain = [error, error.__cause__, error.__context__]
            texts = [str(e) + repr(e) for e in chain if e is not None]
            assert all(secret not in t for t in texts)
            assert secret not in repr(creds) and secret not in str(creds)
    out = capsys.readouterr()
    assert secret not in out.out + out.err
    assert "twilio.http_client" in {r.name for r in caplog.records}
    assert secret not in caplog.text
    assert not list((tmp_path / "ds").glob("date=*"))


def test_retries_are_bounded_in_time(tmp_path: Path, records: pa.Table) -> None:
    policy = RetryPolicy(base=0.01, cap=0.05, max_retry_time=0.5, timeout=5)
    with FakeTwilio(records, faults=Faults(rate=1.0, kinds=("503",))) as server:
        began = time.monotonic()
        with pytest.raises(TwilioAPIError, match="kept failing"):
            _export(server, tmp_path / "ds", 0, 0, retry=policy)
    assert time.monotonic() - began < 5
    assert not list((tmp_path / "ds").glob("date=*"))


def test_credentials_from_env() -> None:
    sid = ACCOUNT_SID
    assert Credentials.from_env(
        {"TWILIO_ACCOUNT_SID": sid, "TWILIO_AUTH_TOKEN": "t"}
    ) == Credentials(sid, "t")
    key = Credentials.from_env(
        {
            "TWILIO_ACCOUNT_SID": sid,
            "TWILIO_API_KEY": API_KEY,
            "TWILIO_API_SECRET": "s3cr3t",
            "TWILIO_AUTH_TOKEN": "x",
        }
    )
    assert (key.username, key.secret) == (API_KEY, "s3cr3t")
    assert "s3cr3t" not in repr(key) and "***" in repr(key)
    with pytest.raises(UserError, match="TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"):
        Credentials.from_env({})
    with pytest.raises(UserError, match="set TWILIO_API_SECRET"):
        Credentials.from_env({"TWILIO_ACCOUNT_SID": sid, "TWILIO_API_KEY": API_KEY})
    with pytest.raises(UserError, match="set TWILIO_ACCOUNT_SID "):
        Credentials.from_env({"TWILIO_AUTH_TOKEN": "t"})
    with pytest.raises(UserError, match="AC followed by 32 hex"):
        Credentials.from_env({"TWILIO_ACCOUNT_SID": "nope", "TWILIO_AUTH_TOKEN": "t"})


def test_raw_pages_parse_like_the_sdk(records: pa.Table) -> None:
    """Our raw-JSON reading gives the same values as the SDK's MessageInstance."""
    with FakeTwilio(records) as server:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
        client.api.base_url = server.base_url
        url = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        raw = client.request("GET", url, params={"PageSize": 200})
        table, next_uri = page_to_table(raw.text.encode())
        sdk = client.messages.list(limit=200, page_size=200)
    assert next_uri is not None and "PageToken=" in next_uri
    assert table["sid"].to_pylist() == [m.sid for m in sdk]
    assert table["date_sent"].to_pylist() == [m.date_sent for m in sdk]
    assert table["date_created"].to_pylist() == [m.date_created for m in sdk]
    assert table["price"].to_pylist() == [None if m.price is None else float(m.price) for m in sdk]
    assert table["num_segments"].to_pylist() == [int(m.num_segments) for m in sdk]
    assert table["error_code"].to_pylist() == [m.error_code for m in sdk]
    assert table["from"].to_pylist() == [m.from_ for m in sdk]


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 10 * 86_400),
    length=st.integers(0, 3 * 86_400),
    step=st.sampled_from([1, 7, 300, 3_600, 21_600, 86_400, 100_000]),
)
def test_plan_slices_cover_the_range_once(first: int, length: int, step: int) -> None:
    last = first + length
    slices = plan_slices(first, last, step)
    assert slices[0][0] == first and slices[-1][1] == last
    for (_, hi), (nxt, _) in zip(slices, slices[1:], strict=False):
        assert nxt == hi + 1  # contiguous, no overlap: bounds are inclusive seconds
    for lo, hi in slices:
        assert lo <= hi and lo // step == hi // step  # never crosses a step boundary
    assert len(slices) == last // step - first // step + 1


@settings(max_examples=30, deadline=None)
@given(
    after=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
    before=st.one_of(st.none(), st.integers(0, 3 * 86_400)),
    date_only=st.booleans(),
    page_size=st.integers(20, 400),
)
def test_fake_server_filters_like_twilio(
    after: int | None, before: int | None, date_only: bool, page_size: int
) -> None:
    """The fake's DateSent filters and paging match a brute-force filter."""
    server = _shared_server()
    params: dict[str, object] = {"PageSize": page_size}
    lo, hi = None, None
    for name, value, upper in (("DateSent>", after, False), ("DateSent<", before, True)):
        if value is None:
            continue
        moment = DAY0 + timedelta(seconds=value)
        if date_only:
            params[name] = moment.strftime("%Y-%m-%d")
            day = moment.replace(hour=0, minute=0, second=0)
            moment = day + timedelta(days=1, seconds=-1) if upper else day
        else:
            params[name] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        if upper:
            hi = moment
        else:
            lo = moment
    client = _shared_client()
    url: str | None = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    got: list[dict] = []
    while url:
        page = json.loads(client.request("GET", url, params=params).text)
        assert page["page_size"] == page_size and len(page["messages"]) <= page_size
        got.extend(page["messages"])
        url, params = (
            (server.base_url + page["next_page_uri"] if page["next_page_uri"] else None),
            {},
        )
    table = server.messages()
    if lo is None and hi is None:
        expected = table
    else:
        expected = server.in_range(
            lo or datetime(1970, 1, 1, tzinfo=UTC), hi or datetime(2100, 1, 1, tzinfo=UTC)
        )
    assert sorted(m["sid"] for m in got) == sorted(expected["sid"].to_pylist())
    sent = [m["date_sent"] for m in got if m["date_sent"] is not None]
    parsed = [datetime.strptime(s, "%a, %d %b %Y %H:%M:%S %z") for s in sent]
    assert parsed == sorted(parsed, reverse=True)  # newest first


_SHARED: dict[str, object] = {}


def _shared_server() -> FakeTwilio:
    if "server" not in _SHARED:
        server = FakeTwilio(generate_messages(600, DAY0, DAY0 + timedelta(days=3), seed=11))
        _SHARED["server"] = server.start()
    return _SHARED["server"]  # type: ignore[return-value]


def _shared_client() -> Client:
    if "client" not in _SHARED:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
        client.api.base_url = _shared_server().base_url
        _SHARED["client"] = client
    return _SHARED["client"]


@pytest.fixture(scope="module", autouse=True)
def _stop_shared_server():
    yield
    server = _SHARED.pop("server", None)
    if server is not None:
        server.stop()  # type: ignore[attr-defined]


def test_fake_server_speaks_twilio_errors_and_create(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="twilio.http_client")
    with FakeTwilio() as server:
        url = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        bad = requests.get(url, auth=(ACCOUNT_SID, "nope"), timeout=5)
        assert bad.status_code == 401
        assert bad.json() == {
            "code": 20003,
            "message": "Authenticate",
            "more_info": "https://www.twilio.com/docs/errors/20003",
            "status": 401,
        }
        big = requests.get(
            url, params={"PageSize": 1001}, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5
        )
        assert (big.status_code, big.json()["code"]) == (400, 20007)
        client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
        client.api.base_url = server.base_url
        message = client.messages.create(to="+15551230000", from_="+15005550006", body="hi")
        assert message.sid.startswith("SM") and message.status == "queued"
        assert [m.sid for m in client.messages.list()] == [message.sid]
        accounts = client.api.v2010.accounts.list()
        assert {a.sid for a in accounts} == {ACCOUNT_SID, SUBACCOUNT_SID}
        base_url = server.base_url
    assert "Response Status Code: 201" in caplog.text
    assert (
        f"POST Request: {base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json" in caplog.text
    )
    assert "hi" not in [r.getMessage() for r in caplog.records]


_KILL_SCRIPT = """
import sys
from datetime import date, datetime, timezone
from analyzer.sources.twilio_api import Credentials, RetryPolicy, export_messages
export_messages(
    sys.argv[1], date(2026, 3, 1), date(2026, 3, 4),
    credentials=Credentials(sys.argv[3], sys.argv[4]), api_base_url=sys.argv[2],
    concurrency=2, slice_hours=6, page_size=50, now=datetime(2026, 4, 1, tzinfo=timezone.utc),
    retry=RetryPolicy(base=0.01, cap=0.05, max_retry_time=10),
)
"""


def _day_counts(table: pa.Table) -> dict[str, int]:
    days = pc.strftime(table["date_created"], format="%Y-%m-%d").to_pylist()
    return dict(Counter(days))


def test_sigkill_mid_export_leaves_whole_days_and_rerun_completes(
    tmp_path: Path, records: pa.Table
) -> None:
    dataset = tmp_path / "ds"
    with FakeTwilio(records, latency=0.06) as server:
        expected = server.in_range(*_range(0, 3))
        full = _day_counts(expected)
        root = Path(analyzer.__file__).parents[1]  # the analyzer under test
        env = {**os.environ, "PYTHONPATH": str(root)}
        proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                _KILL_SCRIPT,
                str(dataset),
                server.base_url,
                ACCOUNT_SID,
                AUTH_TOKEN,
            ],
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            deadline = time.monotonic() + 30
            while not list(dataset.glob("date=*/part-0.parquet")):
                assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "no day was written in time"
                time.sleep(0.01)
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == -signal.SIGKILL
        written = sorted(dataset.glob("date=*/part-0.parquet"))
        assert 0 < len(written) < len(full), "the kill came too late to test anything"
        for part in written:
            day = part.parent.name.removeprefix("date=")
            assert pq.read_table(part).num_rows == full[day], f"partial day {day}"
        assert not [
            p
            for p in dataset.rglob("*")
            if p.is_file() and not p.name.startswith(".") and p.name != "part-0.parquet"
        ]
        result = _export(server, dataset, 0, 3, concurrency=4)
    _assert_same_records(dataset, expected)
    assert result.days == full


def test_wrong_base_url_is_a_user_error(tmp_path: Path) -> None:
    with FakeTwilio() as server, pytest.raises(UserError, match="404") as info:
        _export(server, tmp_path / "ds", 0, 0, api_base_url=server.base_url + "/nowhere")
    assert not isinstance(info.value, AuthError)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.datetimes(
                min_value=datetime(1970, 1, 1),
                max_value=datetime(2200, 1, 1),
                timezones=st.sampled_from(
                    [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
                ),
            ).map(lambda d: d.replace(microsecond=0)),
        ),
        max_size=30,
    )
)
def test_rfc2822_dates_parse_like_email_utils(moments: list[datetime | None]) -> None:
    texts = [None if m is None else email.utils.format_datetime(m) for m in moments]
    parsed = _rfc2822(pa.array(texts, pa.string())).to_pylist()
    expected = [None if t is None else email.utils.parsedate_to_datetime(t) for t in texts]
    assert parsed == expected


def test_progress_reports_running_totals_and_lock_is_held(
    tmp_path: Path, records: pa.Table
) -> None:
    seen: list[int] = []
    with FakeTwilio(records) as server:
        with dataset_lock(tmp_path / "ds"), pytest.raises(LockedError):
            _export(server, tmp_path / "ds", 0, 0)
        result = _export(server, tmp_path / "ds", 0, 1, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == result.fetched == result.records > 0
    assert len(seen) == result.pages


# ---------------------------------------------------------------- issue 11


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _export_cli(out: Path, *args: str, env: dict[str, str] | None = None):
    from typer.testing import CliRunner

    from analyzer.cli import app

    base = {"TWILIO_ACCOUNT_SID": ACCOUNT_SID, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    command = ["export", "--out", str(out), "--start", "2026-03-01", "--end", "2026-03-01"]
    return CliRunner().invoke(app, [*command, *args], env={**base, **(env or {})})


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://example.com/",
        "http://",
        "https:///2010-04-01",
        "http://127.0.0.1:99999",
        "http://127.0.0.1:0",
        "https://example.com/?region=ie1",
        f"https://{ACCOUNT_SID}:{AUTH_TOKEN}@api.twilio.com",
    ],
)
def test_a_bad_base_url_is_refused_before_any_request(tmp_path: Path, url: str) -> None:
    began = time.monotonic()
    with pytest.raises(UserError, match="bad Twilio API base URL") as info:
        export_messages(
            tmp_path / "ds", DAY0.date(), DAY0.date(), credentials=CREDS, api_base_url=url
        )
    assert time.monotonic() - began < 1
    assert info.value.exit_code == 2 and AUTH_TOKEN not in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_export_command_refuses_a_bad_base_url_at_once(tmp_path: Path) -> None:
    began = time.monotonic()
    result = _export_cli(tmp_path / "ds", "--api-base-url", "not a url")
    assert time.monotonic() - began < 5
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "bad Twilio API base URL 'not a url'" in lines[0], lines
    assert list(tmp_path.iterdir()) == []


def test_closed_port_logs_each_backoff_once_and_leaves_no_dataset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="analyzer")
    policy = RetryPolicy(base=0.01, cap=0.05, max_retry_time=0.5, timeout=5)
    base_url = f"http://127.0.0.1:{_closed_port()}"
    with pytest.raises(TwilioAPIError, match=f"{base_url} kept failing") as info:
        export_messages(
            tmp_path / "new" / "ds",
            DAY0.date(),
            DAY0.date(),
            credentials=CREDS,
            api_base_url=base_url,
            retry=policy,
            now=NOW,
            concurrency=4,
        )
    assert info.value.exit_code == 1
    lines = [r.getMessage() for r in caplog.records if r.name.startswith("analyzer")]
    assert lines and all("no connection" in line for line in lines), lines
    numbers = [int(line.split("; retry ")[1].split()[0]) for line in lines]
    assert numbers == list(range(1, len(numbers) + 1))  # one line per backoff, 4 slices or not
    assert list(tmp_path.iterdir()) == []  # the folders it created are gone


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


def test_library_errors_scrub_the_credentials_secret_even_url_encoded(tmp_path: Path) -> None:
    from urllib.parse import quote

    secret = "pass/word+1 é"  # not in the environment, not 32 hex digits
    policy = RetryPolicy(base=0.01, cap=0.05, max_retry_time=0.2, timeout=5)
    port = _closed_port()
    for url in (f"http://127.0.0.1:{port}/{quote(secret)}", f"http://127.0.0.1:{port}/x"):
        with pytest.raises(TwilioAPIError) as info:
            export_messages(
                tmp_path / "ds",
                DAY0.date(),
                DAY0.date(),
                credentials=Credentials(ACCOUNT_SID, secret),
                api_base_url=url,
                retry=policy,
                now=NOW,
            )
        text = str(info.value)
        assert secret not in text and quote(secret) not in text, text
        assert quote(secret, safe="") not in text


def test_failed_export_keeps_a_folder_it_did_not_create(tmp_path: Path, records: pa.Table) -> None:
    wrong = Credentials(ACCOUNT_SID, "wrong" + "0123456789abcdef" * 2)
    existing = tmp_path / "existing"
    existing.mkdir()
    with FakeTwilio(records) as server:
        for dataset in (tmp_path / "new" / "ds", existing):
            with pytest.raises(AuthError):
                _export(server, dataset, 0, 0, credentials=wrong)
    assert not (tmp_path / "new").exists()
    assert existing.is_dir()
