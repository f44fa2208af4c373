"""A fake Twilio REST API (v2010 Messages and Accounts) on a real HTTP server on 127.0.0.1.

It speaks HTTP/1.1 with keep-alive like api.twilio.com, so the official SDK talks to it
unchanged once ``client.api.base_url`` points here. Faults (429, 500, 503, dropped
connections, truncated bodies, garbage JSON) and per-page latency are injected per test.

    with FakeTwilio(generate_messages(1000, start, end)) as server:
        client = Client(server.account_sid, server.auth_token, environment={})
        client.api.base_url = server.base_url
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import email.utils
import json
import random
import socket
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from analyzer.schema import MESSAGE_SCHEMA, coerce_messages

ACCOUNT_SID = "AC" + "a1" * 16
AUTH_TOKEN = "tok" + "5e" * 14 + "cr"
API_KEY = "SK" + "b2" * 16
API_SECRET = "sec" + "7f" * 14 + "et"
SUBACCOUNT_SID = "AC" + "c3" * 16
SUBACCOUNT_TOKEN = "sub" + "9d" * 14 + "tk"

FAULT_KINDS = ("429", "500", "503", "drop", "truncate", "garbage")
_API = "/2010-04-01"
_EPOCH = np.datetime64(0, "s")


def rfc2822(epoch_seconds: int | None) -> str | None:
    """Format epoch seconds like Twilio's v2010 API: ``Fri, 24 May 2019 17:44:46 +0000``."""
    if epoch_seconds is None:
        return None
    return email.utils.formatdate(epoch_seconds, usegmt=False).replace("-0000", "+0000")


