"""The application's ingress log: what its web server logged of the requests it received.

Twilio's inbound-SMS webhooks (one per inbound message to a number whose webhook is the
application's) and its status callbacks (for messages sent through a Messaging Service),
with the problems planted: the failing number's webhook answered 500, the unreached
number's requests never arriving, a few webhook requests lost, and callbacks missing,
refused or disagreeing with the record. Some other traffic (health checks, metrics, the
application's own API) comes in between.

Drawn from a generator of its own: the messages and every other file stay as they were.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.account_config import SERVICE_WEBHOOK, STATUS_CALLBACK, AccountConfig
from analyzer.simulate.config import SimulationConfig
from analyzer.simulate.messages import STATUSES, Direction, Status, record_sids
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.plan import Plan
from analyzer.simulate.text import as_text, counter_bytes, join, pick
from analyzer.vocabulary import TWILIO_USER_AGENT, CallbackProblem, InboundVerdict, LogFormat

#: Mixed into the seed: the ingress log's draws leave every other generator alone.
APP_LOG_STREAM = 0xA991
#: The file each format of the ingress log is written to.
APP_LOG_FILES: dict[str, str] = {
    LogFormat.JSONL.value: "app_requests.jsonl",
    LogFormat.COMBINED.value: "app_requests.combined.log",
}
#: The User-Agent of Twilio's webhooks and status callbacks.
TWILIO_PROXY = f"{TWILIO_USER_AGENT}/1.1"
#: Other requests the application receives, (method, path, user agent), and their shares.
OTHER_REQUESTS: tuple[tuple[str, str, str], ...] = (
    ("GET", "/healthz", "kube-probe/1.29"),
    ("GET", "/metrics", "Prometheus/2.48.0"),
    ("POST", "/api/orders", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/126.0"),
)
OTHER_WEIGHTS = (0.6, 0.3, 0.1)
#: Other requests per message (at least MIN_OTHER).
OTHER_SHARE, MIN_OTHER = 0.01, 12
#: How many webhook requests of numbers that work are lost (drawn between, inclusive).
DROPPED_WEBHOOKS = (1, 3)
#: Shares of the messages with a final callback planted with each problem (at least 2).
CALLBACK_PROBLEM_SHARES: dict[CallbackProblem, float] = {
    CallbackProblem.MISSING_FINAL: 0.01,
    CallbackProblem.REFUSED: 0.003,
    CallbackProblem.DISAGREES: 0.003,
}
MIN_PLANTED = 2
#: The statuses after which Twilio sends a final callback (of those the simulator draws).
FINAL = (Status.DELIVERED, Status.UNDELIVERED, Status.FAILED)
#: How the application answers a callback it took, and one it refused.
CALLBACK_OK, REFUSED_STATUS = 204, 500


class AppLine(IntEnum):
    """What an ingress log line is; the value is its code in the plan."""

    WEBHOOK = 0
    CALLBACK = 1
    OTHER = 2


@dataclass
class AppLog:
    """Every ingress log line as numbers, in time order, and what was planted."""

    ms: np.ndarray  # the application's clock, epoch ms
    kind: np.ndarray  # AppLine
    rec: np.ndarray  # the record a Twilio request is about (-1: other traffic)
    route: np.ndarray  # index of routes
    status: np.ndarray
    duration: np.ndarray
    message_status: np.ndarray  # index of STATUSES (-1: none)
    error_code: np.ndarray  # 0: none
    #: (method, path, user agent) of each route.
    routes: tuple[tuple[str, str, str], ...] = ()
    #: Inbound records with no webhook request in the log.
    unhandled: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: The records planted with each callback problem.
    problems: dict[CallbackProblem, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        """The number of lines."""
        return int(self.ms.size)


def plan_app_log(
    config: SimulationConfig, plan: Plan, numbers: PhoneNumbers, account: AccountConfig
) -> AppLog:
    """Plan the ingress log of the simulated traffic to the account's webhooks."""
    rng = np.random.default_rng([config.seed, APP_LOG_STREAM])
    paths = _webhook_paths(account)
    unique = sorted({p for p in paths if p is not None})
    routes = [("POST", path, TWILIO_PROXY) for path in unique]
    routes.append(("POST", _path(STATUS_CALLBACK), TWILIO_PROXY))
    routes.extend(OTHER_REQUESTS)
    sender_route = np.array([-1 if p is None else unique.index(p) for p in paths], np.int64)
    failing = [k for k, role in account.roles.items() if role == InboundVerdict.WEBHOOK_ERRORS]
    shared = unique.index(_path(SERVICE_WEBHOOK)) if _path(SERVICE_WEBHOOK) in unique else -1
    hooks, unhandled = _webhooks(plan, sender_route, shared, failing, rng)
    calls, problems = _callbacks(plan, numbers.sender_service, len(unique), rng)
    other = _other(plan, len(unique) + 1, rng)
    parts = [hooks, calls, other]
    columns = {name: np.concatenate([part[name] for part in parts]) for name in hooks}
    order = np.argsort(columns["ms"], kind="stable")
    return AppLog(
        **{name: values[order] for name, values in columns.items()},
        routes=tuple(routes),
        unhandled=unhandled,
        problems=problems,
    )


