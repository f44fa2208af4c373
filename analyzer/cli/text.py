"""What the commands print: their results as text for the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from analyzer.duplicates.investigate import Investigation
from analyzer.results import (
    SENSITIVITY_COLUMNS,
    CrossrefSummary,
    DuplicatesSummary,
    FailuresSummary,
    InboundSummary,
    OptoutsSummary,
    duration_text,
    percent,
)

if TYPE_CHECKING:
    from analyzer.sources.files import ImportResult
    from analyzer.sources.twilio_api import ExportResult


def failures_text(summary: FailuresSummary) -> str:
    """The failure counts, the top categories and codes, jumps and refused sends."""
    lines = [
        f"{summary.outbound_messages:,} outbound messages: {summary.failures:,} did not arrive "
        f"({percent(summary.failure_rate)}; {summary.failed:,} failed, "
        f"{summary.undelivered:,} undelivered).",
    ]
    if summary.by_category:
        lines.append(
            "By category: "
            + ", ".join(f"{n:,} {name}" for name, n in summary.by_category.items())
            + "."
        )
        top = list(summary.by_error_code.items())[:5]
        lines.append("Top codes: " + ", ".join(f"{code} ({n:,})" for code, n in top) + ".")
    lines.append(f"Recipients to suppress: {summary.recipients_to_suppress:,}.")
    for jump in summary.jumps:
        lines.append(
            f"Jump: {jump.error_code} ({jump.category}) on {jump.day}: {jump.count:,} "
            f"against {jump.baseline:g} a day before."
        )
    rejected = summary.rejected_requests
    if rejected is not None:
        codes = ", ".join(f"{c} ({n:,})" for c, n in rejected.by_error_code.items()) or "none"
        lines.append(
            f"Refused before a record existed: {rejected.rejected:,} of {rejected.posts:,} "
            f"logged sends (codes: {codes})."
        )
    return "\n".join(lines)


def optouts_text(summary: OptoutsSummary) -> str:
    """The keyword events, the sends after opt-out and the state at the end."""
    kinds = ", ".join(f"{n:,} {kind}" for kind, n in summary.events_by_kind.items()) or "none"
    return "\n".join(
        [
            f"{summary.inbound_messages:,} inbound and {summary.outbound_messages:,} outbound "
            f"messages; keyword messages: {kinds}.",
            f"Sends to opted-out recipients: {summary.blocked:,} blocked by Twilio (21610), "
            f"{summary.sent_after_opt_out:,} sent anyway.",
            f"Opted out at the end: {summary.opted_out_at_end:,}; re-opt-ins: "
            f"{summary.re_opt_ins:,}; inferred from 21610: {summary.inferred_opt_outs:,}; "
            f"near misses to read: {summary.near_misses:,}.",
        ]
    )


def inbound_text(summary: InboundSummary) -> str:
    """The numbers by verdict and the inbound messages nothing answered."""
    verdicts = ", ".join(f"{n:,} {v}" for v, n in summary.by_verdict.items()) or "none"
    unhandled = (
        "no server log given"
        if summary.unhandled_inbound is None
        else f"{summary.unhandled_inbound:,} with no webhook request"
    )
    text = (
        f"{summary.numbers:,} numbers: {verdicts}. {summary.inbound_messages:,} inbound "
        f"messages, {unhandled}; {summary.webhook_alerts:,} webhook alerts."
    )
    if summary.callbacks_logged is not None:
        problems = ", ".join(f"{n:,} {p}" for p, n in summary.callback_problems.items())
        text += (
            f" Status callbacks: {summary.callbacks_logged:,} logged, "
            f"{summary.callback_messages:,} messages checked: {problems or 'no problem'}."
        )
    return text


def investigation_text(found: Investigation) -> str:
    """One block per report (verdict, records, reason), then the counts and escalation."""
    lines = []
    for row in found.reports.to_dict("records"):
        listed: list[str] = row["sids"]
        sids = ", ".join(listed[:6]) + (" …" if len(listed) > 6 else "")
        lines.append(
            f"{row['to']}  reported {row['reported_at']:%Y-%m-%d %H:%M} UTC  "
            f"{row['verdict']:<12} {row['n_records']} record(s): {sids or '-'}"
        )
        lines.append(f"    {row['reason']}")
    counts = ", ".join(f"{n} {v}" for v, n in found.by_verdict.items())
    lines.append(f"{len(found.reports)} report(s): {counts}.")
    if found.escalate:
        lines.append(found.escalation)
    return "\n".join(lines)


def detect_text(summary: DuplicatesSummary, sensitivity: pd.DataFrame) -> str:
    """Format a detection summary and its sensitivity table for the terminal."""
    lines = [
        f"{summary.messages:,} messages, {summary.outbound_messages:,} outbound "
        f"({summary.skipped_no_body:,} without a body and "
        f"{summary.skipped_not_sent:,} never sent (canceled or scheduled) left out).",
        f"{summary.duplicate_clusters:,} duplicate clusters with "
        f"{summary.extra_messages:,} extra messages "
        f"(window {duration_text(summary.window_seconds)}, key {' + '.join(summary.key)}); "
        f"{summary.extra_reached_handset:,} of the extra messages reached a handset "
        "(sent, delivered or read).",
        "",
        "Window sensitivity:",
        f"  {'window':>8}  {'clusters':>10}  {'extra msgs':>10}",
    ]
    window, clusters, extra, _records, selected = SENSITIVITY_COLUMNS
    for row in sensitivity.to_dict("records"):
        mark = "  <- selected" if row[selected] else ""
        lines.append(
            f"  {duration_text(row[window]):>8}  {row[clusters]:>10,}  {row[extra]:>10,}{mark}"
        )
    if summary.crossref is not None:
        lines += ["", *_crossref_lines(summary.crossref)]
    return "\n".join(lines)


def _crossref_lines(crossref: CrossrefSummary) -> list[str]:
    verdicts = ", ".join(f"{n:,} {v}" for v, n in crossref.by_verdict.items()) or "none"
    lines = [
        f"Verdicts: {verdicts}.",
        f"Server logs: matched by {crossref.match_mode}, clock skew "
        f"{crossref.skew_seconds:+.1f} s ({crossref.skew_method}, confidence "
        f"{crossref.skew_confidence or 'none'}).",
    ]
    outcomes = crossref.sends_by_outcome
    if outcomes:
        lines.append(
            f"POSTs: {outcomes.get('accepted', 0):,} accepted, {outcomes.get('possible', 0):,} "
            f"without an answer or with a 5xx, {outcomes.get('refused', 0):,} refused (4xx)."
        )
    ids = crossref.request_id_sids
    if ids.get("candidates"):
        lines.append(
            f"Twilio-Request-Id: {ids.get('found', 0):,} of {ids['candidates']:,} successful "
            f"creates name an exported record ({'used' if ids.get('used') else 'not used'} "
            "as SIDs)."
        )
    for log in crossref.logs:
        lines.append(
            f"  {log.path}: {log.format}, {log.lines:,} lines, {log.sends:,} "
            f"message POSTs, {log.malformed:,} malformed"
        )
    return lines


def import_text(result: ImportResult, out: Path) -> tuple[list[str], list[str]]:
    """What an import prints: per-file counts and notes, and the skipped rows (stderr)."""
    lines = []
    for report in result.files:
        undated = (
            f" ({report.undated:,} without a creation date, kept under date=undated)"
            if report.undated
            else ""
        )
        unreadable = (
            f", {report.unreadable:,} values unreadable, kept as empty" if report.unreadable else ""
        )
        lines.append(
            f"{report.path}: {report.format}, {report.imported:,} of {report.rows:,} rows "
            f"imported, {report.malformed:,} malformed, {report.no_sent_date:,} never sent "
            f"(no sent date){undated}{unreadable}"
        )
    lines += [f"Note: {note}" for note in result.notes]
    lines.append(
        f"{result.write.inserted:,} new, {result.write.updated:,} updated, "
        f"{result.write.unchanged:,} unchanged in {out}"
    )
    errors = [f"analyzer: skipped {sample}" for sample in result.samples]
    if result.malformed > len(result.samples):
        more = result.malformed - len(result.samples)
        errors.append(f"analyzer: ... and {more:,} more malformed rows")
    errors += [f"analyzer: warning: {sample}" for sample in result.unreadable_samples]
    if result.unreadable > len(result.unreadable_samples):
        more = result.unreadable - len(result.unreadable_samples)
        errors.append(f"analyzer: ... and {more:,} more values unreadable")
    return lines, errors


def export_text(result: ExportResult, out: Path) -> str:
    """What an export prints: the records, the time range, the counts and the speed."""
    if result.end is None:
        return "Nothing to export: the range ends within the lag window."
    return (
        f"Exported {result.records:,} messages sent {result.start:%Y-%m-%d %H:%M:%S} to "
        f"{result.end:%Y-%m-%d %H:%M:%S} UTC from {len(result.accounts)} account(s) into "
        f"{out}: {result.inserted:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged ({result.pages:,} pages, {result.retries:,} retries, "
        f"{result.elapsed:.1f} s, {result.rate:,.0f} records/s)."
    )
