"""The account's configuration as ``analyzer export --config`` would export it: the
senders as incoming numbers, the Messaging Services with their numbers, and Monitor
alerts, with one number planted for each inbound-reachability problem.

Most numbers sit in their service, whose inbound URL overrides their own. Planted:
a voice-only number, a number with no webhook in no service that receives messages,
one on Twilio's demo reply URL, one whose own webhook drew 11200 alerts, and one that
left its service for a route of its own that the application's server never sees a
request for (only a server log tells it from ok). Each planted route is its own path:
a server log is judged path by path. Drawn from their own generator, so the messages
and logs stay as they were without it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from analyzer.results import (
    ALERTS_FILE,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
)
from analyzer.simulate.config import SimulationConfig
from analyzer.simulate.messages import Direction
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.plan import Plan
from analyzer.simulate.text import random_sid
from analyzer.sources.twilio_api.config import config_schema
from analyzer.vocabulary import InboundVerdict

#: Where the application takes inbound messages: its own route, and its services'.
NUMBER_WEBHOOK = "https://app.example.com/sms/incoming"
SERVICE_WEBHOOK = "https://app.example.com/sms/service"
STATUS_CALLBACK = "https://app.example.com/sms/status"
DEMO_WEBHOOK = "https://demo.twilio.com/welcome/sms/reply"
#: The route of the number whose webhook requests never arrive (a proxy, a wrong host).
UNREACHED_WEBHOOK = "https://app.example.com/sms/legacy"
#: The route of numbers in no service and planted with nothing (the failing number's
#: route, NUMBER_WEBHOOK, stays its own).
DIRECT_WEBHOOK = "https://app.example.com/sms/direct"
#: Twilio's alert when a webhook could not be retrieved.
HTTP_RETRIEVAL_FAILURE = 11200
#: Mixed into the seed: the configuration's draws leave the main generator alone.
CONFIG_STREAM = 0x1B0D
#: Mixed in after CONFIG_STREAM: the never-hit number's draw leaves the others alone.
UNREACHED_STREAM = 2
#: The planted numbers that have no SMS URL.
_WITHOUT_URL = (InboundVerdict.NOT_SMS_CAPABLE, InboundVerdict.NO_WEBHOOK)
#: The SMS URL of planted numbers whose own is not NUMBER_WEBHOOK.
_OWN_URLS = {
    InboundVerdict.DEMO_WEBHOOK: DEMO_WEBHOOK,
    InboundVerdict.WEBHOOK_NOT_HIT: UNREACHED_WEBHOOK,
}


@dataclass
class AccountConfig:
    """The configuration tables (by file name) and each number's expected verdict,
    without a server log and with the application's."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)
    expected_with_log: dict[str, str] = field(default_factory=dict)
    #: The planted numbers (sender index → their verdict with the application's log).
    roles: dict[int, InboundVerdict] = field(default_factory=dict)
    #: The webhook Twilio calls for an inbound SMS to each sender (None: none).
    webhooks: list[str | None] = field(default_factory=list)


def account_config(
    config: SimulationConfig, plan: Plan, numbers: PhoneNumbers, sids: list[str]
) -> AccountConfig:
    """The configuration describing the simulated senders and services."""
    rng = np.random.default_rng([config.seed, CONFIG_STREAM])
    phone = numbers.senders.to_pylist()
    inbound = np.bincount(
        plan.sender[plan.direction == Direction.INBOUND].astype(np.int64), minlength=len(phone)
    )
    planted = _plant(numbers.sender_service, inbound, rng)
    number_sids = [random_sid(rng, "PN") for _ in phone]
    roles: dict[int, InboundVerdict] = {**planted, **_unreached(config, numbers, inbound, planted)}
    start = config.start if config.start.tzinfo else config.start.replace(tzinfo=UTC)
    in_service = (numbers.sender_service >= 0).tolist()
    own_urls = [_number_url(roles.get(k), in_service[k]) for k in range(len(phone))]
    rows = _number_rows(phone, number_sids, roles, own_urls, start - timedelta(days=30))
    service_sids = sids[1:]
    # Planted numbers left their service: its inbound URL would hide their own setting.
    linked = [k for k in range(len(phone)) if in_service[k] and k not in roles]
    links = [
        {
            "service_sid": service_sids[numbers.sender_service[k]],
            "sid": number_sids[k],
            "phone_number": phone[k],
        }
        for k in linked
    ]
    failing = next(k for k, role in planted.items() if role == InboundVerdict.WEBHOOK_ERRORS)
    unplanted = [InboundVerdict.OK if count > 0 else InboundVerdict.IDLE for count in inbound]
    alerts = _alerts(plan, failing, number_sids[failing], start, rng)
    return AccountConfig(
        tables={
            NUMBERS_FILE: pa.Table.from_pylist(rows, schema=config_schema(NUMBERS_FILE)),
            SERVICES_FILE: pa.Table.from_pylist(
                _services(service_sids), schema=config_schema(SERVICES_FILE)
            ),
            SERVICE_NUMBERS_FILE: pa.Table.from_pylist(
                links, schema=config_schema(SERVICE_NUMBERS_FILE)
            ),
            ALERTS_FILE: pa.Table.from_pylist(alerts, schema=config_schema(ALERTS_FILE)),
        },
        expected={number: str(planted.get(k, unplanted[k])) for k, number in enumerate(phone)},
        expected_with_log={
            number: str(roles.get(k, unplanted[k])) for k, number in enumerate(phone)
        },
        roles=roles,
        webhooks=[SERVICE_WEBHOOK if k in linked else url for k, url in enumerate(own_urls)],
    )


