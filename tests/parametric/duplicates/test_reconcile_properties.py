"""The one-to-one reconciliation never contradicts the truth, at any send rate.

Random traffic is generated with a known truth (which POST made which records), then
the vectorized reconciliation is checked against it and against a brute-force
enumeration of every assignment of records to POSTs.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.duplicates.reconcile import (
    ACCEPTED,
    APP,
    POSSIBLE,
    TWILIO,
    UNDECIDED,
    Graph,
    reconcile,
)

LO_MS, HI_MS = -1000, 1000
_MAX_ASSIGNMENTS = 200_000


@dataclass
class Traffic:
    graph: Graph
    rec_cluster: np.ndarray
    n_clusters: int
    truth: list[int]
    rec_key: np.ndarray


@st.composite
def traffic(draw: st.DrawFn) -> Traffic:
    """POSTs at a random rate, each refused, lost, accepted or duplicated by Twilio."""
    mean_gap_ms = draw(st.sampled_from([50, 200, 1000, 3000, 10_000, 30_000]))
    n_posts = draw(st.integers(1, 7))
    scoped = draw(st.booleans())  # the log names recipients
    sid_rate = draw(st.sampled_from([0.0, 0.5, 1.0]))
    copy_reach = draw(st.sampled_from([None, 4000]))
    t = 1_700_000_000_000
    post_ms, post_kind, post_key, post_logged_scope = [], [], [], []
    post_span: list[int] = []
    rec_ms, rec_key, rec_post = [], [], []
    keys = 0
    for _ in range(n_posts):
        t += draw(st.integers(0, 2 * mean_gap_ms))
        if keys and draw(st.booleans()):
            key = draw(st.integers(0, keys - 1))  # the application sends a message again
        else:
            key, keys = keys, keys + 1
        outcome = draw(
            st.sampled_from(["ok", "ok", "ok", "ok", "twice", "lost_made", "lost_none", "refused"])
        )
        if outcome == "refused":  # a 4xx: created nothing and never enters the graph
            continue
        made = {"ok": 1, "twice": draw(st.integers(2, 3)), "lost_made": 1, "lost_none": 0}[outcome]
        post = len(post_ms)
        # A log without times knows some POSTs only to lie between its neighbours.
        before, after = (draw(st.integers(0, 5000)), draw(st.integers(0, 5000)))
        vague = draw(st.integers(0, 5)) == 0
        post_ms.append(t - before if vague else t)
        post_span.append(before + after if vague else 0)
        post_kind.append(POSSIBLE if outcome.startswith("lost") else ACCEPTED)
        post_key.append(key)
        post_logged_scope.append(key if scoped and draw(st.integers(0, 4)) else -1)
        for copy in range(made):
            # Twilio's copies of one request may come later than a record usually does.
            late = copy_reach if copy and copy_reach else HI_MS
            latency = draw(st.integers(0, late - 100))
            rec_ms.append((t + latency) // 1000 * 1000)  # Twilio keeps whole seconds
            rec_key.append(key)
            rec_post.append(post)
    n_rec = len(rec_ms)
    rec_fixed = np.full(n_rec, -1, dtype=np.int64)
    seen_post: set[int] = set()
    for r, p in enumerate(rec_post):
        # The response carries the SID of the first record a POST made.
        if p not in seen_post:
            seen_post.add(p)
            if post_kind[p] == ACCEPTED and draw(st.floats(0, 1)) < sid_rate:
                rec_fixed[r] = p
    keys_arr = np.array(rec_key, dtype=np.int64)
    counts = np.bincount(keys_arr, minlength=keys) if n_rec else np.zeros(keys, dtype=np.int64)
    dup_keys = np.flatnonzero(counts >= 2)
    cluster_of_key = np.full(keys, -1, dtype=np.int64)
    cluster_of_key[dup_keys] = np.arange(len(dup_keys))
    rec_cluster = cluster_of_key[keys_arr] if n_rec else np.zeros(0, dtype=np.int64)
    truth = []
    for key in dup_keys:
        per_post = [p for p, k in zip(rec_post, rec_key, strict=True) if k == key]
        shared = len(per_post) != len(set(per_post))
        truth.append(TWILIO if shared else APP)
    graph = Graph(
        rec_ms=np.array(rec_ms, dtype=np.int64),
        rec_scope=keys_arr if scoped else np.zeros(n_rec, dtype=np.int64),
        rec_fixed=rec_fixed,
        rec_failed=np.zeros(n_rec, dtype=bool),
        post_ms=np.array(post_ms, dtype=np.int64),
        post_scope=np.array(post_logged_scope, dtype=np.int64),
        post_kind=np.array(post_kind, dtype=np.int8),
        post_failed_only=np.zeros(len(post_ms), dtype=bool),
        lo_ms=LO_MS,
        hi_ms=HI_MS,
        rec_copy=rec_cluster >= 0,
        copy_hi_ms=copy_reach,
        post_span_ms=np.array(post_span, dtype=np.int64),
    )
    return Traffic(graph, rec_cluster, len(dup_keys), truth, keys_arr)


def _candidates(g: Graph, r: int) -> list[int]:
    if g.rec_fixed[r] >= 0:
        return [int(g.rec_fixed[r])]
    hi = g.copy_reach if g.copies()[r] else HI_MS
    out = []
    for p in range(g.n_posts):
        # Some moment of the POST's interval lies within the band before the record.
        earliest, latest = g.post_ms[p], g.post_ms[p] + g.spans()[p]
        in_band = earliest + LO_MS <= g.rec_ms[r] <= latest + hi
        if in_band and g.post_scope[p] in (-1, g.rec_scope[r]):
            out.append(p)
    return out


def brute_force(t: Traffic) -> list[int] | None:
    """Each cluster's answer over every assignment of its component (None: too many)."""
    g = t.graph
    cands = {r: _candidates(g, r) for r in range(g.n_records)}
    answers = []
    for c in range(t.n_clusters):
        # The component: records and POSTs connected to the cluster's records.
        recs = {r for r in range(g.n_records) if t.rec_cluster[r] == c}
        posts: set[int] = set()
        while True:
            new_posts = {p for r in recs for p in cands[r]} - posts
            posts |= new_posts
            new_recs = {r for r in range(g.n_records) if set(cands[r]) & posts} - recs
            recs |= new_recs
            if not new_posts and not new_recs:
                break
        order = sorted(recs)
        options = [cands[r] for r in order]
        if np.prod([len(o) for o in options], dtype=float) > _MAX_ASSIGNMENTS:
            return None
        must = {p for p in posts if g.post_kind[p] == ACCEPTED}
        seen = set()
        for choice in itertools.product(*options):
            if not must <= set(choice):
                continue
            by_post: dict[int, list[int]] = {}
            for r, p in zip(order, choice, strict=True):
                by_post.setdefault(p, []).append(r)
            # Records on one POST are copies of one message: same recipient and body.
            if any(
                len(rs) > 1 and len({int(t.rec_key[r]) for r in rs}) > 1 for rs in by_post.values()
            ):
                continue
            shared = any(sum(t.rec_cluster[r] == c for r in rs) > 1 for rs in by_post.values())
            seen.add(TWILIO if shared else APP)
        answers.append(seen.pop() if len(seen) == 1 else UNDECIDED)
    return answers


