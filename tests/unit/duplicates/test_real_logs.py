"""Verdicts on the log shapes real users produce, from the real twilio SDK against the fake.

One module-scoped capture drives ``twilio.rest.Client`` against tests/fakes/twilio/ and
plants duplicates whose cause is known: the application sending twice (a double submit, a
retry after a client timeout, a retry after a 5xx that had created the message) and Twilio
making two messages for one POST (alone, or on the retry after a 429, which creates
nothing). Single sends, status fetches and unrelated background sends lie in between.

While it runs, five logs are written, as real users have them:

- the SDK's own logger ``twilio.http_client`` through three handlers: a timestamped format
  in UTC, the same in the local time of a fixed non-UTC zone without a zone in the file (as
  a Celery worker prints), and ``logging.basicConfig()``'s default format with no time;
- an nginx "combined" access log of an egress proxy (written by the fake server);
- the application's own JSON-lines log, one line per attempt, written when the attempt
  ends (so a timed-out attempt is stamped a client timeout after it began).

Every log must give every planted cluster its true verdict. A VirtualClock stands in for
the wall clock of both sides (the fake and the log records), so the seconds between the
scenarios pass without waiting; only the client timeout is waited for for real.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow.parquet as pq
import pytest
import requests
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from analyzer.options import DetectOptions, LogOptions
from analyzer.pipeline import run_detect
from analyzer.sources.twilio_api import Credentials, RetryPolicy, export_messages
from analyzer.store import read_messages
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CreatePlan,
    CreateResult,
    FakeTwilio,
    VirtualClock,
)

#: The local zone of the Celery-style log: UTC+03:00 all year (no DST since 2016).
LOCAL_ZONE = "Europe/Istanbul"
START = datetime(2026, 11, 29, 14, 0, tzinfo=UTC)
CLIENT_TIMEOUT = 1.0  # seconds: TwilioHttpClient(timeout=...) of the application
SENDER = "+15005550006"
SDK_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
BASIC_FORMAT = logging.BASIC_FORMAT  # "%(levelname)s:%(name)s:%(message)s"

APP_SIDE, TWILIO_SIDE = "app_side", "twilio_side"


@dataclass(frozen=True)
class LogSpec:
    """One of the five logs: its file, what it is and the zone detect is told."""

    key: str
    file: str
    what: str
    log_tz: str = "UTC"


LOGS = (
    LogSpec(
        "sdk-utc",
        "sdk_http_client.utc.log",
        "twilio.http_client, '%(asctime)s %(levelname)s %(name)s %(message)s', UTC "
        "(converter=time.gmtime)",
    ),
    LogSpec(
        "sdk-local",
        "sdk_http_client.local_Europe-Istanbul_UTC+0300.log",
        f"twilio.http_client, the same format in local time of {LOCAL_ZONE} (UTC+03:00), "
        "no zone in the file (a Celery worker's)",
        LOCAL_ZONE,
    ),
    LogSpec(
        "sdk-basic",
        "sdk_http_client.basicConfig_no_time.log",
        "twilio.http_client, logging.basicConfig() default '%(levelname)s:%(name)s:%(message)s':"
        " no time at all",
    ),
    LogSpec(
        "nginx",
        "nginx_egress.access.log",
        "nginx combined access log of an egress proxy ([29/Nov/2026:14:03:01 +0000])",
    ),
    LogSpec(
        "app-jsonl",
        "app_requests.jsonl",
        "the application's JSON lines (timestamp, method, url, status, to, message_sid, error),"
        " written when each attempt ends: status null after a timeout",
    ),
)


@dataclass
class Planted:
    """A planted duplicate: its scenario, recipient, body and true verdict."""

    name: str
    expected: str
    to: str
    body: str
    sids: list[str] = field(default_factory=list)  # every record made, in creation order
    cluster_id: str = ""  # the SID of its first record (date_created, then sid)
    outcomes: list[int | None] = field(default_factory=list)  # the app's statuses


@dataclass
class Capture:
    """What the module-scoped capture left: the logs, the dataset and the truth."""

    folder: Path
    dataset: Path
    planted: list[Planted]
    singles: int
    background: int
    creates: list[CreateResult]  # what each create POST did, from the fake
    records: int

    def path(self, spec: LogSpec) -> Path:
        return self.folder / spec.file


class App:
    """The application: one ``send`` per create attempt, logged as one JSON line."""

    def __init__(self, client: Client, server: FakeTwilio, clock: VirtualClock, log: Path):
        self.client, self.server, self.clock = client, server, clock
        self.url = f"{server.base_url}/2010-04-01/Accounts/{server.account_sid}/Messages.json"
        self.log = log.open("w", encoding="utf-8")

    def send(self, to: str, body: str) -> tuple[int | None, str | None]:
        status: int | None = None
        sid: str | None = None
        error: str | None = None
        try:
            message = self.client.messages.create(to=to, from_=SENDER, body=body)
            status, sid = 201, message.sid
        except TwilioRestException as exc:
            status, error = exc.status, f"Twilio error {exc.code}: {exc.msg}"
        except requests.RequestException as exc:  # the client timed out: no answer
            error = f"{type(exc).__name__}: {exc}"
        stamp = datetime.fromtimestamp(self.clock(), UTC).isoformat(timespec="milliseconds")
        line = {
            "timestamp": stamp.replace("+00:00", "Z"),
            "method": "POST",
            "url": self.url,
            "status": status,
            "to": to,
            "message_sid": sid,
            "error": error,
        }
        self.log.write(json.dumps(line) + "\n")
        self.log.flush()
        # A "slow" answer logs its 499 once it sees the client gone: let it, before the
        # clock jumps on.
        assert self.server.wait_idle(), "the fake is still busy"
        return status, sid

    def check_status(self, sid: str) -> None:
        """A status fetch (GET .../Messages/SM….json), as applications do."""
        self.client.messages(sid).fetch()

    def close(self) -> None:
        self.log.close()


# -- scenarios: each plans the fake's create behaviours and acts like the application ------
Act = Callable[[App, CreatePlan, VirtualClock, str, str], list[int | None]]


def double_submit(pause: float) -> Act:
    def act(app: App, plan: CreatePlan, clock: VirtualClock, to: str, body: str):
        first, _ = app.send(to, body)
        clock.sleep(pause)
        second, _ = app.send(to, body)
        return [first, second]

    return act


def retry_after_timeout(pause: float) -> Act:
    def act(app: App, plan: CreatePlan, clock: VirtualClock, to: str, body: str):
        plan.add("slow", to=to, slow_seconds=CLIENT_TIMEOUT + 3)
        first, _ = app.send(to, body)  # created, but the client times out
        clock.sleep(pause)
        second, _ = app.send(to, body)
        return [first, second]

    return act


def retry_after_5xx(pause: float) -> Act:
    def act(app: App, plan: CreatePlan, clock: VirtualClock, to: str, body: str):
        plan.add("500_created", to=to)
        first, _ = app.send(to, body)  # created, but answered 500
        clock.sleep(pause)
        second, _ = app.send(to, body)
        return [first, second]

    return act


def twilio_twice(gap: float) -> Act:
    def act(app: App, plan: CreatePlan, clock: VirtualClock, to: str, body: str):
        plan.add("twice", to=to, gap=gap)
        status, _ = app.send(to, body)
        return [status]

    return act


def throttled_then_twice(gap: float) -> Act:
    def act(app: App, plan: CreatePlan, clock: VirtualClock, to: str, body: str):
        plan.add("429", to=to)
        plan.add("twice", to=to, gap=gap)
        first, _ = app.send(to, body)  # 429: nothing created
        clock.sleep(1.0)  # Retry-After: 1
        second, _ = app.send(to, body)
        return [first, second]

    return act


#: name, true verdict, action, the statuses the application must have seen. A 5xx may or may
#: not have created a message, so after one the retry is spaced 2-3 s: at 1 s a log whose
#: times are whole seconds (nginx, the Date header) cannot rule out that the retry made both.
SCENARIOS: list[tuple[str, str, Act, list[int | None]]] = [
    ("double_submit_0.4s", APP_SIDE, double_submit(0.4), [201, 201]),
    ("twilio_twice_1s_apart", TWILIO_SIDE, twilio_twice(1.0), [201]),
    ("retry_after_timeout_1.5s", APP_SIDE, retry_after_timeout(1.5), [None, 201]),
    ("429_then_twilio_twice_1s", TWILIO_SIDE, throttled_then_twice(1.0), [429, 201]),
    ("retry_after_500_created_2s", APP_SIDE, retry_after_5xx(2.0), [500, 201]),
    ("double_submit_0.8s", APP_SIDE, double_submit(0.8), [201, 201]),
    ("twilio_twice_same_second", TWILIO_SIDE, twilio_twice(0.0), [201]),
    ("retry_after_timeout_2s", APP_SIDE, retry_after_timeout(2.0), [None, 201]),
    ("429_then_twilio_twice_same_s", TWILIO_SIDE, throttled_then_twice(0.0), [429, 201]),
    ("retry_after_500_created_3s", APP_SIDE, retry_after_5xx(3.0), [500, 201]),
]
#: seconds from the whole second a scenario ends in to the next sends and the next scenario;
#: fixed fractions keep every run's records in the same seconds (reproducible failures)
BACKGROUND_AT = (8.5, 20.5)
SINGLE_AT = 14.5
NEXT_SCENARIO_AT = 28.25


def _local_converter(zone: str) -> Callable[[float | None], time.struct_time]:
    """A logging converter giving the struct_time in ``zone`` (the process TZ is untouched)."""
    tz = ZoneInfo(zone)

    def convert(seconds: float | None) -> time.struct_time:
        return datetime.fromtimestamp(time.time() if seconds is None else seconds, tz).timetuple()

    return convert


@contextmanager
def sdk_logs(folder: Path, clock: VirtualClock) -> Iterator[None]:
    """Capture ``twilio.http_client`` (INFO) into the three SDK log files at once."""
    utc = logging.Formatter(SDK_FORMAT)
    utc.converter = time.gmtime
    local = logging.Formatter(SDK_FORMAT)
    local.converter = _local_converter(LOCAL_ZONE)
    basic = logging.Formatter(BASIC_FORMAT)
    handlers = []
    for spec, formatter in zip(LOGS[:3], (utc, local, basic), strict=True):
        handler = logging.FileHandler(folder / spec.file, mode="w", encoding="utf-8")
        handler.setFormatter(formatter)
        handlers.append(handler)
    logger = logging.getLogger("twilio.http_client")
    stamp = clock.log_filter()
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logger.addFilter(stamp)
    for handler in handlers:
        logger.addHandler(handler)
    try:
        yield
    finally:
        for handler in handlers:
            logger.removeHandler(handler)
            handler.close()
        logger.removeFilter(stamp)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


def _play(app: App, plan: CreatePlan, clock: VirtualClock) -> tuple[list[Planted], int, int]:
    """Run the scenarios with singles and background sends between them."""
    rng = random.Random(20261129)
    background = itertools.count()
    singles = 0
    planted: list[Planted] = []

    def unrelated(at: float) -> None:
        clock.advance_to(at)
        k = next(background)
        status, _ = app.send(f"+1555020{k:04d}", f"Your code is {rng.randrange(10**6):06d}")
        assert status == 201

    moment = START.timestamp() + 20.25
    for i, (name, expected, act, statuses) in enumerate(SCENARIOS):
        to = f"+1555010{i:04d}"
        body = f"Reminder: your appointment #{1000 + i} is tomorrow at {9 + i % 8}:30."
        clock.advance_to(moment)
        outcomes = act(app, plan, clock, to, body)
        assert outcomes == statuses, f"{name}: the application saw {outcomes}"
        planted.append(Planted(name, expected, to, body, outcomes=outcomes))
        end = math.floor(clock())
        unrelated(end + BACKGROUND_AT[0])
        # a single, not a duplicate: the same recipient, another body; then its status
        clock.advance_to(end + SINGLE_AT)
        status, sid = app.send(to, f"Your appointment #{1000 + i} is confirmed.")
        assert status == 201 and sid
        singles += 1
        clock.sleep(0.5)
        app.check_status(sid)
        unrelated(end + BACKGROUND_AT[1])
        moment = end + NEXT_SCENARIO_AT
    assert not plan.pending(), "a planned create behaviour was never used"
    return planted, singles, next(background)


@pytest.fixture(scope="module")
def capture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Capture]:
    folder = tmp_path_factory.mktemp("real_logs")
    clock = VirtualClock(START)
    plan = CreatePlan()
    began = time.monotonic()
    with FakeTwilio(clock=clock, create_plan=plan, access_log=folder / LOGS[3].file) as server:
        client = Client(
            ACCOUNT_SID,
            AUTH_TOKEN,
            environment={},
            http_client=TwilioHttpClient(timeout=CLIENT_TIMEOUT),
        )
        client.api.base_url = server.base_url
        app = App(client, server, clock, folder / LOGS[4].file)
        try:
            with sdk_logs(folder, clock):
                planted, singles, background = _play(app, plan, clock)
        finally:
            app.close()
            server.close_access_log()
        # Twilio sends them; then the project's export brings them into a dataset (its
        # requests are in none of the logs: they are the analyzer's, not the application's).
        held = server.settle()
        dataset = folder / "dataset"
        export_messages(
            dataset,
            START.date(),
            START.date(),
            credentials=Credentials(ACCOUNT_SID, AUTH_TOKEN),
            api_base_url=server.base_url,
            concurrency=2,
            now=START + timedelta(days=2),
            retry=RetryPolicy(base=0.01, cap=0.05, max_retry_time=10, timeout=10),
        )
        creates = list(server.creates)
    created = dict(zip(held["sid"].to_pylist(), held["date_created"].to_pylist(), strict=True))
    for p in planted:
        p.sids = [sid for c in creates if (c.to, c.body) == (p.to, p.body) for sid in c.sids]
        p.cluster_id = min(p.sids, key=lambda sid: (created[sid], sid))
    print(f"capture: {time.monotonic() - began:.1f} s real, logs in {folder}")
    yield Capture(folder, dataset, planted, singles, background, creates, held.num_rows)


# -- the capture is what real users log (checks the test itself, not the library) ---------
def test_capture_holds_the_planted_truth(capture: Capture) -> None:
    assert all(len(p.sids) == 2 for p in capture.planted), [
        (p.name, p.sids) for p in capture.planted
    ]
    assert capture.records == 2 * len(capture.planted) + capture.singles + capture.background
    exported = read_messages(capture.dataset)
    assert exported.num_rows == capture.records
    # Successful creates carry the SID's hex digits as request id; failures create nothing.
    by_behaviour = Counter(c.behaviour for c in capture.creates)
    assert by_behaviour == Counter(
        {
            "ok": 8 + capture.singles + capture.background,
            "twice": 4,
            "slow": 2,
            "500_created": 2,
            "429": 2,
        }
    )
    for c in capture.creates:
        if c.status == 201:
            assert c.request_id == "RQ" + c.sids[0][2:]
        if c.behaviour == "429":
            assert c.sids == [] and c.status == 429
        if c.behaviour == "slow":
            assert c.client_gone and c.status is None and len(c.sids) == 1


def _times(path: Path) -> list[datetime]:
    stamp = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
    return [
        datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
        for line in path.read_text().splitlines()
        if (m := stamp.match(line))
    ]


def test_logs_have_the_shapes_users_have(capture: Capture) -> None:
    texts = {spec.key: capture.path(spec).read_text() for spec in LOGS}
    n_lines = {key: len(text.splitlines()) for key, text in texts.items()}
    assert n_lines["sdk-utc"] == n_lines["sdk-local"] == n_lines["sdk-basic"] > 0
    # The same records, three formats: local times are the UTC times plus three hours.
    utc, local = _times(capture.path(LOGS[0])), _times(capture.path(LOGS[1]))
    assert len(utc) == n_lines["sdk-utc"] and utc[0] >= START.replace(tzinfo=None)
    assert [t + timedelta(hours=3) for t in utc] == local
    assert all(
        line.startswith("INFO:twilio.http_client:") for line in texts["sdk-basic"].splitlines()
    )
    # No To, no Body, no SID in the SDK's log: only Date and Twilio-Request-Id to go on.
    assert "+1555010" not in texts["sdk-utc"] and "'Date': '" in texts["sdk-utc"]
    assert " GMT'" in texts["sdk-utc"] and "'Twilio-Request-Id': 'RQ" in texts["sdk-utc"]
    posts = texts["sdk-utc"].count("POST Request:")
    answered = texts["sdk-utc"].count("Response Status Code:")
    attempts = len(capture.creates)
    assert posts == attempts and answered == attempts - 2 + capture.singles  # 2 timeouts
    # nginx: a line per request, the time with its offset; 499 for the timed-out POSTs.
    nginx = texts["nginx"].splitlines()
    assert all(re.search(r"\[29/Nov/2026:14:\d\d:\d\d \+0000\] \"(POST|GET) ", x) for x in nginx)
    statuses = Counter(int(x.split('" ')[1].split()[0]) for x in nginx if '"POST ' in x)
    assert statuses == Counter({201: attempts - 6, 429: 2, 499: 2, 500: 2})
    # The application's own log: one line per attempt, null status on the timeouts.
    app = [json.loads(x) for x in texts["app-jsonl"].splitlines()]
    assert len(app) == attempts
    assert Counter(x["status"] for x in app) == Counter(
        {201: attempts - 6, 429: 2, None: 2, 500: 2}
    )


# -- the target: every planted verdict right, in every log --------------------------------
def _table(spec: LogSpec, capture: Capture, rows: list[dict]) -> str:
    by_id = {r["cluster_id"]: r for r in rows}
    planted_ids = {p.cluster_id for p in capture.planted}
    head = (
        f"log {spec.key}: {spec.file}\n  {spec.what}\n  run_detect(log_tz={spec.log_tz!r}, "
        f"window=60); logs in {capture.folder}\n"
    )
    lines = [
        f"  {'scenario':30} {'app saw':9} {'cluster_id':36} {'expected':12} {'got':12} "
        f"{'mode':14} reason",
    ]
    for p in capture.planted:
        row = by_id.get(p.cluster_id)
        got = row["verdict"] if row else "(no cluster)"
        mark = "  " if row and got == p.expected else "✗ "
        saw = ",".join("-" if s is None else str(s) for s in p.outcomes)
        lines.append(
            f"{mark}{p.name:30} {saw:9} {p.cluster_id:36} {p.expected:12} {str(got):12} "
            f"{str(row.get('match_mode') if row else ''):14} "
            f"{(row.get('verdict_reason') or '') if row else ''}"
        )
    for r in rows:
        if r["cluster_id"] not in planted_ids:
            lines.append(
                f"✗ {'(not planted)':30} {'':9} {r['cluster_id']:36} {'-':12} "
                f"{str(r['verdict']):12} "
                f"{str(r.get('match_mode')):14} {r.get('verdict_reason') or ''}"
            )
    return head + "\n".join(lines)


@pytest.mark.parametrize("spec", LOGS, ids=[spec.key for spec in LOGS])
def test_every_planted_verdict_is_right(capture: Capture, spec: LogSpec, tmp_path: Path) -> None:
    run = run_detect(
        capture.dataset,
        tmp_path / "out",
        options=DetectOptions(window=60),
        server_logs=LogOptions(paths=(str(capture.path(spec)),), tz=spec.log_tz),
    )
    rows = pq.read_table(run.clusters_path).to_pylist()
    table = _table(spec, capture, rows)
    print(table)
    # Detection itself: exactly the planted clusters, each with all its records.
    assert sorted(sorted(r["sids"]) for r in rows) == sorted(
        sorted(p.sids) for p in capture.planted
    ), table
    got = {r["cluster_id"]: r["verdict"] for r in rows}
    expected = {p.cluster_id: p.expected for p in capture.planted}
    # Every verdict right: no wrong one, no inconclusive, no unverified.
    assert got == expected, table


def test_fake_create_plan_by_number_headers_and_clock() -> None:
    """The fake's create behaviours by POST number, its headers and its clock."""
    clock = VirtualClock(START)
    plan = CreatePlan(schedule={1: "drop", 2: "drop_created", 3: "500_created", 5: "twice"})
    plan.add("429", to="+15550009999")
    with FakeTwilio(clock=clock, create_plan=plan) as server:
        url = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"

        def post(to: str) -> requests.Response | None:
            form = {"To": to, "From": SENDER, "Body": "plan"}
            try:
                return requests.post(url, data=form, auth=(ACCOUNT_SID, AUTH_TOKEN), timeout=5)
            except requests.ConnectionError:
                return None

        answers = [post("+15550000001") for _ in range(5)]
        clock.sleep(3600)
        throttled = post("+15550009999")  # the rule wins over the count (6th: no schedule)
        late = post("+15550000002")
        held = server.messages()
    assert answers[0] is None and answers[1] is None
    assert [a.status_code for a in answers[2:] if a is not None] == [500, 201, 201]
    assert throttled is not None and throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1" and throttled.json()["code"] == 20429
    assert [c.behaviour for c in server.creates] == [
        "drop", "drop_created", "500_created", "ok", "twice", "429", "ok"
    ]  # fmt: skip
    assert [len(c.sids) for c in server.creates] == [0, 1, 1, 1, 2, 0, 1]
    assert held.num_rows == 6
    for answer in (*answers[2:], throttled, late):
        assert answer is not None
        rid = answer.headers["Twilio-Request-Id"]
        assert re.fullmatch(r"RQ[0-9a-f]{32}", rid)
        if answer.status_code == 201:
            assert rid[2:] == answer.json()["sid"][2:]
        else:
            assert rid[2:] not in {s[2:] for s in held["sid"].to_pylist()}
    assert answers[2] is not None and answers[2].headers["Date"].startswith(
        "Sun, 29 Nov 2026 14:00:"
    )
    assert late is not None and late.headers["Date"].startswith("Sun, 29 Nov 2026 15:00:")
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", late.headers["Date"])
    created = held["date_created"].to_pylist()
    assert all(t.microsecond == 0 for t in created)  # whole seconds, as Twilio keeps them
    twice = server.creates[4].sids
    times = dict(zip(held["sid"].to_pylist(), created, strict=True))
    assert (times[twice[1]] - times[twice[0]]).total_seconds() == 1  # twice_gap
