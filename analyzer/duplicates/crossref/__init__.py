"""Cross-reference duplicate clusters with the application's HTTP request logs.

The logged POSTs to Messages.json (``outcomes``: accepted, possible or refused) and
Twilio's outbound-api records (``records``) are placed on one clock (``skew``) and
reconciled one to one (``matching``, analyzer.duplicates.reconcile); a cluster is
decided only when every way of explaining its records by the logged POSTs gives
the same answer (``judge``), and gets a root-cause hint (``hints``).

Verdicts are analyzer.vocabulary.Verdict values: ``app_side``, ``twilio_side``,
``webhook_side`` (replies to an incoming message, sent from a TwiML answer, not a
POST), ``unverified`` and ``inconclusive``. Time is compared in Twilio's clock: log
times minus the skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates import reconcile as rc
from analyzer.duplicates.crossref.evidence import (
    attach,
    count_verdicts,
    logged_columns,
    reconciled_evidence,
    unlogged_columns,
)
from analyzer.duplicates.crossref.judge import ClusterEvidence, judge
from analyzer.duplicates.crossref.matching import (
    build_model,
    copy_reach,
    delay_band,
    evidence_rows,
)
from analyzer.duplicates.crossref.outcomes import (
    OUTCOMES,
    REFUSED,
    post_outcomes,
    send_table,
    sids_from_request_ids,
)
from analyzer.duplicates.crossref.records import (
    api_records,
    comparable_recipients,
    present,
    reply_counts,
)
from analyzer.duplicates.crossref.skew import (
    SkewEstimate,
    clock_warnings,
    covered_by,
    estimate_skew,
    log_coverage,
)
from analyzer.errors import InputError
from analyzer.schema import MICROS_PER_SECOND

DEFAULT_TOLERANCE = 3.0
DEFAULT_COVERAGE_GAP = 900.0


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
    _check_inputs(messages, skew, tolerance, coverage_gap)
    n = clusters.num_rows
    replies, sizes = reply_counts(clusters, messages)
    if requests is None or requests.num_rows == 0:
        return _without_logs(clusters, replies, sizes, skew)

    records = api_records(messages)
    sends, request_ids = sids_from_request_ids(send_table(requests), messages)
    sends, records, recipient_note = comparable_recipients(sends, records)
    outcome = post_outcomes(sends["status"])
    mode = _match_mode(sends)
    unused_ids = request_ids.get("candidates") and not request_ids.get("used")
    warnings = [note for note in (recipient_note, unused_ids and request_ids["note"]) if note]
    live = outcome != OUTCOMES.index(REFUSED)
    skew_info = _skew(sends, records, mode, live, skew, tolerance, warnings)
    coverage = log_coverage(requests, skew_info.seconds, coverage_gap)
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    warnings.extend(clock_warnings(coverage, records, skew_info, send_us[live]))

    model = build_model(clusters, sends, send_us, outcome, records, mode, skew_info.seconds)
    band, band_method = delay_band(model, tolerance)
    result = rc.reconcile(model.graph(band, copy_reach(band, tolerance)), model.rec_cluster, n)
    covered = _covered_clusters(clusters, coverage, tolerance)
    judged = judge(reconciled_evidence(result, model, covered, replies, sizes))
    matched = (sends, *evidence_rows(result, model, band, send_us))
    evidence = logged_columns(
        judged, mode, result, model, matched, covered, skew_info.seconds, formats
    )
    table = attach(clusters, evidence)
    return CrossReference(
        clusters=table,
        skew=skew_info,
        mode=mode,
        coverage=coverage,
        by_verdict=count_verdicts(table),
        warnings=warnings,
        delay_band=(band[0] / 1000, band[1] / 1000),
        delay_band_method=band_method,
        sends=_by_outcome(outcome),
        request_ids=request_ids,
    )


def _by_outcome(outcome: np.ndarray) -> dict[str, int]:
    """Logged POSTs per outcome (accepted, possible, refused)."""
    counts = np.bincount(outcome, minlength=len(OUTCOMES))
    return {name: int(counts[i]) for i, name in enumerate(OUTCOMES)}


def _check_inputs(
    messages: pa.Table, skew: float | None, tolerance: float, coverage_gap: float
) -> None:
    for name in ("sid", "to", "direction", "date_created"):
        if name not in messages.column_names:
            raise InputError(f"cross-reference needs the messages' {name} column")
    if not (tolerance >= 0 and coverage_gap > 0):
        raise InputError("tolerance must be >= 0 and the coverage gap > 0")
    if skew is not None and not np.isfinite(skew):
        raise InputError("skew must be a finite number of seconds")


def _without_logs(
    clusters: pa.Table, replies: np.ndarray, sizes: np.ndarray, skew: float | None
) -> CrossReference:
    """Verdicts when no server log was given: replies are still recognised."""
    evidence = unlogged_columns(judge(ClusterEvidence.without_logs(sizes, replies)))
    table = attach(clusters, evidence)
    return CrossReference(
        clusters=table,
        skew=SkewEstimate(seconds=float(skew or 0.0), method="none"),
        mode="none",
        coverage=pd.DataFrame({"start": [], "end": []}),
        by_verdict=count_verdicts(table),
    )


def _match_mode(sends: pa.Table) -> str:
    """How the log's POSTs can be matched: by SID, by recipient and time, or by time."""
    has_sid = bool(sends.num_rows) and pc.any(pc.is_valid(sends["message_sid"])).as_py()
    has_to = bool(sends.num_rows) and pc.any(pc.is_valid(sends["to"])).as_py()
    return "sid" if has_sid else "recipient_time" if has_to else "time_only"


def _skew(
    sends: pa.Table,
    records: pa.Table,
    mode: str,
    live: np.ndarray,
    given: float | None,
    tolerance: float,
    warnings: list[str],
) -> SkewEstimate:
    """The skew used: the given one, else the estimate; warns (into ``warnings``) when
    the given one is far from what the data shows."""
    exact = live
    if "time_max" in sends.column_names:
        exact = live & ~present(pc.is_valid(sends["time_max"]))
    estimate = estimate_skew(sends, records, mode, exact)
    used = float(given) if given is not None else estimate.seconds
    far_off = estimate.method != "none" and abs((given or 0.0) - estimate.seconds) > tolerance
    if given is not None and far_off:
        warnings.append(
            f"the given skew ({given:+.1f} s) differs from the one the data shows "
            f"({estimate.seconds:+.1f} s, {estimate.method}) by more than the tolerance: "
            "POSTs may fall outside their clusters' windows"
        )
    return SkewEstimate(
        seconds=used,
        method="given" if given is not None else estimate.method,
        pairs=estimate.pairs,
        estimated=estimate.seconds,
        spread=estimate.spread,
        confidence="given" if given is not None else estimate.confidence,
        note=estimate.note,
    )


def _covered_clusters(
    clusters: pa.Table, coverage: pd.DataFrame, tolerance: float
) -> np.ndarray:
    """Whether the log is alive around each cluster: from within the tolerance after its
    first record to within the tolerance before its last one."""
    first_us = pc.cast(clusters["first_created"], pa.int64()).to_numpy(zero_copy_only=False)
    last_us = pc.cast(clusters["last_created"], pa.int64()).to_numpy(zero_copy_only=False)
    tol_us = int(tolerance * MICROS_PER_SECOND)
    return covered_by(first_us + tol_us, last_us - tol_us, coverage)


__all__ = [
    "DEFAULT_COVERAGE_GAP",
    "DEFAULT_TOLERANCE",
    "CrossReference",
    "SkewEstimate",
    "cross_reference",
]
