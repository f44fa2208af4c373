"""The delivery failures a simulation plants: error codes in realistic proportions,
recipients that fail for good, a jump of one code on the last day, and POSTs that
Twilio refused (no record made).

Everything here draws from its own generator (``failure_rng``), after the main one is
done or beside it, so that planting failures leaves every other value of the data as
it was: only error codes, the statuses of the planted failures, and the refused POSTs'
log lines are added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from analyzer.simulate.config import Scenario
from analyzer.simulate.log_plan import LINE_ERRORS
from analyzer.simulate.messages import Direction, Status
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.timeline import DAY_S, LogGap

if TYPE_CHECKING:
    from analyzer.simulate.plan import Plan

#: Mixed with the seed, it seeds the failures' own generator.
FAILURE_STREAM = 0x7E11
#: Shares of the error codes of undelivered records (carriers' answers).
UNDELIVERED_CODE_SHARES: dict[int, float] = {
    30003: 0.29,  # unreachable handset
    30005: 0.17,  # unknown number
    30008: 0.16,  # unknown error
    30006: 0.10,  # landline
    30007: 0.08,  # filtered
    30034: 0.08,  # unregistered 10DLC
    30004: 0.05,  # blocked
    30032: 0.05,  # toll-free not verified
    30450: 0.02,  # SMS pumping protection
}
#: Shares of the error codes of failed records, but those of opted-out recipients
#: (21610: the main generator picks them, and they never get a date_sent).
FAILED_CODE_SHARES: dict[int, float] = {
    30008: 0.35,  # unknown error
    21211: 0.20,  # invalid To
    21614: 0.15,  # not a mobile number
    30001: 0.15,  # queue overflow
    30034: 0.10,  # unregistered 10DLC
    30450: 0.05,  # SMS pumping protection
}
#: Codes of the recipients planted to fail for good, and the status each gives.
PERMANENT_CODES: dict[int, Status] = {
    21211: Status.FAILED,
    21614: Status.FAILED,
    30005: Status.UNDELIVERED,
    30006: Status.UNDELIVERED,
    30004: Status.UNDELIVERED,
}
#: Share of the recipient pool planted to fail for good (at least PERMANENT_MIN).
PERMANENT_SHARE = 0.002
PERMANENT_MIN = 3
#: The code that jumps on the last day (of at least JUMP_MIN_DAYS), how much above its
#: daily baseline, and the fewest records it adds.
JUMP_CODE = 30007
JUMP_FACTOR = 8
JUMP_MIN_RECORDS = 30
JUMP_MIN_DAYS = 5
#: Share of the sends that Twilio refused, and each refusal: (HTTP status, code, share).
REJECTED_SHARE = 0.003
REJECTIONS: tuple[tuple[int, int, float], ...] = (
    (400, 21211, 0.35),  # invalid To
    (400, 21610, 0.25),  # opted out
    (429, 20429, 0.15),  # too many requests
    (400, 21408, 0.10),  # region not enabled
    (400, 21614, 0.10),  # not a mobile number
    (400, 21602, 0.05),  # body required
)
#: Log line kinds (the plan's line_kind).
POST_LINE, GET_LINE, REJECTED_LINE = 0, 1, 2
#: The application's error of a refused POST (the plan's line_error).
REFUSED_ERROR = LINE_ERRORS.index("TwilioRestException")
#: Rounds of drawing recipients for refused POSTs before giving up on the rest.
_RECIPIENT_ROUNDS = 50


@dataclass
class PlantedFailures:
    """What was planted beyond the drawn codes."""

    #: Recipient indices whose every record fails for good.
    permanent_recipients: np.ndarray = field(default_factory=lambda: np.empty(0, np.int32))
    #: The jump of JUMP_CODE on the last day (simulation.json's ``failure_jump``), or None.
    jump: dict[str, Any] | None = None


def failure_rng(seed: int) -> np.random.Generator:
    """The failures' own generator for this seed."""
    return np.random.default_rng([seed, FAILURE_STREAM])


def draw_codes(rng: np.random.Generator, shares: dict[int, float], n: int) -> np.ndarray:
    """n error codes in these shares."""
    p = np.array(list(shares.values()))
    return rng.choice(np.array(list(shares), dtype=np.int16), size=n, p=p / p.sum())


def plant_failures(
    plan: Plan, rng: np.random.Generator, window_start: int, days: int, gap: LogGap, pool: int
) -> PlantedFailures:
    """Plant, into the plan: the recipients that fail for good, the jump on the last day
    and the refused POSTs (``pool``: recipients there are)."""
    permanent = _plant_permanent(plan, rng, pool)
    jump = _plant_jump(plan, rng, window_start, days)
    _plant_rejected(plan, rng, window_start, gap, pool)
    return PlantedFailures(permanent, jump)


