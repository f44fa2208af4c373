"""Range searches over the graph: the candidate POSTs of records, and the records of POSTs."""

from __future__ import annotations

import numpy as np

from analyzer.duplicates.reconcile.model import Graph


class _SortedIndex:
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


class Candidates:
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
                by_key = g.post_ms[posts] if keys is None else keys
                index = _SortedIndex(posts, by_key, g.post_ms[posts])
                self.post_index.append((index, scoped, wide))
        # A record whose SID was logged is found through its POST alone (fixed_of_post).
        free = np.flatnonzero(g.rec_fixed < 0)
        self.records = _SortedIndex(
            free, self._key(g.rec_scope[free], g.rec_ms[free]), g.rec_ms[free]
        )
        late = np.flatnonzero(self.copy & (g.rec_fixed < 0))
        self.late = _SortedIndex(late, self._key(g.rec_scope[late], g.rec_ms[late]), g.rec_ms[late])
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
            o, pos = expand(first, last)
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
            o, pos = expand(first, last)
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


def expand(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand position ranges [first, last) into (range number, position) pairs."""
    counts = np.maximum(last - first, 0)
    owner = np.repeat(np.arange(len(first)), counts)
    if not len(owner):
        return owner.astype(np.int64), np.zeros(0, dtype=np.int64)
    starts = np.repeat(first - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return owner, starts + np.arange(int(counts.sum()))

