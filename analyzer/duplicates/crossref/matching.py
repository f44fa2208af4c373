"""The records and the logged POSTs as the reconciliation sees them, and the delay band.

The POSTs and Twilio's outbound-api records are reconciled one to one
(analyzer.duplicates.reconcile): a record was created by a POST made shortly before
it, within a delay band learned from the data. The evidence a POST can be matched
by, best first:

- ``sid``: the returned Message SID is logged (or derived from twilio-python's
  ``Twilio-Request-Id`` header once the records confirm it); that POST is then the
  record's only candidate;
- ``recipient_time``: POSTs to the same recipient within the band;
- ``time_only``: every POST within the band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates import reconcile as rc
from analyzer.duplicates.crossref.outcomes import ACCEPTED, OUTCOMES, REFUSED
from analyzer.duplicates.crossref.records import present, records_in_clusters
from analyzer.duplicates.crossref.skew import MAX_SKEW_SECONDS, MIN_BAND_PAIRS
from analyzer.schema import MICROS_PER_SECOND

_ISOLATION_MS = (5_000, 3_000, 2_500)
_BAND_MARGIN_MS = 499  # not 500: whole-second delays stay off the edges
_MIN_BAND_MS = 2_000
#: How long after the band a refused POST still counts as near a record, ms.
_REFUSED_REACH_MS = 60_000


@dataclass
class Model:
    """The records and the POSTs that may have created them, as the reconciliation sees them."""

    rec_us: np.ndarray
    rec_scope: np.ndarray
    rec_fixed: np.ndarray
    rec_failed: np.ndarray
    rec_cluster: np.ndarray
    post_row: np.ndarray  # row in the send table of each POST
    post_us: np.ndarray  # Twilio clock
    post_scope: np.ndarray
    post_kind: np.ndarray
    post_failed_only: np.ndarray
    refused_row: np.ndarray
    refused_us: np.ndarray
    refused_scope: np.ndarray
    #: How long after post_us a POST of uncertain time may have been made.
    post_span_us: np.ndarray

    def graph(self, band: tuple[int, int], copy_hi: int | None = None) -> rc.Graph:
        """The reconciliation graph with this delay band (ms)."""
        return rc.Graph(
            rec_ms=self.rec_us // 1000,
            rec_scope=self.rec_scope,
            rec_fixed=self.rec_fixed,
            rec_failed=self.rec_failed,
            post_ms=self.post_us // 1000,
            post_scope=self.post_scope,
            post_kind=self.post_kind,
            post_failed_only=self.post_failed_only,
            lo_ms=band[0],
            hi_ms=band[1],
            rec_copy=self.rec_cluster >= 0,
            copy_hi_ms=copy_hi,
            post_span_ms=-(-self.post_span_us // 1000),
        )


def copy_reach(band: tuple[int, int], tolerance: float) -> int:
    """How late (ms after its POST) a copy Twilio made of a message may come.

    The delay band is learned from ordinary records; a second record Twilio made of
    one request may come later, so records of duplicate clusters are looked for up to
    the tolerance (and a second) after their POST.
    """
    return max(band[1], int(round((tolerance + 1.0) * 1000)))


@dataclass
class _Scope:
    """Which records and sends the model keeps, and the record each send's SID names."""

    found: np.ndarray  # per send: the record (row of all records) its SID names, or -1
    keep_rec: np.ndarray
    keep_send: np.ndarray


