"""The plan of a simulation: every record and log line as numbers, from one seeded RNG.

The steps draw from the RNG in a fixed order: a seed always gives the same plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np

from analyzer.errors import UserError
from analyzer.simulate.bodies import draw_bodies
from analyzer.simulate.config import (
    PLANTED_CODES,
    PLANTED_VERDICT_OF,
    SCENARIOS,
    Scenario,
    SimulationConfig,
    scenario_rates,
    validate,
)
from analyzer.simulate.failures import (
    FAILED_CODE_SHARES,
    UNDELIVERED_CODE_SHARES,
    PlantedFailures,
    draw_codes,
    failure_rng,
    plant_failures,
)
from analyzer.simulate.log_plan import plan_lines
from analyzer.simulate.messages import Direction, Status, order_by_time_and_sid
from analyzer.simulate.optout_truth import PlantedOptouts
from analyzer.simulate.optouts import plant_optouts
from analyzer.simulate.phone_numbers import PhoneNumbers, draw_numbers
from analyzer.simulate.text import random_sid
from analyzer.simulate.timeline import DAY_S, LogGap, draw_times
from analyzer.vocabulary import (
    DOUBLE_SUBMIT,
    PLANTED_VERDICTS,
    REDELIVERY_1H,
    TIMEOUT_PATTERNS,
    Verdict,
)

#: The client timeouts after which the application retries.
RETRY_TIMEOUTS = (TIMEOUT_PATTERNS[10], TIMEOUT_PATTERNS[15], TIMEOUT_PATTERNS[30])
# Gaps (s, inclusive) between consecutive records of one event, by scenario.
#: A retry comes its timeout plus this much later: inside the timeout's gap pattern.
RETRY_JITTER_S = (0, int(RETRY_TIMEOUTS[0].high - RETRY_TIMEOUTS[0].low) - 1)
DOUBLE_SUBMIT_GAP_S = (int(DOUBLE_SUBMIT.low), int(DOUBLE_SUBMIT.high))
#: A queue redelivers at its visibility timeout (the pattern's mark), or up to 100 s before.
_VISIBILITY_TIMEOUT_S = int(cast(float, REDELIVERY_1H.mark))
REDELIVERY_GAP_S = (_VISIBILITY_TIMEOUT_S - 100, _VISIBILITY_TIMEOUT_S)
TWILIO_SIDE_GAP_S = (0, 1)
LEGIT_REPEAT_GAP_S = (3, 90)
#: Share of planted groups deliberately placed inside the log gap (at least one).
GAP_PLANTED_SHARE = 0.03
#: Share of normal outbound records that are TwiML replies (no POST by the app).
REPLY_SHARE = 0.06
#: The error code of a send to a recipient who opted out (never sent).
OPTED_OUT_CODE = 21610
#: Probabilities of the statuses drawn for records (delivered, sent, undelivered, ...).
_STATUS_WEIGHTS = [0.93, 0.03, 0.025, 0.012, 0.003]


@dataclass
class Plan:
    """Everything about the records and log lines, as numbers; strings come per chunk."""

    n: int
    scenario: np.ndarray
    event: np.ndarray
    pos: np.ndarray
    group_id: np.ndarray  # 0 = none
    verdict: np.ndarray  # -1 = none
    posts: np.ndarray
    covered: np.ndarray
    created: np.ndarray  # epoch seconds
    sent_delay: np.ndarray  # -1 = no date_sent
    after: np.ndarray  # date_updated minus date_sent (or date_created)
    direction: np.ndarray
    status: np.ndarray
    error: np.ndarray  # 0 = none
    template: np.ndarray
    param: np.ndarray
    recipient: np.ndarray
    sender: np.ndarray
    sid_raw: np.ndarray
    media: np.ndarray
    app_off_ms: np.ndarray
    counts: dict[str, int]
    groups: dict[str, int]
    line_ms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_rec: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    line_status: np.ndarray = field(default_factory=lambda: np.empty(0, np.int16))
    line_error: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    line_duration: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_cut: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))
    #: Each line's number for its random details (request id, proxy fields), kept when
    #: lines are inserted before it.
    line_seq: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: Twilio's error code of a refused POST (0: none).
    line_code: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    #: The recipient of a line that has no record of its own (-1: its record's).
    line_recipient: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    failures: PlantedFailures = field(default_factory=PlantedFailures)
    optouts: PlantedOptouts = field(default_factory=PlantedOptouts)


@dataclass
class _Events:
    """The events (one send, or one planted group) and their records, in event order."""

    scenario: np.ndarray  # per event
    size: np.ndarray  # records per event
    starts: np.ndarray  # first record of each event
    groups: np.ndarray  # events per scenario code
    # Records of non-normal events: they are few, so most per-record work touches only them.
    special: np.ndarray
    record_event: np.ndarray
    pos: np.ndarray  # position of each record in its event
    record_scenario: np.ndarray

    def first_of(self, records: np.ndarray) -> np.ndarray:
        """The first record of each record's event."""
        return self.starts[self.record_event[records]]


