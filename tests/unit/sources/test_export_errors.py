"""Export errors: credentials, base URLs, bounded retries, secrets kept out, folders left clean."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pyarrow as pa
import pytest

from analyzer.errors import UserError
from analyzer.sources.twilio_api import (
    AuthError,
    Credentials,
    RetryPolicy,
    TwilioAPIError,
    export_messages,
)
from tests.fakes.twilio import (
    ACCOUNT_SID,
    API_KEY,
    AUTH_TOKEN,
    FakeTwilio,
    Faults,
)
from tests.unit.sources.export_helpers import (
    CREDS,
    DAY0,
    NOW,
    closed_port,
    export_records,
    run_export,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return export_records()


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
                run_export(server, tmp_path / "ds", 0, 3, credentials=creds)
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
            run_export(server, tmp_path / "ds", 0, 0, retry=policy)
    assert time.monotonic() - began < 5
    assert not list((tmp_path / "ds").glob("date=*"))


def test_wrong_base_url_is_a_user_error(tmp_path: Path) -> None:
    with FakeTwilio() as server, pytest.raises(UserError, match="404") as info:
        run_export(server, tmp_path / "ds", 0, 0, api_base_url=server.base_url + "/nowhere")
    assert not isinstance(info.value, AuthError)


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


def test_closed_port_logs_each_backoff_once_and_leaves_no_dataset(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="analyzer")
    policy = RetryPolicy(base=0.01, cap=0.05, max_retry_time=0.5, timeout=5)
    base_url = f"http://127.0.0.1:{closed_port()}"
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


def test_library_errors_scrub_the_credentials_secret_even_url_encoded(tmp_path: Path) -> None:
    from urllib.parse import quote

    secret = "pass/word+1 é"  # not in the environment, not 32 hex digits
    policy = RetryPolicy(base=0.01, cap=0.05, max_retry_time=0.2, timeout=5)
    port = closed_port()
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
                run_export(server, dataset, 0, 0, credentials=wrong)
    assert not (tmp_path / "new").exists()
    assert existing.is_dir()
