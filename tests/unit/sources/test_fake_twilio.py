"""The fake Twilio itself: DateSent filters and paging, errors and creates as Twilio has them."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client

from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SUBACCOUNT_SID,
    FakeTwilio,
    generate_messages,
)
from tests.unit.sources.export_helpers import (
    DAY0,
)


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
