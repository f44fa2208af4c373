"""What goes on the wire: Twilio's date format and error bodies, and a handler's answer."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.twilio.create_plan import CreateResult

#: The v2010 API's path prefix.
API = "/2010-04-01"


def rfc2822(epoch_seconds: int | None) -> str | None:
    """Format epoch seconds like Twilio's v2010 API: ``Fri, 24 May 2019 17:44:46 +0000``."""
    if epoch_seconds is None:
        return None
    return email.utils.formatdate(epoch_seconds, usegmt=False).replace("-0000", "+0000")


def twilio_error(code: int, message: str, status: int) -> dict[str, Any]:
    """An error body as Twilio writes it."""
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass(frozen=True)
class Raw:
    """A response body that is already serialised."""

    data: bytes


@dataclass
class Answer:
    """What to answer a request; ``action`` "slow" waits first, "drop" hangs up instead."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    wait: float = 0.0
    create: CreateResult | None = None


def unauthenticated() -> Answer:
    """Twilio's answer to missing or wrong credentials."""
    return Answer(401, twilio_error(20003, "Authenticate", 401))


def not_found() -> Answer:
    """Twilio's answer for a resource that is not there."""
    return Answer(404, twilio_error(20404, "The requested resource was not found", 404))
