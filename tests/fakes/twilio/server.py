"""FakeTwilio: the records it holds, its accounts, and the server that serves them."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA
from tests.fakes.twilio.access_log import combined_line
from tests.fakes.twilio.config_data import FakeConfig, seeded_config
from tests.fakes.twilio.create_plan import CreatePlan, CreateResult
from tests.fakes.twilio.credentials import (
    ACCOUNT_SID,
    API_KEY,
    API_SECRET,
    AUTH_TOKEN,
    SUBACCOUNT_SID,
    SUBACCOUNT_TOKEN,
)
from tests.fakes.twilio.faults import Faults
from tests.fakes.twilio.handler import LoggedRequest, ThreadedServer, TwilioRequestHandler
from tests.fakes.twilio.resources import ROUTES
from tests.fakes.twilio.routing import dispatch
from tests.fakes.twilio.store import MessageStore, normalize
from tests.fakes.twilio.wire import Answer


class FakeTwilio:
    """The fake Twilio API server; a context manager that starts and stops it.

    ``records`` are message records (any table ``coerce_messages`` accepts); accounts
    named in them that are not the main account become its subaccounts. ``clock`` (epoch
    seconds, e.g. a VirtualClock) stamps created records, ``Date`` headers and the access
    log; ``create_plan`` decides what create POSTs do; ``access_log`` is a file the server
    appends an nginx "combined" line to per request, times in ``access_log_tz``;
    ``config`` the numbers, services and alerts it serves (default: ``seeded_config``).
    """

    def __init__(
        self,
        records: pa.Table | pd.DataFrame | None = None,
        *,
        account_sid: str = ACCOUNT_SID,
        auth_token: str = AUTH_TOKEN,
        api_keys: Mapping[str, str] | None = None,
        subaccounts: Mapping[str, str] | None = None,
        latency: float = 0.0,
        faults: Faults | None = None,
        clock: Callable[[], float] = time.time,
        create_plan: CreatePlan | None = None,
        access_log: str | Path | None = None,
        access_log_tz: tzinfo = UTC,
        config: FakeConfig | None = None,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys if api_keys is not None else {API_KEY: API_SECRET})
        self.subaccounts = dict(
            subaccounts if subaccounts is not None else {SUBACCOUNT_SID: SUBACCOUNT_TOKEN}
        )
        self.latency = latency
        self.faults = faults
        self.clock = clock
        self.create_plan = create_plan if create_plan is not None else CreatePlan()
        self.access_log = None if access_log is None else Path(access_log)
        self.access_log_tz = access_log_tz
        self.config = config if config is not None else seeded_config(account_sid)
        self._access_file: Any = None
        self.requests: list[LoggedRequest] = []
        self.creates: list[CreateResult] = []
        self._busy = 0
        self._idle = threading.Condition()
        self._log_lock = threading.Lock()
        self.store = MessageStore()
        self._held: list[pa.Table] = []
        self._server: ThreadedServer | None = None
        self._thread: threading.Thread | None = None
        if records is not None:
            self.load(records)

    # -- data -----------------------------------------------------------------------------
    def load(self, records: pa.Table | pd.DataFrame) -> pa.Table:
        """Add records; return them as the server now holds them."""
        table = normalize(records)
        table = table.set_column(
            table.schema.get_field_index("account_sid"),
            "account_sid",
            pc.fill_null(table["account_sid"], self.account_sid),
        )
        for account in pc.unique(table["account_sid"]).to_pylist():
            if account != self.account_sid and account not in self.subaccounts:
                self.subaccounts[account] = "tok" + uuid.uuid4().hex
        self.store.load(table)
        self._held.append(table)
        return table

    def messages(self) -> pa.Table:
        """Every record the server holds, in the message schema (source null)."""
        if not self._held:
            return MESSAGE_SCHEMA.empty_table()
        return pa.concat_tables(self._held)

    def settle(self, *, delay: int = 1, status: str = "delivered") -> pa.Table:
        """Let every queued or accepted record go out, as Twilio does shortly after creating it.

        Sets ``date_sent`` (and ``date_updated``) to ``date_created`` plus ``delay`` seconds
        and the status, so that DateSent filters, and so ``analyzer export``, see the
        records created here. Call it while no request is in flight; returns the records.
        """
        table = self.messages()
        pending = pc.and_(
            pc.is_null(table["date_sent"]),
            pc.is_in(table["status"], pa.array(["queued", "accepted"])),
        )
        if not pc.any(pending).as_py():
            return table
        sent = pc.add(table["date_created"], pa.scalar(timedelta(seconds=delay)))
        for name, value in (
            ("date_sent", sent),
            ("date_updated", sent),
            ("status", pa.scalar(status)),
        ):
            column = pc.if_else(pending, value, table[name])
            table = table.set_column(table.schema.get_field_index(name), name, column)
        with self.store.lock:
            self.store = MessageStore()
            self._held = []
        return self.load(table)

    def in_range(self, start: datetime, end: datetime) -> pa.Table:
        """Records whose date_sent lies in [start, end] (inclusive)."""
        table = self.messages()
        sent = table["date_sent"]
        mask = pc.and_(
            pc.greater_equal(sent, pa.scalar(start, sent.type)),
            pc.less_equal(sent, pa.scalar(end, sent.type)),
        )
        return table.filter(pc.fill_null(mask, False))

    # -- server ---------------------------------------------------------------------------
    @property
    def port(self) -> int:
        assert self._server is not None, "server not started"
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """What to put in ``client.api.base_url``."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTwilio:
        """Start serving in a background thread."""
        if self.access_log is not None and self._access_file is None:
            self._access_file = self.access_log.open("a", encoding="utf-8")
        self._server = ThreadedServer(("127.0.0.1", 0), TwilioRequestHandler)
        self._server.fake = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.close_access_log()

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- requests in flight and their logs ------------------------------------------------
    def request_began(self) -> None:
        """A handler started on a request (see ``wait_idle``)."""
        with self._idle:
            self._busy += 1

    def request_ended(self) -> None:
        """A handler is done with its request."""
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled (e.g. a "slow" answer has seen the client
        give up and logged it); True if that happened within ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def record_request(self, entry: LoggedRequest) -> None:
        """Add a request to ``requests``."""
        with self._log_lock:
            self.requests.append(entry)

    def record_create(self, result: CreateResult) -> None:
        """Add a create POST to ``creates``."""
        with self._log_lock:
            self.creates.append(result)

    def list_requests(self, path_contains: str = "/Messages.json") -> list[LoggedRequest]:
        """Requests seen whose path contains ``path_contains``."""
        with self._log_lock:
            return [r for r in self.requests if path_contains in r.path]

    def close_access_log(self) -> None:
        """Stop writing the access log (requests after this are not logged)."""
        with self._log_lock:
            if self._access_file is not None:
                self._access_file.close()
                self._access_file = None

    def write_access(
        self,
        remote: str,
        request_line: str,
        status: int | None,
        sent_bytes: int,
        user_agent: str | None,
    ) -> None:
        """One nginx "combined" line, stamped when the request ends, as nginx does."""
        if self._access_file is None:
            return
        moment = datetime.fromtimestamp(self.clock(), self.access_log_tz)
        line = combined_line(remote, request_line, status, sent_bytes, user_agent, moment)
        with self._log_lock:
            if self._access_file is not None:
                self._access_file.write(line)
                self._access_file.flush()

    # -- routing --------------------------------------------------------------------------
    def principal(self, headers: Any) -> str | None:
        """The account the Basic credentials belong to, or None."""
        value = headers.get("Authorization") or ""
        if not value.startswith("Basic "):
            return None
        try:
            user, _, secret = base64.b64decode(value[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        if user == self.account_sid and secret == self.auth_token:
            return self.account_sid
        if self.subaccounts.get(user) == secret and user in self.subaccounts:
            return user
        if self.api_keys.get(user) == secret and user in self.api_keys:
            return self.account_sid
        return None

    def allowed(self, principal: str, account: str) -> bool:
        """Whether the principal may use the account's resources (its own, or a subaccount's
        when it is the main account)."""
        return account == principal or (
            principal == self.account_sid and account in self.subaccounts
        )

    def route(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: Any
    ) -> Answer:
        """The answer to a request (see ``routing.dispatch`` and ``resources``)."""
        return dispatch(self, ROUTES, method, path, query, body, headers)