def describe_failures(plan: Plan, numbers: PhoneNumbers) -> dict[str, Any]:
    """What was planted, for simulation.json: the failed records by status and by code,
    the jump, the recipients that fail for good and the refused POSTs."""
    failed = plan.error != 0
    statuses = plan.status[failed]
    codes, counts = np.unique(plan.error[failed], return_counts=True)
    refused = plan.line_kind == REJECTED_LINE
    line_status, status_counts = np.unique(plan.line_status[refused], return_counts=True)
    line_code, code_counts = np.unique(plan.line_code[refused], return_counts=True)
    permanent = numbers.recipients.take(pa.array(plan.failures.permanent_recipients))
    return {
        "failures_by_status": {
            "failed": int(np.count_nonzero(statuses == Status.FAILED)),
            "undelivered": int(np.count_nonzero(statuses == Status.UNDELIVERED)),
        },
        "failures_by_error_code": _counts(codes, counts),
        "failure_jump": plan.failures.jump,
        "permanent_failure_recipients": permanent.to_pylist(),
        "rejected_requests": {
            "posts": int(np.count_nonzero(plan.line_kind != GET_LINE)),
            "rejected": int(np.count_nonzero(refused)),
            "by_status": _counts(line_status, status_counts),
            "by_error_code": _counts(line_code, code_counts),
        },
    }


def _counts(values: np.ndarray, counts: np.ndarray) -> dict[str, int]:
    """Counts by value (as text), in value order."""
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def permanent_candidates(plan: Plan, status: np.ndarray, pool: int) -> np.ndarray:
    """The recipients that may be planted to fail for good, given the records' statuses:
    those with two records or more, all plain outbound sends (none planted, inbound,
    queued or failed already), so duplicates and date_sent stay as they were."""
    eligible = (
        (plan.scenario == Scenario.NORMAL)
        & (plan.direction == Direction.OUTBOUND_API)
        & np.isin(status, [Status.DELIVERED, Status.SENT, Status.UNDELIVERED])
    )
    records = np.bincount(plan.recipient, minlength=pool)
    eligible_records = np.bincount(plan.recipient, weights=eligible, minlength=pool)
    return np.flatnonzero((records >= 2) & (eligible_records == records))


def _plant_permanent(plan: Plan, rng: np.random.Generator, pool: int) -> np.ndarray:
    """Make every record of a few recipients fail with a permanent code; their indices."""
    candidates = permanent_candidates(plan, plan.status, pool)
    n = min(candidates.size, max(PERMANENT_MIN, round(PERMANENT_SHARE * pool)))
    chosen = np.sort(rng.choice(candidates, size=n, replace=False)).astype(np.int32)
    codes = rng.choice(np.array(list(PERMANENT_CODES), dtype=np.int16), size=n)
    statuses = np.array([PERMANENT_CODES[int(c)] for c in codes], dtype=np.int8)
    rows = np.flatnonzero(np.isin(plan.recipient, chosen))
    which = np.searchsorted(chosen, plan.recipient[rows])
    plan.error[rows] = codes[which]
    plan.status[rows] = statuses[which]
    return chosen


def _plant_jump(
    plan: Plan, rng: np.random.Generator, window_start: int, days: int
) -> dict[str, Any] | None:
    """Turn delivered sends of the last day into JUMP_CODE failures, JUMP_FACTOR times
    the code's daily baseline (at least JUMP_MIN_RECORDS); what was planted."""
    if days < JUMP_MIN_DAYS:
        return None
    last = days - 1
    day = (plan.created - window_start) // DAY_S
    baseline = float(np.count_nonzero((plan.error == JUMP_CODE) & (day < last))) / last
    wanted = max(JUMP_MIN_RECORDS, int(np.ceil(JUMP_FACTOR * baseline)))
    candidates = np.flatnonzero(
        (day == last)
        & (plan.status == Status.DELIVERED)
        & (plan.direction == Direction.OUTBOUND_API)
        & (plan.scenario == Scenario.NORMAL)
    )
    count = min(wanted, candidates.size)
    if count == 0:
        return None
    chosen = rng.choice(candidates, size=count, replace=False)
    plan.status[chosen] = Status.UNDELIVERED
    plan.error[chosen] = JUMP_CODE
    date = datetime.fromtimestamp(window_start + last * DAY_S, tz=UTC).date()
    return {
        "error_code": str(JUMP_CODE),
        "day": date.isoformat(),
        "count": int(count),
        "total": int(np.count_nonzero((plan.error == JUMP_CODE) & (day == last))),
        "baseline": round(baseline, 3),
    }


