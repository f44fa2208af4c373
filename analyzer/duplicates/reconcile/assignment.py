"""Deciding one cluster exactly: which assignments of records to POSTs are feasible."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from analyzer.duplicates.reconcile.model import (
    ACCEPTED,
    APP,
    REASON_DECIDED,
    REASON_EITHER,
    REASON_INFEASIBLE,
    REASON_NO_POST,
    TWILIO,
    UNDECIDED,
    Graph,
)


def solve_cluster(
    g: Graph,
    cluster: int,
    recs: np.ndarray,
    edge_rec: np.ndarray,
    edge_post: np.ndarray,
    rec_cluster: np.ndarray,
) -> tuple[int, int]:
    """Decide one cluster on its component (records ``recs``, candidate edges)."""
    cands: dict[int, list[int]] = {int(r): [] for r in recs}
    for r, p in zip(edge_rec.tolist(), edge_post.tolist(), strict=True):
        cands[r].append(p)
    fixed = {r: int(g.rec_fixed[r]) for r in cands if g.rec_fixed[r] >= 0}
    free = [r for r in cands if r not in fixed]
    if any(not cands[r] for r in free):
        return UNDECIDED, REASON_NO_POST
    hit = set(fixed.values())
    accepted = sorted(
        {p for r in free for p in cands[r] if g.post_kind[p] == ACCEPTED and p not in hit}
    )
    mine = {r for r in cands if rec_cluster[r] == cluster}
    if not _saturates(accepted, free, cands):
        return UNDECIDED, REASON_INFEASIBLE
    mine_free = [r for r in free if r in mine]
    mine_posts = {fixed[r] for r in mine if r in fixed}
    narrowed = {
        r: ([p for p in ps if p not in mine_posts] if r in mine else ps) for r, ps in cands.items()
    }
    can_app = _records_match(mine_free, narrowed) and _saturates(accepted, free, narrowed)
    can_twilio = _can_share_post(cands, free, mine_free, mine_posts, accepted)
    if can_app and not can_twilio:
        return APP, REASON_DECIDED
    if can_twilio and not can_app:
        return TWILIO, REASON_DECIDED
    if can_app and can_twilio:
        # The relaxed check let records of different messages share a POST; the exact
        # search does not, within a budget.
        color = {r: int(rec_cluster[r]) if rec_cluster[r] >= 0 else -1 - r for r in cands}
        found = _search(cands, fixed, color, accepted, cluster)
        if found == {APP}:
            return APP, REASON_DECIDED
        if found == {TWILIO}:
            return TWILIO, REASON_DECIDED
    return UNDECIDED, REASON_EITHER


def _can_share_post(
    cands: dict[int, list[int]],
    free: list[int],
    mine_free: list[int],
    mine_posts: set[int],
    accepted: list[int],
) -> bool:
    """Whether some feasible assignment puts two of the cluster's records on one POST:
    a free record on a POST that logged another one's SID, or two free records on one."""
    for r in mine_free:
        if any(p in mine_posts for p in cands[r]) and _saturates(
            accepted, [x for x in free if x != r], cands
        ):
            return True
    for i, r1 in enumerate(mine_free):
        for r2 in mine_free[i + 1 :]:
            rest = [x for x in free if x != r1 and x != r2]
            for p in set(cands[r1]) & set(cands[r2]):
                if _saturates([q for q in accepted if q != p], rest, cands):
                    return True
    return False


_SEARCH_BUDGET = 20_000


def _search(
    cands: dict[int, list[int]],
    fixed: dict[int, int],
    color: dict[int, int],
    accepted: Sequence[int],
    cluster: int,
) -> set[int] | None:
    """Outcomes for ``cluster`` over every assignment in which only copies of one message
    share a POST; None when the search would take more than the budget."""
    order = sorted(cands, key=lambda r: (r not in fixed, len(cands[r])))
    options = [[fixed[r]] if r in fixed else cands[r] for r in order]
    must = set(accepted) | set(fixed.values())
    holder: dict[int, int] = {}  # POST -> the message (color) it made
    mine: dict[int, int] = {}  # POST -> records of the cluster on it
    uncovered = [len(must)]
    outcomes: set[int] = set()
    steps = [0]

    def visit(i: int) -> bool:
        steps[0] += 1
        if steps[0] > _SEARCH_BUDGET:
            return False
        if uncovered[0] > len(order) - i:
            return True
        if i == len(order):
            outcomes.add(TWILIO if any(k > 1 for k in mine.values()) else APP)
            return len(outcomes) < 2
        r = order[i]
        for p in options[i]:
            if holder.get(p, color[r]) != color[r]:
                continue
            fresh = p not in holder
            if fresh:
                holder[p] = color[r]
                uncovered[0] -= p in must
            if color[r] == cluster:
                mine[p] = mine.get(p, 0) + 1
            go_on = visit(i + 1)
            if color[r] == cluster:
                mine[p] -= 1
            if fresh:
                del holder[p]
                uncovered[0] += p in must
            if not go_on:
                return False
        return True

    finished = visit(0)
    if not finished and len(outcomes) < 2:
        return None
    return outcomes


def _saturates(posts: Sequence[int], recs: Sequence[int], cands: dict[int, list[int]]) -> bool:
    """Whether every POST in ``posts`` can be given its own record among ``recs``."""
    if not posts:
        return True
    if len(posts) > len(recs):
        return False
    wanted = set(posts)
    by_post: dict[int, list[int]] = {p: [] for p in posts}
    for r in recs:
        for p in cands[r]:
            if p in wanted:
                by_post[p].append(r)
    return _max_matching(list(posts), by_post) == len(posts)


def _records_match(recs: Sequence[int], cands: dict[int, list[int]]) -> bool:
    """Whether every record in ``recs`` can be given its own candidate POST."""
    if not recs:
        return True
    return _max_matching(list(recs), {r: cands[r] for r in recs}) == len(recs)


def _max_matching(left: list[int], adj: dict[int, list[int]]) -> int:
    """Size of a maximum matching of ``left`` into their neighbours (augmenting paths)."""
    match: dict[int, int] = {}

    def augment(u: int, seen: set[int]) -> bool:
        for v in adj[u]:
            if v in seen:
                continue
            seen.add(v)
            if v not in match or augment(match[v], seen):
                match[v] = u
                return True
        return False

    return sum(augment(u, set()) for u in left)

