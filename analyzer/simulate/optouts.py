"""The opt-outs a simulation plants: recipients who reply STOP (or a variant) to one of
our numbers, some who opt back in later, HELP messages, near misses that change nothing,
sends after an opt-out (most refused with 21610, a few that went out anyway), sends from
another number of the same Messaging Service (refused too) or from a number outside a
lone number's opt-out (not covered), and 21610 refusals with no keyword in the data.

The planted records come on top of ``messages`` (scenario ``opt_out``) and draw from
their own generator (``optout_rng``), so every record planted before keeps its values,
but one change, as Twilio would make it: a plain send that follows an opt-out already in
the data (an inbound "STOP" reply) in its scope becomes a 21610 refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analyzer.simulate import bodies
from analyzer.simulate.config import Scenario, SimulationConfig
from analyzer.simulate.failures import POST_LINE, insert_lines, permanent_candidates
from analyzer.simulate.messages import Direction, Status, order_by_time_and_sid
from analyzer.simulate.optout_truth import (
    PlantedOptouts,
    inbound_kinds,
    record_keys,
    replay,
    scope_codes,
)
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.templates import (
    HELP_BODIES,
    KEYWORD_BODIES,
    KEYWORD_TEMPLATE,
    NEAR_MISS_BODIES,
    OPT_IN_BODIES,
    OPT_OUT_BODIES,
)
from analyzer.simulate.timeline import DAY_S, LogGap
from analyzer.vocabulary import OPTED_OUT_ERROR

if TYPE_CHECKING:
    from analyzer.simulate.plan import Plan

#: Mixed with the seed, it seeds the opt-outs' own generator.
OPTOUT_STREAM = 0x0570
#: Planted opt-outs per message (at least OPT_OUT_MIN); a third of them opt back in.
OPT_OUT_SHARE, OPT_OUT_MIN = 0.004, 6
#: HELP messages, near misses and 21610 refusals without a keyword, per message.
HELP_SHARE, HELP_MIN = 0.001, 3
NEAR_MISS_SHARE, NEAR_MISS_MIN = 0.0015, 4
INFERRED_SHARE, INFERRED_MIN = 0.0007, 2
#: Share of the sends to opted-out recipients that went out anyway (at least one).
SENT_ANYWAY_SHARE = 0.2
#: The fewest seconds left in the window after a record an opt-out story follows.
MIN_ROOM_S = 600
#: The minimum counts above apply from this many messages (smaller runs: the shares).
MINIMUMS_FROM = 1_000
#: The first sequence number (the seed of a log line's random details) of the POST lines
#: of planted sends: far from the others, whatever the number of lines before.
FIRST_LINE_SEQ = 1 << 40
#: Indices of each role's bodies in KEYWORD_BODIES.
_OPT_OUT_AT = np.arange(len(OPT_OUT_BODIES))
_OPT_IN_AT = _OPT_OUT_AT.size + np.arange(len(OPT_IN_BODIES))
_HELP_AT = _OPT_IN_AT[-1] + 1 + np.arange(len(HELP_BODIES))
_NEAR_MISS_AT = _HELP_AT[-1] + 1 + np.arange(len(NEAR_MISS_BODIES))
assert _NEAR_MISS_AT[-1] + 1 == len(KEYWORD_BODIES)


@dataclass
class _NewRecords:
    """Records to add, by column (recipient and sender indices, time, kind of record)."""

    recipient: list[np.ndarray]
    sender: list[np.ndarray]
    created: list[np.ndarray]
    direction: list[np.ndarray]
    status: list[np.ndarray]
    param: list[np.ndarray]  # the KEYWORD_BODIES index of an inbound record

    def add(
        self,
        recipient: np.ndarray,
        sender: np.ndarray,
        created: np.ndarray,
        status: Status,
        param: np.ndarray | None = None,
    ) -> np.ndarray:
        """Add records (inbound when ``param`` is given); their indices among the new."""
        first = sum(a.size for a in self.recipient)
        n = recipient.size
        self.recipient.append(recipient.astype(np.int32))
        self.sender.append(sender.astype(np.int16))
        self.created.append(created.astype(np.int64))
        inbound = param is not None
        direction = Direction.INBOUND if inbound else Direction.OUTBOUND_API
        self.direction.append(np.full(n, direction, dtype=np.int8))
        self.status.append(np.full(n, status, dtype=np.int8))
        self.param.append(param if param is not None else np.full(n, -1, dtype=np.int64))
        return np.arange(first, first + n)


def optout_rng(seed: int) -> np.random.Generator:
    """The opt-outs' own generator for this seed."""
    return np.random.default_rng([seed, OPTOUT_STREAM])