def _plant_rejected(
    plan: Plan, rng: np.random.Generator, window_start: int, gap: LogGap, pool: int
) -> None:
    """Add POSTs that Twilio refused to the log plan, each a little after another send,
    to a recipient with no record that day nor the days beside it."""
    posts = np.flatnonzero(plan.line_kind == POST_LINE)
    n = round(REJECTED_SHARE * posts.size)
    after = rng.choice(posts, size=n, replace=False)
    ms = plan.line_ms[after] + rng.integers(1_000, 120_000, size=n)
    kind = rng.choice(len(REJECTIONS), size=n, p=[share for _, _, share in REJECTIONS])
    duration = rng.integers(60, 400, size=n, dtype=np.int32)
    day = (ms // 1000 - window_start) // DAY_S
    recipient = _free_recipients(plan, rng, day, window_start, pool)
    keep = (recipient >= 0) & ~gap.contains(ms)
    statuses = np.array([status for status, _, _ in REJECTIONS], dtype=np.int16)
    codes = np.array([code for _, code, _ in REJECTIONS], dtype=np.int32)
    insert_lines(
        plan,
        ms=ms[keep],
        rec=plan.line_rec[after[keep]],
        kind=REJECTED_LINE,
        status=statuses[kind[keep]],
        error=REFUSED_ERROR,
        duration=duration[keep],
        code=codes[kind[keep]],
        recipient=recipient[keep],
    )


def _free_recipients(
    plan: Plan, rng: np.random.Generator, day: np.ndarray, window_start: int, pool: int
) -> np.ndarray:
    """A recipient for each day (from the window's start) with no record that day, the
    day before or the day after, each used once (-1 where none was found)."""
    record_day = (plan.created - window_start) // DAY_S
    # Keys (day, recipient); days shifted by 2 as a record may sit a day before the window.
    busy = np.sort(
        np.concatenate([(record_day + k + 2) * pool + plan.recipient for k in (-1, 0, 1)])
    )
    used = np.empty(0, dtype=np.int64)
    recipient = np.full(day.size, -1, dtype=np.int64)
    for _ in range(_RECIPIENT_ROUNDS):
        open_rows = np.flatnonzero(recipient < 0)
        if not open_rows.size:
            break
        draw = rng.integers(0, pool, size=open_rows.size)
        key = (day[open_rows] + 2) * pool + draw
        free = np.zeros(open_rows.size, dtype=bool)
        free[np.unique(key, return_index=True)[1]] = True
        at = np.minimum(np.searchsorted(busy, key), busy.size - 1)
        free &= (busy[at] != key) & ~np.isin(key, used)
        recipient[open_rows[free]] = draw[free]
        used = np.concatenate([used, key[free]])
    return recipient


def insert_lines(
    plan: Plan,
    *,
    ms: np.ndarray,
    rec: np.ndarray,
    kind: int,
    status: np.ndarray,
    error: int,
    duration: np.ndarray,
    code: np.ndarray,
    recipient: np.ndarray,
    first_seq: int | None = None,
) -> None:
    """Put POST lines of one kind (and line error) into the plan's log lines, in time
    order; the lines already there keep their order and their sequence numbers (so
    their text stays the same). ``recipient`` -1: the record's own. The new lines are
    numbered from ``first_seq`` (default: after the lines there are)."""
    n_old = plan.line_ms.size
    order = np.argsort(np.concatenate([plan.line_ms, ms]), kind="stable")

    def merged(old: np.ndarray, new: np.ndarray) -> np.ndarray:
        return np.concatenate([old, new.astype(old.dtype)])[order]

    plan.line_ms = merged(plan.line_ms, ms)
    first = n_old if first_seq is None else first_seq
    plan.line_seq = merged(plan.line_seq, np.arange(first, first + ms.size))
    plan.line_rec = merged(plan.line_rec, rec)
    plan.line_kind = merged(plan.line_kind, np.full(ms.size, kind))
    plan.line_status = merged(plan.line_status, status)
    plan.line_error = merged(plan.line_error, np.full(ms.size, error))
    plan.line_duration = merged(plan.line_duration, duration)
    plan.line_cut = merged(plan.line_cut, np.zeros(ms.size))
    plan.line_code = merged(plan.line_code, code)
    plan.line_recipient = merged(plan.line_recipient, recipient)
