"""Messages: list pages with DateSent/To/From filters, fetching one, and creating one
(which may misbehave as the fake's CreatePlan says)."""

from __future__ import annotations

import email.utils
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import pandas as pd

from tests.fakes.twilio.create_plan import CreateResult
from tests.fakes.twilio.routing import Request, Route
from tests.fakes.twilio.wire import API, Answer, Raw, twilio_error

if TYPE_CHECKING:
    from tests.fakes.twilio.server import FakeTwilio

_FILTERS = ("To", "From", "DateSent", "DateSent<", "DateSent>")


def list_messages(fake: FakeTwilio, request: Request) -> Answer:
    """One list page of an account's messages, newest first, with the paging keys."""
    query = request.query
    try:
        page_size = int(query.get("PageSize", "50"))
    except ValueError:
        return Answer(400, twilio_error(20001, "Invalid PageSize", 400), {})
    if page_size > 1000 or page_size < 1:
        return Answer(400, twilio_error(20007, "Page size too large: maximum is 1000", 400), {})
    try:
        after, before = _date_sent_bounds(query)
    except (ValueError, TypeError):
        return Answer(400, twilio_error(20001, "Invalid DateSent", 400), {})
    offset = 0
    token = query.get("PageToken")
    if token:
        try:
            offset = int(token.removeprefix("PA"), 16)
        except ValueError:
            return Answer(400, twilio_error(20001, "Invalid PageToken", 400), {})
    page = int(query.get("Page", "0") or 0)
    if fake.latency:
        time.sleep(fake.latency)
    account = request.params["account"]
    rows = fake.store.select(account, after, before, query.get("To"), query.get("From"))
    chunk = rows[offset : offset + page_size]
    filters: dict[str, object] = {k: query[k] for k in _FILTERS if k in query}

    def uri(page_no: int, token_offset: int | None) -> str:
        params: dict[str, object] = {**filters, "PageSize": page_size, "Page": page_no}
        if token_offset is not None:
            params["PageToken"] = f"PA{token_offset:x}"
        return f"{request.path}?{urlencode(params)}"

    has_next = offset + page_size < len(rows)
    paging = {
        "first_page_uri": uri(0, None),
        "next_page_uri": uri(page + 1, offset + page_size) if has_next else None,
        "previous_page_uri": (uri(page - 1, max(offset - page_size, 0)) if page > 0 else None),
        "page": page,
        "page_size": page_size,
        "uri": uri(page, offset if token else None),
        "start": offset,
        "end": offset + len(chunk) - 1 if len(chunk) else offset,
    }
    return Answer(200, Raw(fake.store.page_json(chunk, paging)), {})


def _date_sent_bounds(query: Mapping[str, str]) -> tuple[int | None, int | None]:
    """The inclusive epoch-second bounds of the DateSent filters (None: unbounded)."""
    after = before = None
    if "DateSent" in query:
        after = _parse_bound(query["DateSent"], upper=False)
        before = _parse_bound(query["DateSent"], upper=len(query["DateSent"]) == 10)
    if "DateSent>" in query:
        bound = _parse_bound(query["DateSent>"], upper=False)
        after = bound if after is None else max(after, bound)
    if "DateSent<" in query:
        bound = _parse_bound(query["DateSent<"], upper=True)
        before = bound if before is None else min(before, bound)
    return after, before


def _parse_bound(value: str, *, upper: bool) -> int:
    """Epoch seconds of a DateSent bound; a date alone covers its whole day."""
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if upper:
            moment += timedelta(days=1, seconds=-1)
        return int(moment.timestamp())
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(text)  # raises ValueError/TypeError
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def fetch_message(fake: FakeTwilio, request: Request) -> Answer | None:
    """One message of the account (``.json`` optional), or None when there is none."""
    sid = request.params["sid"].removesuffix(".json")
    row = fake.store.find(request.params["account"], sid)
    if row is None:
        return None
    return Answer(200, fake.store.records([row])[0])


def create_message(fake: FakeTwilio, request: Request) -> Answer:
    """Create a message from the POSTed form, doing what the create plan says."""
    account = request.params["account"]
    form = {k: v[-1] for k, v in parse_qs(request.body.decode(), keep_blank_values=True).items()}
    n, behaviour, gap, slow = fake.create_plan.pick(form)
    result = CreateResult(
        n, behaviour, form.get("To"), form.get("Body"), [], None, None, fake.clock()
    )
    fake.record_create(result)
    if behaviour == "429":  # throttled before anything else: nothing is created
        return Answer(
            429,
            twilio_error(20429, "Too Many Requests", 429),
            {"Retry-After": fake.create_plan.retry_after},
            create=result,
        )
    problem = _form_problem(form)
    if problem is not None:
        return Answer(400, problem, create=result)
    if behaviour == "drop":
        return Answer(0, None, action="drop", create=result)
    now = fake.clock()
    records = [_new_record(account, form, now)]
    if behaviour == "twice":
        records.append(_new_record(account, form, now + gap))
    frame = pd.DataFrame(records)
    frame["date_sent"] = pd.Series([pd.NaT] * len(records), dtype="datetime64[us, UTC]")
    fake.load(frame)
    result.sids = [str(r["sid"]) for r in records]
    row = fake.store.find(account, result.sids[0])
    assert row is not None
    payload = fake.store.records([row])[0]
    if behaviour == "500_created":
        return Answer(500, twilio_error(20500, "Internal Server Error", 500), create=result)
    # A created message's request id carries the SID's 32 hex digits.
    result.request_id = "RQ" + result.sids[0][2:]
    headers = {"Twilio-Request-Id": result.request_id}
    if behaviour == "drop_created":
        return Answer(0, None, action="drop", create=result)
    if behaviour == "slow":
        return Answer(201, payload, headers, action="slow", wait=slow, create=result)
    return Answer(201, payload, headers, create=result)


def _form_problem(form: Mapping[str, str]) -> dict[str, Any] | None:
    """Twilio's error for a create form without a To, a From or a body, else None."""
    if not form.get("To"):
        return twilio_error(21604, "A 'To' phone number is required.", 400)
    if not form.get("From") and not form.get("MessagingServiceSid"):
        return twilio_error(21603, "A 'From' phone number is required.", 400)
    if not form.get("Body") and not form.get("MediaUrl"):
        return twilio_error(21602, "Message body is required.", 400)
    return None


def _new_record(account: str, form: Mapping[str, str], created: float) -> dict[str, Any]:
    """A freshly created message, ``date_created`` truncated to the second."""
    now = pd.Timestamp(int(created), unit="s", tz="UTC")
    return {
        "sid": ("MM" if form.get("MediaUrl") else "SM") + uuid.uuid4().hex,
        "account_sid": account,
        "messaging_service_sid": form.get("MessagingServiceSid"),
        "from": form.get("From"),
        "to": form["To"],
        "body": form.get("Body", ""),
        "status": "queued" if not form.get("MessagingServiceSid") else "accepted",
        "direction": "outbound-api",
        "error_code": None,
        "error_message": None,
        "num_segments": 1,
        "num_media": 1 if form.get("MediaUrl") else 0,
        "price": None,
        "price_unit": "USD",
        "api_version": "2010-04-01",
        "date_created": now,
        "date_sent": None,
        "date_updated": now,
        "source": None,
    }


_MESSAGES = f"{API}/Accounts/{{account}}/Messages"
ROUTES = (
    Route("GET", f"{_MESSAGES}.json", list_messages),
    Route("POST", f"{_MESSAGES}.json", create_message),
    Route("GET", f"{_MESSAGES}/{{sid}}", fetch_message),
)