def build_plan(
    config: SimulationConfig, rng: np.random.Generator
) -> tuple[Plan, PhoneNumbers, list[str]]:
    """Plan a simulation: the records, the log lines, the phone numbers and the
    account's SIDs (the account's first, then its messaging services')."""
    window_start, gap = validate(config)
    failures = failure_rng(config.seed)
    events = _draw_events(config, rng)
    timeout, offset, span = _draw_offsets(events, rng)
    app_off, coverage_ms, twin = _app_clock(config, events, offset, rng)
    t0 = _place_events(config, events, span, coverage_ms, window_start, gap, rng)
    created = np.repeat(t0, events.size) + offset
    covered = ~gap.contains(np.repeat(t0 * 1000, events.size) + coverage_ms)
    del offset, coverage_ms, t0
    numbers, sids, sender, recipient = _draw_routes(config, events, rng)
    direction, media, posts = _draw_directions(events, twin, rng)
    inbound = direction == Direction.INBOUND
    template, param = _draw_template_params(events, recipient, inbound, media, rng)
    status, error, sent_delay, after = _draw_statuses(events, inbound, rng, failures)
    del inbound
    sid_raw = rng.integers(0, 256, size=(config.messages, 16), dtype=np.uint8)
    order, group_id, verdict = _number_groups(events, created - window_start, sid_raw, covered)
    columns = {
        "scenario": events.record_scenario, "event": events.record_event, "pos": events.pos,
        "group_id": group_id, "verdict": verdict, "posts": posts, "covered": covered,
        "created": created, "sent_delay": sent_delay, "after": after, "direction": direction,
        "status": status, "error": error, "template": template, "param": param,
        "recipient": recipient, "sender": sender, "sid_raw": sid_raw, "media": media,
        "app_off_ms": app_off,
    }  # fmt: skip
    del group_id, verdict, posts, covered, created, sent_delay, after, direction, status, error
    del template, param, recipient, sender, sid_raw, media, app_off
    plan = _sorted_plan(events, columns, order)
    plan_lines(plan, rng, gap, timeout, events.size)
    pool = len(numbers.recipients)
    drawn_status = plan.status.copy()
    plan.failures = plant_failures(plan, failures, window_start, config.days, gap, pool)
    plant_optouts(plan, numbers, config, window_start, gap, drawn_status)
    return plan, numbers, sids


def _draw_events(config: SimulationConfig, rng: np.random.Generator) -> _Events:
    """The events of each scenario and their sizes; normal sends fill up to ``messages``."""
    m = config.messages
    rates = list(scenario_rates(config).values())
    # Normal sends fill up below; opt-out records are planted after the plan is made.
    n_groups = np.zeros(len(SCENARIOS), dtype=np.int64)
    n_groups[1 : len(rates) + 1] = [round(r * m) for r in rates]
    ev_scen = np.repeat(np.arange(len(SCENARIOS), dtype=np.int8), n_groups)
    size = np.ones(ev_scen.size, dtype=np.int64)
    retry, legit = Scenario.APP_RETRY_TIMEOUT, Scenario.LEGIT_REPEAT
    size[ev_scen == retry] = rng.choice([2, 3], size=n_groups[retry], p=[0.75, 0.25])
    pairs = [Scenario.DOUBLE_SUBMIT, Scenario.QUEUE_REDELIVERY, Scenario.TWILIO_SIDE]
    size[np.isin(ev_scen, pairs)] = 2
    size[ev_scen == legit] = rng.choice([2, 3], size=n_groups[legit], p=[0.85, 0.15])
    normal = m - int(size.sum())
    if normal < 0:
        raise UserError(
            f"the scenario rates ask for {int(size.sum())} records, more than messages={m}"
        )
    n_groups[Scenario.NORMAL] = normal
    ev_scen = np.concatenate([np.zeros(normal, np.int8), ev_scen])
    size = np.concatenate([np.ones(normal, np.int64), size])
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    special = np.flatnonzero(np.repeat(ev_scen != Scenario.NORMAL, size))
    record_event = np.repeat(np.arange(ev_scen.size, dtype=np.int32), size)
    pos = np.zeros(m, dtype=np.int8)
    pos[special] = special - starts[record_event[special]]
    return _Events(
        scenario=ev_scen, size=size, starts=starts, groups=n_groups, special=special,
        record_event=record_event, pos=pos, record_scenario=np.repeat(ev_scen, size),
    )  # fmt: skip


