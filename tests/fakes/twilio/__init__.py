"""A fake Twilio REST API (v2010 Messages and Accounts) on a real HTTP server on 127.0.0.1.

It speaks HTTP/1.1 with keep-alive like api.twilio.com, so the official SDK talks to it
unchanged once ``client.api.base_url`` points here. Faults (429, 500, 503, dropped
connections, truncated bodies, garbage JSON) and per-page latency are injected per test.

    with FakeTwilio(generate_messages(1000, start, end)) as server:
        client = Client(server.account_sid, server.auth_token, environment={})
        client.api.base_url = server.base_url

Like the real service, every response carries a GMT ``Date`` header and a
``Twilio-Request-Id: RQ<32 hex>``; a successful create (201) answers with a request id whose
32 hex digits are those of the created SID (as seen in public logs), other answers with a
random one. Created messages get random ``SM<32 hex>`` SIDs and a ``date_created``
truncated to the second.

Creating messages can misbehave on purpose, per test, with a ``CreatePlan``:

    plan = CreatePlan()
    plan.add("429", to="+15551230001")    # the next create to that number: 429, nothing made
    plan.add("twice", to="+15551230001")  # the one after: two records for one POST
    plan.schedule[5] = "slow"             # the 5th create POST: made, answered too late
    clock = VirtualClock(datetime(2026, 11, 29, 14, 0, tzinfo=UTC))
    with FakeTwilio(create_plan=plan, clock=clock, access_log=tmp_path / "access.log") as s:
        ...
        clock.sleep(10)                   # ten seconds pass for the fake, none for real
        s.creates                         # what each create POST did (CreateResult)

``access_log`` makes the server write an nginx "combined" line per request, as an egress
proxy in front of Twilio would (499 when the client gave up first, 502 for a dropped
connection).

The API's resources (accounts, messages) are modules of ``tests.fakes.twilio.resources``,
each a list of routes; a new resource is a new module listed there.
"""

from tests.fakes.twilio.clock import VirtualClock
from tests.fakes.twilio.create_plan import CREATE_BEHAVIOURS, CreatePlan, CreateResult, CreateRule
from tests.fakes.twilio.credentials import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    SUBACCOUNT_SID,
    SUBACCOUNT_TOKEN,
)
from tests.fakes.twilio.faults import FAULT_KINDS, Faults
from tests.fakes.twilio.fixtures import fake_twilio
from tests.fakes.twilio.generate import generate_messages
from tests.fakes.twilio.handler import LoggedRequest
from tests.fakes.twilio.server import FakeTwilio
from tests.fakes.twilio.store import MESSAGE_FIELDS, normalize
from tests.fakes.twilio.wire import rfc2822

__all__ = [
    "ACCOUNT_SID",
    "API_KEY",
    "API_SECRET",
    "AUTH_TOKEN",
    "CREATE_BEHAVIOURS",
    "FAULT_KINDS",
    "MESSAGE_FIELDS",
    "SUBACCOUNT_SID",
    "SUBACCOUNT_TOKEN",
    "CreatePlan",
    "CreateResult",
    "CreateRule",
    "FakeTwilio",
    "Faults",
    "LoggedRequest",
    "VirtualClock",
    "fake_twilio",
    "generate_messages",
    "normalize",
    "rfc2822",
]
