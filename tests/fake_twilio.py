"""A fake Twilio REST API (v2010 Messages and Accounts) on a real HTTP server on 127.0.0.1.

It speaks HTTP/1.1 with keep-alive like api.twilio.com, so the official SDK talks to it
unchanged once ``client.api.base_url`` points here. Faults (429, 500, 503, dropped
connections, truncated bodies, garbage JSON) and per-page latency are injected per test.

    with FakeTwilio(generate_messages(1000, start, end)) as server:
        client = Client(server.account_sid, server.auth_token, environment={})
        client.api.base_url = server.base_url

Like the real service, every response carries a GMT ``Date`` header and a
``Twilio-Request-Id: RQ<32 hex>``; a successful create (201) answers with a request id whose
32 hex digits are those of the created SID (as seen in public logs), other answers with a
random one. Created messages get random ``SM<32 hex>`` SIDs and a ``date_created``
truncated to the second.

Creating messages can misbehave on purpose, per test, with a ``CreatePlan``:

    plan = CreatePlan()
    plan.add("429", to="+15551230001")    # the next create to that number: 429, nothing made
    plan.add("twice", to="+15551230001")  # the one after: two records for one POST
    plan.schedule[5] = "slow"             # the 5th create POST: made, answered too late
    clock = VirtualClock(datetime(2026, 11, 29, 14, 0, tzinfo=UTC))
    with FakeTwilio(create_plan=plan, clock=clock, access_log=tmp_path / "access.log") as s:
        ...
        clock.sleep(10)                   # ten seconds pass for the fake, none for real
        s.creates                         # what each create POST did (CreateResult)

``access_log`` makes the server write an nginx "combined" line per request, as an egress
proxy in front of Twilio would (499 when the client gave up first, 502 for a dropped
connection).
"""

from __future__ import annotations

import base64
import bisect
import contextlib
import email.utils
import json
import logging
import random
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
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
#: What a create POST (POST .../Messages.json) can do; see CreatePlan.
CREATE_BEHAVIOURS = ("ok", "429", "twice", "slow", "500_created", "drop", "drop_created")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
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


