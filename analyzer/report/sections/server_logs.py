"""The server logs section (what the request logs covered) and the method."""

from __future__ import annotations

from analyzer.report.document import BulletList, Cell, Code, Paragraph, Section, Table
from analyzer.report.headline import evidence_text, key_text
from analyzer.report.sections.base import ReportContext
from analyzer.report.text import plural
from analyzer.results import (
    LogFileSummary,
    MalformedLine,
    ReportSummary,
    Span,
    duration_text,
    format_time,
)

_VERDICTS_TEXT = (
    "Verdicts: app_side = a POST for every record (the application sent it again); "
    "twilio_side = fewer POSTs than records (one request, several messages); "
    "webhook_side = replies to an incoming message, sent twice from the webhook's "
    "answers; inconclusive = the logs cannot separate the cases; unverified = the "
    "logs do not cover that time. Only a 2xx answer created a message; a 4xx created "
    "none; a 5xx or no answer may have."
)
_NO_LOGS_TEXT = (
    "No server logs were given: every cluster is unverified. Run "
    "`analyzer detect --server-log ...` to learn who sent each duplicate."
)
_REDACTED_TEXT = (
    "Recipient numbers are masked (country code and last 4 digits); "
    "numbers inside message bodies are replaced by •••."
)


def sections(context: ReportContext) -> list[Section]:
    """The server logs and the method (none without a duplicates detection)."""
    if not context.data.duplicates:
        return []
    return [logs_section(context), method_section(context)]


def logs_section(context: ReportContext) -> Section:
    """The time the logs cover, the stretches they miss, each file read."""
    section = Section("Server logs")
    crossref = context.data.detection.crossref
    if not context.data.logs_given or crossref is None:
        section.blocks.append(Paragraph(("No server logs given.",)))
        return section
    summary = context.summary
    section.blocks += [
        Paragraph(("Time covered by the logs (UTC):",)),
        _span_table(summary.log_coverage),
    ]
    if summary.uncovered_periods:
        section.blocks += [
            Paragraph(("Not covered (clusters here are unverified):",)),
            _span_table(summary.uncovered_periods),
        ]
    header = ["file", "format", "lines", "message POSTs", "malformed", "first", "last"]
    rows = [_log_row(log) for log in crossref.logs]
    section.blocks.append(Table(header, rows, numeric=frozenset({2, 3, 4})))
    for log in crossref.logs:
        samples = MalformedLine.of(log)
        if samples:
            intro = ("Malformed lines in ", Code(log.path), f" ({log.malformed:,}; samples):")
            lines: list[list[Cell]] = [
                [s.line or "", s.reason or "", Code(s.text or "")] for s in samples
            ]
            section.blocks += [Paragraph(intro), Table(["line", "reason", "text"], lines)]
    return section


def _span_table(spans: list[Span]) -> Table:
    return Table(["from", "to"], [[s.start or "", s.end or ""] for s in spans])


def _log_row(log: LogFileSummary) -> list[Cell]:
    return [
        log.path,
        log.format or "",
        f"{log.lines:,}",
        f"{log.sends:,}",
        f"{log.malformed:,}",
        format_time(log.first_time) or "",
        format_time(log.last_time) or "",
    ]


def method_section(context: ReportContext) -> Section:
    """How duplicates were found and judged."""
    summary = context.summary
    items = [_clusters_text(summary)]
    items.append(
        f"Period analysed (UTC): {format_time(summary.period_start) or '?'} to "
        f"{format_time(summary.period_end) or '?'}."
    )
    no_body, not_sent = summary.skipped_no_body, summary.skipped_not_sent
    items.append(
        f"Left out of the comparison: {no_body:,} outbound {plural(no_body, 'message')} "
        f"without a body (media only) and {not_sent:,} that never went out (canceled or "
        "scheduled). Failed and undelivered records stay in: the application did send them."
    )
    if context.data.logs_given:
        items += [evidence_text(summary, "the application"), _VERDICTS_TEXT]
    else:
        items.append(_NO_LOGS_TEXT)
    if summary.redacted:
        items.append(_REDACTED_TEXT)
    return Section("Method", [BulletList(items)])


def _clusters_text(summary: ReportSummary) -> str:
    return (
        f"Outbound messages with the same {key_text(summary.key)} whose records were "
        f"created at most {duration_text(float(summary.window_seconds or 0))} apart form a "
        "cluster; clusters of two or more records are duplicates. Extra messages are the "
        "records beyond the first of each cluster."
    )

