"""GETting JSON from the API through the SDK's HTTP client, with bounded retries of
throttling, server errors and broken transfers."""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import pyarrow as pa
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client

from analyzer.errors import UserError
from analyzer.sources.twilio_api.credentials import Credentials, scrub
from analyzer.sources.twilio_api.errors import AuthError, TwilioAPIError

# The package's name: what the retry lines have always been logged under (JSON-lines
# logs show it).
log = logging.getLogger("analyzer.sources.twilio_api")


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for one page: exponential with full jitter, bounded in total time."""

    base: float = 0.5
    cap: float = 30.0
    max_retry_time: float = 120.0
    timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        jitter = random.uniform(0.0, min(self.cap, self.base * 2 ** (attempt - 1)))
        return max(jitter, retry_after or 0.0)


class Stopped(Exception):
    """The export is stopping (another slice failed): give up this one."""


@dataclass
class Counters:
    """Totals shared by the worker threads of one export."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    fetched: int = 0
    pages: int = 0
    retries: int = 0
    #: The highest retry number logged since the last good page: one line per backoff.
    logged_retry: int = 0


@dataclass
class _Failure:
    """Why one attempt failed, and how long the server asked us to wait."""

    problem: str
    retry_after: float | None = None


@dataclass
class _Retrying:
    """The failures of one GET so far."""

    attempt: int = 0
    first_failure: float = 0.0


class Fetcher:
    """GETs JSON through the SDK's ``client.request`` with retries; one SDK client per thread."""

    def __init__(
        self,
        credentials: Credentials,
        base_url: str,
        policy: RetryPolicy,
        counters: Counters,
        stop: threading.Event,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.counters = counters
        self.stop = stop
        self._local = threading.local()

    def clean(self, text: str) -> str:
        """``text`` without the credentials' secret (nor the environment's)."""
        return scrub(text, [self.credentials.secret])

    def client(self) -> Client:
        """This thread's SDK client, pointed at the base URL."""
        client = getattr(self._local, "client", None)
        if client is None:
            creds = self.credentials
            client = Client(
                creds.username,
                creds.secret,
                creds.account_sid,
                environment={},
                http_client=TwilioHttpClient(timeout=self.policy.timeout),
            )
            client.api.base_url = self.base_url
            self._local.client = client
        return client

    def get(self, url: str, params: dict[str, object] | None, parse: Callable[[bytes], Any]) -> Any:
        """GET ``url`` and return ``parse(body)``, retrying transient failures."""
        retrying = _Retrying()
        while True:
            if self.stop.is_set():
                raise Stopped
            outcome = self._attempt(url, params, parse)
            if not isinstance(outcome, _Failure):
                if self.counters.logged_retry:
                    with self.counters.lock:
                        self.counters.logged_retry = 0
                return outcome
            self._back_off(url, outcome, retrying)

    def _attempt(
        self, url: str, params: dict[str, object] | None, parse: Callable[[bytes], Any]
    ) -> Any:
        """One GET: the parsed page, or the _Failure to retry; raises what is not worth it."""
        try:
            response = self.client().request("GET", url, params=params)
        except requests.ConnectionError as exc:
            return _Failure(f"no connection ({type(exc).__name__})")
        except requests.RequestException as exc:
            return _Failure(f"{type(exc).__name__}")
        status = response.status_code
        if status == 200:
            try:
                return parse(response.text.encode("utf-8"))
            except (ValueError, pa.ArrowInvalid) as exc:
                return _Failure(f"unreadable JSON ({type(exc).__name__})")
        if status == 429 or status >= 500:
            return _Failure(
                f"HTTP {status}{_twilio_code(response.text)}", _retry_after(response.headers)
            )
        raise self._refusal(url, response)

    def _refusal(self, url: str, response: Response) -> UserError:
        """The error for an answer that retrying would not change."""
        status, code = response.status_code, _twilio_code(response.text)
        if status in (401, 403):
            return AuthError(
                f"Twilio rejected the credentials for {self.credentials.describe()}"
                f" (HTTP {status}{code})"
            )
        if status == 404:
            return UserError(
                self.clean(
                    f"Twilio answered 404 for {_path(url)}{code}:"
                    " check the account SID and the API base URL"
                )
            )
        return TwilioAPIError(
            self.clean(f"Twilio answered HTTP {status}{code} for {_path(url)}")
        )

    def _back_off(self, url: str, failure: _Failure, retrying: _Retrying) -> None:
        """Wait before the next attempt (logging each new backoff step once), or raise
        TwilioAPIError when that would go past the policy's total retry time."""
        policy = self.policy
        now = time.monotonic()
        retrying.attempt += 1
        attempt = retrying.attempt
        if attempt == 1:
            retrying.first_failure = now
        since = now - retrying.first_failure
        pause = policy.delay(attempt, failure.retry_after)
        if now + pause - retrying.first_failure > policy.max_retry_time:
            raise TwilioAPIError(
                self.clean(
                    f"Twilio API at {self.base_url} kept failing for {_path(url)}:"
                    f" {attempt} attempts over {since:.0f} s, last: {failure.problem}"
                )
            )
        with self.counters.lock:
            self.counters.retries += 1
            announce = attempt > self.counters.logged_retry
            if announce:
                self.counters.logged_retry = attempt
        if announce:
            log.info(
                "%s",
                self.clean(
                    f"Twilio API at {self.base_url}: {failure.problem} for {_path(url)}; retry"
                    f" {attempt} in {pause:.1f} s ({since:.0f} s since the"
                    f" first failure, giving up after {policy.max_retry_time:.0f} s)"
                ),
            )
        if self.stop.wait(pause):
            raise Stopped


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def _twilio_code(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return ""
    if isinstance(payload, dict) and payload.get("code"):
        return f", Twilio error {payload['code']}"
    return ""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())
