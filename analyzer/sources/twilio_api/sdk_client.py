"""An SDK client whose every request, on any Twilio domain, goes through a Fetcher: to the
API base URL, with its retries, its errors and its secret hygiene."""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from twilio.http import HttpClient
from twilio.http.response import Response
from twilio.rest import Client

from analyzer.sources.twilio_api.credentials import DEFAULT_BASE_URL
from analyzer.sources.twilio_api.fetcher import Fetcher


def route_to_base(url: str, base_url: str) -> str:
    """``url`` on ``base_url`` when it names a Twilio host (api, messaging, monitor, ...)
    and the base URL is not Twilio's own; other URLs are left alone."""
    if base_url.rstrip("/") == DEFAULT_BASE_URL:
        return url
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if host != "twilio.com" and not host.endswith(".twilio.com"):
        return url
    return base_url.rstrip("/") + urlunsplit(("", "", parts.path, parts.query, ""))


def _checked_json(body: bytes) -> bytes:
    """``body`` when it is JSON (ValueError otherwise, so the Fetcher retries it)."""
    json.loads(body)
    return body


class FetcherHttpClient(HttpClient):
    """The SDK's HTTP client for GETs: each request goes through ``fetcher.get`` on the
    base URL, so it is retried, and a refusal raises the export's own errors."""

    def __init__(self, fetcher: Fetcher) -> None:
        super().__init__(logging.getLogger("twilio.http_client"), False, fetcher.policy.timeout)
        self.fetcher = fetcher
        #: Pages read so far.
        self.pages = 0

    def request(
        self,
        method: str,
        url: str,
        params: dict[str, object] | None = None,
        data: Any = None,
        headers: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        timeout: float | None = None,
        allow_redirects: bool = False,
    ) -> Response:
        """GET ``url`` (moved to the base URL) and answer the body as a 200 response."""
        if method.upper() != "GET":
            raise ValueError(f"only GET requests go through the configuration export, not {method}")
        target = route_to_base(url, self.fetcher.base_url)
        body: bytes = self.fetcher.get(target, params, _checked_json)
        self.pages += 1
        return Response(200, body.decode("utf-8"))


def routed_client(http_client: FetcherHttpClient) -> Client:
    """An SDK client whose requests (every domain, next pages included) go through
    ``http_client`` and so its Fetcher."""
    creds = http_client.fetcher.credentials
    return Client(
        creds.username, creds.secret, creds.account_sid, environment={}, http_client=http_client
    )