def _number_rows(
    phone: list[str],
    number_sids: list[str],
    roles: dict[int, InboundVerdict],
    own_urls: list[str | None],
    updated: datetime,
) -> list[dict[str, object]]:
    """The incoming phone numbers, as the export writes them."""
    rows = []
    for k, number in enumerate(phone):
        role = roles.get(k)
        rows.append(
            {
                "sid": number_sids[k],
                "phone_number": number,
                "sms_capable": role != InboundVerdict.NOT_SMS_CAPABLE,
                "mms_capable": role != InboundVerdict.NOT_SMS_CAPABLE,
                "voice_capable": True,
                "sms_url": own_urls[k],
                "sms_method": None if role in _WITHOUT_URL else "POST",
                "sms_fallback_url": None,
                "sms_application_sid": None,
                "status_callback": None,
                "date_updated": updated,
            }
        )
    return rows


def _services(service_sids: list[str]) -> list[dict[str, object]]:
    """The Messaging Services: their inbound URL handles their numbers' messages."""
    return [
        {
            "sid": sid,
            "friendly_name": f"Notifications {k + 1}",
            "inbound_request_url": SERVICE_WEBHOOK,
            "inbound_method": "POST",
            "fallback_url": None,
            "use_inbound_webhook_on_number": False,
            "status_callback": STATUS_CALLBACK,
        }
        for k, sid in enumerate(service_sids)
    ]


def _plant(
    sender_service: np.ndarray, inbound: np.ndarray, rng: np.random.Generator
) -> dict[int, InboundVerdict]:
    """The planted numbers (sender index → verdict): the lone numbers take no webhook
    and the demo URL, the service numbers the rest."""
    lone = [int(k) for k in np.flatnonzero(sender_service < 0)]
    in_service = [int(k) for k in np.flatnonzero(sender_service >= 0)]
    planted: dict[int, InboundVerdict] = {}
    for role, pool in (
        (InboundVerdict.NO_WEBHOOK, lone + in_service),
        (InboundVerdict.DEMO_WEBHOOK, lone + in_service),
        (InboundVerdict.WEBHOOK_ERRORS, in_service + lone),
        (InboundVerdict.NOT_SMS_CAPABLE, in_service + lone),
    ):
        free = [k for k in pool if k not in planted]
        receiving = [k for k in free if inbound[k] > 0]
        silent = [k for k in free if inbound[k] == 0]
        # A missing or failing webhook shows where messages arrive; a voice-only number
        # receives none (when the account has a number without any).
        candidates = free
        if role in (InboundVerdict.NO_WEBHOOK, InboundVerdict.WEBHOOK_ERRORS) and receiving:
            candidates = receiving
        elif role == InboundVerdict.NOT_SMS_CAPABLE and silent:
            candidates = silent
        lone_first = role in (InboundVerdict.NO_WEBHOOK, InboundVerdict.DEMO_WEBHOOK)
        if lone_first and candidates[0] in lone:
            planted[candidates[0]] = role
        else:
            planted[int(rng.choice(candidates))] = role
    return planted


def _unreached(
    config: SimulationConfig,
    numbers: PhoneNumbers,
    inbound: np.ndarray,
    planted: dict[int, InboundVerdict],
) -> dict[int, InboundVerdict]:
    """The number whose webhook is never hit: one of a service's numbers that receive
    messages, moved out of it (none when no such number is left)."""
    rng = np.random.default_rng([config.seed, CONFIG_STREAM, UNREACHED_STREAM])
    in_service = (numbers.sender_service >= 0) & (inbound > 0)
    candidates = [int(k) for k in np.flatnonzero(in_service) if int(k) not in planted]
    return {int(rng.choice(candidates)): InboundVerdict.WEBHOOK_NOT_HIT} if candidates else {}


def _number_url(role: InboundVerdict | None, in_service: bool) -> str | None:
    """A number's own SMS URL (a service's inbound URL overrides it while it is in one)."""
    if role in _WITHOUT_URL:
        return None
    if role is None:
        return NUMBER_WEBHOOK if in_service else DIRECT_WEBHOOK
    return _OWN_URLS.get(role, NUMBER_WEBHOOK)


def _alerts(
    plan: Plan, sender: int, number_sid: str, start: datetime, rng: np.random.Generator
) -> list[dict[str, object]]:
    """An 11200 alert for each of the failing number's inbound messages (one at least)."""
    received = (plan.direction == Direction.INBOUND) & (plan.sender == sender)
    seconds = np.sort(plan.created[received]).tolist() or [int(start.timestamp()) + 3600]
    text = f"Msg=HTTP+retrieval+failure&sourceComponent=14100&url={NUMBER_WEBHOOK}"
    return [
        {
            "sid": random_sid(rng, "NO"),
            "error_code": HTTP_RETRIEVAL_FAILURE,
            "log_level": "error",
            "alert_text": text,
            "request_url": NUMBER_WEBHOOK,
            "resource_sid": number_sid,
            "date_generated": datetime.fromtimestamp(second + 1, tz=UTC),
        }
        for second in seconds
    ]