@settings(max_examples=400, deadline=None)
@given(traffic())
def test_reconciliation_never_contradicts_truth_or_brute_force(t: Traffic) -> None:
    result = reconcile(t.graph, t.rec_cluster, t.n_clusters)
    reference = brute_force(t)
    for c in range(t.n_clusters):
        got = int(result.outcome[c])
        if got == UNDECIDED:
            continue
        assert got == t.truth[c], (c, got, t.truth[c])
        if reference is not None:
            assert reference[c] == got, (c, got, reference[c])


def _graph(
    rec_ms: list[int],
    post_ms: list[int],
    kinds: list[int],
    fixed: list[int] | None = None,
) -> Graph:
    n = len(rec_ms)
    return Graph(
        rec_ms=np.array(rec_ms, dtype=np.int64),
        rec_scope=np.zeros(n, dtype=np.int64),
        rec_fixed=np.array(fixed or [-1] * n, dtype=np.int64),
        rec_failed=np.zeros(n, dtype=bool),
        post_ms=np.array(post_ms, dtype=np.int64),
        post_scope=np.full(len(post_ms), -1, dtype=np.int64),
        post_kind=np.array(kinds, dtype=np.int8),
        post_failed_only=np.zeros(len(post_ms), dtype=bool),
        lo_ms=LO_MS,
        hi_ms=HI_MS,
    )


def test_classic_cases_are_decided() -> None:
    cluster = np.array([0, 0])
    # A double submit: two accepted POSTs 300 ms apart, two records in the same second.
    double = reconcile(_graph([10_000, 10_000], [9_800, 10_100], [ACCEPTED] * 2), cluster, 1)
    assert double.outcome.tolist() == [APP]
    # One accepted POST, two records: Twilio made two messages of one request.
    twice = reconcile(_graph([10_000, 10_000], [9_800], [ACCEPTED]), cluster, 1)
    assert twice.outcome.tolist() == [TWILIO]
    # A timed-out POST made the first record; the retry 10 s later made the second.
    retry = reconcile(_graph([10_000, 20_000], [9_900, 19_900], [POSSIBLE, ACCEPTED]), cluster, 1)
    assert retry.outcome.tolist() == [APP]
    assert retry.possible.tolist() == [1]
    # A lost POST and an accepted one in the same second: either may have made both.
    close = reconcile(_graph([10_000, 10_000], [9_800, 9_900], [POSSIBLE, ACCEPTED]), cluster, 1)
    assert close.outcome.tolist() == [UNDECIDED]
    # The SID of the first record was logged; the second record has only that POST near it.
    sid = reconcile(_graph([10_000, 10_000], [9_800], [ACCEPTED], fixed=[0, -1]), cluster, 1)
    assert sid.outcome.tolist() == [TWILIO]


def test_busy_components_are_not_decided() -> None:
    rng = np.random.default_rng(1)
    post_ms = np.sort(rng.integers(0, 60_000, 3_000))
    rec_ms = (post_ms + 300) // 1000 * 1000
    cluster = np.full(len(rec_ms), -1)
    cluster[[100, 101]] = 0
    result = reconcile(
        _graph(rec_ms.tolist(), post_ms.tolist(), [ACCEPTED] * len(post_ms)), cluster, 1
    )
    assert result.outcome.tolist() == [UNDECIDED]
