"""Accounts: the list of the main account and its subaccounts."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.fakes.twilio.routing import Request, Route
from tests.fakes.twilio.wire import API, Answer, rfc2822

if TYPE_CHECKING:
    from tests.fakes.twilio.server import FakeTwilio


def list_accounts(fake: FakeTwilio, request: Request) -> Answer:
    """The principal's account and, for the main account, its subaccounts (one page)."""
    principal = request.principal
    sids = [principal] + (sorted(fake.subaccounts) if principal == fake.account_sid else [])
    stamp = rfc2822(1_438_286_400)
    accounts = [
        {
            "auth_token": fake.auth_token if sid == fake.account_sid else fake.subaccounts[sid],
            "date_created": stamp,
            "date_updated": stamp,
            "friendly_name": "Main account" if sid == fake.account_sid else f"Sub {sid[-4:]}",
            "owner_account_sid": fake.account_sid,
            "sid": sid,
            "status": "active",
            "subresource_uris": {"messages": f"{API}/Accounts/{sid}/Messages.json"},
            "type": "Full",
            "uri": f"{API}/Accounts/{sid}.json",
        }
        for sid in sids
    ]
    page_size = int(request.query.get("PageSize", "50"))
    uri = f"{API}/Accounts.json?PageSize={page_size}&Page=0"
    page = {
        "accounts": accounts[:page_size],
        "first_page_uri": uri,
        "next_page_uri": None,
        "previous_page_uri": None,
        "page": 0,
        "page_size": page_size,
        "uri": uri,
        "start": 0,
        "end": max(len(accounts[:page_size]) - 1, 0),
    }
    return Answer(200, page, {})


ROUTES = (Route("GET", f"{API}/Accounts.json", list_accounts),)