def build_model(
    clusters: pa.Table,
    sends: pa.Table,
    send_log_us: np.ndarray,
    outcome: np.ndarray,
    records: pa.Table,
    mode: str,
    skew: float,
) -> Model:
    """The model of the records and POSTs around the clusters; ``send_log_us`` are the
    sends' times on the log's clock, ``skew`` seconds ahead of Twilio's."""
    send_us = send_log_us - int(round(skew * MICROS_PER_SECOND))
    status = np.asarray(
        pc.fill_null(sends["status"], -1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    live = outcome != OUTCOMES.index(REFUSED)
    scoped_log = mode != "time_only"
    scope = _scope(clusters, sends, records, live, scoped_log)
    rec_index = np.flatnonzero(scope.keep_rec)
    new_of_old = np.full(records.num_rows, -1, dtype=np.int64)
    new_of_old[rec_index] = np.arange(len(rec_index))
    sub = records.take(pa.array(rec_index, pa.int64()))
    rec_scope, send_scope = _recipient_codes(sub, sends, scope.keep_send, scoped_log)

    post_row = np.flatnonzero(live & scope.keep_send)
    found = scope.found[post_row]
    fixed_rec = np.where(found >= 0, new_of_old[np.maximum(found, 0)], -1)
    # One POST per logged SID: a second line with the same SID is the same call logged again.
    order = np.lexsort((send_us[post_row], fixed_rec))
    repeat = np.zeros(len(post_row), dtype=bool)
    ordered = fixed_rec[order]
    repeat[order[1:]] = (ordered[1:] == ordered[:-1]) & (ordered[1:] >= 0)
    post_row, fixed_rec = post_row[~repeat], fixed_rec[~repeat]
    post_scope = send_scope[post_row].copy()
    with_rec = fixed_rec >= 0
    post_scope[with_rec] = rec_scope[fixed_rec[with_rec]]
    rec_fixed = np.full(sub.num_rows, -1, dtype=np.int64)
    rec_fixed[fixed_rec[with_rec]] = np.flatnonzero(with_rec)

    refused_row = np.flatnonzero(~live & scope.keep_send)
    return Model(
        rec_us=sub["us"].to_numpy(zero_copy_only=False).astype(np.int64),
        rec_scope=rec_scope,
        rec_fixed=rec_fixed,
        rec_failed=np.asarray(sub["failed"].to_numpy(zero_copy_only=False), dtype=bool),
        rec_cluster=_record_clusters(sub, clusters),
        post_row=post_row,
        post_us=send_us[post_row],
        post_scope=post_scope,
        post_kind=np.where(
            outcome[post_row] == OUTCOMES.index(ACCEPTED), rc.ACCEPTED, rc.POSSIBLE
        ).astype(np.int8),
        post_failed_only=status[post_row] == 400,
        post_span_us=_spans(sends, post_row),
        refused_row=refused_row,
        refused_us=send_us[refused_row],
        refused_scope=send_scope[refused_row],
    )


def _scope(
    clusters: pa.Table, sends: pa.Table, records: pa.Table, live: np.ndarray, scoped_log: bool
) -> _Scope:
    """The records and sends that can matter to the clusters, and the logged SIDs' records."""
    rec_sid = records["sid"]
    has_to = present(pc.is_valid(sends["to"]))
    has_sid = present(pc.is_valid(sends["message_sid"]))
    found = np.full(sends.num_rows, -1, dtype=np.int64)

    def look_up(rows: np.ndarray, among: np.ndarray | None = None) -> None:
        """The record each of these sends' logged SIDs names (-1: none), looked for
        among the records ``among`` (default: all)."""
        if not len(rows):
            return
        wanted = sends["message_sid"].take(pa.array(rows, pa.int64()))
        pool = rec_sid if among is None else rec_sid.take(pa.array(among, pa.int64()))
        pool = pool.combine_chunks() if isinstance(pool, pa.ChunkedArray) else pool
        position = pc.index_in(wanted, value_set=pool)
        at = np.asarray(pc.fill_null(position, -1).to_numpy(zero_copy_only=False), np.int64)
        found[rows] = at if among is None else np.where(at >= 0, among[np.maximum(at, 0)], -1)

    recipients = pc.unique(records["to"].filter(pa.array(records_in_clusters(records, clusters))))
    to_cluster = present(pc.is_in(sends["to"], value_set=recipients)) if scoped_log else has_to
    # Sends that name no recipient can have made any record: their SIDs are looked up
    # among all of them (a log without recipients has nothing else to go by).
    look_up(np.flatnonzero(has_sid & ~has_to))
    # A POST that names neither its recipient nor a known SID could have made any record.
    loose = live & ~has_to & (found < 0)
    keep_rec = np.ones(records.num_rows, dtype=bool)
    keep_send = np.ones(sends.num_rows, dtype=bool)
    if scoped_log and not loose.any():
        # Only the clusters' recipients (and the POSTs to them) can matter.
        keep_rec = present(pc.is_in(records["to"], value_set=recipients))
        look_up(np.flatnonzero(has_sid & to_cluster), np.flatnonzero(keep_rec))
        rec_of = np.where(found >= 0, found, 0)
        keep_send = (to_cluster & (found < 0)) | ((found >= 0) & keep_rec[rec_of])
    else:
        look_up(np.flatnonzero(has_sid & has_to))
    return _Scope(found=found, keep_rec=keep_rec, keep_send=keep_send)


def _recipient_codes(
    records: pa.Table, sends: pa.Table, keep_send: np.ndarray, scoped_log: bool
) -> tuple[np.ndarray, np.ndarray]:
    """One number per recipient, for the records and the kept sends (-1: the send
    names none); every record is in scope 0 when the log is matched by time only."""
    n_rec = records.num_rows
    send_scope = np.full(sends.num_rows, -1, dtype=np.int64)
    if not scoped_log:
        return np.zeros(n_rec, dtype=np.int64), send_scope
    kept = np.flatnonzero(keep_send)
    both = pa.chunked_array(
        [
            records["to"].combine_chunks(),
            sends["to"].take(pa.array(kept, pa.int64())).combine_chunks(),
        ],
        pa.string(),
    )
    # Arrow's dictionary encoding numbers the recipients without Python strings.
    encoded = pc.dictionary_encode(both).combine_chunks()
    codes = np.asarray(
        pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    rec_scope = codes[:n_rec]
    # A record without a recipient is in a scope of its own: no POST names it.
    rec_scope[rec_scope < 0] = len(encoded.dictionary)
    send_scope[kept] = codes[n_rec:]
    return rec_scope, send_scope


def _record_clusters(records: pa.Table, clusters: pa.Table) -> np.ndarray:
    """The cluster of each record (-1: none)."""
    rec_cluster = np.full(records.num_rows, -1, dtype=np.int64)
    if clusters.num_rows:
        flat = pc.list_flatten(clusters["sids"]).cast(pa.string())
        parent = pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False)
        pos = pc.index_in(records["sid"], value_set=flat.combine_chunks())
        pos_np = np.asarray(pc.fill_null(pos, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        hit = pos_np >= 0
        rec_cluster[hit] = parent[pos_np[hit]]
    return rec_cluster


def _spans(sends: pa.Table, rows: np.ndarray) -> np.ndarray:
    """Microseconds between a POST's earliest and latest possible time (0: exact)."""
    if "time_max" not in sends.column_names or not len(rows):
        return np.zeros(len(rows), dtype=np.int64)
    picked = sends.take(pa.array(rows, pa.int64()))
    span = pc.subtract(pc.cast(picked["time_max"], pa.int64()), pc.cast(picked["time"], pa.int64()))
    values = pc.fill_null(span, 0).to_numpy(zero_copy_only=False)
    return np.maximum(np.asarray(values, dtype=np.int64), 0)


def delay_band(model: Model, tolerance: float) -> tuple[tuple[int, int], str]:
    """The delays (record minus POST, ms) in which a POST may have created a record.

    Learned from the pairs the data vouches for: logged SIDs, else POSTs and records
    that are each other's only neighbour within 5 s (or less in a busy log). Without
    enough of them, the tolerance on either side of the skew.
    """
    fixed = np.flatnonzero(model.rec_fixed >= 0)
    method = "sid_pairs"
    if len(fixed) >= MIN_BAND_PAIRS:
        delays = model.rec_us[fixed] // 1000 - model.post_us[model.rec_fixed[fixed]] // 1000
        delays = delays[np.abs(delays) <= MAX_SKEW_SECONDS * 1000]
    else:
        method = "isolated_pairs"
        delays = np.zeros(0, dtype=np.int64)
        # A busy log has few POSTs alone within 5 s: look closer, as long as the
        # delays found stay well inside the distance looked at.
        for reach in _ISOLATION_MS:
            wide = model.graph((-reach, reach))
            rec, post = rc.isolated_pairs(wide)
            found = wide.rec_ms[rec] - wide.post_ms[post]
            if len(found) >= MIN_BAND_PAIRS and np.abs(found).max() <= reach - 500:
                delays = found
                break
    if len(delays) < MIN_BAND_PAIRS:
        width = int(round((tolerance + 1.0) * 1000))
        return (-width, width), "tolerance"
    lo, hi = np.quantile(delays, [0.005, 0.995])
    lo, hi = int(lo) - _BAND_MARGIN_MS, int(hi) + _BAND_MARGIN_MS
    # Twilio's times are whole seconds: a band narrower than that cannot be right.
    short = max(0, _MIN_BAND_MS - (hi - lo))
    return (lo - (short + 1) // 2, hi + short // 2), method


def evidence_rows(
    result: rc.Reconciled,
    model: Model,
    band: tuple[int, int],
    send_us: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(cluster, send row) of the POSTs near each cluster, refused ones included, in time order."""
    cluster_of = [result.pair_cluster]
    send_row = [model.post_row[result.pair_post]]
    if len(model.refused_row):
        # Refused POSTs near the cluster's records: evidence of a retry, never a send.
        graph = rc.Graph(
            rec_ms=model.rec_us // 1000,
            rec_scope=model.rec_scope,
            rec_fixed=np.full(len(model.rec_us), -1, dtype=np.int64),
            rec_failed=np.zeros(len(model.rec_us), dtype=bool),
            post_ms=model.refused_us // 1000,
            post_scope=model.refused_scope,
            post_kind=np.full(len(model.refused_row), rc.POSSIBLE, dtype=np.int8),
            post_failed_only=np.zeros(len(model.refused_row), dtype=bool),
            lo_ms=band[0],
            hi_ms=band[1] + _REFUSED_REACH_MS,
        )
        own = np.flatnonzero(model.rec_cluster >= 0)
        owner, post = rc.candidate_pairs(graph, own)
        cluster_of.append(model.rec_cluster[own][owner])
        send_row.append(model.refused_row[post])
    cl = np.concatenate(cluster_of).astype(np.int64)
    rows = np.concatenate(send_row).astype(np.int64)
    order = np.lexsort((rows, send_us[rows], cl))
    cl, rows = cl[order], rows[order]
    keep = np.ones(len(rows), dtype=bool)
    keep[1:] = (cl[1:] != cl[:-1]) | (rows[1:] != rows[:-1])
    return cl[keep], rows[keep]
