"""Requests to routes: authentication, access to an account's resources, and the route
(method and path pattern) that answers."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.fakes.twilio.wire import Answer, not_found, unauthenticated

if TYPE_CHECKING:
    from tests.fakes.twilio.server import FakeTwilio


@dataclass(frozen=True)
class Request:
    """An authenticated request: ``principal`` is the account its credentials belong to,
    ``params`` the path segments its route named (``{account}`` -> ``params["account"]``)."""

    method: str
    path: str
    query: dict[str, str]
    body: bytes
    principal: str
    params: dict[str, str]


#: Answers a request, or None when what it names is not there (404).
Handler = Callable[["FakeTwilio", Request], "Answer | None"]


@dataclass(frozen=True)
class Route:
    """A method and a path pattern (``/2010-04-01/Accounts/{account}/Messages.json``)."""

    method: str
    path: str
    handle: Handler

    def match(self, method: str, parts: Sequence[str]) -> dict[str, str] | None:
        """The named segments when the request fits this route, else None."""
        pattern = self.path.strip("/").split("/")
        if method != self.method or len(pattern) != len(parts):
            return None
        params = {}
        for wanted, given in zip(pattern, parts, strict=True):
            if wanted.startswith("{") and wanted.endswith("}"):
                params[wanted[1:-1]] = given
            elif wanted != given:
                return None
        return params


def dispatch(
    fake: FakeTwilio,
    routes: Sequence[Route],
    method: str,
    path: str,
    query: dict[str, str],
    body: bytes,
    headers: Any,
) -> Answer:
    """The answer to a request: 401 without valid credentials, 404 for an unknown account
    (401 for one the credentials may not use) or a path no route answers."""
    principal = fake.principal(headers)
    if principal is None:
        return unauthenticated()
    parts = path.strip("/").split("/")
    if len(parts) >= 4 and parts[:2] == ["2010-04-01", "Accounts"]:
        account = parts[2]
        if account != fake.account_sid and account not in fake.subaccounts:
            return not_found()
        if not fake.allowed(principal, account):
            return unauthenticated()
    for route in routes:
        params = route.match(method, parts)
        if params is None:
            continue
        answer = route.handle(fake, Request(method, path, query, body, principal, params))
        if answer is not None:
            return answer
    return not_found()
