"""The account's configuration as ``analyzer export --config`` would export it: the
senders as incoming numbers, the Messaging Services with their numbers, and Monitor
alerts, with one number planted for each inbound-reachability problem.

Most numbers sit in their service, whose inbound URL handles their messages. Planted:
a voice-only number, a number with no webhook in no service that receives messages,
one on Twilio's demo reply URL, and one whose own webhook drew 11200 alerts. Drawn from
their own generator, so the messages and logs stay as they were without it.
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

#: Where the application takes inbound messages: its own route, and its services'.
NUMBER_WEBHOOK = "https://app.example.com/sms/incoming"
SERVICE_WEBHOOK = "https://app.example.com/sms/service"
STATUS_CALLBACK = "https://app.example.com/sms/status"
DEMO_WEBHOOK = "https://demo.twilio.com/welcome/sms/reply"
#: Twilio's alert when a webhook could not be retrieved.
HTTP_RETRIEVAL_FAILURE = 11200
#: Mixed into the seed: the configuration's draws leave the main generator alone.
CONFIG_STREAM = 0x1B0D
#: The verdicts a number is expected to get without a server log.
NOT_SMS_CAPABLE, NO_WEBHOOK, DEMO, ERRORS = (
    "not_sms_capable",
    "no_webhook",
    "demo_webhook",
    "webhook_errors",
)
OK, IDLE = "ok", "idle"


@dataclass
class AccountConfig:
    """The configuration tables (by file name) and each number's expected verdict."""

    tables: dict[str, pa.Table] = field(default_factory=dict)
    expected: dict[str, str] = field(default_factory=dict)


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
    start = config.start if config.start.tzinfo else config.start.replace(tzinfo=UTC)
    updated = start - timedelta(days=30)
    rows = []
    for k, number in enumerate(phone):
        role = planted.get(k)
        rows.append(
            {
                "sid": number_sids[k],
                "phone_number": number,
                "sms_capable": role != NOT_SMS_CAPABLE,
                "mms_capable": role != NOT_SMS_CAPABLE,
                "voice_capable": True,
                "sms_url": _number_url(role),
                "sms_method": None if role in (NOT_SMS_CAPABLE, NO_WEBHOOK) else "POST",
                "sms_fallback_url": None,
                "sms_application_sid": None,
                "status_callback": None,
                "date_updated": updated,
            }
        )
    service_sids = sids[1:]
    services = [
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
    # Planted numbers left their service: its inbound URL would hide their own setting.
    links = [
        {"service_sid": service_sids[s], "sid": number_sids[k], "phone_number": phone[k]}
        for k, s in enumerate(numbers.sender_service.tolist())
        if s >= 0 and k not in planted
    ]
    failing = next(k for k, role in planted.items() if role == ERRORS)
    alerts = _alerts(plan, failing, number_sids[failing], start, rng)
    return AccountConfig(
        tables={
            NUMBERS_FILE: pa.Table.from_pylist(rows, schema=config_schema(NUMBERS_FILE)),
            SERVICES_FILE: pa.Table.from_pylist(services, schema=config_schema(SERVICES_FILE)),
            SERVICE_NUMBERS_FILE: pa.Table.from_pylist(
                links, schema=config_schema(SERVICE_NUMBERS_FILE)
            ),
            ALERTS_FILE: pa.Table.from_pylist(alerts, schema=config_schema(ALERTS_FILE)),
        },
        expected={
            number: planted.get(k, OK if inbound[k] > 0 else IDLE)
            for k, number in enumerate(phone)
        },
    )


def _plant(
    sender_service: np.ndarray, inbound: np.ndarray, rng: np.random.Generator
) -> dict[int, str]:
    """The planted numbers (sender index → verdict): the lone numbers take no webhook
    and the demo URL, the service numbers the rest."""
    lone = [int(k) for k in np.flatnonzero(sender_service < 0)]
    in_service = [int(k) for k in np.flatnonzero(sender_service >= 0)]
    planted: dict[int, str] = {}
    for role, pool in (
        (NO_WEBHOOK, lone + in_service),
        (DEMO, lone + in_service),
        (ERRORS, in_service + lone),
        (NOT_SMS_CAPABLE, in_service + lone),
    ):
        free = [k for k in pool if k not in planted]
        receiving = [k for k in free if inbound[k] > 0]
        silent = [k for k in free if inbound[k] == 0]
        # A missing or failing webhook shows where messages arrive; a voice-only number
        # receives none (when the account has a number without any).
        candidates = free
        if role in (NO_WEBHOOK, ERRORS) and receiving:
            candidates = receiving
        elif role == NOT_SMS_CAPABLE and silent:
            candidates = silent
        if role in (NO_WEBHOOK, DEMO) and candidates[0] in lone:
            planted[candidates[0]] = role
        else:
            planted[int(rng.choice(candidates))] = role
    return planted


def _number_url(role: str | None) -> str | None:
    if role in (NOT_SMS_CAPABLE, NO_WEBHOOK):
        return None
    return DEMO_WEBHOOK if role == DEMO else NUMBER_WEBHOOK


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
