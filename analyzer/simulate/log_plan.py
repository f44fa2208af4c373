"""The plan of the request log: one POST per posting record, GET noise, torn lines."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from analyzer.simulate.config import Scenario
from analyzer.simulate.messages import Direction, Status
from analyzer.simulate.timeline import LogGap

if TYPE_CHECKING:
    from analyzer.simulate.plan import Plan

#: Share of app_retry_timeout groups whose failed attempts got a 5xx, not a timeout.
RETRY_5XX_SHARE = 0.05
#: Status look-ups (GET) per record.
GET_SHARE = 0.02
#: Share of log lines written torn (at least one).
MALFORMED_SHARE = 0.0001
#: What a planned line's error code means (line_error).
LINE_ERRORS = (None, "ReadTimeout", "HTTPError", "TwilioRestException")


def plan_lines(
    plan: Plan, rng: np.random.Generator, gap: LogGap, timeout: np.ndarray, size: np.ndarray
) -> None:
    """Plan the request log into ``plan``'s line fields, in time order, gap left out.

    ``timeout`` and ``size`` are per event."""
    post = np.flatnonzero(plan.posts > 0).astype(np.int32)
    p_ms, p_status, p_error, p_duration = _post_lines(plan, post, rng, timeout, size)
    get, g_ms = _get_lines(plan, rng)
    n_get = get.size
    line_ms = np.concatenate([p_ms, g_ms])
    del p_ms, g_ms
    keep = np.flatnonzero(~gap.contains(line_ms))
    # Lines are in (kind, record) order: a stable sort by time gives (time, kind, record).
    order = keep[np.argsort(line_ms[keep], kind="stable")]
    del keep
    plan.line_ms = line_ms[order]
    del line_ms
    plan.line_rec = np.concatenate([post, get])[order]
    plan.line_kind = (order >= post.size).astype(np.int8)
    plan.line_status = np.concatenate([p_status, np.full(n_get, 200, np.int16)])[order]
    plan.line_error = np.concatenate([p_error, np.zeros(n_get, np.int8)])[order]
    plan.line_duration = np.concatenate([p_duration, rng.integers(40, 400, n_get, dtype=np.int32)])[
        order
    ]
    # A few GET lines are written truncated (crash mid-write); POST lines stay intact.
    gets = np.flatnonzero(plan.line_kind == 1)
    n_bad = min(gets.size, max(1, round(MALFORMED_SHARE * plan.line_ms.size)))
    plan.line_cut = np.zeros(plan.line_ms.size, dtype=np.float32)
    plan.line_cut[rng.choice(gets, size=n_bad, replace=False)] = rng.uniform(0.15, 0.9, n_bad)
    plan.line_seq = np.arange(plan.line_ms.size, dtype=np.int64)
    plan.line_code = np.zeros(plan.line_ms.size, dtype=np.int32)
    plan.line_recipient = np.full(plan.line_ms.size, -1, dtype=np.int32)


def _post_lines(
    plan: Plan,
    post: np.ndarray,
    rng: np.random.Generator,
    timeout: np.ndarray,
    size: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Time (app clock, ms), status (0: none), error code and duration of each POST;
    a retry group's failed attempts timed out, or got a 5xx."""
    p_ms = plan.created[post] * 1000 + plan.app_off_ms[post]
    p_status = np.full(post.size, 201, dtype=np.int16)
    p_error = np.zeros(post.size, dtype=np.int8)
    p_duration = np.clip(np.exp(rng.normal(5.5, 0.35, size=post.size)), 60, 5000).astype(np.int32)
    retry_rows = np.flatnonzero(plan.scenario[post] == Scenario.APP_RETRY_TIMEOUT)
    retry_ev = plan.event[post[retry_rows]]
    failed = retry_rows[plan.pos[post[retry_rows]] < size[retry_ev] - 1]
    failed_ev = plan.event[post[failed]]
    # Whole retry groups either time out or get a 5xx on their failed attempts.
    ev_5xx = rng.random(size.size) < RETRY_5XX_SHARE
    five = failed[ev_5xx[failed_ev]]
    timed_out = failed[~ev_5xx[failed_ev]]
    p_status[timed_out] = 0
    p_error[timed_out] = LINE_ERRORS.index("ReadTimeout")
    p_duration[timed_out] = timeout[plan.event[post[timed_out]]] * 1000 + rng.integers(
        0, 40, size=timed_out.size
    )
    p_status[five] = rng.choice([500, 503], size=five.size)
    p_error[five] = LINE_ERRORS.index("HTTPError")
    p_duration[five] = rng.integers(150, 3000, size=five.size)
    return p_ms, p_status, p_error, p_duration


def _get_lines(plan: Plan, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The records whose status the application looked up, and when (app clock, ms)."""
    candidates = np.flatnonzero(
        (plan.direction == Direction.OUTBOUND_API) & (plan.status != Status.QUEUED)
    )
    n_get = min(candidates.size, round(GET_SHARE * plan.n))
    get = np.sort(rng.choice(candidates, size=n_get, replace=False)).astype(np.int32)
    del candidates
    g_ms = plan.created[get] * 1000 + plan.app_off_ms[get] + rng.integers(2000, 600_000, n_get)
    return get, g_ms
