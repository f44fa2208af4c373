"""Listing through the API: the accounts to export, and every message of one slice."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.twilio_api.fetcher import Fetcher
from analyzer.sources.twilio_api.pages import page_to_table
from analyzer.sources.twilio_api.slicing import stamp


def list_accounts(fetcher: Fetcher) -> list[str]:
    """The SIDs of the credentials' account and its subaccounts that are not closed."""

    def parse(body: bytes) -> dict[str, Any]:
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("accounts"), list):
            raise ValueError("not an Accounts list page")
        return payload

    sids = [fetcher.credentials.account_sid]
    url: str | None = f"{fetcher.base_url}/2010-04-01/Accounts.json"
    params: dict[str, object] | None = {"PageSize": 1000}
    while url:
        payload = fetcher.get(url, params, parse)
        for account in payload["accounts"]:
            sid = account.get("sid")
            if sid and sid not in sids and account.get("status") != "closed":
                sids.append(sid)
        nxt = payload.get("next_page_uri")
        url, params = (fetcher.base_url + nxt if nxt else None), None
    return sids


def fetch_slice(
    fetcher: Fetcher,
    account: str,
    lo: int,
    hi: int,
    page_size: int,
    progress: Callable[[int], None] | None,
) -> pa.Table:
    """Every record of one account with date_sent in [lo, hi] (epoch seconds, inclusive)."""
    url: str | None = f"{fetcher.base_url}/2010-04-01/Accounts/{account}/Messages.json"
    params: dict[str, object] | None = {
        "DateSent>": stamp(lo),
        "DateSent<": stamp(hi),
        "PageSize": page_size,
    }
    tables = []
    counters = fetcher.counters
    while url:
        table, nxt = fetcher.get(url, params, page_to_table)
        tables.append(table)
        with counters.lock:
            counters.pages += 1
            counters.fetched += table.num_rows
            if progress is not None:
                progress(counters.fetched)
        url, params = (fetcher.base_url + nxt if nxt else None), None
    table = pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()
    # A server that reads the bounds coarser than a second must not leak records
    # into a neighbouring slice.
    sent = table["date_sent"]
    inside = pc.and_(
        pc.greater_equal(sent, pa.scalar(datetime.fromtimestamp(lo, UTC), sent.type)),
        pc.less_equal(sent, pa.scalar(datetime.fromtimestamp(hi, UTC), sent.type)),
    )
    return table.filter(pc.fill_null(inside, False))