def _between(rng: np.random.Generator, bounds: tuple[int, int], n: int) -> np.ndarray:
    return rng.integers(bounds[0], bounds[1] + 1, size=n)


def _draw_offsets(
    events: _Events, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The client timeout of each event, each record's offset (s after its event's first
    record) and each event's span (s), from the gap pattern its scenario stands for."""
    timeouts = np.array([pattern.low for pattern in RETRY_TIMEOUTS], dtype=np.int32)
    timeout = rng.choice(timeouts, size=events.scenario.size)
    special = events.special
    gap_s = np.zeros(special.size, dtype=np.int64)
    sp_scen, sp_ev = events.record_scenario[special], events.record_event[special]
    draws: dict[Scenario, Callable[[np.ndarray], np.ndarray]] = {
        Scenario.APP_RETRY_TIMEOUT: lambda k: (
            timeout[sp_ev[k]] + _between(rng, RETRY_JITTER_S, k.size)
        ),
        Scenario.DOUBLE_SUBMIT: lambda k: _between(rng, DOUBLE_SUBMIT_GAP_S, k.size),
        Scenario.QUEUE_REDELIVERY: lambda k: _between(rng, REDELIVERY_GAP_S, k.size),
        Scenario.TWILIO_SIDE: lambda k: _between(rng, TWILIO_SIDE_GAP_S, k.size),
        Scenario.LEGIT_REPEAT: lambda k: _between(rng, LEGIT_REPEAT_GAP_S, k.size),
    }
    follows = events.pos[special] > 0
    for code, draw in draws.items():
        rows = np.flatnonzero(follows & (sp_scen == code))
        gap_s[rows] = draw(rows)
    cum = np.cumsum(gap_s)
    offset = np.zeros(events.record_event.size, dtype=np.int32)
    offset[special] = cum - cum[np.searchsorted(special, events.first_of(special))]
    span = offset[events.starts + events.size - 1].astype(np.int64)
    return timeout, offset, span