def _path(url: str) -> str:
    return urlsplit(url).path


def _webhook_paths(account: AccountConfig) -> list[str | None]:
    """The path on the application's server each sender's inbound messages are posted to
    (None: its webhook is none, not the application's, or never reached)."""
    host = urlsplit(SERVICE_WEBHOOK).hostname
    unreached = {k for k, role in account.roles.items() if role == InboundVerdict.WEBHOOK_NOT_HIT}
    return [
        _path(url) if url and urlsplit(url).hostname == host and k not in unreached else None
        for k, url in enumerate(account.webhooks)
    ]


def _lines(
    kind: AppLine,
    rec: np.ndarray,
    ms: np.ndarray,
    route: np.ndarray | int,
    status: np.ndarray | int,
    duration: np.ndarray,
    message_status: np.ndarray | int = -1,
    error_code: np.ndarray | int = 0,
) -> dict[str, np.ndarray]:
    n = rec.size
    return {
        "ms": ms.astype(np.int64),
        "kind": np.full(n, kind, np.int8),
        "rec": rec.astype(np.int64),
        "route": np.broadcast_to(np.asarray(route, np.int16), (n,)).copy(),
        "status": np.broadcast_to(np.asarray(status, np.int16), (n,)).copy(),
        "duration": duration.astype(np.int32),
        "message_status": np.broadcast_to(np.asarray(message_status, np.int8), (n,)).copy(),
        "error_code": np.broadcast_to(np.asarray(error_code, np.int32), (n,)).copy(),
    }


def _webhooks(
    plan: Plan,
    sender_route: np.ndarray,
    shared: int,
    failing: list[int],
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """One POST per inbound message whose webhook reaches the application, but a few
    lost ones on the services' shared route; and the inbound records left without one."""
    inbound = np.flatnonzero(plan.direction == Direction.INBOUND)
    route = sender_route[plan.sender[inbound]]
    reached = inbound[route >= 0]
    # Lost requests leave others on their route: its webhook still shows as hit.
    pool = reached[sender_route[plan.sender[reached]] == shared] if shared >= 0 else reached[:0]
    n_lost = min(int(rng.integers(DROPPED_WEBHOOKS[0], DROPPED_WEBHOOKS[1] + 1)), pool.size - 1)
    lost = rng.choice(pool, size=max(0, n_lost), replace=False)
    logged = np.setdiff1d(reached, lost)
    delay = rng.integers(200, 1501, logged.size)
    ms = plan.created[logged] * 1000 + plan.app_off_ms[logged] + delay
    refused = np.isin(plan.sender[logged], failing)
    duration = np.clip(np.exp(rng.normal(4.2, 0.5, logged.size)), 8, 3000)
    status = np.where(refused, 500, 200)
    lines = _lines(AppLine.WEBHOOK, logged, ms, sender_route[plan.sender[logged]], status, duration)
    return lines, np.setdiff1d(inbound, logged)


def _callbacks(
    plan: Plan, sender_service: np.ndarray, route: int, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], dict[CallbackProblem, np.ndarray]]:
    """Status callbacks of the messages sent through a service: "sent" once the message
    left, then its final status; a few final ones missing, refused or disagreeing."""
    via = (plan.direction == Direction.OUTBOUND_API) & (sender_service[plan.sender] >= 0)
    recs = np.flatnonzero(via & (plan.status != Status.QUEUED))
    sent_delay = plan.sent_delay[recs].astype(np.int64)
    app_ms = plan.created[recs] * 1000 + plan.app_off_ms[recs]
    sent_ms = app_ms + np.maximum(sent_delay, 0) * 1000 + rng.integers(200, 1500, recs.size)
    final_ms = (
        app_ms
        + (np.maximum(sent_delay, 0) + plan.after[recs].astype(np.int64)) * 1000
        + rng.integers(200, 1500, recs.size)
    )
    has_sent = sent_delay >= 0
    final_ms = np.where(has_sent, np.maximum(final_ms, sent_ms + 100), final_ms)
    is_final = np.isin(plan.status[recs], FINAL)
    final = np.flatnonzero(is_final)
    chosen = rng.permutation(final.size)
    problems: dict[CallbackProblem, np.ndarray] = {}
    begin = 0
    for problem, share in CALLBACK_PROBLEM_SHARES.items():
        count = min(max(MIN_PLANTED, round(share * final.size)), final.size - begin)
        problems[problem] = final[np.sort(chosen[begin : begin + count])]
        begin += count
    kept = np.setdiff1d(final, problems[CallbackProblem.MISSING_FINAL])
    shown = plan.status[recs[kept]].astype(np.int8)
    disagrees = np.isin(kept, problems[CallbackProblem.DISAGREES])
    other = np.where(shown == Status.DELIVERED, Status.UNDELIVERED, Status.DELIVERED)
    shown = np.where(disagrees, other, shown).astype(np.int8)
    code = np.where(disagrees, 0, plan.error[recs[kept]])
    status = np.where(np.isin(kept, problems[CallbackProblem.REFUSED]), REFUSED_STATUS, CALLBACK_OK)
    sent = np.flatnonzero(has_sent)
    parts = [
        _lines(
            AppLine.CALLBACK, recs[sent], sent_ms[sent], route, CALLBACK_OK,
            _short(rng, sent.size), Status.SENT,
        ),
        _lines(
            AppLine.CALLBACK, recs[kept], final_ms[kept], route, status,
            _short(rng, kept.size), shown, code,
        ),
    ]  # fmt: skip
    lines = {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}
    return lines, {problem: recs[rows] for problem, rows in problems.items()}


