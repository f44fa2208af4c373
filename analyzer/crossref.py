"""Cross-reference duplicate clusters with the application's HTTP request logs.

Each POST to Messages.json in the logs is one of: *accepted* (2xx: it created a
record), *possible* (a 5xx, or no answer: a timeout or a dropped connection; it may
have created one) or *refused* (any other 4xx: it created nothing). A 400 may also
stand for a ``failed`` record (Twilio records some rejected sends since 2024).

The POSTs and Twilio's outbound-api records are then reconciled one to one
(analyzer.reconcile): a record was created by a POST made shortly before it, within
a delay band learned from the data, and a cluster is decided only when every way of
explaining its records by the logged POSTs gives the same answer. The evidence a
POST can be matched by, best first:

- ``sid``: the returned Message SID is logged (or derived from twilio-python's
  ``Twilio-Request-Id`` header once the records confirm it); that POST is then the
  record's only candidate;
- ``recipient_time``: POSTs to the same recipient within the band;
- ``time_only``: every POST within the band.

Verdicts are stable labels: ``app_side``, ``twilio_side``, ``webhook_side`` (replies
to an incoming message, sent from a TwiML answer, not a POST), ``unverified`` and
``inconclusive``. Time is compared in Twilio's clock: log times minus the skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer import reconcile as rc
from analyzer.errors import InputError
from analyzer.phones import normalize_e164
from analyzer.vocabulary import CLUSTER_VERDICTS, Verdict

APP_SIDE = Verdict.APP_SIDE
TWILIO_SIDE = Verdict.TWILIO_SIDE
WEBHOOK_SIDE = Verdict.WEBHOOK_SIDE
UNVERIFIED = Verdict.UNVERIFIED
INCONCLUSIVE = Verdict.INCONCLUSIVE
VERDICTS: tuple[str, ...] = CLUSTER_VERDICTS

#: What a log format sees: the application's own calls, or the wire.
LOG_KINDS: dict[str, str] = {
    "jsonl": "application",
    "twilio-sdk": "sdk",
    "combined": "wire",
    "envoy": "wire",
}
COMMON_TIMEOUTS: tuple[int, ...] = (5, 10, 15, 20, 30, 60)
DEFAULT_TOLERANCE = 3.0
DEFAULT_COVERAGE_GAP = 900.0
_US = 1_000_000
_MAX_SKEW = 300
#: Time zones are at most 14 h from UTC.
_MAX_ZONE_SECONDS = 14 * 3600
#: Fewer requests than this cannot place a log on Twilio's clock by counts alone.
MIN_SKEW_REQUESTS = 10
#: Fewer pairs than this give no skew (or delay band) of their own.
MIN_PAIRS = 3
MIN_BAND_PAIRS = 5
#: Request ids are used as SIDs only when this share of them names a record.
REQUEST_ID_CONFIRMATION = 0.95
MIN_REQUEST_IDS = 3
#: A clock this far off Twilio's is likely a time zone, not drift.
ZONE_SUSPECT_SECONDS = 120.0
_ISOLATION_MS = (5_000, 3_000, 2_500)
_BAND_MARGIN_MS = 499  # not 500: whole-second delays stay off the edges
_MIN_BAND_MS = 2_000

#: Send outcomes from the HTTP status.
ACCEPTED = "accepted"
POSSIBLE = "possible"
REFUSED = "refused"
OUTCOMES: tuple[str, ...] = (ACCEPTED, POSSIBLE, REFUSED)
#: Statuses that may hide a created message: a proxy's client-closed (499), request
#: timeout (408) and Twilio's own 400 (since 2024 some refused sends are failed records).
_UNSURE_4XX = (400, 408, 499)

_REPLY_DIRECTIONS = ("outbound-reply", "outbound-call")


@dataclass
class SkewEstimate:
    """Clock skew: log time minus Twilio time, in seconds, and how sure it is."""

    seconds: float
    method: str
    pairs: int = 0
    estimated: float | None = None
    #: Interquartile range of the pairs' differences, seconds (None: not from pairs).
    spread: float | None = None
    #: "high", "low" or "none", with why in ``note``.
    confidence: str = "none"
    note: str = ""


@dataclass
class CrossReference:
    """Clusters with verdicts and evidence, and what the logs covered."""

    clusters: pa.Table
    skew: SkewEstimate
    mode: str
    coverage: pd.DataFrame
    by_verdict: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    #: Record time minus POST time (Twilio clock) a POST may have created a record in, s.
    delay_band: tuple[float, float] | None = None
    delay_band_method: str = "none"
    #: POSTs by outcome: accepted, possible, refused.
    sends: dict[str, int] = field(default_factory=dict)
    #: The Twilio-Request-Id → SID hypothesis: candidates, found, used.
    request_ids: dict[str, Any] = field(default_factory=dict)


def cross_reference(
    clusters: pa.Table,
    requests: pa.Table | None,
    messages: pa.Table,
    *,
    formats: Mapping[str, str | None] | None = None,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    coverage_gap: float = DEFAULT_COVERAGE_GAP,
) -> CrossReference:
    """Give every duplicate cluster a verdict backed by the request log.

    ``requests`` is the canonical request table (None: no logs given); ``messages``
    holds at least sid, to, direction and date_created (and, if it can, status) of
    every record around the clusters. ``formats`` maps each log file to its format,
    for the log kind. ``skew`` overrides the estimate (log clock minus Twilio clock,
    seconds). ``tolerance`` is the half-width of the delay band used when the data
    has too few clean pairs to learn it.
    """
    for name in ("sid", "to", "direction", "date_created"):
        if name not in messages.column_names:
            raise InputError(f"cross-reference needs the messages' {name} column")
    if not (tolerance >= 0 and coverage_gap > 0):
        raise InputError("tolerance must be >= 0 and the coverage gap > 0")
    if skew is not None and not np.isfinite(skew):
        raise InputError("skew must be a finite number of seconds")
    n = clusters.num_rows
    not_api = _not_api_records(clusters, messages)
    if requests is None or requests.num_rows == 0:
        columns = _empty_evidence(n, "no server logs given")
        _not_api_verdicts(columns, not_api)
        table = _attach(clusters, columns)
        return CrossReference(
            clusters=table,
            skew=SkewEstimate(seconds=float(skew or 0.0), method="none"),
            mode="none",
            coverage=pd.DataFrame({"start": [], "end": []}),
            by_verdict=_count_verdicts(table),
        )

    records = _api_records(messages)
    sends = _send_table(requests)
    sends, request_ids = _sids_from_request_ids(sends, messages)
    sends, records, recipient_note = _comparable_recipients(sends, records)
    outcome = _outcomes(sends["status"])
    has_sid = bool(sends.num_rows) and pc.any(pc.is_valid(sends["message_sid"])).as_py()
    has_to = bool(sends.num_rows) and pc.any(pc.is_valid(sends["to"])).as_py()
    mode = "sid" if has_sid else "recipient_time" if has_to else "time_only"

    warnings: list[str] = [recipient_note] if recipient_note else []
    if request_ids.get("candidates") and not request_ids.get("used"):
        warnings.append(request_ids["note"])
    live = outcome != OUTCOMES.index(REFUSED)
    exact = (
        live & ~_np(pc.is_valid(sends["time_max"])) if "time_max" in sends.column_names else live
    )
    estimate = estimate_skew(sends, records, mode, exact)
    used = float(skew) if skew is not None else estimate.seconds
    skew_info = SkewEstimate(
        seconds=used,
        method="given" if skew is not None else estimate.method,
        pairs=estimate.pairs,
        estimated=estimate.seconds,
        spread=estimate.spread,
        confidence="given" if skew is not None else estimate.confidence,
        note=estimate.note,
    )
    if skew is not None and estimate.method != "none" and abs(skew - estimate.seconds) > tolerance:
        warnings.append(
            f"the given skew ({skew:+.1f} s) differs from the one the data shows "
            f"({estimate.seconds:+.1f} s, {estimate.method}) by more than the tolerance: "
            "POSTs may fall outside their clusters' windows"
        )
    coverage = _coverage(requests, used, coverage_gap)
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    warnings.extend(_clock_warnings(coverage, records, skew_info, send_us[live]))

    model = _build_model(clusters, sends, outcome, records, mode, used)
    band, band_method = _delay_band(model, tolerance)
    graph = model.graph(band, _copy_reach(band, tolerance))
    result = rc.reconcile(graph, model.rec_cluster, n)

    first_us = pc.cast(clusters["first_created"], pa.int64()).to_numpy(zero_copy_only=False)
    last_us = pc.cast(clusters["last_created"], pa.int64()).to_numpy(zero_copy_only=False)
    tol_us = int(tolerance * _US)
    # The log is alive around the cluster: from within the tolerance after its
    # first record to within the tolerance before its last one.
    covered = _covered(first_us + tol_us, last_us - tol_us, coverage)
    evidence = _verdicts(result, model, covered, n)
    cluster_of, send_row = _evidence_rows(result, model, band, send_us)
    evidence["match_mode"] = np.full(n, mode, dtype=object)
    evidence.update(_matched_lists(n, sends, cluster_of, send_row))
    evidence["covered"] = covered
    evidence["skew_seconds"] = np.full(n, used)
    evidence["log_kind"] = _log_kinds(n, sends, cluster_of, send_row, formats)
    _not_api_verdicts(evidence, not_api)
    table = _attach(clusters, evidence)
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    kinds = {name: int(counts[i]) for i, name in enumerate(OUTCOMES)}
    return CrossReference(
        clusters=table,
        skew=skew_info,
        mode=mode,
        coverage=coverage,
        by_verdict=_count_verdicts(table),
        warnings=warnings,
        delay_band=(band[0] / 1000, band[1] / 1000),
        delay_band_method=band_method,
        sends=kinds,
        request_ids=request_ids,
    )


def _count_verdicts(table: pa.Table) -> dict[str, int]:
    counts = pd.Series(table["verdict"].to_numpy(zero_copy_only=False)).value_counts()
    return {v: int(counts[v]) for v in VERDICTS if v in counts}


def _not_api_records(clusters: pa.Table, messages: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: records sent as replies (TwiML, no POST), and all its records."""
    n = clusters.num_rows
    sizes = clusters["n_records"].to_numpy(zero_copy_only=False).astype(np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64), sizes
    flat = pc.list_flatten(clusters["sids"])
    parent = pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False)
    reply = pc.fill_null(
        pc.is_in(
            messages["direction"].cast(pa.string()), value_set=pa.array(list(_REPLY_DIRECTIONS))
        ),
        False,
    )
    reply_sids = messages["sid"].filter(reply)
    hit = np.asarray(
        pc.fill_null(pc.is_in(flat, value_set=reply_sids.combine_chunks()), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    return np.bincount(parent, weights=hit, minlength=n).astype(np.int64), sizes


def _not_api_verdicts(evidence: dict[str, Any], not_api: tuple[np.ndarray, np.ndarray]) -> None:
    """Clusters of replies get webhook_side; clusters mixing replies and API sends, inconclusive."""
    replies, sizes = not_api
    if not len(replies):
        return
    every = replies >= sizes
    some = (replies > 0) & ~every
    evidence["verdict"][every] = WEBHOOK_SIDE
    evidence["verdict_reason"][every] = (
        "replies to an incoming message (TwiML), not API sends: the webhook was answered twice"
    )
    evidence["verdict"][some] = INCONCLUSIVE
    evidence["verdict_reason"][some] = (
        "the cluster mixes replies to an incoming message with API sends"
    )


def _api_records(messages: pa.Table) -> pa.Table:
    """Records that stand for a POST by the application: outbound-api, with a creation time."""
    direction = pc.fill_null(
        pc.equal(messages["direction"].cast(pa.string()), "outbound-api"), False
    )
    subset = messages.filter(pc.and_(direction, pc.is_valid(messages["date_created"])))
    if "status" in subset.column_names:
        failed = pc.fill_null(pc.equal(subset["status"].cast(pa.string()), "failed"), False)
    else:
        failed = pa.array(np.zeros(subset.num_rows, dtype=bool))
    return pa.table(
        {
            "sid": subset["sid"].cast(pa.string()),
            "to": subset["to"].cast(pa.string()),
            "us": pc.cast(subset["date_created"], pa.int64()),
            "failed": failed,
        }
    )


#: Logged recipients must name exported records this often to be used at all.
RECIPIENT_MATCH_SHARE = 0.5
_RECIPIENT_SAMPLE = 100_000


def recipient_key(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Recipients in one comparable form: the channel (``whatsapp:``), if any, and the
    number as E.164 (analyzer.phones.normalize_e164); null for what holds no number
    (``redacted``, empty). ``+1 (232) 812-8904``, ``12328128904`` and ``+12328128904``
    are one key."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    parts = pc.extract_regex(text, r"^(?P<channel>[A-Za-z]+:)?(?P<number>.*)$")
    number = normalize_e164(pc.struct_field(parts, "number"))
    channel = pc.utf8_lower(pc.fill_null(pc.struct_field(parts, "channel"), ""))
    key = pc.binary_join_element_wise(channel, number, "")
    return key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key


def _comparable_recipients(sends: pa.Table, records: pa.Table) -> tuple[pa.Table, pa.Table, str]:
    """Logged and exported recipients in one form, or none logged when they cannot match.

    Logs write numbers their own way (no ``+``, spaces) or not at all (``redacted``, another
    account's numbers). Where they already name the records' recipients nothing changes;
    otherwise both sides are compared as recipient_key; and where the logged recipients
    still name too few records, they are not used (the SIDs or the times are).
    """
    logged = sends["to"]
    if sends.num_rows == 0 or logged.null_count == len(logged) or records.num_rows == 0:
        return sends, records, ""
    sample = logged.drop_null().slice(0, _RECIPIENT_SAMPLE)
    known = records["to"]
    if _share_in(sample, known) >= RECIPIENT_MATCH_SHARE:
        return sends, records, ""
    records = records.set_column(
        records.schema.get_field_index("to"), "to", recipient_key(records["to"])
    )
    keyed = recipient_key(logged)
    share = _share_in(keyed.drop_null().slice(0, _RECIPIENT_SAMPLE), records["to"])
    column = sends.schema.get_field_index("to")
    if share >= RECIPIENT_MATCH_SHARE:
        return sends.set_column(column, "to", keyed), records, ""
    note = (
        f"the recipients in the request logs name {share:.0%} of the exported records' "
        "recipients (redacted, written another way, or another account's): they are not "
        "used, and requests are matched by SID or by time"
    )
    return sends.set_column(column, "to", pa.nulls(sends.num_rows, pa.string())), records, note


def _share_in(values: pa.Array | pa.ChunkedArray, known: pa.Array | pa.ChunkedArray) -> float:
    """The share of ``values`` found in ``known`` (hashing the few values, not the many)."""
    if len(values) == 0:
        return 0.0
    distinct = pc.unique(values)
    distinct = distinct.combine_chunks() if isinstance(distinct, pa.ChunkedArray) else distinct
    present = pc.unique(known.filter(pc.fill_null(pc.is_in(known, value_set=distinct), False)))
    present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
    return float(pc.mean(pc.cast(pc.is_in(values, value_set=present), pa.int8())).as_py() or 0.0)


def records_in_clusters(records: pa.Table, clusters: pa.Table) -> np.ndarray:
    """Which records belong to a duplicate cluster."""
    flat = pc.list_flatten(clusters["sids"]).cast(pa.string()).combine_chunks()
    return _np(pc.is_in(records["sid"], value_set=flat))


_SEND_COLUMNS = ["time", "to", "message_sid", "request_id", "status", "source_file", "line"]


def _send_table(requests: pa.Table) -> pa.Table:
    """The logged POSTs to Messages.json that have a time, with the columns used here."""
    usable = pc.and_(pc.fill_null(requests["is_send"], False), pc.is_valid(requests["time"]))
    optional = [c for c in ("twilio_time", "time_max") if c in requests.column_names]
    names = _SEND_COLUMNS + optional
    return requests.select(names).filter(usable)


_REQUEST_ID_RE = r"^(?:RQ|rq)(?P<h>[0-9a-fA-F]{32})$"


def _sids_from_request_ids(sends: pa.Table, messages: pa.Table) -> tuple[pa.Table, dict[str, Any]]:
    """Fill missing SIDs of accepted POSTs from Twilio-Request-Id, where the records confirm it.

    twilio-python's log holds no SID, but in public logs the request id of a successful
    create carries the created SID's 32 hex digits. The hypothesis is used only when
    nearly every candidate within the records' period names an exported record.
    """
    info: dict[str, Any] = {"candidates": 0, "found": 0, "used": False, "note": ""}
    if not sends.num_rows:
        return sends, info
    status = sends["status"]
    ok = _np(
        pc.and_(
            pc.and_(pc.greater_equal(status, 200), pc.less(status, 300)),
            pc.and_(pc.is_null(sends["message_sid"]), pc.is_valid(sends["request_id"])),
        )
    )
    if not ok.any():
        return sends, info
    hexes = pc.struct_field(
        pc.extract_regex(pc.fill_null(sends["request_id"], ""), _REQUEST_ID_RE), "h"
    )
    candidate = ok & _np(pc.is_valid(hexes))
    if not candidate.any():
        return sends, info
    hexes = pc.utf8_lower(hexes)
    created = messages["date_created"]
    lo, hi = pc.min_max(created).values()
    if not lo.is_valid:
        return sends, info
    times = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    margin = _MAX_SKEW * _US
    in_period = (times >= lo.value - margin) & (times <= hi.value + margin)
    sm = pc.binary_join_element_wise("SM", hexes, "")
    mm = pc.binary_join_element_wise("MM", hexes, "")
    known = messages["sid"].cast(pa.string()).combine_chunks()
    sm_found = _np(pc.is_in(sm, value_set=known))
    mm_found = _np(pc.is_in(mm, value_set=known))
    found = (sm_found | mm_found) & candidate
    considered = candidate & in_period
    n_cand, n_found = int(considered.sum()), int((found & in_period).sum())
    rate = n_found / n_cand if n_cand else 0.0
    info.update(candidates=n_cand, found=n_found, rate=round(rate, 4))
    if n_cand < MIN_REQUEST_IDS or rate < REQUEST_ID_CONFIRMATION:
        info["note"] = (
            f"Twilio-Request-Id values were not used as SIDs: {n_found} of {n_cand} "
            "successful creates in the records' period name an exported record"
            + (" (too few to confirm)" if n_cand < MIN_REQUEST_IDS else "")
        )
        return sends, info
    info["used"] = True
    info["note"] = (
        f"Twilio-Request-Id values used as SIDs: {n_found} of {n_cand} successful creates "
        f"({rate:.1%}) name an exported record"
    )
    sid = pc.if_else(pa.array(sm_found), sm, mm)
    sid = pc.if_else(pa.array(found), sid, pa.scalar(None, pa.string()))
    filled = pc.coalesce(sends["message_sid"], sid)
    return sends.set_column(
        sends.schema.get_field_index("message_sid"), "message_sid", filled
    ), info


def _np(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _outcomes(status: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The position in OUTCOMES (accepted, possible, refused) of each POST's outcome."""
    code = np.asarray(pc.fill_null(status, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.full(len(code), OUTCOMES.index(REFUSED), dtype=np.int8)
    out[(code >= 200) & (code < 300)] = OUTCOMES.index(ACCEPTED)
    out[(code < 100) | (code >= 500) | np.isin(code, _UNSURE_4XX)] = OUTCOMES.index(POSSIBLE)
    return out


_SKEW_SAMPLE = 200_000


def estimate_skew(
    sends: pa.Table, records: pa.Table, mode: str, usable: np.ndarray | None = None
) -> SkewEstimate:
    """Estimate log clock minus Twilio clock from the data, and how sure it is.

    ``records`` are the outbound-api records (sid, to, us); ``usable`` selects the
    sends to use (default: all). Uses, best first: Twilio's own Date header where the
    log has it; SID-matched pairs; the nearest record to the same recipient; and
    otherwise lines up per-second POST counts with per-second record counts (refused
    with fewer than MIN_SKEW_REQUESTS requests). Pairs come from a sample of at most
    200,000 requests.
    """
    keep = np.ones(sends.num_rows, dtype=bool) if usable is None else usable
    if not keep.any() or records.num_rows == 0:
        return SkewEstimate(0.0, "none", note="no requests or no records to compare")

    def sample(column: str, *more: str) -> pa.Table:
        """Up to 200,000 usable sends that have ``column``, with only the columns used."""
        rows = np.flatnonzero(keep & _np(pc.is_valid(sends[column])))[:_SKEW_SAMPLE]
        return sends.select(["time", column, *more]).take(pa.array(rows, pa.int64()))

    if "twilio_time" in sends.column_names:
        dated = sample("twilio_time")
        if dated.num_rows >= MIN_PAIRS:
            line = pc.cast(dated["time"], pa.int64()).to_numpy(zero_copy_only=False)
            twilio = pc.cast(dated["twilio_time"], pa.int64()).to_numpy(zero_copy_only=False)
            # The Date header is truncated to the second: its mid-point is half a second on.
            return _from_diffs((line - twilio) / _US - 0.5, "date_header")
    # Twilio truncates date_created to the second: its mid-point is half a second on.
    if mode == "sid":
        with_sid = sample("message_sid")
        position = pc.index_in(records["sid"], value_set=with_sid["message_sid"])
        matched = pc.is_valid(position)
        if pc.any(matched).as_py():
            picked = position.filter(matched).to_numpy(zero_copy_only=False)
            sample_us = pc.cast(with_sid["time"], pa.int64()).to_numpy(zero_copy_only=False)
            twilio_us = records["us"].filter(matched).to_numpy(zero_copy_only=False)
            # Every pair is exact, however far off the log clock is: a log in local
            # time is placed on Twilio's clock here.
            sid_diffs = (sample_us[picked] - twilio_us) / _US - 0.5
            if len(sid_diffs) >= MIN_PAIRS:
                return _from_diffs(sid_diffs, "sid_pairs")
    if mode in ("sid", "recipient_time"):
        with_to = sample("to")
        recipients = pc.unique(with_to["to"])
        near = records.filter(pc.fill_null(pc.is_in(records["to"], value_set=recipients), False))
        diffs = _nearest_recipient_diffs(with_to, near)
        if len(diffs) >= MIN_PAIRS:
            estimate = _from_diffs(diffs - 0.5, "recipient_pairs")
            # The nearest record is the right one only when the clocks are close, or
            # when the pairs agree closely on how far apart they are.
            if abs(estimate.seconds) <= _MAX_SKEW or (estimate.spread or 0) <= 5.0:
                return estimate
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)[keep]
    if len(send_us) < MIN_SKEW_REQUESTS:
        return SkewEstimate(
            0.0,
            "none",
            note=f"{len(send_us)} requests are too few to place the log on Twilio's clock "
            "by counts; assumed 0 s",
        )
    record_us = records["us"].to_numpy(zero_copy_only=False)
    return _skew_by_counts(send_us, record_us)


def _from_diffs(diffs: np.ndarray, method: str) -> SkewEstimate:
    q1, median, q3 = np.quantile(diffs, [0.25, 0.5, 0.75])
    spread = float(q3 - q1)
    sure = len(diffs) >= MIN_BAND_PAIRS and spread <= 2.0
    return SkewEstimate(
        float(median),
        method,
        len(diffs),
        spread=spread,
        confidence="high" if sure else "low",
        note=f"median of {len(diffs):,} pairs, interquartile range {spread:.2f} s",
    )


def _nearest_recipient_diffs(sends: pa.Table, records: pa.Table) -> np.ndarray:
    if sends.num_rows == 0 or records.num_rows == 0:
        return np.zeros(0)
    left = pd.DataFrame(
        {
            "to": sends["to"].to_numpy(zero_copy_only=False),
            "us": pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False),
        }
    ).sort_values("us")
    right = pd.DataFrame(
        {
            "to": records["to"].to_numpy(zero_copy_only=False),
            "us_tw": records["us"].to_numpy(zero_copy_only=False),
        }
    ).sort_values("us_tw")
    merged = pd.merge_asof(
        left,
        right,
        left_on="us",
        right_on="us_tw",
        by="to",
        direction="nearest",
        tolerance=_MAX_ZONE_SECONDS * _US,
    ).dropna(subset=["us_tw"])
    return np.asarray((merged["us"] - merged["us_tw"]) / _US, dtype=float)


def _skew_by_counts(log_us: np.ndarray, twilio_us: np.ndarray) -> SkewEstimate:
    """Line up per-second POST counts with per-second record counts.

    Of equally good lags the smallest one wins; the estimate is sure when the best
    lag scores clearly above every lag more than a second away from it.
    """
    start = min(int(log_us.min()), int(twilio_us.min())) // _US - _MAX_SKEW
    end = max(int(log_us.max()), int(twilio_us.max())) // _US + _MAX_SKEW
    size = end - start + 1
    posts = np.bincount(log_us // _US - start, minlength=size).astype(float)
    made = np.bincount(twilio_us // _US - start, minlength=size).astype(float)
    lags = np.arange(-_MAX_SKEW, _MAX_SKEW + 1)
    scores = np.array(
        [
            np.dot(posts[_MAX_SKEW + k : size - _MAX_SKEW + k], made[_MAX_SKEW : size - _MAX_SKEW])
            for k in lags
        ]
    )
    if not scores.any():
        return SkewEstimate(0.0, "none", note="no lag lines the requests up with the records")
    best = scores.max()
    tied = lags[scores == best]
    lag = int(tied[np.lexsort((-tied, np.abs(tied)))[0]])  # smallest, the positive one first
    far = np.abs(lags - lag) > 1
    runner_up = scores[far].max() if far.any() else 0.0
    ratio = best / runner_up if runner_up > 0 else float("inf")
    sure = ratio >= 1.5 and len(log_us) >= 3 * MIN_SKEW_REQUESTS
    return SkewEstimate(
        float(lag),
        "count_alignment",
        len(log_us),
        confidence="high" if sure else "low",
        note=(
            f"per-second counts of {len(log_us):,} requests; the best lag scores "
            + ("above every other" if ratio == float("inf") else f"{ratio:.2f}x the next best")
        ),
    )


def _clock_warnings(
    coverage: pd.DataFrame, records: pa.Table, skew: SkewEstimate, send_us: np.ndarray
) -> list[str]:
    """Warnings for logs whose clock looks like another time zone's."""
    out = []
    if records.num_rows and not coverage.empty:
        us = records["us"].to_numpy(zero_copy_only=False)
        lo, hi = int(us.min()), int(us.max())
        starts, ends = coverage["start"].to_numpy(), coverage["end"].to_numpy()
        if not ((starts <= hi) & (ends >= lo)).any():
            out.append(
                f"the server logs ({_iso(int(starts.min()))} – {_iso(int(ends.max()))}) do not "
                f"overlap the messages ({_iso(lo)} – {_iso(hi)}): if the logs are written in "
                "local time, pass --log-tz with their zone"
            )
    paired = skew.method in ("date_header", "sid_pairs", "recipient_pairs")
    if paired and abs(skew.seconds) > ZONE_SUSPECT_SECONDS:
        out.append(
            f"matched requests put the log clock {skew.seconds:+.0f} s off Twilio's: if the "
            "log is written in local time, pass --log-tz with its zone (or --skew)"
        )
    elif not paired and records.num_rows and len(send_us):
        shift = _zone_shift(send_us, records["us"].to_numpy(zero_copy_only=False))
        if shift:
            out.append(
                f"the requests line up best with the messages {shift / 60:+g} h away: if the "
                "log is written in local time, pass --log-tz with its zone"
            )
    return out


_ZONE_STEP_MINUTES = 15


def _zone_shift(send_us: np.ndarray, record_us: np.ndarray) -> int:
    """Minutes (a multiple of 15, within 14 h) by which per-minute request counts line up
    with record counts clearly better than at no shift; 0 when no shift does."""
    minute = 60 * _US
    start = min(int(send_us.min()), int(record_us.min())) // minute
    end = max(int(send_us.max()), int(record_us.max())) // minute
    size = end - start + 1
    posts = np.bincount(send_us // minute - start, minlength=size).astype(float)
    made = np.bincount(record_us // minute - start, minlength=size).astype(float)
    reach = _MAX_ZONE_SECONDS // 60
    shifts = np.arange(-reach, reach + 1, _ZONE_STEP_MINUTES)
    padded = np.concatenate([np.zeros(reach), made, np.zeros(reach)])
    scores = np.array([np.dot(posts, padded[reach - k : reach - k + size]) for k in shifts])
    best = int(shifts[int(np.argmax(scores))])
    at_zero = scores[shifts == 0][0]
    return best if best and scores.max() >= 2 * max(at_zero, 1.0) else 0


def _iso(us: int) -> str:
    return pd.Timestamp(us, unit="us", tz="UTC").isoformat()


@dataclass
class _Model:
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


def _copy_reach(band: tuple[int, int], tolerance: float) -> int:
    """How late (ms after its POST) a copy Twilio made of a message may come.

    The delay band is learned from ordinary records; a second record Twilio made of
    one request may come later, so records of duplicate clusters are looked for up to
    the tolerance (and a second) after their POST.
    """
    return max(band[1], int(round((tolerance + 1.0) * 1000)))


def _build_model(
    clusters: pa.Table,
    sends: pa.Table,
    outcome: np.ndarray,
    records: pa.Table,
    mode: str,
    skew: float,
) -> _Model:
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False) - int(
        round(skew * _US)
    )
    status = np.asarray(
        pc.fill_null(sends["status"], -1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    rec_sid = records["sid"]
    live = outcome != OUTCOMES.index(REFUSED)
    scoped_log = mode != "time_only"
    has_to = _np(pc.is_valid(sends["to"]))
    has_sid = _np(pc.is_valid(sends["message_sid"]))
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
    to_cluster = _np(pc.is_in(sends["to"], value_set=recipients)) if scoped_log else has_to
    # Sends that name no recipient can have made any record: their SIDs are looked up
    # among all of them (a log without recipients has nothing else to go by).
    look_up(np.flatnonzero(has_sid & ~has_to))
    # A POST that names neither its recipient nor a known SID could have made any record.
    loose = live & ~has_to & (found < 0)
    keep_rec = np.ones(records.num_rows, dtype=bool)
    keep_send = np.ones(sends.num_rows, dtype=bool)
    if scoped_log and not loose.any():
        # Only the clusters' recipients (and the POSTs to them) can matter.
        keep_rec = _np(pc.is_in(records["to"], value_set=recipients))
        look_up(np.flatnonzero(has_sid & to_cluster), np.flatnonzero(keep_rec))
        rec_of = np.where(found >= 0, found, 0)
        keep_send = (to_cluster & (found < 0)) | ((found >= 0) & keep_rec[rec_of])
    else:
        look_up(np.flatnonzero(has_sid & has_to))
    rec_index = np.flatnonzero(keep_rec)
    new_of_old = np.full(records.num_rows, -1, dtype=np.int64)
    new_of_old[rec_index] = np.arange(len(rec_index))
    sub = records.take(pa.array(rec_index, pa.int64()))
    n_rec = sub.num_rows
    send_scope = np.full(sends.num_rows, -1, dtype=np.int64)
    if scoped_log:
        kept = np.flatnonzero(keep_send)
        both = pa.chunked_array(
            [
                sub["to"].combine_chunks(),
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
    else:
        rec_scope = np.zeros(n_rec, dtype=np.int64)

    post_mask = live & keep_send
    post_row = np.flatnonzero(post_mask)
    fixed_rec = np.where(found[post_row] >= 0, new_of_old[np.maximum(found[post_row], 0)], -1)
    # One POST per logged SID: a second line with the same SID is the same call logged again.
    order = np.lexsort((send_us[post_row], fixed_rec))
    repeat = np.zeros(len(post_row), dtype=bool)
    ordered = fixed_rec[order]
    repeat[order[1:]] = (ordered[1:] == ordered[:-1]) & (ordered[1:] >= 0)
    post_row, fixed_rec = post_row[~repeat], fixed_rec[~repeat]
    post_scope = send_scope[post_row].copy()
    with_rec = fixed_rec >= 0
    post_scope[with_rec] = rec_scope[fixed_rec[with_rec]]
    rec_fixed = np.full(n_rec, -1, dtype=np.int64)
    rec_fixed[fixed_rec[with_rec]] = np.flatnonzero(with_rec)

    rec_cluster = np.full(n_rec, -1, dtype=np.int64)
    if clusters.num_rows:
        flat = pc.list_flatten(clusters["sids"]).cast(pa.string())
        parent = pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False)
        pos = pc.index_in(sub["sid"], value_set=flat.combine_chunks())
        pos_np = np.asarray(pc.fill_null(pos, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
        hit = pos_np >= 0
        rec_cluster[hit] = parent[pos_np[hit]]

    refused_row = np.flatnonzero(~live & keep_send)
    return _Model(
        rec_us=sub["us"].to_numpy(zero_copy_only=False).astype(np.int64),
        rec_scope=rec_scope,
        rec_fixed=rec_fixed,
        rec_failed=np.asarray(sub["failed"].to_numpy(zero_copy_only=False), dtype=bool),
        rec_cluster=rec_cluster,
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


def _spans(sends: pa.Table, rows: np.ndarray) -> np.ndarray:
    """Microseconds between a POST's earliest and latest possible time (0: exact)."""
    if "time_max" not in sends.column_names or not len(rows):
        return np.zeros(len(rows), dtype=np.int64)
    picked = sends.take(pa.array(rows, pa.int64()))
    span = pc.subtract(pc.cast(picked["time_max"], pa.int64()), pc.cast(picked["time"], pa.int64()))
    values = pc.fill_null(span, 0).to_numpy(zero_copy_only=False)
    return np.maximum(np.asarray(values, dtype=np.int64), 0)


def _delay_band(model: _Model, tolerance: float) -> tuple[tuple[int, int], str]:
    """The delays (record minus POST, ms) in which a POST may have created a record.

    Learned from the pairs the data vouches for: logged SIDs, else POSTs and records
    that are each other's only neighbour within 5 s (or less in a busy log). Without
    enough of them, the tolerance on either side of the skew.
    """
    fixed = np.flatnonzero(model.rec_fixed >= 0)
    method = "sid_pairs"
    if len(fixed) >= MIN_BAND_PAIRS:
        delays = model.rec_us[fixed] // 1000 - model.post_us[model.rec_fixed[fixed]] // 1000
        delays = delays[np.abs(delays) <= _MAX_SKEW * 1000]
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


def _coverage(requests: pa.Table, skew: float, gap: float) -> pd.DataFrame:
    """Periods (Twilio clock) in which the log has lines no more than ``gap`` seconds apart.

    Tunnel lines (CONNECT) do not count: such a proxy sees no sends at all.
    """
    tunnel = pc.fill_null(pc.equal(requests["method"], "CONNECT"), False)
    times = requests["time"].filter(pc.invert(tunnel))
    times = pc.cast(times.filter(pc.is_valid(times)), pa.int64())
    us = np.sort(times.to_numpy(zero_copy_only=False)) - int(round(skew * _US))
    if len(us) == 0:
        return pd.DataFrame(
            {"start": pd.Series([], dtype="int64"), "end": pd.Series([], dtype="int64")}
        )
    breaks = np.flatnonzero(np.diff(us) > gap * _US)
    starts = np.concatenate(([us[0]], us[breaks + 1]))
    ends = np.concatenate((us[breaks], [us[-1]]))
    return pd.DataFrame({"start": starts, "end": ends})


def _covered(lo: np.ndarray, hi: np.ndarray, coverage: pd.DataFrame) -> np.ndarray:
    if coverage.empty:
        return np.zeros(len(lo), dtype=bool)
    starts = coverage["start"].to_numpy()
    ends = coverage["end"].to_numpy()
    idx = np.searchsorted(starts, lo, side="right") - 1
    ok = idx >= 0
    result = np.zeros(len(lo), dtype=bool)
    result[ok] = ends[idx[ok]] >= hi[ok]
    return result


_UNDECIDED_REASONS = {
    rc.REASON_EITHER: "the POSTs near the cluster explain its records either way "
    "(one POST each, or one request making several)",
    rc.REASON_NO_POST: "a record of the cluster has no POST in the log shortly before it",
    rc.REASON_INFEASIBLE: "the logged POSTs and the records near the cluster do not reconcile",
    rc.REASON_CROWDED: "too many POSTs and messages within seconds of each other "
    "for this log to tell them apart",
}


def _verdicts(result: rc.Reconciled, model: _Model, covered: np.ndarray, n: int) -> dict[str, Any]:
    verdict = np.full(n, INCONCLUSIVE, dtype=object)
    reason = np.full(n, "", dtype=object)
    for code, text in _UNDECIDED_REASONS.items():
        reason[result.reason == code] = text
    own = model.rec_cluster >= 0
    mine = np.bincount(model.rec_cluster[own], minlength=n)
    mine_fixed = np.bincount(
        model.rec_cluster[own], weights=model.rec_fixed[own] >= 0, minlength=n
    ).astype(np.int64)
    exact = (mine > 0) & (mine_fixed == mine)
    app = result.outcome == rc.APP
    verdict[app] = APP_SIDE
    reason[app] = "a POST for every record"
    unsure = app & (result.possible > 0)
    reason[unsure] = [
        f"a POST for every record; {k} of them got no answer or a 5xx but must have "
        "created a record, since no other POST can have"
        for k in result.possible[unsure]
    ]
    reason[app & exact] = "every record's SID was logged with its POST"
    twilio = result.outcome == rc.TWILIO
    verdict[twilio] = TWILIO_SIDE
    reason[twilio] = "fewer POSTs than records: one request made several messages"
    undecided = ~exact & ~covered
    verdict[undecided] = UNVERIFIED
    reason[undecided] = "the server log does not cover this time"
    return {
        "verdict": verdict,
        "verdict_reason": reason,
        "match_mode": np.full(n, "", dtype=object),
        "posts": result.posts,
        "possible_posts": result.possible,
        "records_in_window": np.maximum(result.records, mine),
    }


def _evidence_rows(
    result: rc.Reconciled,
    model: _Model,
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
            hi_ms=band[1] + 60_000,
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


def _matched_lists(
    n: int, sends: pa.Table, cluster_of: np.ndarray, send_row: np.ndarray
) -> dict[str, pa.Array]:
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(cluster_of, minlength=n), out=offsets[1:])
    rows = pa.array(send_row, type=pa.int64())
    picked = sends.take(rows)
    files = picked["source_file"].cast(pa.string())
    lines = pc.binary_join_element_wise(files, picked["line"].cast(pa.string()), ":")
    times = picked["time"]
    return {
        "matched_lines": pa.ListArray.from_arrays(
            pa.array(offsets),
            lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines,
        ),
        "matched_times": pa.ListArray.from_arrays(pa.array(offsets), times.combine_chunks()),
        "matched_statuses": pa.ListArray.from_arrays(
            pa.array(offsets), picked["status"].combine_chunks()
        ),
    }


def _log_kinds(
    n: int,
    sends: pa.Table,
    cluster_of: np.ndarray,
    send_row: np.ndarray,
    formats: Mapping[str, str | None] | None,
) -> np.ndarray:
    """The kind of log (application, sdk, wire) whose lines matched each cluster."""
    kinds = np.full(n, "", dtype=object)
    if not len(send_row):
        return kinds
    picked = sends["source_file"].take(pa.array(send_row, pa.int64()))
    files = picked.cast(pa.string()).to_numpy(zero_copy_only=False)
    known = {name: LOG_KINDS.get(fmt or "", "unknown") for name, fmt in (formats or {}).items()}
    first = np.ones(len(cluster_of), dtype=bool)
    first[1:] = cluster_of[1:] != cluster_of[:-1]
    kinds[cluster_of[first]] = [known.get(f, "unknown") for f in files[first]]
    return kinds


def _empty_evidence(n: int, why: str) -> dict[str, Any]:
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return {
        "verdict": np.full(n, UNVERIFIED, dtype=object),
        "verdict_reason": np.full(n, why, dtype=object),
        "match_mode": np.full(n, "none", dtype=object),
        "posts": np.zeros(n, dtype=np.int64),
        "possible_posts": np.zeros(n, dtype=np.int64),
        "records_in_window": np.zeros(n, dtype=np.int64),
        "covered": np.zeros(n, dtype=bool),
        "matched_lines": pa.ListArray.from_arrays(offsets, pa.array([], pa.string())),
        "matched_times": pa.ListArray.from_arrays(
            offsets, pa.array([], pa.timestamp("us", tz="UTC"))
        ),
        "matched_statuses": pa.ListArray.from_arrays(offsets, pa.array([], pa.int32())),
        "skew_seconds": np.zeros(n),
        "log_kind": np.full(n, "", dtype=object),
    }


def _attach(clusters: pa.Table, evidence: dict[str, Any]) -> pa.Table:
    """Add the evidence columns and the root-cause hints to the clusters table."""
    table = clusters
    for name, values in {**evidence, "hint": _hints(clusters, evidence)}.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, array)
    return table


def _hints(clusters: pa.Table, evidence: dict[str, Any]) -> np.ndarray:
    """Root-cause hints from the gaps and the first attempt's outcome, one text per cluster."""
    n = clusters.num_rows
    hints = np.full(n, "", dtype=object)
    if n == 0:
        return hints
    gaps = clusters["gaps_seconds"]
    values = pc.list_flatten(gaps).to_numpy(zero_copy_only=False)
    offsets = np.concatenate(([0], np.cumsum(clusters["n_records"].to_numpy() - 1)[:-1]))
    low = np.minimum.reduceat(values, offsets)
    high = np.maximum.reduceat(values, offsets)
    hints[high <= 2] = "gaps of at most 2 s: a double submit or two workers taking one job"
    for timeout in sorted(COMMON_TIMEOUTS, reverse=True):
        near = (low >= timeout) & (high <= timeout + 3) & (hints == "")
        hints[near] = f"gaps just over {timeout} s: a retry after a {timeout} s client timeout"
    hour = (low >= 3000) & (high <= 4200) & (hints == "")
    hints[hour] = "gaps of about 1 h: a queue redelivering after its visibility timeout"

    statuses = evidence["matched_statuses"]
    first_status = (
        pc.list_element(
            pc.if_else(
                pc.greater(pc.list_value_length(statuses), 0),
                statuses,
                pa.scalar(None, statuses.type),
            ),
            0,
        )
        if len(statuses)
        else pa.array([], pa.int32())
    )
    first = np.asarray(pc.fill_null(first_status, -1).to_numpy(zero_copy_only=False))
    has_posts = np.asarray(pc.list_value_length(statuses).to_numpy(zero_copy_only=False)) > 1
    failed = has_posts & ((first == -1) | (first >= 500))
    suffix = "the first attempt timed out or got a 5xx: a retried non-idempotent POST"
    hints[failed] = np.where(hints[failed] == "", suffix, hints[failed] + "; " + suffix)
    refused = has_posts & (first >= 400) & (first < 500) & ~np.isin(first, _UNSURE_4XX)
    hints[refused] = [
        (h + "; " if h else "")
        + f"the first attempt was refused (HTTP {code}) and retried: a refused POST creates "
        "nothing, so it explains none of the records"
        for h, code in zip(hints[refused], first[refused], strict=True)
    ]
    twilio = evidence["verdict"] == TWILIO_SIDE
    escalate = "one request, several messages: send the SIDs to Twilio support"
    hints[twilio] = escalate  # the gap pattern says nothing about the application here
    hints[evidence["verdict"] == WEBHOOK_SIDE] = WEBHOOK_HINT
    return hints


WEBHOOK_HINT = (
    "replies to an incoming message: Twilio waits 15 s for the webhook, then calls the "
    "fallback URL, and a reply goes out from each TwiML answer; answer the webhook within "
    "15 s (acknowledge first, work later) and keep the fallback URL from replying again"
)
