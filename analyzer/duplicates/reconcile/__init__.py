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

from collections.abc import Callable

import numpy as np

from analyzer.duplicates.reconcile.assignment import solve_cluster
from analyzer.duplicates.reconcile.candidates import Candidates
from analyzer.duplicates.reconcile.model import (
    ACCEPTED,
    APP,
    POSSIBLE,
    REASON_CROWDED,
    REASON_DECIDED,
    REASON_EITHER,
    REASON_INFEASIBLE,
    REASON_NO_POST,
    TWILIO,
    UNDECIDED,
    Graph,
    Reconciled,
)

__all__ = [
    "ACCEPTED",
    "APP",
    "DEFAULT_MAX_NODES",
    "POSSIBLE",
    "REASON_CROWDED",
    "REASON_DECIDED",
    "REASON_EITHER",
    "REASON_INFEASIBLE",
    "REASON_NO_POST",
    "TWILIO",
    "UNDECIDED",
    "Graph",
    "Reconciled",
    "candidate_pairs",
    "isolated_pairs",
    "reconcile",
]

DEFAULT_MAX_NODES = 400


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
    cand: Candidates, rec_cluster: np.ndarray, n_clusters: int, max_nodes: int
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
    cand = Candidates(g)
    width = max(g.n_records, g.n_posts, 1)
    rec_codes, _, crowded = _components(cand, rec_cluster, n_clusters, max_nodes)
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
        _decide(cand, comp_cl, comp_rec, todo, rec_cluster, outcome, reason)
    return Reconciled(outcome, reason, posts, possible, records, pair_cluster, pair_post)


def _decide(
    cand: Candidates,
    comp_cl: np.ndarray,
    comp_rec: np.ndarray,
    todo: np.ndarray,
    rec_cluster: np.ndarray,
    outcome: np.ndarray,
    reason: np.ndarray,
) -> None:
    """Decide the clusters ``todo`` on their components (codes sorted by cluster), in place."""
    g = cand.g
    n_clusters = len(outcome)
    width = max(g.n_records, g.n_posts, 1)
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
        outcome[c], reason[c] = solve_cluster(
            g, int(c), recs, e_rec[a:b], e_post[a:b], rec_cluster
        )


def candidate_pairs(g: Graph, recs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in ``recs``, POST) for every candidate POST of the given records."""
    return Candidates(g).posts_of(np.asarray(recs, dtype=np.int64))


def isolated_pairs(g: Graph, limit: int = 200_000) -> tuple[np.ndarray, np.ndarray]:
    """(record, POST) pairs where each is the other's only candidate; accepted POSTs of
    exact time only.

    These are the pairs the data itself vouches for, used to learn the delay band.
    At most ``limit`` records and POSTs are looked at.
    """
    cand = Candidates(g)
    recs = np.arange(min(g.n_records, limit), dtype=np.int64)
    recs = recs[cand.post_counts(recs) == 1]
    owner, post = cand.posts_of(recs)
    rec = recs[owner]
    lone = np.flatnonzero(cand.record_counts(post) == 1)
    keep = lone[(g.post_kind[post[lone]] == ACCEPTED) & (g.spans()[post[lone]] == 0)]
    return rec[keep], post[keep]
