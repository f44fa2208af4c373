"""Account configuration: IncomingPhoneNumbers (v2010 paging), Messaging Services and their
PhoneNumbers (messaging domain) and Monitor Alerts (monitor domain), v1 paging with ``meta``.

v1 pages name the next page with an absolute URL on Twilio's own host, as the real API
does: a client must route it to its base URL itself."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from tests.fakes.twilio.routing import Request, Route
from tests.fakes.twilio.wire import API, Answer, twilio_error

if TYPE_CHECKING:
    from tests.fakes.twilio.server import FakeTwilio

MESSAGING_HOST = "https://messaging.twilio.com"
MONITOR_HOST = "https://monitor.twilio.com"


class _BadQuery(ValueError):
    """A list query Twilio would refuse with a 400."""


def _window(query: Mapping[str, str]) -> tuple[int, int]:
    """The page size and the offset (from the PageToken) a list query asks for."""
    try:
        page_size = int(query.get("PageSize", "50"))
        token = query.get("PageToken")
        offset = int(token.removeprefix("PT"), 16) if token else 0
    except ValueError as exc:
        raise _BadQuery("Invalid PageSize or PageToken") from exc
    if not 1 <= page_size <= 1000:
        raise _BadQuery("Page size too large: maximum is 1000")
    return page_size, offset


def _page_params(filters: Mapping[str, str], page_size: int, page: int, offset: int | None) -> str:
    params: dict[str, object] = {**filters, "PageSize": page_size, "Page": page}
    if offset is not None:
        params["PageToken"] = f"PT{offset:x}"
    return urlencode(params)


def v1_page(
    records: Sequence[dict[str, Any]],
    query: Mapping[str, str],
    key: str,
    url: str,
    filters: Mapping[str, str] | None = None,
) -> Answer:
    """One v1 list page of ``records`` under ``key``, with the ``meta`` paging object."""
    try:
        page_size, offset = _window(query)
    except _BadQuery as exc:
        return Answer(400, twilio_error(20001, str(exc), 400))
    kept = dict(filters or {})
    page = int(query.get("Page", "0") or 0)
    has_next = offset + page_size < len(records)
    meta = {
        "page": page,
        "page_size": page_size,
        "first_page_url": f"{url}?{_page_params(kept, page_size, 0, None)}",
        "previous_page_url": None,
        "url": f"{url}?{_page_params(kept, page_size, page, offset or None)}",
        "next_page_url": (
            f"{url}?{_page_params(kept, page_size, page + 1, offset + page_size)}"
            if has_next
            else None
        ),
        "key": key,
    }
    return Answer(200, {key: list(records[offset : offset + page_size]), "meta": meta})


def list_numbers(fake: FakeTwilio, request: Request) -> Answer:
    """One v2010 page of the account's incoming phone numbers."""
    try:
        page_size, offset = _window(request.query)
    except _BadQuery as exc:
        return Answer(400, twilio_error(20001, str(exc), 400))
    account = request.params["account"]
    numbers = [n for n in fake.config.numbers if n["account_sid"] == account]
    page = int(request.query.get("Page", "0") or 0)
    chunk = numbers[offset : offset + page_size]
    has_next = offset + page_size < len(numbers)
    path = request.path
    return Answer(
        200,
        {
            "incoming_phone_numbers": chunk,
            "first_page_uri": f"{path}?{_page_params({}, page_size, 0, None)}",
            "next_page_uri": (
                f"{path}?{_page_params({}, page_size, page + 1, offset + page_size)}"
                if has_next
                else None
            ),
            "previous_page_uri": None,
            "page": page,
            "page_size": page_size,
            "uri": f"{path}?{_page_params({}, page_size, page, offset or None)}",
            "start": offset,
            "end": offset + max(len(chunk) - 1, 0),
        },
    )


def list_services(fake: FakeTwilio, request: Request) -> Answer:
    """One page of the Messaging Services."""
    return v1_page(fake.config.services, request.query, "services", f"{MESSAGING_HOST}/v1/Services")


def list_service_numbers(fake: FakeTwilio, request: Request) -> Answer | None:
    """One page of a Messaging Service's phone numbers (None: no such service)."""
    sid = request.params["service"]
    if sid not in {s["sid"] for s in fake.config.services}:
        return None
    numbers = fake.config.service_numbers.get(sid, [])
    url = f"{MESSAGING_HOST}/v1/Services/{sid}/PhoneNumbers"
    return v1_page(numbers, request.query, "phone_numbers", url)


def list_alerts(fake: FakeTwilio, request: Request) -> Answer:
    """One page of Monitor alerts, newest first, on or after ``StartDate`` when given."""
    query = request.query
    filters = {k: query[k] for k in ("StartDate", "EndDate", "LogLevel") if k in query}
    try:
        start = _moment(filters.get("StartDate"))
        end = _moment(filters.get("EndDate"))
    except ValueError:
        return Answer(400, twilio_error(20001, "Invalid StartDate or EndDate", 400))
    alerts = sorted(fake.config.alerts, key=lambda a: a["date_generated"], reverse=True)
    picked = [
        a
        for a in alerts
        if _within(a["date_generated"], start, end)
        and ("LogLevel" not in filters or a["log_level"] == filters["LogLevel"])
    ]
    return v1_page(picked, request.query, "alerts", f"{MONITOR_HOST}/v1/Alerts", filters)


def _within(stamp: str, start: datetime | None, end: datetime | None) -> bool:
    moment = _moment(stamp)
    assert moment is not None
    return (start is None or moment >= start) and (end is None or moment <= end)


def _moment(text: str | None) -> datetime | None:
    """A ``YYYY-MM-DD`` or ``YYYY-MM-DDThh:mm:ssZ`` filter value, in UTC."""
    if text is None:
        return None
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


ROUTES = (
    Route("GET", f"{API}/Accounts/{{account}}/IncomingPhoneNumbers.json", list_numbers),
    Route("GET", "/v1/Services", list_services),
    Route("GET", "/v1/Services/{service}/PhoneNumbers", list_service_numbers),
    Route("GET", "/v1/Alerts", list_alerts),
)
