"""The delivery failures sections (the results of ``analyzer failures``): what did not
arrive, why, where from, what to do, and who to stop sending to."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyzer.report.charts import Chart
from analyzer.report.document import (
    Block,
    Cell,
    ChartBlock,
    Code,
    Inline,
    Notice,
    Paragraph,
    Section,
    Styled,
    Table,
)
from analyzer.report.failures_data import NO_CODE, FailuresData
from analyzer.report.headline import failures_headline, period_text
from analyzer.report.sections.base import ReportContext
from analyzer.report.sections.failure_charts import MIN_SENDER_VOLUME, failure_charts, worst_senders
from analyzer.report.text import masked, plural, time_text
from analyzer.results import SUPPRESS_FILE, RejectedRequests, percent, short_percent

#: Rows of each ranking table (codes, senders, services, countries).
TOP_ROWS = 10
#: Recipients to suppress shown in the report; the CSV has them all.
SUPPRESS_ROWS = 20
#: A group without a value (a message sent without a Messaging Service).
NONE = "(none)"


def overview(context: ReportContext) -> list[Block]:
    """The period, when the report holds only failures (else the duplicates say it)."""
    if context.data.duplicates or context.data.failures is None:
        return []
    period: tuple[Inline, ...] = (period_text(context.summary),)
    if context.summary.source:
        period += (" · source ", Code(context.summary.source))
    return [Paragraph(period, kind="muted")]


def sections(context: ReportContext) -> list[Section]:
    """The failures, their error codes, where they come from, the rejected requests and
    the recipients to suppress; none without failures results."""
    data = context.data.failures
    if data is None:
        return []
    made = failure_charts(data)
    found = [
        overview_section(data, made["failures_over_time"]),
        codes_section(data, made["top_error_codes"]),
        origins_section(data, made["sender_failure_rates"]),
    ]
    if data.summary.rejected_requests is not None:
        found.append(rejected_section(data.summary.rejected_requests))
    return [*found, suppress_section(data, context.redact)]


def overview_section(data: FailuresData, over_time: Chart) -> Section:
    """The lead, the jumps and warnings, the failures by category and over time."""
    summary = data.summary
    blocks: list[Block] = [Paragraph((failures_headline(data),), kind="lead")]
    titles = _titles(data)
    for jump in summary.jumps:
        title = titles.get(jump.error_code)
        what = f"{jump.error_code} ({title}, {jump.category})" if title else jump.error_code
        blocks.append(
            Notice(
                f"Error {what} jumped on {jump.day}: {jump.count:,} failures against "
                f"{jump.baseline:,.1f} a day before."
            )
        )
    blocks += [Notice(warning) for warning in summary.warnings]
    if summary.failures:
        blocks.append(category_table(data))
    blocks.append(ChartBlock(over_time))
    return Section("Delivery failures", blocks)


def category_table(data: FailuresData) -> Table:
    """The failures by category, most first, with what to do about each."""
    summary = data.summary
    actions = data.category_actions()
    counts = sorted(
        ((name, count) for name, count in summary.by_category.items() if count),
        key=lambda item: -item[1],
    )
    rows = [
        [
            name,
            f"{count:,}",
            percent(count / summary.failures, 1),
            actions.get(name, ""),
        ]
        for name, count in counts
    ]
    return Table(["category", "failures", "share", "what to do"], rows, numeric=frozenset({1, 2}))


def codes_section(data: FailuresData, chart: Chart) -> Section:
    """The error codes with the most failures."""
    codes = data.codes.head(TOP_ROWS)
    total = data.summary.failures
    if codes.empty:
        return Section("Failures by error code", [Paragraph(("No failures: no error codes.",))])
    rows: list[list[Cell]] = [
        [
            Code(str(code)),
            _text(title),
            str(category),
            f"{int(count):,}",
            percent(int(count) / total, 1) if total else "–",
        ]
        for code, title, category, count in zip(
            codes["error_code"], codes["title"], codes["category"], codes["failures"], strict=True
        )
    ]
    shown = f"The {len(rows)} error codes with the most failures"
    if len(data.codes) > len(rows):
        shown += f" (of {len(data.codes):,})"
    note: tuple[Inline, ...] = (f"{shown}.",)
    if (data.codes["error_code"] == NO_CODE).any():
        note = (f"{shown}; ", Code(NO_CODE), " is a failure without an error code.")
    blocks: list[Block] = [
        Paragraph(note),
        Table(
            ["error code", "title", "category", "failures", "share"],
            rows,
            numeric=frozenset({3, 4}),
        ),
        ChartBlock(chart),
    ]
    return Section("Failures by error code", blocks)


def origins_section(data: FailuresData, chart: Chart) -> Section:
    """The senders with the highest failure rate, and the failures by Messaging Service
    and by destination country."""
    senders = worst_senders(data.by_sender, TOP_ROWS)
    blocks = rate_blocks(
        senders,
        ("from", "sender"),
        f"Senders with the highest failure rate, among those that sent at least "
        f"{MIN_SENDER_VOLUME} messages",
    )
    blocks.append(ChartBlock(chart))
    blocks += rate_blocks(
        _most_failures(data.by_service),
        ("messaging_service_sid", "Messaging Service"),
        "Messaging Services with the most failures",
    )
    blocks += rate_blocks(
        _most_failures(data.by_country),
        ("calling_code", "calling code"),
        "Destination countries with the most failures",
    )
    return Section("Where failures come from", blocks)


def _most_failures(frame: pd.DataFrame) -> pd.DataFrame:
    ordered = frame[frame["failures"] > 0].sort_values("failures", ascending=False, kind="stable")
    return ordered.head(TOP_ROWS)


def rate_blocks(frame: pd.DataFrame, group: tuple[str, str], title: str) -> list[Block]:
    """A rollup's rows under ``title``: the group (``group`` is its column and header),
    its outbound messages, failures and failure rate."""
    if frame.empty:
        return [Paragraph((f"{title}: none.",))]
    column, label = group
    style = "sid" if column == "messaging_service_sid" else ""
    rows = [
        [
            Styled(_text(name) or NONE, style) if style else _text(name) or NONE,
            f"{int(outbound):,}",
            f"{int(failures):,}",
            percent(float(rate), 1),
        ]
        for name, outbound, failures, rate in zip(
            frame[column],
            frame["outbound_messages"],
            frame["failures"],
            frame["failure_rate"],
            strict=True,
        )
    ]
    header = [label, "outbound messages", "failures", "failure rate"]
    return [Paragraph((f"{title}:",)), Table(header, rows, numeric=frozenset({1, 2, 3}))]


def rejected_section(rejected: RejectedRequests) -> Section:
    """The POSTs Twilio refused: sends that never became Message records."""
    if rejected.rejected == 0:
        text = (
            f"Twilio refused none of the {rejected.posts:,} message "
            f"{plural(rejected.posts, 'POST')} in the server logs."
        )
        return Section("Rejected requests", [Paragraph((text,))])
    share = short_percent(rejected.rejected / rejected.posts) if rejected.posts else "0%"
    intro = (
        f"Twilio refused {rejected.rejected:,} of the {rejected.posts:,} message "
        f"{plural(rejected.posts, 'POST')} in the server logs ({share}) with a 4xx answer. "
        "These sends never became Message records, so they are not among the failures "
        "above: the application must handle the error it was given."
    )
    blocks: list[Block] = [Paragraph((intro,))]
    by_what = (("HTTP status", rejected.by_status), ("error code", rejected.by_error_code))
    for title, counts in by_what:
        if counts:
            rows: list[list[Cell]] = [
                [Code(str(key)), f"{count:,}"] for key, count in _by_count(counts)
            ]
            blocks.append(Table([title, "rejected requests"], rows, numeric=frozenset({1})))
    return Section("Rejected requests", blocks)


def _by_count(counts: dict[str, int]) -> list[tuple[str, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def suppress_section(data: FailuresData, redact: bool) -> Section:
    """How many recipients to stop sending to, and the first of them."""
    count = data.summary.recipients_to_suppress
    if count == 0:
        text = "No recipient to suppress: none opted out or failed with a permanent error."
        return Section("Recipients to suppress", [Paragraph((text,))])
    intro: tuple[Inline, ...] = (
        f"{count:,} {plural(count, 'recipient')} opted out or failed with a permanent "
        "error: stop sending to them. ",
        Code(SUPPRESS_FILE),
        " in the results folder lists them all.",
    )
    shown = data.suppress.head(SUPPRESS_ROWS)
    recipients = masked(shown["recipient"].astype(object), redact)
    rows = [
        [
            recipient or "",
            "yes" if str(opted).lower() in ("true", "1") else "no",
            f"{int(attempts):,}",
            Code(_text(code)),
            time_text(last) or _text(last),
        ]
        for recipient, opted, attempts, code, last in zip(
            recipients,
            shown["opted_out"],
            shown["attempts"],
            shown["last_error_code"],
            shown["last_failed_at"],
            strict=True,
        )
    ]
    blocks: list[Block] = [Paragraph(intro)]
    if len(shown) < count:
        blocks.append(Paragraph((f"The first {len(shown):,}:",), kind="muted"))
    header = ["recipient", "opted out", "attempts", "last error code", "last failed (UTC)"]
    blocks.append(Table(header, rows, numeric=frozenset({2})))
    return Section("Recipients to suppress", blocks)


def _titles(data: FailuresData) -> dict[str, str]:
    """Our title of each error code found."""
    named = data.codes.dropna(subset=["title"])
    return dict(zip(named["error_code"].astype(str), named["title"].astype(str), strict=True))


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)