def plant_optouts(
    plan: Plan,
    numbers: PhoneNumbers,
    config: SimulationConfig,
    window_start: int,
    gap: LogGap,
    drawn_status: np.ndarray,
) -> None:
    """Refuse the sends that follow an opt-out already in the data, then plant the
    opt-out records into the plan (records, POST lines, counts).

    ``drawn_status``: each record's status before the failures were planted. Choices
    rest on it, so that another failure generator changes the opt-outs only where a
    failure planted lands on a record they would use."""
    rng = optout_rng(config.seed)
    scope = scope_codes(plan, numbers)
    keys = record_keys(plan, scope)
    _refuse_sends_after_opt_outs(plan, keys, drawn_status)
    window_end = window_start + (config.span_seconds or config.days * DAY_S)
    new = _NewRecords([], [], [], [], [], [])
    # Recipients that may fail for good get nothing but their sends: whatever the
    # failures' draws, they keep failing every send.
    pool = len(numbers.recipients)
    may_fail = np.zeros(pool, dtype=bool)
    may_fail[permanent_candidates(plan, drawn_status, pool)] = True
    anchors = _story_anchors(plan, keys, window_end, drawn_status, may_fail, rng)
    service_wide, other_scope = _plant_stories(plan, numbers, anchors, window_end, new, rng)
    _plant_messages(plan, window_end, may_fail, new, rng)
    positions = _merge(plan, new, config, gap, rng)
    plan.optouts = PlantedOptouts(
        service_wide=positions[service_wide], other_scope=positions[other_scope]
    )


