"""The HTTP side: a threaded server on 127.0.0.1 whose handler reads each request, asks the
fake for the answer (or injects a fault) and writes it as api.twilio.com would."""

from __future__ import annotations

import contextlib
import email.utils
import json
import select
import socket
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.twilio.wire import Answer, Raw, twilio_error

if TYPE_CHECKING:
    from tests.fakes.twilio.server import FakeTwilio


@dataclass
class LoggedRequest:
    """One request the server saw (``at`` on the server's clock)."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None
    at: float
    create: str | None = None


class ThreadedServer(ThreadingHTTPServer):
    """The HTTP server, one thread per connection, serving one FakeTwilio."""

    daemon_threads = True
    allow_reuse_address = True
    fake: FakeTwilio


class TwilioRequestHandler(BaseHTTPRequestHandler):
    """Answers one connection's requests (HTTP/1.1 keep-alive) with Twilio's headers."""

    protocol_version = "HTTP/1.1"
    server: ThreadedServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def date_time_string(self, timestamp: float | None = None) -> str:
        """RFC 7231 date on the fake's clock: ``Wed, 08 Apr 2026 09:04:08 GMT``."""
        moment = self.server.fake.clock() if timestamp is None else timestamp
        return email.utils.formatdate(moment, usegmt=True)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        fake.request_began()
        self._began = time.monotonic()
        self._sent_bytes = 0
        self._wire_status: int | None = None
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
        entry = LoggedRequest(method, url.path, query, None, None, fake.clock())
        fake.record_request(entry)
        try:
            fault = fake.faults.pick(method, url.path) if fake.faults else None
            entry.fault = fault
            if fault is not None:
                self._fault(fault, entry)
                return
            answer = fake.route(method, url.path, query, body, self.headers)
            entry.create = answer.create.behaviour if answer.create else None
            self._answer(answer, entry)
        finally:
            fake.write_access(
                self.client_address[0],
                self.requestline,
                self._wire_status,
                self._sent_bytes,
                self.headers.get("User-Agent"),
            )
            fake.request_ended()

    def _answer(self, answer: Answer, entry: LoggedRequest) -> None:
        status: int | None = answer.status
        if answer.action == "drop":
            status, self._wire_status = None, 502  # what a proxy in front would log
            self._hang_up()
        elif answer.action == "slow" and self._client_gives_up(answer.wait):
            status, self._wire_status = None, 499  # nginx: the client closed the request
            if answer.create is not None:
                answer.create.client_gone = True
            self._hang_up()
        else:
            self._send(answer.status, answer.payload, answer.headers)
        entry.status = status
        if answer.create is not None:
            answer.create.status = status

    def _client_gives_up(self, seconds: float) -> bool:
        """Wait up to ``seconds``; True as soon as the client closes its connection."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                readable, _, _ = select.select([self.connection], [], [], min(left, 0.01))
                if readable:
                    if not self.connection.recv(1, socket.MSG_PEEK):
                        return True
                    time.sleep(min(left, 0.01))  # a pipelined request: still there
            except OSError:
                return True
        return False

    def _send(
        self,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        truncate: bool = False,
        raw: bytes | None = None,
    ) -> None:
        if isinstance(payload, Raw):
            raw = payload.data
        data = raw if raw is not None else json.dumps(payload).encode()
        extra = dict(headers or {})
        request_id = extra.pop("Twilio-Request-Id", None) or "RQ" + uuid.uuid4().hex
        self.send_response_only(status)
        self.send_header("Date", self.date_time_string())
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Concurrent-Requests", "1")
        self.send_header("Twilio-Request-Id", request_id)
        self.send_header("Twilio-Request-Duration", f"{time.monotonic() - self._began:.3f}")
        if status >= 400 and isinstance(payload, dict) and payload.get("code"):
            self.send_header("X-Twilio-Error-Code", str(payload["code"]))
        self.send_header("X-Home-Region", "us1")
        self.send_header("X-API-Domain", "api.twilio.com")
        self.send_header("X-Powered-By", "AT-5000")
        self.send_header("X-Shenanigans", "none")
        self.send_header("Strict-Transport-Security", "max-age=31536000")
        for key, value in extra.items():
            self.send_header(key, value)
        self.end_headers()
        self._wire_status = status
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._sent_bytes = len(data) // 2
            self._hang_up()
        else:
            self.wfile.write(data)
            self._sent_bytes = len(data)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _fault(self, kind: str, entry: LoggedRequest) -> None:
        fake = self.server.fake
        if kind == "drop":
            self._wire_status = 502
            self._hang_up()
            return
        if kind == "429":
            entry.status = 429
            self._send(
                429,
                twilio_error(20429, "Too Many Requests", 429),
                {"Retry-After": fake.faults.retry_after if fake.faults else "1"},
            )
        elif kind == "500":
            entry.status = 500
            self._send(500, twilio_error(20500, "Internal Server Error", 500))
        elif kind == "503":
            entry.status = 503
            self._send(503, None, raw=b"<html><body>Service Unavailable</body></html>")
        elif kind == "truncate":
            entry.status = 200
            answer = fake.route("GET", urlsplit(self.path).path, entry.query, b"", self.headers)
            self._send(answer.status, answer.payload, answer.headers, truncate=True)
        elif kind == "garbage":
            entry.status = 200
            self._send(200, None, raw=b'{"messages": [{"sid": "SM')