def _error(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class Faults:
    """What goes wrong, counted over the requests matching ``path_contains``.

    ``schedule`` maps 1-based request numbers to a fault kind; ``rate`` picks a random
    fault from ``kinds`` with that probability (seeded, reproducible).
    """

    schedule: dict[int, str] = field(default_factory=dict)
    rate: float = 0.0
    kinds: tuple[str, ...] = FAULT_KINDS
    seed: int = 0
    retry_after: str = "1"
    path_contains: str = "/Messages.json"
    methods: tuple[str, ...] = ("GET",)

    def __post_init__(self) -> None:
        bad = [k for k in [*self.schedule.values(), *self.kinds] if k not in FAULT_KINDS]
        if bad:
            raise ValueError(f"unknown fault kind(s): {bad}")
        self._rng = random.Random(self.seed)
        self._count = 0
        self._lock = threading.Lock()

    def pick(self, method: str, path: str) -> str | None:
        """Count the request and return the fault to inject, if any."""
        if method not in self.methods or self.path_contains not in path:
            return None
        with self._lock:
            self._count += 1
            if self._count in self.schedule:
                return self.schedule[self._count]
            if self.rate and self._rng.random() < self.rate:
                return self._rng.choice(self.kinds)
        return None


@dataclass
class LoggedRequest:
    """One request the server saw."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None
    at: float


@dataclass(frozen=True)
class _Raw:
    """A response body that is already serialised."""

    data: bytes


class _Store:
    """Message records held as pre-formatted columns, indexed per account by date_sent."""

    FIELDS = (
        "sid",
        "account_sid",
        "messaging_service_sid",
        "from",
        "to",
        "body",
        "status",
        "direction",
        "error_code",
        "error_message",
        "num_segments",
        "num_media",
        "price",
        "price_unit",
        "api_version",
        "date_created",
        "date_sent",
        "date_updated",
    )

    def __init__(self) -> None:
        self.cols: dict[str, np.ndarray] = {f: np.empty(0, dtype=object) for f in self.FIELDS}
        self.json = np.empty(0, dtype=object)  # each record serialised once, up front
        self.sent = np.empty(0, dtype=np.int64)  # epoch seconds, INT64_MIN when null
        self.index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.lock = threading.Lock()

    def load(self, table: pa.Table) -> None:
        cols = _format_columns(table)
        sent = _epoch_seconds(table["date_sent"])
        texts = np.empty(table.num_rows, dtype=object)
        texts[:] = [json.dumps(r) for r in self._render(cols, range(table.num_rows))]
        with self.lock:
            for name in self.FIELDS:
                self.cols[name] = np.concatenate([self.cols[name], cols[name]])
            self.json = np.concatenate([self.json, texts])
            self.sent = np.concatenate([self.sent, sent])
            self._reindex()

    def _reindex(self) -> None:
        # Newest first by date_sent, nulls (never sent) first, ties by sid descending.
        sids = self.cols["sid"].astype(str)
        order = np.lexsort((sids, self.sent))[::-1]
        nulls = order[self.sent[order] == np.iinfo(np.int64).min]
        order = np.concatenate([nulls, order[: len(order) - len(nulls)]])
        accounts = self.cols["account_sid"][order].astype(str)
        self.index = {}
        for account in np.unique(accounts):
            rows = order[accounts == account]
            sent = self.sent[rows]
            null = sent == np.iinfo(np.int64).min
            self.index[str(account)] = (rows, np.where(null, sent, -sent))

    def select(
        self,
        account: str,
        after: int | None,
        before: int | None,
        to: str | None,
        from_: str | None,
    ) -> np.ndarray:
        """Rows of one account in list order, filtered (bounds are inclusive epoch seconds)."""
        with self.lock:
            rows, keys = self.index.get(account, (np.empty(0, np.int64), np.empty(0, np.int64)))
            cols = self.cols
        lo, hi = 0, len(rows)
        if after is not None or before is not None:
            # keys (-date_sent) ascend; never-sent records lead with INT64_MIN and no
            # DateSent filter matches them
            lo = int(np.searchsorted(keys, np.iinfo(np.int64).min, side="right"))
            if before is not None:
                lo = max(lo, bisect.bisect_left(keys, -before, lo, hi))
            if after is not None:
                hi = min(hi, bisect.bisect_right(keys, -after, lo, hi))
        picked = rows[lo:hi]
        if to is not None:
            picked = picked[cols["to"][picked] == to]
        if from_ is not None:
            picked = picked[cols["from"][picked] == from_]
        return picked

    def records(self, rows: Iterable[int]) -> list[dict[str, Any]]:
        """The JSON objects of some rows."""
        return self._render(self.cols, rows)

    @staticmethod
    def _render(cols: Mapping[str, np.ndarray], rows: Iterable[int]) -> list[dict[str, Any]]:
        out = []
        for i in rows:
            rec = {name: cols[name][i] for name in _Store.FIELDS}
            base = f"{_API}/Accounts/{rec['account_sid']}/Messages/{rec['sid']}"
            rec["uri"] = f"{base}.json"
            rec["subresource_uris"] = {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            }
            out.append(rec)
        return out

    def page_json(self, rows: np.ndarray, rest: Mapping[str, Any]) -> bytes:
        """A list page: the rows' pre-serialised records plus the paging keys."""
        with self.lock:
            texts = self.json[rows]
        tail = json.dumps(dict(rest))[1:]
        return ('{"messages": [' + ", ".join(texts) + "], " + tail).encode()

    def find(self, account: str, sid: str) -> int | None:
        hits = np.flatnonzero(self.cols["sid"] == sid)
        for i in hits:
            if self.cols["account_sid"][i] == account:
                return int(i)
        return None


def _epoch_seconds(column: pa.ChunkedArray) -> np.ndarray:
    seconds = pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
    return np.asarray(pc.fill_null(seconds, np.iinfo(np.int64).min).to_numpy(), dtype=np.int64)


def _format_columns(table: pa.Table) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in _Store.FIELDS:
        col = table[name]
        if name.startswith("date_"):
            secs = pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
            values = [rfc2822(v) for v in secs.to_pylist()]
        elif name in ("num_segments", "num_media"):
            values = [None if v is None else str(v) for v in col.to_pylist()]
        elif name == "price":
            values = [None if v is None else f"{v:.5f}" for v in col.to_pylist()]
        else:
            values = col.to_pylist()
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        out[name] = arr
    return out


def normalize(data: pa.Table | pd.DataFrame) -> pa.Table:
    """Return records as the server holds them: whole seconds, prices to 5 decimals."""
    table = coerce_messages(data, fill_missing=True)
    arrays = []
    for f in MESSAGE_SCHEMA:
        col = table[f.name]
        if f.name.startswith("date_"):
            col = pc.cast(pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False), f.type)
        elif f.name == "price":
            col = pa.chunked_array(
                [
                    pa.array(
                        [None if v is None else float(f"{v:.5f}") for v in col.to_pylist()],
                        pa.float64(),
                    )
                ]
            )
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=MESSAGE_SCHEMA)