def _app_clock(
    config: SimulationConfig, events: _Events, offset: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each record's app-clock offset (ms) from its Twilio time, its log coverage offset
    (ms after its event's start) and the twilio_side records that no POST made."""
    m = offset.size
    # App clock: Twilio's second-truncated time + sub-second part + skew - network latency.
    skew_ms = round(config.clock_skew_seconds * 1000)
    app_off = rng.integers(0, 1000, size=m, dtype=np.int32)
    app_off += np.int32(skew_ms) - rng.integers(30, 300, size=m, dtype=np.int32)
    # Coverage follows the POST that produced the record (the first one for twilio_side).
    coverage_ms = offset.astype(np.int64) * 1000 + app_off
    special = events.special
    follows = events.pos[special] > 0
    twin = special[(events.record_scenario[special] == Scenario.TWILIO_SIDE) & follows]
    coverage_ms[twin] = coverage_ms[events.first_of(twin)]
    return app_off, coverage_ms, twin


def _place_events(
    config: SimulationConfig,
    events: _Events,
    span: np.ndarray,
    coverage_ms: np.ndarray,
    window_start: int,
    gap: LogGap,
    rng: np.random.Generator,
) -> np.ndarray:
    """Event start times (epoch s): planted groups entirely inside or outside the gap."""
    t0 = draw_times(rng, events.scenario.size, window_start, config.days, config.span_seconds)
    planted = np.flatnonzero(PLANTED_CODES[events.scenario])
    if gap.enabled and planted.size:
        _force_into_gap(config, t0, planted, span, window_start, gap, rng)
    _settle(config, events, t0, span, coverage_ms, window_start, gap, rng)
    return t0


def _force_into_gap(
    config: SimulationConfig,
    t0: np.ndarray,
    planted: np.ndarray,
    span: np.ndarray,
    window_start: int,
    gap: LogGap,
    rng: np.random.Generator,
) -> None:
    """Move a share of the planted events (that fit) into the log gap, in place."""
    skew_ms = round(config.clock_skew_seconds * 1000)
    fits = planted[span[planted] * 1000 + 5000 < gap.length_ms]
    n_forced = min(fits.size, max(1, round(GAP_PLANTED_SHARE * planted.size)))
    forced = rng.choice(fits, size=n_forced, replace=False) if n_forced else fits[:0]
    room = (gap.length_ms - 5000) // 1000 - span[forced]
    day = rng.integers(0, config.days, size=forced.size)
    t0[forced] = (
        window_start + day * DAY_S + (gap.start_ms - skew_ms) // 1000 + 2
        + rng.integers(0, room + 1)
    )  # fmt: skip


def _settle(
    config: SimulationConfig,
    events: _Events,
    t0: np.ndarray,
    span: np.ndarray,
    coverage_ms: np.ndarray,
    window_start: int,
    gap: LogGap,
    rng: np.random.Generator,
) -> None:
    """Redraw, in place, events that end after the window or planted groups that straddle
    the gap's edge."""
    window_end = window_start + (config.span_seconds or config.days * DAY_S)
    n_events = events.scenario.size
    rec_ev = events.record_event
    planted_ev = PLANTED_CODES[events.scenario]
    planted_recs = events.special[planted_ev[rec_ev[events.special]]]
    check = np.flatnonzero(t0 + span >= window_end)
    check = np.union1d(check, np.flatnonzero(planted_ev))
    for _ in range(200):
        bad = np.zeros(n_events, dtype=bool)
        bad[check] = t0[check] + span[check] >= window_end
        if gap.enabled:
            recs = planted_recs[np.isin(rec_ev[planted_recs], check)]
            ev = rec_ev[recs]
            inside = gap.contains(t0[ev] * 1000 + coverage_ms[recs])
            n_in = np.bincount(ev, weights=inside, minlength=n_events)
            n_all = np.bincount(ev, minlength=n_events)
            bad |= (n_in > 0) & (n_in < n_all)
        if not bad.any():
            return
        check = np.flatnonzero(bad)
        t0[check] = draw_times(rng, check.size, window_start, config.days, config.span_seconds)
    raise RuntimeError("could not place the planted groups in time")


def _draw_routes(
    config: SimulationConfig, events: _Events, rng: np.random.Generator
) -> tuple[PhoneNumbers, list[str], np.ndarray, np.ndarray]:
    """The phone numbers, the SIDs, and each record's sender and recipient index."""
    n_events = events.scenario.size
    pool = max(200, config.messages // 3)
    n_services = int(rng.integers(3, 5))
    numbers = draw_numbers(rng, pool, n_services)
    service_sids = [random_sid(rng, "MG") for _ in range(n_services)]
    account_sid = random_sid(rng, "AC")
    n_routes = numbers.route_size.size
    route_p = np.concatenate(
        [rng.dirichlet(np.full(n_services, 2.0)) * 0.92, np.full(n_routes - n_services, 0.04)]
    )
    route = rng.choice(n_routes, size=n_events, p=route_p / route_p.sum()).astype(np.int16)
    recipient_ev = rng.integers(0, pool, size=n_events, dtype=np.int32)
    media_ev = np.flatnonzero(events.scenario == Scenario.MEDIA_ONLY)
    recipient_ev[media_ev] = rng.integers(0, numbers.block_ends[0], size=media_ev.size)
    rec_route = np.repeat(route, events.size)
    sender = (
        numbers.route_start[rec_route] + rng.integers(0, numbers.route_size[rec_route])
    ).astype(np.int16)
    del rec_route
    recipient = np.repeat(recipient_ev, events.size)
    return numbers, [account_sid, *service_sids], sender, recipient


def _draw_directions(
    events: _Events, twin: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each record's direction, whether it is media-only and how many POSTs made it."""
    scenario = events.record_scenario
    m = scenario.size
    direction = np.zeros(m, dtype=np.int8)
    direction[scenario == Scenario.INBOUND] = Direction.INBOUND
    reply = (scenario == Scenario.NORMAL) & (rng.random(m, dtype=np.float32) < REPLY_SHARE)
    direction[reply] = Direction.OUTBOUND_REPLY
    media = scenario == Scenario.MEDIA_ONLY
    posts = (direction == Direction.OUTBOUND_API).astype(np.int8)
    posts[twin] = 0
    return direction, media, posts


def _draw_template_params(
    events: _Events,
    recipient: np.ndarray,
    inbound: np.ndarray,
    media: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(template, param) of each record; a planted group's records share one body."""
    special = events.special
    sp_scen = events.record_scenario[special]
    followers = special[PLANTED_CODES[sp_scen] & (events.pos[special] > 0)]
    legit = special[sp_scen == Scenario.LEGIT_REPEAT]
    return draw_bodies(rng, recipient, inbound, media, legit, followers, events.first_of(followers))


def _draw_statuses(
    events: _Events, inbound: np.ndarray, rng: np.random.Generator, failures: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Each record's status, error code, date_sent delay and date_updated delay (s); the
    codes come from ``failures``, but which failed records are opted out."""
    m = inbound.size
    special = events.special
    sp_scen = events.record_scenario[special]
    status = rng.choice(len(_STATUS_WEIGHTS), size=m, p=_STATUS_WEIGHTS).astype(np.int8)
    planted_rec = special[PLANTED_CODES[sp_scen]]
    status[planted_rec] = np.where(
        rng.random(planted_rec.size) < 0.97, Status.DELIVERED, Status.SENT
    )
    status[special[sp_scen == Scenario.CARRIER_SIDE]] = Status.DELIVERED
    status[inbound] = Status.RECEIVED
    error = np.zeros(m, dtype=np.int16)
    und = np.flatnonzero(status == Status.UNDELIVERED)
    # The main generator's draws of an older, smaller code mix are kept (and mostly
    # unused) so that every value drawn after them stays the same.
    rng.choice(4, size=und.size, p=[0.4, 0.2, 0.2, 0.2])
    error[und] = draw_codes(failures, UNDELIVERED_CODE_SHARES, und.size)
    fail = np.flatnonzero(status == Status.FAILED)
    opted_out = rng.choice([False, True], size=fail.size, p=[0.6, 0.4])
    error[fail[opted_out]] = OPTED_OUT_CODE
    error[fail[~opted_out]] = draw_codes(failures, FAILED_CODE_SHARES, int((~opted_out).sum()))
    sent_delay = rng.integers(0, 4, size=m, dtype=np.int8)
    sent_delay[(status == Status.QUEUED) | (error == OPTED_OUT_CODE)] = -1
    sent_delay[inbound] = 0
    after = rng.integers(0, 3, size=m, dtype=np.int16)  # sent, queued
    for code, (low, high) in {
        Status.DELIVERED: (1, 31), Status.UNDELIVERED: (5, 121), Status.FAILED: (1, 31),
        Status.RECEIVED: (0, 1),
    }.items():  # fmt: skip
        rows = np.flatnonzero(status == code)
        after[rows] = rng.integers(low, high, size=rows.size, dtype=np.int16)
    return status, error, sent_delay, after


def _number_groups(
    events: _Events, created: np.ndarray, sid_raw: np.ndarray, covered: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The order of the records by (created, sid), each record's planted group id
    (numbered in that order, 0 for none) and expected verdict (PLANTED_VERDICTS index)."""
    m = created.size
    order = order_by_time_and_sid(created, sid_raw)
    new_pos = np.empty(m, dtype=np.int64)
    new_pos[order] = np.arange(m)
    first = np.minimum.reduceat(new_pos, events.starts)
    del new_pos
    planted = np.flatnonzero(PLANTED_CODES[events.scenario])
    planted_ranked = planted[np.argsort(first[planted], kind="stable")]
    ev_group = np.zeros(events.scenario.size, dtype=np.int32)
    ev_group[planted_ranked] = np.arange(1, planted_ranked.size + 1)
    verdict_of = np.full(len(SCENARIOS), -1, dtype=np.int8)
    for scenario, planted_verdict in PLANTED_VERDICT_OF.items():
        verdict_of[scenario] = PLANTED_VERDICTS.index(planted_verdict)
    verdict = verdict_of[events.record_scenario]
    verdict[(verdict >= 0) & ~covered] = PLANTED_VERDICTS.index(Verdict.UNVERIFIED)
    return order, np.repeat(ev_group, events.size), verdict


def _sorted_plan(events: _Events, columns: dict[str, Any], order: np.ndarray) -> Plan:
    """The plan of these record columns, put in ``order``."""
    counts = np.bincount(events.record_scenario, minlength=len(SCENARIOS))
    # Let the columns hold the only references, so each is freed once reordered.
    events.record_scenario = events.record_event = events.pos = np.empty(0)
    for name in list(columns):  # one column at a time keeps a single extra copy alive
        columns[name] = columns[name][order]
    return Plan(
        n=order.size,
        counts=dict(zip(SCENARIOS, map(int, counts), strict=True)),
        groups=dict(zip(SCENARIOS, map(int, events.groups), strict=True)),
        **columns,
    )