def _short(rng: np.random.Generator, n: int) -> np.ndarray:
    """Durations (ms) of requests the application answers at once."""
    return rng.integers(3, 60, n)


def _other(plan: Plan, first_route: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Requests that are not Twilio's, spread over the simulated time."""
    n = max(MIN_OTHER, round(OTHER_SHARE * plan.n))
    low, high = int(plan.created.min()) * 1000, int(plan.created.max()) * 1000 + 60_000
    ms = rng.integers(low, high, n)
    which = rng.choice(len(OTHER_REQUESTS), size=n, p=OTHER_WEIGHTS)
    status = np.where(np.array([m == "POST" for m, _, _ in OTHER_REQUESTS])[which], 201, 200)
    return _lines(
        AppLine.OTHER, np.full(n, -1), ms, first_route + which, status, rng.integers(1, 40, n)
    )


def app_log_chunk(
    app: AppLog, plan: Plan, numbers: PhoneNumbers, seed: int, lines: np.ndarray
) -> pa.Table:
    """These ingress log lines as a request table (see ``request_table``)."""
    n = lines.size
    kind, rec, route = app.kind[lines], app.rec[lines], app.route[lines]
    twilio = pa.array(kind != AppLine.OTHER)
    webhook = pa.array(kind == AppLine.WEBHOOK)
    safe = np.maximum(rec, 0)
    nulls = pa.nulls(n, pa.string())
    methods, paths, agents = zip(*app.routes, strict=True)
    rnd = counter_bytes(seed, APP_LOG_STREAM, lines).astype(np.int64)
    # Twilio's webhooks come from its proxies on AWS; the rest from inside the cluster.
    proxy = join(
        ["54.", pick(rnd[:, 0] % 3, ("172", "244", "165")), ".", as_text(rnd[:, 1] % 256),
         ".", as_text(rnd[:, 2] % 256)]
    )  # fmt: skip
    cluster = join(["10.244.", as_text(rnd[:, 3] % 8), ".", as_text(1 + rnd[:, 4] % 250)])
    shown = app.message_status[lines]
    code = app.error_code[lines]
    return pa.table(
        {
            "ms": pa.array(app.ms[lines]),
            "method": pick(route, methods),
            "url": pick(route, paths),
            "status": pa.array(app.status[lines]),
            "duration_ms": pa.array(app.duration[lines].astype(np.int64)),
            "to": pc.if_else(webhook, numbers.senders.take(pa.array(plan.sender[safe])), nulls),
            "message_sid": pc.if_else(twilio, record_sids(plan, safe), nulls),
            "request_id": nulls,
            "error": nulls,
            "error_code": pa.array(code.astype(np.int64), mask=code == 0),
            "seq": pa.array(lines.astype(np.int64)),
            "cut": pa.array(np.zeros(n, np.float32)),
            "user_agent": pick(route, agents),
            "from": pc.if_else(
                webhook, numbers.recipients.take(pa.array(plan.recipient[safe])), nulls
            ),
            "message_status": pick(np.where(shown < 0, len(STATUSES), shown), (*STATUSES, None)),
            "remote_addr": pc.if_else(twilio, proxy, cluster),
        }
    )


def describe_app_log(app: AppLog, plan: Plan) -> dict[str, Any]:
    """What the ingress log shows and lacks (simulation.json): the inbound messages with no
    webhook request, the messages of each callback problem (SIDs, sorted) and the lines of
    each kind."""

    def sids(recs: np.ndarray) -> list[str]:
        return sorted(record_sids(plan, np.asarray(recs, np.int64)).to_pylist())

    return {
        "unhandled": sids(app.unhandled),
        "callbacks": {str(problem): sids(recs) for problem, recs in app.problems.items()},
        "app_log_lines": {k.name.lower(): int(np.sum(app.kind == k)) for k in AppLine},
    }
