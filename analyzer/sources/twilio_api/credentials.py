"""Credentials for the REST API, the API base URL, and keeping secrets out of messages."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import quote, urlsplit

from analyzer.errors import UserError
from analyzer.redact import scrub_secrets, secret_values

DEFAULT_BASE_URL = "https://api.twilio.com"
_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Credentials:
    """Credentials for the REST API: the account SID and either its auth token or an API key."""

    account_sid: str
    secret: str = field(repr=False)
    api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, or TWILIO_API_KEY + TWILIO_API_SECRET."""

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        account, key = get("TWILIO_ACCOUNT_SID"), get("TWILIO_API_KEY")
        if key:
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_API_SECRET"]
        elif get("TWILIO_API_SECRET"):
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_API_KEY"]
        else:
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
        missing = [name for name in wanted if not get(name)]
        if missing:
            raise UserError(
                "missing Twilio credentials: set "
                + " and ".join(missing)
                + " (TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY"
                " and TWILIO_API_SECRET)"
            )
        if not _SID.match(account):
            raise UserError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
        secret = get("TWILIO_API_SECRET") if key else get("TWILIO_AUTH_TOKEN")
        return cls(account_sid=account, secret=secret, api_key=key or None)

    @property
    def username(self) -> str:
        """The HTTP Basic user: the API key SID, or the account SID."""
        return self.api_key or self.account_sid

    def describe(self) -> str:
        """Who these credentials are, without the secret."""
        if self.api_key:
            return f"API key {self.api_key} for account {self.account_sid}"
        return f"account {self.account_sid}"

    def __repr__(self) -> str:
        key = f", api_key={self.api_key!r}" if self.api_key else ""
        return f"Credentials(account_sid={self.account_sid!r}{key}, secret=***)"

    __str__ = __repr__


def check_api_base_url(url: str, secrets: Iterable[str] = ()) -> str:
    """Return ``url`` without its trailing slash; UserError unless it is http(s) with a host.

    Checked before any request, so a typo costs no retries. The error never shows
    ``secrets`` (nor the environment's credentials), even when the URL embeds them.
    """
    text = str(url)
    problem = _base_url_problem(text)
    if problem is not None:
        raise UserError(
            f"bad Twilio API base URL {scrub(text, secrets)!r} "
            f"(--api-base-url or TWILIO_API_BASE_URL): {problem}"
        )
    return text.rstrip("/")


def _base_url_problem(text: str) -> str | None:
    """What is wrong with a base URL, or None."""
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return "its host or port cannot be read (the port must be a number from 1 to 65535)"
    if parts.scheme.lower() not in ("http", "https"):
        return "it must start with https:// (or http:// for a test double)"
    if not parts.hostname:
        return "it has no host"
    if port == 0:
        return "the port must be a number from 1 to 65535"
    if any(c.isspace() for c in text):
        return "it contains white space"
    if parts.username is not None or parts.password is not None:
        return (
            "it must not hold credentials (they come from TWILIO_ACCOUNT_SID with "
            "TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY and TWILIO_API_SECRET)"
        )
    if parts.query or parts.fragment:
        return "it must not have a query (?) or a fragment (#)"
    return None


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """:func:`analyzer.redact.scrub_secrets` with ``secrets`` besides the environment's,
    each also in its URL-encoded forms (a secret pasted into a URL path).
    """
    values: set[str] = set()
    for value in [*secret_values(), *secrets]:
        if value:
            values |= {value, quote(value, safe=""), quote(value)}
    return scrub_secrets(text, sorted(values, key=len, reverse=True))