class VirtualClock:
    """A clock for the fake and the test's logs: real time plus an offset tests move forward.

    ``sleep(s)`` advances it without waiting, ``advance_to(t)`` jumps to an epoch time (never
    backwards); real time keeps running underneath, so a real client timeout still takes its
    real second. Calling the clock gives epoch seconds, like ``time.time``.
    """

    def __init__(self, start: datetime | float | None = None) -> None:
        if isinstance(start, datetime):
            start = start.timestamp()
        self._offset = 0.0 if start is None else start - time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock at once."""
        with self._lock:
            self._offset += max(seconds, 0.0)

    def advance_to(self, moment: datetime | float) -> None:
        """Move the clock to ``moment`` if that is later than now."""
        target = moment.timestamp() if isinstance(moment, datetime) else moment
        self.sleep(target - self())

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self(), UTC)

    def log_filter(self) -> logging.Filter:
        """A filter that stamps log records with this clock (add it to a logger)."""
        clock = self

        class _Stamp(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.created = clock()
                record.msecs = int((record.created - int(record.created)) * 1000) + 0.0
                return True

        return _Stamp()


@dataclass
class CreateRule:
    """A create behaviour for the create POSTs whose form ``when`` accepts.

    ``times`` is how many POSTs it still applies to (None: every one). ``gap`` (for
    "twice": seconds between the two records' creation, 0 for the same second) and
    ``slow_seconds`` override the plan's defaults.
    """

    behaviour: str
    when: Callable[[Mapping[str, str]], bool] | None = None
    times: int | None = 1
    gap: float | None = None
    slow_seconds: float | None = None


@dataclass
class CreatePlan:
    """What each create POST does. Test-only behaviours, in ``CREATE_BEHAVIOURS``:

    - ``"ok"``: one record, 201 (the default);
    - ``"429"``: 429 with error 20429 and ``Retry-After``; nothing is created (as any 4xx);
    - ``"twice"``: a Twilio-side fault: two records with the same To/Body for one POST, the
      second ``gap`` seconds later (0: the same second); the 201 carries the first SID;
    - ``"slow"``: the record is created, then the answer waits ``slow_seconds`` (longer than
      the client's timeout, so it gives up; the server notices and stops waiting);
    - ``"500_created"``: the record is created but the answer is a 500;
    - ``"drop"`` / ``"drop_created"``: the connection is closed without an answer, nothing
      created / one record created.

    The first rule in ``rules`` whose ``when`` accepts the form (and has ``times`` left)
    decides; otherwise ``schedule`` by the 1-based number of the create POST; otherwise ok.
    Create POSTs are counted after authentication, before validation.
    """

    schedule: dict[int, str] = field(default_factory=dict)
    rules: list[CreateRule] = field(default_factory=list)
    twice_gap: float = 1.0
    slow_seconds: float = 5.0
    retry_after: str = "1"

    def __post_init__(self) -> None:
        for behaviour in [*self.schedule.values(), *(r.behaviour for r in self.rules)]:
            _check_behaviour(behaviour)
        self._count = 0
        self._lock = threading.Lock()

    def add(
        self,
        behaviour: str,
        *,
        to: str | None = None,
        when: Callable[[Mapping[str, str]], bool] | None = None,
        times: int | None = 1,
        gap: float | None = None,
        slow_seconds: float | None = None,
    ) -> CreateRule:
        """Plan ``behaviour`` for the next ``times`` create POSTs to ``to`` / matching ``when``."""
        _check_behaviour(behaviour)

        def test(form: Mapping[str, str]) -> bool:
            return (to is None or form.get("To") == to) and (when is None or when(form))

        rule = CreateRule(behaviour, test, times, gap, slow_seconds)
        with self._lock:
            self.rules.append(rule)
        return rule

    def pick(self, form: Mapping[str, str]) -> tuple[int, str, float, float]:
        """Count one create POST: its number, behaviour, twice gap and slow seconds."""
        with self._lock:
            self._count += 1
            for rule in self.rules:
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.when is None or rule.when(form):
                    if rule.times is not None:
                        rule.times -= 1
                    return (
                        self._count,
                        rule.behaviour,
                        self.twice_gap if rule.gap is None else rule.gap,
                        self.slow_seconds if rule.slow_seconds is None else rule.slow_seconds,
                    )
            behaviour = self.schedule.get(self._count, "ok")
            return self._count, behaviour, self.twice_gap, self.slow_seconds

    def pending(self) -> list[CreateRule]:
        """Rules that were planned for a number of POSTs and are not used up."""
        with self._lock:
            return [r for r in self.rules if r.times is not None and r.times > 0]


def _check_behaviour(behaviour: str) -> None:
    if behaviour not in CREATE_BEHAVIOURS:
        raise ValueError(f"unknown create behaviour {behaviour!r}: expected {CREATE_BEHAVIOURS}")


@dataclass
class CreateResult:
    """What one create POST did: its number, behaviour, the records it made and the answer.

    ``status`` is the status the server answered (None when it answered nothing);
    ``client_gone`` is True when a "slow" answer found the client had given up.
    """

    n: int
    behaviour: str
    to: str | None
    body: str | None
    sids: list[str]
    status: int | None
    request_id: str | None
    at: float
    client_gone: bool = False


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


@dataclass(frozen=True)
class _Raw:
    """A response body that is already serialised."""

    data: bytes


@dataclass
class _Answer:
    """What to answer a request; ``action`` "slow" waits first, "drop" hangs up instead."""

    status: int
    payload: Any
    headers: dict[str, str] = field(default_factory=dict)
    action: str | None = None
    wait: float = 0.0
    create: CreateResult | None = None


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
        with fake._idle:
            fake._busy += 1
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
        with fake._log_lock:
            fake.requests.append(entry)
        try:
            fault = fake.faults.pick(method, url.path) if fake.faults else None
            entry.fault = fault
            if fault is not None:
                self._fault(fault, entry)
                return
            answer = fake._route(method, url.path, query, body, self.headers)
            entry.create = answer.create.behaviour if answer.create else None
            self._answer(answer, entry)
        finally:
            fake._write_access(
                self.client_address[0],
                self.requestline,
                self._wire_status,
                self._sent_bytes,
                self.headers.get("User-Agent"),
            )
            with fake._idle:
                fake._busy -= 1
                fake._idle.notify_all()

    def _answer(self, answer: _Answer, entry: LoggedRequest) -> None:
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
        if isinstance(payload, _Raw):
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
            answer = fake._route("GET", urlsplit(self.path).path, entry.query, b"", self.headers)
            self._send(answer.status, answer.payload, answer.headers, truncate=True)
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
    named in them that are not the main account become its subaccounts. ``clock`` (epoch
    seconds, e.g. a VirtualClock) stamps created records, ``Date`` headers and the access
    log; ``create_plan`` decides what create POSTs do; ``access_log`` is a file the server
    appends an nginx "combined" line to per request, times in ``access_log_tz``.
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
        self._access_file: Any = None
        self.requests: list[LoggedRequest] = []
        self.creates: list[CreateResult] = []
        self._busy = 0
        self._idle = threading.Condition()
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
        with self._store.lock:
            self._store = _Store()
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
        self.close_access_log()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no request is being handled (e.g. a "slow" answer has seen the client
        give up and logged it); True if that happened within ``timeout`` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def close_access_log(self) -> None:
        """Stop writing the access log (requests after this are not logged)."""
        with self._log_lock:
            if self._access_file is not None:
                self._access_file.close()
                self._access_file = None

    def _write_access(
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
        local = (
            f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:"
            f"{moment:%H:%M:%S} {moment:%z}"
        )
        request = request_line.replace('"', "\\x22")
        agent = (user_agent or "-").replace('"', "\\x22")
        line = (
            f'{remote} - - [{local}] "{request}" {status if status is not None else 0} '
            f'{sent_bytes} "-" "{agent}"\n'
        )
        with self._log_lock:
            if self._access_file is not None:
                self._access_file.write(line)
                self._access_file.flush()

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
    ) -> _Answer:
        principal = self._principal(headers)
        if principal is None:
            return _Answer(401, _error(20003, "Authenticate", 401))
        not_found = _Answer(404, _error(20404, "The requested resource was not found", 404))
        parts = path.strip("/").split("/")
        if parts == ["2010-04-01", "Accounts.json"] and method == "GET":
            return _Answer(*self._accounts(principal, query))
        if len(parts) >= 4 and parts[:2] == ["2010-04-01", "Accounts"]:
            account = parts[2]
            if account != self.account_sid and account not in self.subaccounts:
                return not_found
            if not self._allowed(principal, account):
                return _Answer(401, _error(20003, "Authenticate", 401))
            if parts[3] == "Messages.json" and len(parts) == 4:
                if method == "GET":
                    return _Answer(*self._list(account, path, query))
                return self._create(account, body)
            if parts[3] == "Messages" and len(parts) == 5 and method == "GET":
                row = self._store.find(account, parts[4].removesuffix(".json"))
                if row is not None:
                    return _Answer(200, self._store.records([row])[0])
        return not_found

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

    def _create(self, account: str, body: bytes) -> _Answer:
        form = {k: v[-1] for k, v in parse_qs(body.decode(), keep_blank_values=True).items()}
        n, behaviour, gap, slow = self.create_plan.pick(form)
        result = CreateResult(
            n, behaviour, form.get("To"), form.get("Body"), [], None, None, self.clock()
        )
        with self._log_lock:
            self.creates.append(result)
        if behaviour == "429":  # throttled before anything else: nothing is created
            return _Answer(
                429,
                _error(20429, "Too Many Requests", 429),
                {"Retry-After": self.create_plan.retry_after},
                create=result,
            )
        problem = None
        if not form.get("To"):
            problem = _error(21604, "A 'To' phone number is required.", 400)
        elif not form.get("From") and not form.get("MessagingServiceSid"):
            problem = _error(21603, "A 'From' phone number is required.", 400)
        elif not form.get("Body") and not form.get("MediaUrl"):
            problem = _error(21602, "Message body is required.", 400)
        if problem is not None:
            return _Answer(400, problem, create=result)
        if behaviour == "drop":
            return _Answer(0, None, action="drop", create=result)
        now = self.clock()
        records = [self._new_record(account, form, now)]
        if behaviour == "twice":
            records.append(self._new_record(account, form, now + gap))
        frame = pd.DataFrame(records)
        frame["date_sent"] = pd.Series([pd.NaT] * len(records), dtype="datetime64[us, UTC]")
        self.load(frame)
        result.sids = [str(r["sid"]) for r in records]
        row = self._store.find(account, result.sids[0])
        assert row is not None
        payload = self._store.records([row])[0]
        if behaviour == "500_created":
            return _Answer(500, _error(20500, "Internal Server Error", 500), create=result)
        # A created message's request id carries the SID's 32 hex digits.
        result.request_id = "RQ" + result.sids[0][2:]
        headers = {"Twilio-Request-Id": result.request_id}
        if behaviour == "drop_created":
            return _Answer(0, None, action="drop", create=result)
        if behaviour == "slow":
            return _Answer(201, payload, headers, action="slow", wait=slow, create=result)
        return _Answer(201, payload, headers, create=result)

    @staticmethod
    def _new_record(account: str, form: Mapping[str, str], created: float) -> dict[str, Any]:
        """A freshly created message, ``date_created`` truncated to the second."""
        now = pd.Timestamp(int(created), unit="s", tz="UTC")
        return {
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
