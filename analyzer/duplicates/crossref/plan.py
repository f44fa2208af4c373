"""What the cross-reference decides once, from the whole log, and what it then judges.

The plan (``CrossrefPlan``) holds every decision learned from the whole request log
and every record: the clock skew, how POSTs are matched (the mode), whether
Twilio-Request-Id values stand for SIDs, how recipients are compared, the log's
coverage, the POSTs by outcome, the warnings and the delay band. Judging the clusters
then needs only the POSTs and records that can be in a reconciliation component
touching a cluster record (``judged``):

- matched by SID or by recipient and time, every POST names its recipient or a known
  SID, and components never cross recipients: the records to the clusters'
  recipients, the POSTs to them and the POSTs naming one of those records' SIDs;
- matched by time alone (or with a POST that names neither): everything, since a
  component may chain POSTs and records across the whole log.

The log's columns are read where they lie (a mask says which rows are POSTs, another
which messages are outbound-api records); only the rows judged are copied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref.matching import Model, build_model, delay_band
from analyzer.duplicates.crossref.outcomes import (
    OUTCOMES,
    REFUSED,
    post_outcomes,
    send_columns,
    sids_from_request_ids,
    usable_posts,
)
from analyzer.duplicates.crossref.records import (
    RECIPIENTS_NOT_USED,
    api_mask,
    comparable_recipients,
    present,
    record_columns,
    records_in_clusters,
    with_failed,
)
from analyzer.duplicates.crossref.skew import (
    SkewEstimate,
    clock_warnings,
    estimate_skew,
    log_coverage,
)
from analyzer.logs import timeline_of


class IncompleteLog(ValueError):
    """The request rows a LogScope kept are not enough for this log: read it whole."""


@dataclass(frozen=True)
class CrossrefPlan:
    """What the whole log and every record decide, before any cluster is judged."""

    skew: SkewEstimate
    #: How POSTs are matched: "sid", "recipient_time" or "time_only".
    mode: str
    #: Record time minus POST time (Twilio clock) a POST may have created a record in, ms.
    delay_band_ms: tuple[int, int]
    delay_band_method: str
    #: The Twilio-Request-Id → SID hypothesis: candidates, found, used (and a note).
    request_ids: Mapping[str, Any]
    #: How logged recipients are compared (analyzer.duplicates.crossref.records.RECIPIENTS_*).
    recipients: str
    #: Whether judging can be limited to the clusters' recipients (see the module).
    scoped: bool
    #: Periods (Twilio clock, µs) in which the log is alive.
    coverage: pd.DataFrame
    #: POSTs by outcome: accepted, possible, refused.
    sends: Mapping[str, int]
    warnings: tuple[str, ...]

    @property
    def delay_band(self) -> tuple[float, float]:
        """The delay band in seconds."""
        return (self.delay_band_ms[0] / 1000, self.delay_band_ms[1] / 1000)


@dataclass
class Judged:
    """The POSTs and records that can matter to the clusters, as the reconciliation sees them."""

    #: The POSTs judged (send columns), their times on the log's clock, and the model.
    sends: pa.Table
    send_us: np.ndarray
    model: Model


@dataclass
class _Log:
    """Every request row and every message row, with which ones are POSTs and records."""

    sends: pa.Table
    usable: np.ndarray
    outcome: np.ndarray
    records: pa.Table
    api: np.ndarray


def planned(
    clusters: pa.Table,
    requests: pa.Table,
    messages: pa.Table,
    skew: float | None,
    tolerance: float,
    coverage_gap: float,
    timeline: pa.Table | None = None,
) -> tuple[CrossrefPlan, Judged]:
    """The plan learned from the whole log and every record, and the clusters' part of it
    (from which the delay band is learned).

    ``timeline`` (analyzer.logs.TIMELINE_SCHEMA) has every request of the log when
    ``requests`` holds only the rows a LogScope kept; without it ``requests`` is the
    whole log.
    """
    whole = _Whole.of(timeline_of(requests) if timeline is None else timeline)
    sends, usable = send_columns(requests)
    records, api = record_columns(messages), api_mask(messages)
    sends, request_ids = sids_from_request_ids(sends, usable, messages)
    sends, records, recipients, recipient_note = comparable_recipients(
        sends, usable, records, api
    )
    outcome = post_outcomes(sends["status"])
    mode = _match_mode(sends, usable, whole.left_out)
    unused_ids = request_ids.get("candidates") and not request_ids.get("used")
    warnings = [note for note in (recipient_note, unused_ids and request_ids["note"]) if note]
    live = usable & (outcome != OUTCOMES.index(REFUSED))
    skew_info = _skew(sends, records, api, mode, live, skew, tolerance, warnings, whole)
    coverage = log_coverage(whole.timeline, skew_info.seconds, coverage_gap)
    record_us = records["us"].to_numpy(zero_copy_only=False)[api]
    warnings.extend(clock_warnings(coverage, record_us, skew_info, whole.live_us))
    del record_us

    log = _Log(sends, usable, outcome, records, api)
    scoped = mode != "time_only" and not _loose(log).any()
    if whole.left_out and not (scoped and recipients != RECIPIENTS_NOT_USED):
        # A LogScope left out POSTs that could matter after all (see its module).
        raise IncompleteLog(
            "this log's POSTs are matched by time, or its recipients cannot be used: "
            "it must be read whole"
        )
    judged = _judge_part(clusters, messages, log, mode, scoped, skew_info.seconds)
    band, band_method = delay_band(judged.model, tolerance)
    plan = CrossrefPlan(
        skew=skew_info,
        mode=mode,
        delay_band_ms=band,
        delay_band_method=band_method,
        request_ids=request_ids,
        recipients=recipients,
        scoped=scoped,
        coverage=coverage,
        sends=whole.by_outcome(),
        warnings=tuple(warnings),
    )
    return plan, judged


@dataclass
class _Whole:
    """What the whole log's timeline gives: every usable POST's time and outcome."""

    timeline: pa.Table
    usable: np.ndarray
    outcome: np.ndarray
    send_us: np.ndarray
    #: Whether usable POSTs were left out of the request rows (by a LogScope).
    left_out: bool

    @classmethod
    def of(cls, timeline: pa.Table) -> _Whole:
        usable = usable_posts(timeline)
        left_out = bool((usable & ~present(timeline["kept"])).any())
        send_us = pc.cast(timeline["time"], pa.int64()).to_numpy(zero_copy_only=False)
        return cls(timeline, usable, post_outcomes(timeline["status"]), send_us, left_out)

    @property
    def live(self) -> np.ndarray:
        """Usable POSTs that were not refused."""
        return self.usable & (self.outcome != OUTCOMES.index(REFUSED))

    @property
    def live_us(self) -> np.ndarray:
        return self.send_us[self.live]

    def exact_us(self) -> np.ndarray:
        """The times of the live POSTs known to the instant (not placed between others)."""
        return self.send_us[self.live & ~present(pc.is_valid(self.timeline["time_max"]))]

    def by_outcome(self) -> dict[str, int]:
        counts = np.bincount(self.outcome[self.usable], minlength=len(OUTCOMES))
        return {name: int(counts[i]) for i, name in enumerate(OUTCOMES)}


def judged(
    clusters: pa.Table, requests: pa.Table, messages: pa.Table, plan: CrossrefPlan
) -> Judged:
    """The clusters' part of the log, with the plan's decisions (none learned again)."""
    sends, usable = send_columns(requests)
    records, api = record_columns(messages), api_mask(messages)
    use = bool(plan.request_ids.get("used", False))
    sends, _ = sids_from_request_ids(sends, usable, messages, use=use)
    sends, records, _, _ = comparable_recipients(
        sends, usable, records, api, how=plan.recipients
    )
    log = _Log(sends, usable, post_outcomes(sends["status"]), records, api)
    return _judge_part(clusters, messages, log, plan.mode, plan.scoped, plan.skew.seconds)


def _judge_part(
    clusters: pa.Table, messages: pa.Table, log: _Log, mode: str, scoped: bool, skew: float
) -> Judged:
    """The model of the POSTs and records that can matter to the clusters."""
    if scoped:
        keep_rec, keep_send = _around_clusters(clusters, log)
    else:
        keep_rec, keep_send = log.api, log.usable
    rows = np.flatnonzero(keep_send)
    sends = log.sends.take(pa.array(rows, pa.int64()))
    records = with_failed(log.records, messages, keep_rec)
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    model = build_model(clusters, sends, send_us, log.outcome[rows], records, mode, skew)
    return Judged(sends=sends, send_us=send_us, model=model)


def _around_clusters(clusters: pa.Table, log: _Log) -> tuple[np.ndarray, np.ndarray]:
    """The records to the clusters' recipients, and the POSTs to them or naming one of
    those records' SIDs without naming a recipient."""
    records, sends = log.records, log.sends
    in_clusters = log.api & records_in_clusters(records, clusters)
    recipients = pc.unique(records["to"].filter(pa.array(in_clusters)))
    keep_rec = log.api & present(pc.is_in(records["to"], value_set=recipients))
    keep_send = log.usable & present(pc.is_in(sends["to"], value_set=recipients))
    unnamed = log.usable & ~keep_send & ~present(pc.is_valid(sends["to"]))
    rows = np.flatnonzero(unnamed & present(pc.is_valid(sends["message_sid"])))
    if len(rows):
        sids = records["sid"].filter(pa.array(keep_rec))
        wanted = sends["message_sid"].take(pa.array(rows, pa.int64()))
        keep_send[rows] = present(pc.is_in(wanted, value_set=sids.combine_chunks()))
    return keep_rec, keep_send


