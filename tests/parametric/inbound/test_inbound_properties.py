"""The inbound check against plain, message-by-message references: which inbound messages
no webhook request answered, and which outbound messages' callbacks went wrong."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.inbound import check_callbacks, check_numbers, received_requests
from analyzer.vocabulary import FINAL_STATUSES

T = datetime(2026, 11, 29, 12, tzinfo=UTC)
TOLERANCE = 30.0
#: Our numbers and their webhooks (one a TwiML App, never judged).
NUMBERS = {
    "+100": "https://app.example.com/a",
    "+101": "https://app.example.com/b",
    "+102": "https://app.example.com/a",
    "+103": None,
}
SENDERS = ["+441", "+442", "+443"]
PATHS = ["/a", "/b", "/other"]

message = st.fixed_dictionaries(
    {"to": st.sampled_from(sorted(NUMBERS)), "from": st.sampled_from(SENDERS),
     "second": st.integers(0, 600)}
)  # fmt: skip
request = st.fixed_dictionaries(
    {
        "path": st.sampled_from(PATHS),
        "second": st.integers(-100, 700),
        # A SID of one of the messages (by position), or none.
        "names": st.one_of(st.none(), st.integers(0, 30)),
        "from": st.one_of(st.none(), st.sampled_from(SENDERS)),
        "agent": st.sampled_from([None, "TwilioProxy/1.1", "curl/8.5"]),
    }
)


def _frames(
    messages: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    numbers = pd.DataFrame(
        {
            "sid": [f"PN{k}" for k in range(len(NUMBERS))],
            "phone_number": list(NUMBERS),
            "sms_capable": True,
            "sms_url": list(NUMBERS.values()),
            "sms_application_sid": [None if url else "AP1" for url in NUMBERS.values()],
        }
    )
    inbound = pd.DataFrame(
        {
            "sid": [f"SM{k}" for k in range(len(messages))],
            "from": [m["from"] for m in messages],
            "to": [m["to"] for m in messages],
            "date_created": [T + timedelta(seconds=m["second"]) for m in messages],
        }
    )
    logged = pd.DataFrame(
        {
            "time": [T + timedelta(seconds=r["second"]) for r in requests],
            "method": "POST",
            "path": [r["path"] for r in requests],
            "status": 200,
            "message_sid": [None if r["names"] is None else f"SM{r['names']}" for r in requests],
            "from": [r["from"] for r in requests],
            "user_agent": [r["agent"] for r in requests],
            "is_send": False,
        }
    )
    return numbers, inbound, logged


def _reference(messages: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[str]:
    """Message by message: unhandled when inside the log's span, to a webhook of ours, and
    no request of Twilio's names it or (naming none) reaches its path in time from its
    sender or from an unnamed sender."""
    twilio = [r for r in requests if r["agent"] != "curl/8.5"]
    webhooks = {url.removeprefix("https://app.example.com") for url in NUMBERS.values() if url}
    # Twilio must be seen reaching this server, else the log may be another's.
    if not any(r["agent"] == "TwilioProxy/1.1" or r["path"] in webhooks for r in twilio):
        return []
    first = min(r["second"] for r in requests) - TOLERANCE
    last = max(r["second"] for r in requests) + TOLERANCE
    out = []
    for k, m in enumerate(messages):
        url = NUMBERS[m["to"]]
        if url is None or not first <= m["second"] <= last:
            continue
        path = url.removeprefix("https://app.example.com")
        named = any(r["names"] == k for r in twilio)
        near = any(
            r["names"] is None
            and r["path"] == path
            and r["from"] in (None, m["from"])
            and abs(r["second"] - m["second"]) <= TOLERANCE
            for r in twilio
        )
        if not (named or near):
            out.append(f"SM{k}")
    return sorted(out)


@settings(max_examples=150, deadline=None)
@given(st.lists(message, max_size=30), st.lists(request, max_size=30))
def test_unhandled_inbound_matches_the_reference(
    messages: list[dict[str, Any]], requests: list[dict[str, Any]]
) -> None:
    numbers, inbound, logged = _frames(messages, requests)
    services = pd.DataFrame(columns=["sid", "inbound_request_url", "use_inbound_webhook_on_number"])
    links = pd.DataFrame(columns=["service_sid", "sid", "phone_number"])
    alerts = pd.DataFrame(columns=["sid", "error_code", "resource_sid", "request_url"])
    found = check_numbers(
        numbers, services, links, alerts, inbound, received_requests(logged), TOLERANCE
    )
    assert sorted(found.unhandled["sid"]) == _reference(messages, requests)


outbound = st.fixed_dictionaries(
    {"status": st.sampled_from(["sent", "delivered", "undelivered", "failed", "read"]),
     "service": st.sampled_from(["MG1", "MG2"]), "second": st.integers(0, 600)}
)  # fmt: skip
callback = st.fixed_dictionaries(
    {
        "of": st.integers(0, 20),
        "status": st.sampled_from(["sent", "delivered", "undelivered", "failed", "read"]),
        "http": st.sampled_from([200, 204, 500]),
        "second": st.integers(0, 700),
    }
)


def _callback_reference(
    messages: list[dict[str, Any]], callbacks: list[dict[str, Any]], end: int
) -> list[tuple[str, str]]:
    out = [("refused", f"SM{c['of']}") for c in callbacks if c["http"] >= 300]
    start = min([c["second"] for c in callbacks] + [end])
    for k, m in enumerate(messages):
        mine = [c for c in callbacks if c["of"] == k]
        asked = m["service"] == "MG1" or mine
        # Created near the log's span, and last updated (its final callback) inside it.
        updated = m["second"] + 20
        inside = start - TOLERANCE <= m["second"] and start <= updated <= end
        if not (asked and inside and m["status"] in FINAL_STATUSES):
            continue
        finals = [c["status"] for c in mine if c["status"] in FINAL_STATUSES]
        said = set(finals) | ({"read"} if "delivered" in finals else set())
        if not finals:
            out.append(("missing_final", f"SM{k}"))
        elif m["status"] not in said:
            out.append(("disagrees", f"SM{k}"))
    return sorted(out)


@settings(max_examples=150, deadline=None)
@given(st.lists(outbound, max_size=20), st.lists(callback, min_size=1, max_size=30))
def test_callback_problems_match_the_reference(
    messages: list[dict[str, Any]], callbacks: list[dict[str, Any]]
) -> None:
    created = [T + timedelta(seconds=m["second"]) for m in messages]
    records = pd.DataFrame(
        {
            "sid": [f"SM{k}" for k in range(len(messages))],
            "to": "+15550001",
            "from": "+15559999",
            "status": [m["status"] for m in messages],
            "error_code": None,
            "messaging_service_sid": [m["service"] for m in messages],
            "date_created": pd.to_datetime(created, utc=True),
            "date_updated": pd.to_datetime(created, utc=True) + pd.Timedelta(seconds=20),
        }
    )
    end = 800  # a health check closes the log's span
    logged = pd.DataFrame(
        {
            "time": [T + timedelta(seconds=c["second"]) for c in callbacks]
            + [T + timedelta(seconds=end)],
            "method": "POST",
            "path": ["/status"] * len(callbacks) + ["/healthz"],
            "status": [c["http"] for c in callbacks] + [200],
            "message_sid": [f"SM{c['of']}" for c in callbacks] + [None],
            "message_status": [c["status"] for c in callbacks] + [None],
            "user_agent": ["TwilioProxy/1.1"] * len(callbacks) + ["kube-probe/1.29"],
        }
    )
    services = pd.DataFrame(
        {"sid": ["MG1", "MG2"], "status_callback": ["https://app.example.com/status", None]}
    )
    found = check_callbacks(records, received_requests(logged), services, set(), TOLERANCE)
    got = sorted(zip(found.problems["problem"], found.problems["sid"], strict=True))
    assert got == _callback_reference(messages, callbacks, end)
