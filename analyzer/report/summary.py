"""The report's numbers (:class:`~analyzer.results.ReportSummary`), computed once from
the loaded results."""

from __future__ import annotations

import pandas as pd

from analyzer.duplicates.clusters import extra_reached_handset
from analyzer.report.failures_data import FailuresData
from analyzer.report.headline import failures_headline, headline, optouts_headline
from analyzer.report.load import ReportData
from analyzer.results import (
    CarrierSummary,
    OptoutsSummary,
    ReportSummary,
    Span,
    coverage_spans,
    duplicate_rate,
    format_time,
)
from analyzer.vocabulary import CLUSTER_VERDICTS, LISTED_VERDICTS

#: The verdicts of clusters, in the order they are listed.
VERDICTS: tuple[str, ...] = tuple(v for v in LISTED_VERDICTS if v in CLUSTER_VERDICTS)


def summarise(data: ReportData, redact: bool) -> ReportSummary:
    """The report's summary of ``data``; ``redact`` is recorded."""
    frame, detection = data.frame, data.detection
    crossref = detection.crossref
    by_verdict = dict.fromkeys(VERDICTS, 0)
    extra_by_verdict = dict.fromkeys(VERDICTS, 0)
    if len(frame):
        counts = frame.groupby("verdict").agg(n=("extra", "size"), e=("extra", "sum"))
        for verdict, row in counts.iterrows():
            by_verdict[str(verdict)] = int(row["n"])
            extra_by_verdict[str(verdict)] = int(row["e"])
    extra = int(frame["extra"].sum()) if len(frame) else 0
    outbound = detection.outbound_messages
    summary = ReportSummary(
        messages=detection.messages,
        outbound_messages=outbound,
        skipped_no_body=detection.skipped_no_body,
        skipped_not_sent=detection.skipped_not_sent,
        candidate_messages=detection.candidate_messages,
        duplicate_clusters=len(frame),
        records_in_clusters=int(frame["n_records"].sum()) if len(frame) else 0,
        extra_messages=extra,
        extra_reached_handset=(
            extra_reached_handset(data.table)
            if "statuses" in data.table.column_names
            else detection.extra_reached_handset
        ),
        extra_share_of_outbound=round(duplicate_rate(extra, outbound) or 0.0, 6),
        by_verdict=by_verdict,
        extra_by_verdict=extra_by_verdict,
        gap_patterns={str(k): int(v) for k, v in frame["pattern"].value_counts().items()},
        window_seconds=detection.window_seconds,
        key=list(detection.key),
        period_start=detection.period_start,
        period_end=detection.period_end,
        logs_given=data.logs_given,
        log_coverage=coverage_spans(crossref),
        uncovered_periods=uncovered_periods(data) if data.logs_given else [],
        warnings=list(detection.warnings),
        carrier=carrier_summary(data.carrier),
        redacted=redact,
        source=detection.source,
    )
    if crossref is not None:
        summary.match_mode = crossref.match_mode
        summary.skew_seconds = crossref.skew_seconds
        summary.skew_method = crossref.skew_method
        summary.skew_pairs = crossref.skew_pairs
        summary.skew_spread_seconds = crossref.skew_spread_seconds
        summary.skew_confidence = crossref.skew_confidence
        summary.delay_band_seconds = crossref.delay_band_seconds
        summary.sends_by_outcome = dict(crossref.sends_by_outcome)
        summary.request_id_sids = dict(crossref.request_id_sids)
    summary.headline = headline(data, summary)
    if data.failures is not None:
        add_failures(summary, data.failures, alone=not data.duplicates)
    if data.optouts is not None:
        add_optouts(summary, data.optouts.summary, alone=only_optouts(data))
    return summary


def only_optouts(data: ReportData) -> bool:
    """Whether the folder holds opt-out results and no other analysis's."""
    return data.optouts is not None and not data.duplicates and data.failures is None


def add_optouts(summary: ReportSummary, found: OptoutsSummary, *, alone: bool) -> None:
    """Record the opt-outs' counts; ``alone`` (no other analysis) also takes their
    period, source and headline."""
    summary.optouts = found
    if alone:
        summary.period_start, summary.period_end = found.period_start, found.period_end
        summary.source = found.source
        summary.headline = optouts_headline(found)


def add_failures(summary: ReportSummary, failures: FailuresData, *, alone: bool) -> None:
    """Record the failures' counts; ``alone`` (no duplicates detection) also takes their
    period, source and headline."""
    found = failures.summary
    summary.failures = found
    if alone:
        summary.period_start, summary.period_end = found.period_start, found.period_end
        summary.source = found.source
        summary.headline = failures_headline(failures)


def uncovered_periods(data: ReportData) -> list[Span]:
    """Stretches of the analysed period that no server log covers."""
    start, end = data.detection.period_start, data.detection.period_end
    if start is None or end is None:
        return []
    end_ts = pd.Timestamp(end)
    covered = coverage_spans(data.detection.crossref)
    spans = sorted((pd.Timestamp(str(s.start)), pd.Timestamp(str(s.end))) for s in covered)
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    cursor = pd.Timestamp(start)
    for low, high in spans:
        if low > cursor:
            gaps.append((cursor, min(low, end_ts)))
        cursor = max(cursor, high)
        if cursor >= end_ts:
            break
    if cursor < end_ts:
        gaps.append((cursor, end_ts))
    return [
        Span(format_time(a.to_pydatetime()), format_time(b.to_pydatetime()))
        for a, b in gaps
        if b > a
    ]


def carrier_summary(carrier: pd.DataFrame | None) -> CarrierSummary | None:
    """How many reports an investigation wrote, by verdict (None without one)."""
    if carrier is None:
        return None
    by_verdict: dict[str, int] = {}
    if "verdict" in carrier:
        counts = carrier["verdict"].astype(str).value_counts()
        by_verdict = {str(k): int(v) for k, v in counts.items()}
    return CarrierSummary(reports=len(carrier), by_verdict=by_verdict)