def _loose(log: _Log) -> np.ndarray:
    """Live POSTs that name neither a recipient nor a known record's SID: such a POST
    could have made any record."""
    sends = log.sends
    loose = log.usable & (log.outcome != OUTCOMES.index(REFUSED))
    loose &= ~present(pc.is_valid(sends["to"]))
    rows = np.flatnonzero(loose & present(pc.is_valid(sends["message_sid"])))
    if len(rows):
        sids = log.records["sid"].filter(pa.array(log.api)).combine_chunks()
        wanted = sends["message_sid"].take(pa.array(rows, pa.int64()))
        loose[rows] = ~present(pc.is_in(wanted, value_set=sids))
    return loose


def _match_mode(sends: pa.Table, usable: np.ndarray, left_out: bool) -> str:
    """How the log's POSTs can be matched: by SID, by recipient and time, or by time.
    ``left_out``: usable POSTs were left out of ``sends`` (a LogScope leaves out only
    POSTs that name a SID and a recipient)."""
    has_sid = left_out or bool((usable & present(pc.is_valid(sends["message_sid"]))).any())
    has_to = bool((usable & present(pc.is_valid(sends["to"]))).any())
    return "sid" if has_sid else "recipient_time" if has_to else "time_only"


def _skew(
    sends: pa.Table,
    records: pa.Table,
    known: np.ndarray,
    mode: str,
    live: np.ndarray,
    given: float | None,
    tolerance: float,
    warnings: list[str],
    whole: _Whole,
) -> SkewEstimate:
    """The skew used: the given one, else the estimate; warns (into ``warnings``) when
    the given one is far from what the data shows."""
    exact = live
    if "time_max" in sends.column_names:
        exact = live & ~present(pc.is_valid(sends["time_max"]))
    estimate = estimate_skew(sends, records, mode, exact, known, whole.exact_us())
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
