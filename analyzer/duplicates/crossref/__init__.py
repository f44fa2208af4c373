"""Cross-reference duplicate clusters with the application's HTTP request logs.

The logged POSTs to Messages.json (``outcomes``: accepted, possible or refused) and
Twilio's outbound-api records (``records``) are placed on one clock (``skew``) and
reconciled one to one (``matching``, analyzer.duplicates.reconcile); a cluster is
decided only when every way of explaining its records by the logged POSTs gives
the same answer (``judge``), and gets a root-cause hint (``hints``). What the whole
log decides (skew, match mode, delay band...) is learned once (``plan``); only the
POSTs and records that can matter to the clusters are then judged.

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
from analyzer.duplicates.crossref.matching import copy_reach, evidence_rows
from analyzer.duplicates.crossref.plan import CrossrefPlan, IncompleteLog, judged, planned
from analyzer.duplicates.crossref.records import reply_counts
from analyzer.duplicates.crossref.scope import LogScope
from analyzer.duplicates.crossref.skew import SkewEstimate, covered_by
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

    @classmethod
    def from_plan(cls, clusters: pa.Table, plan: CrossrefPlan) -> CrossReference:
        """Judged clusters with the log's figures from the plan they were judged by."""
        return cls(
            clusters=clusters,
            skew=plan.skew,
            mode=plan.mode,
            coverage=plan.coverage,
            by_verdict=count_verdicts(clusters),
            warnings=list(plan.warnings),
            delay_band=plan.delay_band,
            delay_band_method=plan.delay_band_method,
            sends=dict(plan.sends),
            request_ids=dict(plan.request_ids),
        )


def plan_cross_reference(
    clusters: pa.Table,
    requests: pa.Table,
    messages: pa.Table,
    *,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    coverage_gap: float = DEFAULT_COVERAGE_GAP,
    timeline: pa.Table | None = None,
) -> CrossrefPlan:
    """What the whole log and every record decide for the cross-reference of ``clusters``:
    skew, match mode, request-id hypothesis, recipients, coverage, POSTs by outcome,
    warnings and the delay band (learned from the POSTs and records around the clusters).

    The arguments are cross_reference's; ``requests`` must hold at least one row.
    Pass the plan to cross_reference (e.g. for each part of the clusters, with the
    requests and records around them) to judge them with these decisions.
    """
    _check_inputs(messages, skew, tolerance, coverage_gap)
    if (requests if timeline is None else timeline).num_rows == 0:
        raise InputError("a cross-reference plan needs request log lines")
    return planned(clusters, requests, messages, skew, tolerance, coverage_gap, timeline)[0]


def cross_reference(
    clusters: pa.Table,
    requests: pa.Table | None,
    messages: pa.Table,
    *,
    formats: Mapping[str, str | None] | None = None,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    coverage_gap: float = DEFAULT_COVERAGE_GAP,
    plan: CrossrefPlan | None = None,
    timeline: pa.Table | None = None,
) -> CrossReference:
    """Give every duplicate cluster a verdict backed by the request log.

    ``requests`` is the canonical request table (None: no logs given); ``messages``
    holds at least sid, to, direction and date_created (and, if it can, status) of
    every record around the clusters. ``formats`` maps each log file to its format,
    for the log kind. ``skew`` overrides the estimate (log clock minus Twilio clock,
    seconds). ``tolerance`` is the half-width of the delay band used when the data
    has too few clean pairs to learn it. ``plan`` (plan_cross_reference) gives the
    decisions learned from the whole log, which are then not learned again (``skew``
    and ``coverage_gap`` are the plan's); without it they are learned here, from
    ``timeline`` (analyzer.logs.LogParseResult.timeline) when ``requests`` holds only
    the rows a LogScope kept.
    """
    _check_inputs(messages, skew, tolerance, coverage_gap)
    n = clusters.num_rows
    replies, sizes = reply_counts(clusters, messages)
    if requests is None or (requests if timeline is None else timeline).num_rows == 0:
        return _without_logs(clusters, replies, sizes, skew)

    if plan is None:
        plan, part = planned(
            clusters, requests, messages, skew, tolerance, coverage_gap, timeline
        )
    else:
        part = judged(clusters, requests, messages, plan)
    model, band = part.model, plan.delay_band_ms
    result = rc.reconcile(model.graph(band, copy_reach(band, tolerance)), model.rec_cluster, n)
    covered = _covered_clusters(clusters, plan.coverage, tolerance)
    judged_verdicts = judge(reconciled_evidence(result, model, covered, replies, sizes))
    matched = (part.sends, *evidence_rows(result, model, band, part.send_us))
    evidence = logged_columns(
        judged_verdicts, plan.mode, result, model, matched, covered, plan.skew.seconds, formats
    )
    return CrossReference.from_plan(attach(clusters, evidence), plan)


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
    "CrossrefPlan",
    "IncompleteLog",
    "LogScope",
    "SkewEstimate",
    "cross_reference",
    "plan_cross_reference",
]