def generate_messages(
    n: int,
    start: datetime,
    end: datetime,
    *,
    account_sids: Iterable[str] = (ACCOUNT_SID,),
    seed: int = 0,
    unsent_fraction: float = 0.02,
    max_send_delay: int = 30,
) -> pa.Table:
    """Make ``n`` plausible message records created in [start, end), message schema, no source.

    date_sent is date_created plus 0..max_send_delay s, null for a fraction (queued/failed).
    """
    rng = np.random.default_rng(seed)
    accounts = np.array(list(account_sids), dtype=object)
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    created = rng.integers(t0, t1, n)
    sent = created + rng.integers(0, max_send_delay + 1, n)
    unsent = rng.random(n) < unsent_fraction
    updated = np.where(unsent, created, sent) + rng.integers(0, 10, n)
    hexes = np.frombuffer(rng.bytes(16 * n).hex().encode(), dtype="S32").astype(str)
    sids = np.char.add(np.where(rng.random(n) < 0.05, "MM", "SM"), hexes).astype(object)
    statuses = rng.choice(
        np.array(["delivered", "sent", "undelivered", "received"], dtype=object),
        n,
        p=[0.8, 0.1, 0.05, 0.05],
    )
    statuses = np.where(
        unsent, rng.choice(np.array(["queued", "failed"], dtype=object), n), statuses
    )
    direction = np.where(statuses == "received", "inbound", "outbound-api").astype(object)
    error = np.where(statuses == "undelivered", 30003, np.where(statuses == "failed", 30007, 0))
    segments = rng.integers(1, 4, n)
    price_text = np.array(["-0.00790", "-0.01580", "-0.02370"], dtype=object)[segments - 1]
    prices = pa.array(price_text.tolist(), pa.string()).cast(pa.float64())
    prices = pc.if_else(pa.array(unsent), pa.scalar(None, pa.float64()), prices)
    numbers = np.array(
        [f"+1555{k:07d}" for k in rng.integers(0, 10_000_000, max(n // 4, 1))], dtype=object
    )
    ours = np.array(["+15005550006", "+15005550007"], dtype=object)
    to = rng.choice(numbers, n)
    frm = rng.choice(ours, n)
    inbound = direction == "inbound"
    to, frm = np.where(inbound, frm, to), np.where(inbound, to, frm)
    bodies = np.array(
        [f"Your code is {k:06d}" for k in rng.integers(0, 1_000_000, 50)]
        + ["Hello! 👍", 'Line one\nline "two", comma', "Ünïcödé ✓"],
        dtype=object,
    )

    def ts(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
        arr = pa.array(values.astype("datetime64[s]"), pa.timestamp("s"))
        if null is not None:
            arr = pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)
        return arr.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))

    table = pa.table(
        {
            "sid": pa.array(sids, pa.string()),
            "account_sid": pa.array(rng.choice(accounts, n), pa.string()),
            "messaging_service_sid": pc.if_else(
                pa.array(rng.random(n) < 0.7), "MG" + "d4" * 16, pa.scalar(None, pa.string())
            ),
            "from": pa.array(frm, pa.string()),
            "to": pa.array(to, pa.string()),
            "body": pa.array(rng.choice(bodies, n), pa.string()),
            "status": pa.array(statuses, pa.string()),
            "direction": pa.array(direction, pa.string()),
            "error_code": pc.if_else(
                pa.array(error == 0), pa.scalar(None, pa.int64()), pa.array(error, pa.int64())
            ),
            "error_message": pa.array([None] * n, pa.string()),
            "num_segments": pa.array(segments, pa.int64()),
            "num_media": pa.array(
                np.where(np.char.startswith(sids.astype(str), "MM"), 1, 0), pa.int64()
            ),
            "price": prices,
            "price_unit": pa.array(["USD"] * n, pa.string()),
            "api_version": pa.array(["2010-04-01"] * n, pa.string()),
            "date_created": ts(created),
            "date_sent": ts(sent, unsent),
            "date_updated": ts(updated),
            "source": pa.array([None] * n, pa.string()),
        },
        schema=MESSAGE_SCHEMA,
    )
    return table


def _parse_bound(value: str, *, upper: bool) -> int:
    """Epoch seconds of a DateSent bound; a date alone covers its whole day."""
    text = value.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
        if upper:
            moment += timedelta(days=1, seconds=-1)
        return int(moment.timestamp())
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(text)  # raises ValueError/TypeError
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs stall every keep-alive response by ~40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        body = b""
        if method == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
        entry = LoggedRequest(method, url.path, query, None, None, time.time())
        with fake._log_lock:
            fake.requests.append(entry)
        fault = fake.faults.pick(method, url.path) if fake.faults else None
        entry.fault = fault
        if fault is not None:
            self._fault(fault, entry)
            return
        status, payload, headers = fake._route(method, url.path, query, body, self.headers)
        entry.status = status
        self._send(status, payload, headers)

    def _send(
        self,
        status: int,
        payload: Any,
        headers: Mapping[str, str] | None = None,
        *,
        truncate: bool = False,
        raw: bytes | None = None,
    ) -> None:
        if isinstance(payload, _Raw):
            raw = payload.data
        data = raw if raw is not None else json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Twilio-Request-Id", "RQ" + uuid.uuid4().hex)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self._hang_up()
        else:
            self.wfile.write(data)

    def _hang_up(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _fault(self, kind: str, entry: LoggedRequest) -> None:
        fake = self.server.fake
        if kind == "drop":
            self._hang_up()
            return
        if kind == "429":
            entry.status = 429
            self._send(
                429,
                _error(20429, "Too Many Requests", 429),
                {"Retry-After": fake.faults.retry_after if fake.faults else "1"},
            )
        elif kind == "500":
            entry.status = 500
            self._send(500, _error(20500, "Internal Server Error", 500))
        elif kind == "503":
            entry.status = 503
            self._send(503, None, raw=b"<html><body>Service Unavailable</body></html>")
        elif kind == "truncate":
            entry.status = 200
            status, payload, headers = fake._route(
                "GET", urlsplit(self.path).path, entry.query, b"", self.headers
            )
            self._send(status, payload, headers, truncate=True)
        elif kind == "garbage":
            entry.status = 200
            self._send(200, None, raw=b'{"messages": [{"sid": "SM')


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeTwilio


class FakeTwilio:
    """The fake Twilio API server; a context manager that starts and stops it.

    ``records`` are message records (any table ``coerce_messages`` accepts); accounts
    named in them that are not the main account become its subaccounts.
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
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys if api_keys is not None else {API_KEY: API_SECRET})
        self.subaccounts = dict(
            subaccounts if subaccounts is not None else {SUBACCOUNT_SID: SUBACCOUNT_TOKEN}
        )
        self.latency = latency
        self.faults = faults
        self.requests: list[LoggedRequest] = []
        self._log_lock = threading.Lock()
        self._store = _Store()
        self._held: list[pa.Table] = []
        self._server: _Server | None = None
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
        self._store.load(table)
        self._held.append(table)
        return table

    def messages(self) -> pa.Table:
        """Every record the server holds, in the message schema (source null)."""
        if not self._held:
            return MESSAGE_SCHEMA.empty_table()
        return pa.concat_tables(self._held)

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
        self._server = _Server(("127.0.0.1", 0), _Handler)
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

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def list_requests(self, path_contains: str = "/Messages.json") -> list[LoggedRequest]:
        """Requests seen whose path contains ``path_contains``."""
        with self._log_lock:
            return [r for r in self.requests if path_contains in r.path]

    # -- routing --------------------------------------------------------------------------
    def _principal(self, headers: Any) -> str | None:
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

    def _allowed(self, principal: str, account: str) -> bool:
        return account == principal or (
            principal == self.account_sid and account in self.subaccounts
        )

    def _route(
        self, method: str, path: str, query: dict[str, str], body: bytes, headers: Any
    ) -> tuple[int, Any, dict[str, str]]:
        principal = self._principal(headers)
        if principal is None:
            return 401, _error(20003, "Authenticate", 401), {}
        parts = path.strip("/").split("/")
        if parts == ["2010-04-01", "Accounts.json"] and method == "GET":
            return self._accounts(principal, query)
        if len(parts) >= 4 and parts[:2] == ["2010-04-01", "Accounts"]:
            account = parts[2]
            if account != self.account_sid and account not in self.subaccounts:
                return 404, _error(20404, "The requested resource was not found", 404), {}
            if not self._allowed(principal, account):
                return 401, _error(20003, "Authenticate", 401), {}
            if parts[3] == "Messages.json" and len(parts) == 4:
                if method == "GET":
                    return self._list(account, path, query)
                return self._create(account, body)
            if parts[3] == "Messages" and len(parts) == 5 and method == "GET":
                row = self._store.find(account, parts[4].removesuffix(".json"))
                if row is not None:
                    return 200, self._store.records([row])[0], {}
        return 404, _error(20404, "The requested resource was not found", 404), {}

    def _list(
        self, account: str, path: str, query: dict[str, str]
    ) -> tuple[int, Any, dict[str, str]]:
        try:
            page_size = int(query.get("PageSize", "50"))
        except ValueError:
            return 400, _error(20001, "Invalid PageSize", 400), {}
        if page_size > 1000 or page_size < 1:
            return 400, _error(20007, "Page size too large: maximum is 1000", 400), {}
        after = before = None
        try:
            if "DateSent" in query:
                after = _parse_bound(query["DateSent"], upper=False)
                before = _parse_bound(query["DateSent"], upper=len(query["DateSent"]) == 10)
            if "DateSent>" in query:
                bound = _parse_bound(query["DateSent>"], upper=False)
                after = bound if after is None else max(after, bound)
            if "DateSent<" in query:
                bound = _parse_bound(query["DateSent<"], upper=True)
                before = bound if before is None else min(before, bound)
        except (ValueError, TypeError):
            return 400, _error(20001, "Invalid DateSent", 400), {}
        offset = 0
        token = query.get("PageToken")
        if token:
            try:
                offset = int(token.removeprefix("PA"), 16)
            except ValueError:
                return 400, _error(20001, "Invalid PageToken", 400), {}
        page = int(query.get("Page", "0") or 0)
        if self.latency:
            time.sleep(self.latency)
        rows = self._store.select(account, after, before, query.get("To"), query.get("From"))
        chunk = rows[offset : offset + page_size]
        names = ("To", "From", "DateSent", "DateSent<", "DateSent>")
        filters: dict[str, object] = {k: query[k] for k in names if k in query}

        def uri(page_no: int, token_offset: int | None) -> str:
            params: dict[str, object] = {**filters, "PageSize": page_size, "Page": page_no}
            if token_offset is not None:
                params["PageToken"] = f"PA{token_offset:x}"
            return f"{path}?{urlencode(params)}"

        has_next = offset + page_size < len(rows)
        payload = {
            "first_page_uri": uri(0, None),
            "next_page_uri": uri(page + 1, offset + page_size) if has_next else None,
            "previous_page_uri": (uri(page - 1, max(offset - page_size, 0)) if page > 0 else None),
            "page": page,
            "page_size": page_size,
            "uri": uri(page, offset if token else None),
            "start": offset,
            "end": offset + len(chunk) - 1 if len(chunk) else offset,
        }
        return 200, _Raw(self._store.page_json(chunk, payload)), {}

    def _create(self, account: str, body: bytes) -> tuple[int, Any, dict[str, str]]:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        if not form.get("To"):
            return 400, _error(21604, "A 'To' phone number is required.", 400), {}
        if not form.get("From") and not form.get("MessagingServiceSid"):
            return 400, _error(21603, "A 'From' phone number is required.", 400), {}
        if not form.get("Body") and not form.get("MediaUrl"):
            return 400, _error(21602, "Message body is required.", 400), {}
        now = pd.Timestamp(int(time.time()), unit="s", tz="UTC")
        record = {
            "sid": ("MM" if form.get("MediaUrl") else "SM") + uuid.uuid4().hex,
            "account_sid": account,
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "from": form.get("From"),
            "to": form["To"],
            "body": form.get("Body", ""),
            "status": "queued" if not form.get("MessagingServiceSid") else "accepted",
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "num_segments": 1,
            "num_media": 1 if form.get("MediaUrl") else 0,
            "price": None,
            "price_unit": "USD",
            "api_version": "2010-04-01",
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "source": None,
        }
        frame = pd.DataFrame([record])
        frame["date_sent"] = pd.Series([pd.NaT], dtype="datetime64[us, UTC]")
        self.load(frame)
        row = self._store.find(account, str(record["sid"]))
        assert row is not None
        return 201, self._store.records([row])[0], {}

    def _accounts(self, principal: str, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        sids = [principal] + (sorted(self.subaccounts) if principal == self.account_sid else [])
        stamp = rfc2822(1_438_286_400)
        accounts = [
            {
                "auth_token": self.auth_token if sid == self.account_sid else self.subaccounts[sid],
                "date_created": stamp,
                "date_updated": stamp,
                "friendly_name": "Main account" if sid == self.account_sid else f"Sub {sid[-4:]}",
                "owner_account_sid": self.account_sid,
                "sid": sid,
                "status": "active",
                "subresource_uris": {"messages": f"{_API}/Accounts/{sid}/Messages.json"},
                "type": "Full",
                "uri": f"{_API}/Accounts/{sid}.json",
            }
            for sid in sids
        ]
        page_size = int(query.get("PageSize", "50"))
        uri = f"{_API}/Accounts.json?PageSize={page_size}&Page=0"
        return (
            200,
            {
                "accounts": accounts[:page_size],
                "first_page_uri": uri,
                "next_page_uri": None,
                "previous_page_uri": None,
                "page": 0,
                "page_size": page_size,
                "uri": uri,
                "start": 0,
                "end": max(len(accounts[:page_size]) - 1, 0),
            },
            {},
        )


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A started FakeTwilio with no records (call ``.load()``)."""
    with FakeTwilio() as server:
        yield server
