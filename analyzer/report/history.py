"""Nightly's history page: one row per analysed day, with the duplicate rate and the
verdicts over time, rendered with the report's HTML renderer and charts."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from analyzer.atomic import write_text
from analyzer.report import charts
from analyzer.report.document import (
    Block,
    Cell,
    ChartBlock,
    Document,
    Link,
    Mark,
    Notice,
    Paragraph,
    Table,
)
from analyzer.report.html import render_html
from analyzer.results import HISTORY_FILE, REPORT_HTML_FILE, SUMMARY_FILE, ReportSummary, percent
from analyzer.vocabulary import Verdict

TITLE = "Duplicate SMS, day by day"


@dataclass
class HistoryDay:
    """One analysed day: its folder name (YYYY-MM-DD) and its report's numbers."""

    day: str
    summary: ReportSummary

    @property
    def empty(self) -> bool:
        """No outbound message on the day (no rate, not a rate of zero)."""
        return self.summary.duplicate_rate is None

    @property
    def clusters_by_verdict(self) -> dict[str, int]:
        """Clusters per verdict (all unverified when the report has no verdicts)."""
        return self.summary.by_verdict or {Verdict.UNVERIFIED: self.summary.duplicate_clusters}


def history(reports: Path) -> list[HistoryDay]:
    """One entry per day that has a finished report, oldest first."""
    days = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and _is_day(p.name)):
        summary_file = folder / SUMMARY_FILE
        if summary_file.exists():
            days.append(HistoryDay(folder.name, ReportSummary.read(summary_file)))
    return days


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def history_document(days: list[HistoryDay]) -> Document:
    """The page: the rate and the verdict mix per day, then every day, newest first."""
    names = [d.day for d in days]
    # No rate without messages: NaN leaves a gap in the chart, not a zero.
    rates = [math.nan if d.empty else d.summary.duplicate_rate or 0.0 for d in days]
    intro: list[Block] = [
        Paragraph(
            (
                f"{len(days)} day(s) analysed. The rate is extra messages (records beyond "
                "the first of each duplicate cluster) per outbound message. Each day links "
                "to its full report.",
            )
        )
    ]
    empty = sum(1 for d in days if d.empty)
    if empty:
        intro.append(
            Notice(
                f"{empty} day(s) without any message (no outbound message in the dataset): "
                "their reports are empty. Check that the export ran for them."
            )
        )
    made = [
        charts.history_rate(names, rates),
        charts.history_verdicts(names, [d.clusters_by_verdict for d in days]),
    ]
    return Document(TITLE, intro=[*intro, *(ChartBlock(c) for c in made), _days_table(days)])


def _days_table(days: list[HistoryDay]) -> Table:
    verdicts = sorted({v for d in days for v in d.summary.by_verdict})
    header = ["day", "outbound", "clusters", "extra messages", "rate", *verdicts]
    rows: list[list[Cell]] = []
    styles: dict[int, str] = {}
    for d in reversed(days):
        link = Link(d.day, f"{d.day}/{REPORT_HTML_FILE}")
        if d.empty:
            styles[len(rows)] = "empty"
        summary = d.summary
        rows.append(
            [
                (link, " ", Mark("⚠ no messages")) if d.empty else link,
                f"{summary.outbound_messages:,}",
                f"{summary.duplicate_clusters:,}",
                f"{summary.extra_messages:,}",
                percent(summary.duplicate_rate),
                *(f"{summary.by_verdict.get(v, 0):,}" for v in verdicts),
            ]
        )
    numeric = frozenset(range(1, len(header)))
    return Table(header, rows, numeric=numeric, row_styles=styles)


def write_history(reports: Path) -> Path:
    """Write REPORTS/index.html: the duplicate rate and verdict mix per day, with links."""
    target = reports / HISTORY_FILE
    write_text(render_html(history_document(history(reports))), target)
    return target
