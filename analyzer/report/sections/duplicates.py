"""The duplicates sections: the overview, the charts, the clusters and the window
sensitivity."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyzer.redact import mask_numbers_in_text
from analyzer.report.charts import truncate
from analyzer.report.document import (
    Block,
    ChartBlock,
    Code,
    Inline,
    Lines,
    Notice,
    Paragraph,
    Section,
    Styled,
    Table,
)
from analyzer.report.headline import period_text
from analyzer.report.load import ReportData
from analyzer.report.sections.base import ReportContext
from analyzer.report.sections.duplicate_charts import duplicate_charts
from analyzer.report.text import masked, time_text
from analyzer.results import REPORT_CSV_FILE, duration_text

#: Clusters shown in the HTML and Markdown tables; clusters.csv has them all.
TABLE_ROWS = 500
CLUSTER_HEADER = [
    "#",
    "first record (UTC)",
    "to",
    "records",
    "gaps (s)",
    "verdict",
    "evidence",
    "hint",
    "SIDs",
    "from",
    "Messaging Service",
    "statuses",
    "body",
]
_NO_CLUSTERS = "No duplicate clusters."


def overview(context: ReportContext) -> list[Block]:
    """The period, the headline, the main figures and the warnings (nothing when the
    results hold no duplicates detection)."""
    if not context.data.duplicates:
        return []
    summary = context.summary
    period: tuple[Inline, ...] = (period_text(summary),)
    if summary.source:
        period += (" · source ", Code(summary.source))
    figures: list[list[Any]] = [
        ["messages", f"{summary.messages:,}"],
        ["outbound messages", f"{summary.outbound_messages:,}"],
        ["left out (no body)", f"{summary.skipped_no_body:,}"],
        ["left out (not sent: canceled or scheduled)", f"{summary.skipped_not_sent:,}"],
        ["duplicate clusters", f"{summary.duplicate_clusters:,}"],
        ["extra messages", f"{summary.extra_messages:,}"],
        ["extra messages that reached a handset", f"{summary.extra_reached_handset:,}"],
    ] + [[f"clusters {v}", f"{n:,}"] for v, n in summary.by_verdict.items() if n]
    blocks: list[Block] = [
        Paragraph(period, kind="muted"),
        Paragraph((summary.headline,), kind="lead"),
        Table(["", "count"], figures, numeric=frozenset({1})),
    ]
    return blocks + [Notice(w) for w in summary.warnings]


def sections(context: ReportContext) -> list[Section]:
    """The charts, the clusters table and the window sensitivity (none without a
    duplicates detection)."""
    data = context.data
    if not data.duplicates:
        return []
    charts = Section("Charts")
    if not len(data.frame):
        charts.blocks.append(Paragraph(("No duplicate clusters: nothing to chart.",)))
    charts.blocks += [ChartBlock(c) for c in duplicate_charts(data, context.redact)]
    return [charts, clusters_section(data, context.redact), sensitivity_section(data)]


def clusters_section(data: ReportData, redact: bool) -> Section:
    """The worst clusters, one row each."""
    total = len(data.frame)
    if total == 0:
        return Section("Duplicate clusters", [Paragraph((_NO_CLUSTERS,))])
    rows = cluster_rows(data, redact, TABLE_ROWS)
    note: tuple[Inline, ...] = ("Worst first (most extra records, then earliest).",)
    if total > len(rows):
        note = (
            f"Worst first (most extra records, then earliest). Showing {len(rows):,} of "
            f"{total:,}; ",
            Code(REPORT_CSV_FILE),
            " has them all.",
        )
    table = Table(CLUSTER_HEADER, rows, numeric=frozenset({0, 3}))
    return Section("Duplicate clusters", [Paragraph(note), table])


def cluster_rows(data: ReportData, redact: bool, limit: int) -> list[list[Any]]:
    """The first ``limit`` clusters as rows of the clusters table."""
    table = data.table.slice(0, limit)
    frame = data.frame.iloc[:limit]
    count = table.num_rows
    if count == 0:
        return []
    to = masked(table["to"].combine_chunks(), redact)
    bodies: list[Any] = [None] * count
    if "body" in table.column_names:
        body = table["body"].combine_chunks()
        bodies = (mask_numbers_in_text(body) if redact else body).to_pylist()
    lists = {
        c: table[c].to_pylist() if c in table.column_names else [[]] * count
        for c in ("sids", "gaps_seconds", "from_numbers", "messaging_service_sids", "statuses")
    }
    evidence = _evidence(frame, data.logs_given)
    hints = frame["hint"].fillna("").astype(str).tolist() if "hint" in frame else [""] * count
    rows = []
    for i in range(count):
        verdict = str(frame["verdict"].iloc[i])
        rows.append(
            [
                i + 1,
                time_text(frame["first_created"].iloc[i]) or "",
                to[i] or "",
                int(frame["n_records"].iloc[i]),
                ", ".join(f"{g:g}" for g in lists["gaps_seconds"][i] or [] if g is not None),
                Styled(verdict, f"v-{verdict}"),
                evidence[i],
                hints[i],
                Lines(tuple(s for s in lists["sids"][i] or [] if s), style="sid"),
                _distinct(lists["from_numbers"][i]),
                Styled(_distinct(lists["messaging_service_sids"][i]), "sid"),
                ", ".join(str(x) for x in lists["statuses"][i] or []),
                truncate(str(bodies[i] or ""), 80),
            ]
        )
    return rows


def _evidence(frame: pd.DataFrame, logs_given: bool) -> list[str]:
    """The verdict's reason, with the number of POSTs logged when logs were given."""
    reasons = []
    posts = frame["posts"] if "posts" in frame else pd.Series([None] * len(frame))
    for reason, count in zip(frame["verdict_reason"], posts, strict=True):
        text = str(reason or "")
        if count is not None and logs_given and not pd.isna(count):
            text = f"{text} ({int(count)} POST{'s' if count != 1 else ''} logged)"
        reasons.append(text)
    return reasons


def _distinct(values: list[Any] | None) -> str:
    return ", ".join(dict.fromkeys(str(x) for x in values or [] if x))


def sensitivity_section(data: ReportData) -> Section:
    """What a shorter or longer detection window would find."""
    rows = []
    row: Any
    for row in data.sensitivity.itertuples(index=False):
        selected = str(getattr(row, "selected", "")).lower() in ("true", "1")
        records = getattr(row, "records_in_clusters", None)
        rows.append(
            [
                duration_text(float(row.window_seconds)),
                f"{int(row.duplicate_clusters):,}",
                f"{int(row.extra_messages):,}",
                "" if records is None else f"{int(records):,}",
                "← selected" if selected else "",
            ]
        )
    header = ["window", "clusters", "extra messages", "records in clusters", ""]
    return Section(
        "Window sensitivity",
        [
            Paragraph(("Clusters and extra messages a shorter or longer window would find.",)),
            Table(header, rows, numeric=frozenset({1, 2, 3})),
        ],
    )
