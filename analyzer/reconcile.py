"""Reconcile the application's logged POSTs with Twilio's records, one to one.

The model: every POST that Twilio accepted (2xx) created a record; a POST that got
no answer or a 5xx may have created one or none; a refused POST (4xx) created none
and never enters. A record was created by a POST made shortly before it: the delay
``record time - POST time`` (both in Twilio's clock) lies in a band learned from the
data. Where the log names the record's SID, that POST is the only candidate. The log
is taken to hold every POST in the periods it covers.

An *assignment* gives every record one candidate POST, so that every accepted POST
gets at least one record. Several records on one POST is Twilio's fault (one request,
several messages). A duplicate cluster is

- ``APP`` when every feasible assignment gives its records distinct POSTs;
- ``TWILIO`` when every feasible assignment puts two of its records on one POST;
- ``UNDECIDED`` otherwise, with a reason.

Records on one POST must really be copies of one message (same recipient and body);
the check here drops that constraint, which only adds assignments: a decision it makes
also holds under the stricter model. Each cluster is decided on the part of the graph
connected to its records (its component), found for all clusters at once with
vectorized range searches; components larger than ``max_nodes`` are not decided.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

ACCEPTED = 0
POSSIBLE = 1

UNDECIDED = 0
APP = 1
TWILIO = 2

#: Why a cluster is UNDECIDED (or how it was decided).
REASON_DECIDED = 0
REASON_EITHER = 1  # both answers are feasible
REASON_NO_POST = 2  # a record of the component has no candidate POST
REASON_INFEASIBLE = 3  # the accepted POSTs cannot all be given a record
REASON_CROWDED = 4  # too many POSTs and records within the band of each other

DEFAULT_MAX_NODES = 400


@dataclass
class Reconciled:
    """Per cluster: the outcome, its reason and the evidence that decided it."""

    outcome: np.ndarray  # int8: UNDECIDED, APP or TWILIO
    reason: np.ndarray  # int8: REASON_*
    posts: np.ndarray  # distinct candidate POSTs of the cluster's own records
    possible: np.ndarray  # of those, POSTs that may or may not have created a record
    records: np.ndarray  # records in the cluster's component
    pair_cluster: np.ndarray  # (cluster, POST) pairs: the candidate POSTs of each cluster
    pair_post: np.ndarray


@dataclass
class Graph:
    """Records and POSTs on one millisecond clock (Twilio's), with the delay band."""

    rec_ms: np.ndarray  # int64
    rec_scope: np.ndarray  # int64 >= 0: the recipient (0 for every record when time-only)
    rec_fixed: np.ndarray  # int64: the POST that logged this record's SID, or -1
    rec_failed: np.ndarray  # bool: status failed (a 400 may have created such a record)
    post_ms: np.ndarray  # int64
    post_scope: np.ndarray  # int64: the recipient, or -1 when the log does not say
    post_kind: np.ndarray  # int8: ACCEPTED or POSSIBLE
    post_failed_only: np.ndarray  # bool: a 400, which can only have made a failed record
    lo_ms: int  # record time - POST time, smallest
    hi_ms: int  # and largest
    #: Records that may be a copy Twilio made of another record of the same request
    #: (records of duplicate clusters), and how late such a copy may come (None: hi_ms).
    rec_copy: np.ndarray | None = None
    copy_hi_ms: int | None = None
    #: A POST whose time is known only to an interval was made between post_ms and
    #: post_ms + post_span_ms (None: every time is exact).
    post_span_ms: np.ndarray | None = None

    @property
    def n_records(self) -> int:
        return len(self.rec_ms)

    @property
    def n_posts(self) -> int:
        return len(self.post_ms)

    @property
    def copy_reach(self) -> int:
        return self.hi_ms if self.copy_hi_ms is None else max(self.hi_ms, self.copy_hi_ms)

    def spans(self) -> np.ndarray:
        """How long after post_ms each POST may have been made (0: exactly then)."""
        if self.post_span_ms is None:
            return np.zeros(self.n_posts, dtype=np.int64)
        return np.asarray(self.post_span_ms, dtype=np.int64)

    def copies(self) -> np.ndarray:
        """Which records may come as late as ``copy_reach``."""
        if self.rec_copy is None or self.copy_reach == self.hi_ms:
            return np.zeros(self.n_records, dtype=bool)
        return np.asarray(self.rec_copy, dtype=bool)


class _Sorted:
    """Items sorted by (scope, time) and by time alone, for range searches."""

    def __init__(self, items: np.ndarray, keys: np.ndarray, ms: np.ndarray) -> None:
        order = np.argsort(keys, kind="stable")
        self.keys, self.by_key = keys[order], items[order]
        order = np.argsort(ms, kind="stable")
        self.ms, self.by_ms = ms[order], items[order]

    def by_scope(self, keys_lo: np.ndarray, keys_hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.searchsorted(self.keys, keys_lo, side="left")
        return first, np.maximum(np.searchsorted(self.keys, keys_hi, side="right"), first)

    def by_time(self, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        first = np.searchsorted(self.ms, lo, side="left")
        return first, np.maximum(np.searchsorted(self.ms, hi, side="right"), first)


class _Candidates:
    """Range searches: the candidate POSTs of records and the candidate records of POSTs.

    A record's candidates are the POSTs to its recipient (or that do not say) made
    between ``hi_ms`` (``copy_reach`` for a possible copy) and ``lo_ms`` before it;
    a record whose SID was logged has that POST alone.
    """

    def __init__(self, g: Graph) -> None:
        self.g = g
        times = np.concatenate([g.rec_ms, g.post_ms, [0]])
        reach = max(abs(g.lo_ms), abs(g.copy_reach)) + int(g.spans().max(initial=0))
        self.base = int(times.min()) - 2 * reach - 1
        span = int(times.max()) - self.base + 2 * reach + 2
        self.bits = max(1, span.bit_length())
        top = int(max(g.rec_scope.max(initial=0), g.post_scope.max(initial=0))) + 1
        if top.bit_length() + self.bits > 62:
            raise ValueError("too many recipients over too long a period to index")
        self.copy = g.copies()
        self.span = g.spans()
        self.max_span = int(self.span.max(initial=0))
        self.post_index = []
        # POSTs of uncertain time are searched from further back, then checked one by one.
        for wide in (False, True):
            for scoped in (True, False):
                posts = np.flatnonzero(((g.post_scope >= 0) == scoped) & ((self.span > 0) == wide))
                keys = self._key(g.post_scope[posts], g.post_ms[posts]) if scoped else None
                index = _Sorted(posts, g.post_ms[posts] if keys is None else keys, g.post_ms[posts])
                self.post_index.append((index, scoped, wide))
        # A record whose SID was logged is found through its POST alone (fixed_of_post).
        free = np.flatnonzero(g.rec_fixed < 0)
        self.records = _Sorted(free, self._key(g.rec_scope[free], g.rec_ms[free]), g.rec_ms[free])
        late = np.flatnonzero(self.copy & (g.rec_fixed < 0))
        self.late = _Sorted(late, self._key(g.rec_scope[late], g.rec_ms[late]), g.rec_ms[late])
        self.fixed_of_post = np.full(g.n_posts, -1, dtype=np.int64)
        fixed = np.flatnonzero(g.rec_fixed >= 0)
        self.fixed_of_post[g.rec_fixed[fixed]] = fixed

    def _key(self, scope: np.ndarray, ms: np.ndarray) -> np.ndarray:
        return (scope.astype(np.int64) << self.bits) + (ms.astype(np.int64) - self.base)

    def _post_ranges(
        self, recs: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, bool]]:
        """(POSTs, first, last, checked one by one?) ranges of the candidates of records."""
        g = self.g
        scope, ms = g.rec_scope[recs], g.rec_ms[recs]
        hi = np.where(self.copy[recs], g.copy_reach, g.hi_ms)
        fixed = g.rec_fixed[recs] >= 0
        out = []
        for index, scoped, wide in self.post_index:
            start = ms - hi - (self.max_span if wide else 0)
            if scoped:
                first, last = index.by_scope(
                    self._key(scope, start), self._key(scope, ms - g.lo_ms)
                )
                out.append((index.by_key, first, np.where(fixed, first, last), wide))
            else:
                first, last = index.by_time(start, ms - g.lo_ms)
                out.append((index.by_ms, first, np.where(fixed, first, last), wide))
        return out

    def post_counts(self, recs: np.ndarray) -> np.ndarray:
        """An upper bound of the candidate POSTs of each record."""
        counts = sum(last - first for _, first, last, _ in self._post_ranges(recs))
        return np.asarray(counts) + (self.g.rec_fixed[recs] >= 0)

    def posts_of(self, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in recs, POST) for every candidate POST of the records."""
        g = self.g
        owners, posts = [], []
        for items, first, last, wide in self._post_ranges(recs):
            o, pos = _expand(first, last)
            p = items[pos]
            if wide:  # made late enough in its interval to have created the record?
                hi = np.where(self.copy[recs[o]], g.copy_reach, g.hi_ms)
                keep = g.post_ms[p] + self.span[p] >= g.rec_ms[recs[o]] - hi
                o, p = o[keep], p[keep]
            owners.append(o)
            posts.append(p)
        fixed = np.flatnonzero(g.rec_fixed[recs] >= 0)
        owner = np.concatenate([*owners, fixed])
        post = np.concatenate([*posts, g.rec_fixed[recs[fixed]]])
        ok = ~g.post_failed_only[post] | g.rec_failed[recs[owner]]
        return owner[ok], post[ok]

    def _record_ranges(self, posts: np.ndarray) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """(index, by scope?, first, last) ranges of the candidate records of each POST."""
        g = self.g
        scope, ms = g.post_scope[posts], g.post_ms[posts]
        end = ms + self.span[posts]
        scoped = scope >= 0
        key = np.maximum(scope, 0)
        out: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        # Ordinary records within the band; possible copies a little later too.
        for index, lo, hi, after in (
            (self.records, ms + g.lo_ms, end + g.hi_ms, False),
            (self.late, end + g.hi_ms, end + g.copy_reach, True),
        ):
            k_first, k_last = index.by_scope(self._key(key, lo), self._key(key, hi))
            m_first, m_last = index.by_time(lo, hi)
            if after:  # strictly after the band: those within it were found above
                k_first = np.maximum(
                    k_first, np.searchsorted(index.keys, self._key(key, lo), side="right")
                )
                m_first = np.maximum(m_first, np.searchsorted(index.ms, lo, side="right"))
                k_last, m_last = np.maximum(k_last, k_first), np.maximum(m_last, m_first)
            out.append((index.by_key, k_first, np.where(scoped, k_last, k_first)))
            out.append((index.by_ms, m_first, np.where(scoped, m_first, m_last)))
        return out

    def record_counts(self, posts: np.ndarray) -> np.ndarray:
        """An upper bound of the candidate records of each POST."""
        counts = sum(last - first for _, first, last in self._record_ranges(posts))
        return np.asarray(counts) + (self.fixed_of_post[posts] >= 0)

    def records_of(self, posts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(position in posts, record) for every candidate record of the POSTs."""
        g = self.g
        owners, recs = [], []
        for items, first, last in self._record_ranges(posts):
            o, pos = _expand(first, last)
            owners.append(o)
            recs.append(items[pos])
        owner, rec = np.concatenate(owners), np.concatenate(recs)
        # A record whose SID was logged has that POST as its only candidate.
        ok = (g.rec_fixed[rec] < 0) & (~g.post_failed_only[posts[owner]] | g.rec_failed[rec])
        owner, rec = owner[ok], rec[ok]
        fixed = np.flatnonzero(self.fixed_of_post[posts] >= 0)
        return (
            np.concatenate([owner, fixed]),
            np.concatenate([rec, self.fixed_of_post[posts[fixed]]]),
        )


def _expand(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand position ranges [first, last) into (range number, position) pairs."""
    counts = np.maximum(last - first, 0)
    owner = np.repeat(np.arange(len(first)), counts)
    if not len(owner):
        return owner.astype(np.int64), np.zeros(0, dtype=np.int64)
    starts = np.repeat(first - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return owner, starts + np.arange(int(counts.sum()))


def _new_pairs(
    cluster: np.ndarray, node: np.ndarray, known: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs not in ``known`` (sorted codes cluster * width + node), and the new known."""
    codes = np.unique(cluster.astype(np.int64) * width + node)
    fresh = codes[~np.isin(codes, known, assume_unique=True)]
    return fresh // width, fresh % width, np.union1d(known, fresh)


def _grow(
    cluster: np.ndarray,
    nodes: np.ndarray,
    counts: Callable[[np.ndarray], np.ndarray],
    expand: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    known: np.ndarray,
    size: np.ndarray,
    crowded: np.ndarray,
    max_nodes: int,
    width: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One step of the search: the neighbours of (cluster, node) pairs not known yet.

    The step is bounded before it is taken (a busy log can join everything): clusters
    whose component would grow beyond ``max_nodes`` are marked crowded (in place) and
    go no further. ``size`` counts, per cluster, an upper bound of its nodes.
    """
    size += np.bincount(cluster, weights=counts(nodes), minlength=len(size)).astype(np.int64)
    crowded |= size > max_nodes
    keep = ~crowded[cluster]
    owner, found = expand(nodes[keep])
    return _new_pairs(cluster[keep][owner], found, known, width)


def _components(
    cand: _Candidates, rec_cluster: np.ndarray, n_clusters: int, max_nodes: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every cluster's component as sorted (cluster * width + node) codes, and crowding.

    Returns record codes, POST codes and a mask of clusters whose component grew
    beyond ``max_nodes`` (their codes are incomplete).
    """
    g = cand.g
    width = max(g.n_records, g.n_posts, 1)
    start = np.flatnonzero(rec_cluster >= 0)
    f_cl, f_rec = rec_cluster[start].astype(np.int64), start.astype(np.int64)
    rec_known = np.unique(f_cl * width + f_rec)
    post_known = np.zeros(0, dtype=np.int64)
    size = np.bincount(f_cl, minlength=n_clusters)
    crowded = np.zeros(n_clusters, dtype=bool)
    while len(f_cl):
        limits = (size, crowded, max_nodes, width)
        p_cl, p_post, post_known = _grow(
            f_cl, f_rec, cand.post_counts, cand.posts_of, post_known, *limits
        )
        f_cl, f_rec, rec_known = _grow(
            p_cl, p_post, cand.record_counts, cand.records_of, rec_known, *limits
        )
    return rec_known, post_known, crowded


def reconcile(
    g: Graph,
    rec_cluster: np.ndarray,
    n_clusters: int,
    *,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Reconciled:
    """Decide every cluster (records with ``rec_cluster`` >= 0) from the POSTs around it."""
    outcome = np.zeros(n_clusters, dtype=np.int8)
    reason = np.full(n_clusters, REASON_EITHER, dtype=np.int8)
    if n_clusters == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Reconciled(outcome, reason, empty, empty, empty, empty, empty)
    cand = _Candidates(g)
    width = max(g.n_records, g.n_posts, 1)
    rec_codes, post_codes, crowded = _components(cand, rec_cluster, n_clusters, max_nodes)
    comp_cl, comp_rec = rec_codes // width, rec_codes % width
    records = np.bincount(comp_cl, minlength=n_clusters)

    # Candidate POSTs of the clusters' own records: the evidence.
    own = np.flatnonzero(rec_cluster >= 0)
    owner, post = cand.posts_of(own)
    ev = np.unique(rec_cluster[own][owner].astype(np.int64) * width + post)
    pair_cluster, pair_post = ev // width, ev % width
    posts = np.bincount(pair_cluster, minlength=n_clusters)
    possible = np.bincount(
        pair_cluster, weights=g.post_kind[pair_post] == POSSIBLE, minlength=n_clusters
    ).astype(np.int64)

    # Every record of the component has its SID logged: nothing left to choose.
    free_rec = g.rec_fixed[comp_rec] < 0
    has_free = np.bincount(comp_cl, weights=free_rec, minlength=n_clusters) > 0
    all_fixed = ~has_free & ~crowded
    outcome[all_fixed] = APP
    reason[all_fixed] = REASON_DECIDED
    reason[crowded] = REASON_CROWDED

    todo = np.flatnonzero(has_free & ~crowded)
    if len(todo):
        pick = np.isin(comp_cl, todo)
        sel_cl, sel_rec = comp_cl[pick], comp_rec[pick]
        e_owner, e_post = cand.posts_of(sel_rec)
        e_cl, e_rec = sel_cl[e_owner], sel_rec[e_owner]
        order = np.lexsort((e_post, e_rec, e_cl))
        e_cl, e_rec, e_post = e_cl[order], e_rec[order], e_post[order]
        # comp_cl is sorted (codes are cluster-major), so each cluster's rows are a slice.
        rec_bounds = (
            np.searchsorted(sel_cl, todo, side="left"),
            np.searchsorted(sel_cl, todo, side="right"),
        )
        edge_bounds = (
            np.searchsorted(e_cl, todo, side="left"),
            np.searchsorted(e_cl, todo, side="right"),
        )
        # One candidate per record and one record per candidate: the only assignment
        # gives every record its own POST. Most clusters look like this; the rest are
        # solved one by one.
        n_rec = rec_bounds[1] - rec_bounds[0]
        n_edges = edge_bounds[1] - edge_bounds[0]
        with_edge = np.unique(e_cl * width + e_rec) // width
        with_post = np.unique(e_cl * width + e_post) // width
        n_with_edge = np.bincount(with_edge, minlength=n_clusters)[todo]
        n_posts = np.bincount(with_post, minlength=n_clusters)[todo]
        simple = (n_edges == n_rec) & (n_with_edge == n_rec) & (n_posts == n_rec)
        outcome[todo[simple]] = APP
        reason[todo[simple]] = REASON_DECIDED
        for i in np.flatnonzero(~simple):
            c = todo[i]
            recs = sel_rec[rec_bounds[0][i] : rec_bounds[1][i]]
            a, b = edge_bounds[0][i], edge_bounds[1][i]
            outcome[c], reason[c] = _solve(g, int(c), recs, e_rec[a:b], e_post[a:b], rec_cluster)
    return Reconciled(outcome, reason, posts, possible, records, pair_cluster, pair_post)


def _solve(
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
    can_twilio = False
    for r in mine_free:
        if any(p in mine_posts for p in cands[r]) and _saturates(
            accepted, [x for x in free if x != r], cands
        ):
            can_twilio = True
            break
    if not can_twilio:
        for i, r1 in enumerate(mine_free):
            for r2 in mine_free[i + 1 :]:
                rest = [x for x in free if x != r1 and x != r2]
                for p in set(cands[r1]) & set(cands[r2]):
                    if _saturates([q for q in accepted if q != p], rest, cands):
                        can_twilio = True
                        break
                if can_twilio:
                    break
            if can_twilio:
                break
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


def candidate_pairs(g: Graph, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``recs``, POST) for every candidate POST of the given records."""
    return _Candidates(g).posts_of(np.asarray(recs, dtype=np.int64))


def isolated_pairs(g: Graph, limit: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """(record, POST) pairs where each is the other's only candidate; accepted POSTs of
    exact time only.

    These are the pairs the data itself vouches for, used to learn the delay band.
    At most ``limit`` records and POSTs are looked at.
    """
    cand = _Candidates(g)
    recs = np.arange(min(g.n_records, limit), dtype=np.int64)
    recs = recs[cand.post_counts(recs) == 1]
    owner, post = cand.posts_of(recs)
    rec = recs[owner]
    lone = np.flatnonzero(cand.record_counts(post) == 1)
    keep = lone[(g.post_kind[post[lone]] == ACCEPTED) & (g.spans()[post[lone]] == 0)]
    return rec[keep], post[keep]
