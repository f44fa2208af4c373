"""Reading list pages: raw JSON as the SDK reads it, RFC 2822 dates."""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twilio.rest import Client

from analyzer.sources.twilio_api import (
    page_to_table,
    parse_rfc2822,
)
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    FakeTwilio,
)
from tests.unit.sources.export_helpers import (
    export_records,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return export_records()


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
    parsed = parse_rfc2822(pa.array(texts, pa.string())).to_pylist()
    expected = [None if t is None else email.utils.parsedate_to_datetime(t) for t in texts]
    assert parsed == expected