def _every(bodies_at: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """n of these bodies in random order, each at least once when n allows."""
    return rng.permutation(np.resize(bodies_at, n))


def _count(messages: int, share: float, minimum: int) -> int:
    """How many of something to plant among this many messages."""
    wanted = round(share * messages)
    return max(minimum, wanted) if messages >= MINIMUMS_FROM else wanted


def _refuse_sends_after_opt_outs(plan: Plan, keys: np.ndarray, drawn_status: np.ndarray) -> None:
    """Make plain sends to recipients opted out in their scope 21610 refusals, but those
    of planted groups and failures (they stay sent after the opt-out)."""
    state = replay(plan, keys, inbound_kinds(plan))
    refuse = np.flatnonzero(
        state.opted_out
        & (plan.scenario == Scenario.NORMAL)
        & np.isin(drawn_status, [Status.DELIVERED, Status.SENT, Status.QUEUED])
        & (plan.status == drawn_status)
    )
    plan.status[refuse] = Status.FAILED
    plan.error[refuse] = OPTED_OUT_ERROR
    plan.sent_delay[refuse] = -1


def _story_anchors(
    plan: Plan,
    keys: np.ndarray,
    window_end: int,
    drawn_status: np.ndarray,
    may_fail: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Records an opt-out story can follow, shuffled, one per recipient: each the last
    record of its (scope, recipient), a delivered plain send (and no planted failure)
    to a recipient who never wrote to us and may not fail for good, with room left in
    the window."""
    outbound = np.flatnonzero(plan.direction != Direction.INBOUND)
    # The last record of each key (records are in time order).
    _, last_at = np.unique(keys[outbound][::-1], return_index=True)
    last = outbound[::-1][last_at]
    wrote = np.zeros(int(plan.recipient.max()) + 1, dtype=bool)
    wrote[plan.recipient[plan.direction == Direction.INBOUND]] = True
    fit = last[
        (plan.scenario[last] == Scenario.NORMAL)
        & np.isin(drawn_status[last], [Status.DELIVERED, Status.SENT])
        & ~wrote[plan.recipient[last]]
        & ~may_fail[plan.recipient[last]]
        & (window_end - plan.created[last] > MIN_ROOM_S)
    ]
    fit = fit[rng.permutation(fit.size)]
    _, first = np.unique(plan.recipient[fit], return_index=True)
    fit = fit[np.sort(first)]
    # (A send the failures planted into, on a jump's day, is left out.)
    return fit[plan.status[fit] == drawn_status[fit]]


def _story_times(
    plan: Plan, anchors: np.ndarray, window_end: int, rng: np.random.Generator
) -> np.ndarray:
    """Four strictly increasing times (s) after each anchor, inside the window."""
    room = window_end - 5 - plan.created[anchors]
    fraction = np.sort(rng.random((anchors.size, 4)), axis=1)
    offset = np.floor(fraction * room[:, None]).astype(np.int64) + np.arange(4)
    return plan.created[anchors][:, None] + 1 + offset


def _plant_stories(
    plan: Plan,
    numbers: PhoneNumbers,
    anchors: np.ndarray,
    window_end: int,
    new: _NewRecords,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Opt-outs (to services and to lone numbers), re-opt-ins, sends after them and
    21610 refusals without a keyword; the new indices of the service-wide sends and of
    the sends from outside a lone number's scope."""
    alone = numbers.sender_service[plan.sender[anchors]] < 0
    n_out = _count(plan.n, OPT_OUT_SHARE, OPT_OUT_MIN)
    lone = anchors[alone][: min(n_out, max(1, n_out // 8))]
    served = anchors[~alone][: n_out - lone.size]
    rest = np.setdiff1d(anchors, np.concatenate([lone, served]), assume_unique=True)
    inferred = rest[: _count(plan.n, INFERRED_SHARE, INFERRED_MIN)]
    service_wide, flagged = _plant_service_stories(plan, numbers, served, window_end, new, rng)
    other_scope, lone_flagged = _plant_lone_stories(plan, numbers, lone, window_end, new, rng)
    flagged = np.concatenate([flagged, lone_flagged])
    times = _story_times(plan, inferred, window_end, rng)
    new.add(plan.recipient[inferred], plan.sender[inferred], times[:, 0], Status.FAILED)
    # A few sends to opted-out recipients went out anyway; the rest were refused.
    # (the sends from another number of the service all refused, to show the scope).
    may_go = np.setdiff1d(flagged, service_wide)
    n_anyway = min(may_go.size, max(1, round(SENT_ANYWAY_SHARE * flagged.size)))
    anyway = rng.choice(may_go, size=n_anyway, replace=False)
    status = np.concatenate(new.status)
    status[anyway] = np.where(rng.random(n_anyway) < 0.8, Status.DELIVERED, Status.SENT)
    new.status = [status]
    return service_wide, other_scope


def _plant_service_stories(
    plan: Plan,
    numbers: PhoneNumbers,
    anchors: np.ndarray,
    window_end: int,
    new: _NewRecords,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Opt-outs to numbers of a service: every second one followed by sends (some from
    another number of the service), a third later opt back in; the new indices of the
    sends from another number and of every send."""
    n = anchors.size
    recipient, sender = plan.recipient[anchors], plan.sender[anchors]
    times = _story_times(plan, anchors, window_end, rng)
    new.add(recipient, sender, times[:, 0], Status.RECEIVED, _every(_OPT_OUT_AT, n, rng))
    back = np.arange(n) < max(1, round(n / 3))
    new.add(recipient[back], sender[back], times[back, 3], Status.RECEIVED,
            _every(_OPT_IN_AT, int(back.sum()), rng))  # fmt: skip
    # Every second story gets a send, every fourth a second one.
    first, second = np.flatnonzero(np.arange(n) % 2 == 0), np.flatnonzero(np.arange(n) % 4 == 0)
    route = numbers.sender_service[sender[first]]
    size = numbers.route_size[route]
    # Every third of the first sends (and the first that can) from another number.
    wide = (size > 1) & ((np.arange(first.size) % 3 == 0) | (np.cumsum(size > 1) == 1))
    start = numbers.route_start[route]
    other = start + (sender[first] - start + rng.integers(1, np.maximum(size, 2))) % size
    from_number = np.where(wide, other, sender[first])
    sends = new.add(recipient[first], from_number, times[first, 1], Status.FAILED)
    again = new.add(recipient[second], sender[second], times[second, 2], Status.FAILED)
    return sends[wide], np.concatenate([sends, again])


def _plant_lone_stories(
    plan: Plan,
    numbers: PhoneNumbers,
    anchors: np.ndarray,
    window_end: int,
    new: _NewRecords,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Opt-outs to numbers outside any service, each followed by a send from that number
    and one from the other lone number (not covered: delivered); the new indices of
    the sends not covered and of the sends covered."""
    recipient, sender = plan.recipient[anchors], plan.sender[anchors]
    times = _story_times(plan, anchors, window_end, rng)
    lone_numbers = np.flatnonzero(numbers.sender_service < 0)
    other = np.where(sender == lone_numbers[0], lone_numbers[-1], lone_numbers[0])
    new.add(recipient, sender, times[:, 0], Status.RECEIVED, _every(_OPT_OUT_AT, anchors.size, rng))
    covered = new.add(recipient, sender, times[:, 1], Status.FAILED)
    outside = new.add(recipient, other, times[:, 2], Status.DELIVERED)
    return outside, covered


def _plant_messages(
    plan: Plan, window_end: int, may_fail: np.ndarray, new: _NewRecords, rng: np.random.Generator
) -> None:
    """HELP messages and near misses from recipients of plain sends, soon after one."""
    wanted = {
        "help": (_count(plan.n, HELP_SHARE, HELP_MIN), _HELP_AT),
        "near": (_count(plan.n, NEAR_MISS_SHARE, NEAR_MISS_MIN), _NEAR_MISS_AT),
    }
    candidates = np.flatnonzero(
        (plan.scenario == Scenario.NORMAL)
        & (plan.direction != Direction.INBOUND)
        & (window_end - plan.created > MIN_ROOM_S)
        & ~may_fail[plan.recipient]
    )
    for n, bodies_at in wanted.values():
        after = rng.choice(candidates, size=min(n, candidates.size), replace=False)
        created = plan.created[after] + rng.integers(1, MIN_ROOM_S, size=after.size)
        body = _every(bodies_at, after.size, rng)
        new.add(plan.recipient[after], plan.sender[after], created, Status.RECEIVED, body)


def _merge(
    plan: Plan, new: _NewRecords, config: SimulationConfig, gap: LogGap, rng: np.random.Generator
) -> np.ndarray:
    """Put the new records into the plan in (created, sid) order, with POST lines for the
    sends the log covers; the position of each new record."""
    recipient = np.concatenate(new.recipient)
    direction = np.concatenate(new.direction)
    status = np.concatenate(new.status)
    created = np.concatenate(new.created)
    n = recipient.size
    inbound = direction == Direction.INBOUND
    refused = status == Status.FAILED
    skew_ms = round(config.clock_skew_seconds * 1000)
    app_off = rng.integers(0, 1000, size=n, dtype=np.int32)
    app_off += np.int32(skew_ms) - rng.integers(30, 300, size=n, dtype=np.int32)
    covered = ~gap.contains(created * 1000 + app_off)
    template, param = _bodies(plan, recipient, np.concatenate(new.param), inbound, rng)
    sent_delay = np.where(refused, -1, np.where(inbound, 0, rng.integers(0, 4, size=n)))
    columns = {
        "scenario": np.full(n, Scenario.OPT_OUT), "event": plan.event.max() + 1 + np.arange(n),
        "pos": np.zeros(n), "group_id": np.zeros(n), "verdict": np.full(n, -1),
        "posts": (~inbound).astype(np.int8), "covered": covered, "created": created,
        "sent_delay": sent_delay, "after": np.where(inbound, 0, rng.integers(1, 31, size=n)),
        "direction": direction, "status": status, "error": np.where(refused, OPTED_OUT_ERROR, 0),
        "template": template, "param": param, "recipient": recipient,
        "sender": np.concatenate(new.sender), "media": np.zeros(n, dtype=bool),
        "sid_raw": rng.integers(0, 256, size=(n, 16), dtype=np.uint8), "app_off_ms": app_off,
    }  # fmt: skip
    old_n, total = plan.n, plan.n + n
    order = order_by_time_and_sid(
        np.concatenate([plan.created, created]), np.concatenate([plan.sid_raw, columns["sid_raw"]])
    )
    position = np.empty(total, dtype=np.int64)
    position[order] = np.arange(total)
    for name, values in columns.items():
        old = getattr(plan, name)
        setattr(plan, name, np.concatenate([old, values.astype(old.dtype)])[order])
    plan.line_rec = position[plan.line_rec]
    plan.n = total
    plan.counts[Scenario.OPT_OUT.name.lower()] = plan.groups[Scenario.OPT_OUT.name.lower()] = n
    posts = np.flatnonzero(~inbound & covered)
    insert_lines(
        plan,
        ms=created[posts] * 1000 + app_off[posts],
        rec=position[old_n + posts],
        kind=POST_LINE,
        status=np.full(posts.size, 201, dtype=np.int16),
        error=0,
        duration=np.clip(np.exp(rng.normal(5.5, 0.35, size=posts.size)), 60, 5000),
        code=np.zeros(posts.size, dtype=np.int32),
        recipient=np.full(posts.size, -1, dtype=np.int32),
        first_seq=FIRST_LINE_SEQ,
    )
    return position[old_n:]


def _bodies(
    plan: Plan,
    recipient: np.ndarray,
    keyword: np.ndarray,
    inbound: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(template, param) of the new records: the keyword bodies of inbound ones, and for
    sends a text no other send to the recipient has."""
    template = np.full(recipient.size, KEYWORD_TEMPLATE, dtype=np.int64)
    param = keyword.copy()
    sends = np.flatnonzero(~inbound)
    weights = np.array([t.weight for t in bodies.TEMPLATES])
    template[sends] = rng.choice(weights.size, size=sends.size, p=weights / weights.sum())
    cardinality = np.array([t.cardinality for t in bodies.TEMPLATES], dtype=np.int64)
    # The texts the recipients already got come first: they keep theirs.
    theirs = np.flatnonzero(
        np.isin(plan.recipient, recipient[sends]) & (plan.template < weights.size)
    )
    all_templates = np.concatenate([plan.template[theirs], template[sends]]).astype(np.int64)
    key = np.concatenate([plan.recipient[theirs], recipient[sends]]).astype(np.int64) * 16
    drawn = np.concatenate([plan.param[theirs], rng.integers(0, cardinality[template[sends]])])
    unique = bodies.resolve_collisions(key + all_templates, drawn, cardinality[all_templates], rng)
    param[sends] = unique[theirs.size :]
    return template, param
