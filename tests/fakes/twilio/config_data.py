"""The account configuration the fake serves: incoming phone numbers, Messaging Services
with their numbers, and Monitor alerts, as the API writes them (the seed plants the cases
the inbound analysis looks for)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tests.fakes.twilio.credentials import ACCOUNT_SID
from tests.fakes.twilio.wire import API, rfc2822

DEMO_URL = "https://demo.twilio.com/welcome/sms/reply"
APP = "https://app.example.com"


def number_sid(n: int) -> str:
    """The SID of seeded number ``n``."""
    return f"PN{n:032x}"


def service_sid(n: int) -> str:
    """The SID of seeded Messaging Service ``n``."""
    return f"MG{n:032x}"


def alert_sid(n: int) -> str:
    """The SID of seeded alert ``n``."""
    return f"NO{n:032x}"


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC as the v1 APIs write it: ``2026-03-10T09:00:00Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class FakeConfig:
    """Configuration records in API form. ``service_numbers`` maps a service SID to its
    phone number records; ``alerts`` carry ``date_generated`` as ISO 8601 text."""

    numbers: list[dict[str, Any]] = field(default_factory=list)
    services: list[dict[str, Any]] = field(default_factory=list)
    service_numbers: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)


def phone_number(
    account: str, n: int, *, sms: bool = True, sms_url: str = "", updated: int = 1_767_225_600
) -> dict[str, Any]:
    """An IncomingPhoneNumber record (unset URLs are empty strings, as Twilio writes them)."""
    sid = number_sid(n)
    return {
        "account_sid": account,
        "sid": sid,
        "phone_number": f"+1555000{n:04d}",
        "friendly_name": f"(555) 000-{n:04d}",
        "capabilities": {"voice": True, "sms": sms, "mms": sms, "fax": False},
        "sms_url": sms_url,
        "sms_method": "POST",
        "sms_fallback_url": "",
        "sms_fallback_method": "POST",
        "sms_application_sid": "",
        "status_callback": "",
        "status_callback_method": "POST",
        "voice_url": "",
        "date_created": rfc2822(updated - 86_400),
        "date_updated": rfc2822(updated),
        "uri": f"{API}/Accounts/{account}/IncomingPhoneNumbers/{sid}.json",
    }


def seeded_config(account: str = ACCOUNT_SID) -> FakeConfig:
    """Six numbers, two services and four alerts (one older than 30 days before
    2026-03-31):

    1. webhook on the number (in service 2, which defers to the number's URL);
    2. voice only, not SMS capable;
    3. SMS capable, no sms_url;
    4. on Twilio's demo reply URL;
    5. in service 1, whose inbound_request_url overrides the number's URL;
    6. webhook that fails: 11200 alerts for it.
    """
    numbers = [
        phone_number(account, 1, sms_url=f"{APP}/sms/inbound"),
        phone_number(account, 2, sms=False),
        phone_number(account, 3),
        phone_number(account, 4, sms_url=DEMO_URL),
        phone_number(account, 5, sms_url=f"{APP}/sms/old"),
        phone_number(account, 6, sms_url=f"{APP}/sms/broken"),
    ]
    services = [
        _service(account, 1, "Notifications", f"{APP}/service/inbound", on_number=False),
        _service(account, 2, "Support", f"{APP}/service/support", on_number=True),
    ]
    service_numbers = {
        service_sid(1): [_service_number(account, 1, numbers[4])],
        service_sid(2): [_service_number(account, 2, numbers[0])],
    }
    broken = f"{APP}/sms/broken"
    alerts = [
        _alert(account, 1, 11200, broken, number_sid(6), datetime(2026, 3, 10, 9, tzinfo=UTC)),
        _alert(account, 2, 11200, broken, number_sid(6), datetime(2026, 3, 12, 9, tzinfo=UTC)),
        _alert(account, 3, 30007, "", "SM" + "0" * 32, datetime(2026, 3, 20, 9, tzinfo=UTC)),
        _alert(account, 4, 11200, broken, number_sid(6), datetime(2026, 1, 15, 9, tzinfo=UTC)),
    ]
    return FakeConfig(numbers, services, service_numbers, alerts)


def _service(
    account: str, n: int, name: str, inbound_url: str, *, on_number: bool
) -> dict[str, Any]:
    sid = service_sid(n)
    return {
        "account_sid": account,
        "sid": sid,
        "friendly_name": name,
        "inbound_request_url": inbound_url,
        "inbound_method": "POST",
        "fallback_url": None,
        "fallback_method": "POST",
        "status_callback": f"{APP}/status",
        "use_inbound_webhook_on_number": on_number,
        "date_created": "2026-01-01T00:00:00Z",
        "date_updated": "2026-01-01T00:00:00Z",
        "url": f"https://messaging.twilio.com/v1/Services/{sid}",
    }


def _service_number(account: str, service: int, number: dict[str, Any]) -> dict[str, Any]:
    sid = service_sid(service)
    return {
        "account_sid": account,
        "service_sid": sid,
        "sid": number["sid"],
        "phone_number": number["phone_number"],
        "country_code": "US",
        "capabilities": ["SMS", "MMS", "Voice"],
        "date_created": "2026-01-01T00:00:00Z",
        "date_updated": "2026-01-01T00:00:00Z",
        "url": f"https://messaging.twilio.com/v1/Services/{sid}/PhoneNumbers/{number['sid']}",
    }


def _alert(
    account: str, n: int, code: int, request_url: str, resource: str, at: datetime
) -> dict[str, Any]:
    sid = alert_sid(n)
    return {
        "account_sid": account,
        "sid": sid,
        "error_code": str(code),
        "log_level": "error" if code == 11200 else "warning",
        "alert_text": f"Msg=HTTP+retrieval+failure&sourceComponent=14100&url={request_url}",
        "request_url": request_url,
        "request_method": "POST",
        "resource_sid": resource,
        "service_sid": None,
        "api_version": None,
        "date_created": iso(at),
        "date_generated": iso(at),
        "date_updated": iso(at),
        "url": f"https://monitor.twilio.com/v1/Alerts/{sid}",
    }
