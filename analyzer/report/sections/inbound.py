"""The inbound reachability section (the results of ``analyzer inbound``): which numbers
can receive SMS and hand them to the application, and the inbound messages nothing
answered."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyzer.inbound import VERDICTS
from analyzer.report.document import (
    Block,
    BulletList,
    Cell,
    Code,
    Inline,
    Mark,
    Notice,
    Paragraph,
    Section,
    Styled,
    Table,
)
from analyzer.report.inbound_data import InboundData
from analyzer.report.sections.base import ReportContext
from analyzer.report.text import masked, plural, time_text
from analyzer.results import NUMBERS_CHECK_FILE, STATUS_CALLBACKS_FILE, UNHANDLED_INBOUND_FILE
from analyzer.vocabulary import CallbackProblem, InboundVerdict

TITLE = "Inbound reachability"
#: Unhandled inbound messages shown; ``unhandled_inbound.parquet`` has them all.
UNHANDLED_ROWS = 20
#: Callback problems shown; ``status_callbacks.parquet`` has them all.
CALLBACK_ROWS = 20
NOT_SMS_CAPABLE = InboundVerdict.NOT_SMS_CAPABLE
NO_WEBHOOK = InboundVerdict.NO_WEBHOOK
DEMO_WEBHOOK = InboundVerdict.DEMO_WEBHOOK
WEBHOOK_ERRORS = InboundVerdict.WEBHOOK_ERRORS
WEBHOOK_NOT_HIT = InboundVerdict.WEBHOOK_NOT_HIT
INCONCLUSIVE = InboundVerdict.INCONCLUSIVE
#: The verdicts that need action: what each means and what to do.
ACTION_TEXT: dict[str, str] = {
    NOT_SMS_CAPABLE: (
        f"{NOT_SMS_CAPABLE}: the number cannot receive SMS: buy an SMS-capable number or "
        "enable SMS on it."
    ),
    NO_WEBHOOK: (
        f"{NO_WEBHOOK}: inbound messages arrive and nothing handles them: set a webhook on "
        "the number or on its Messaging Service."
    ),
    DEMO_WEBHOOK: (
        f"{DEMO_WEBHOOK}: the number still points at Twilio's demo reply URL: replace it "
        "with the application's webhook."
    ),
    WEBHOOK_ERRORS: (
        f"{WEBHOOK_ERRORS}: the webhook fails (Twilio alerts or non-2xx answers in the "
        "server log): fix the endpoint; the alerts in the Twilio Console say why."
    ),
    WEBHOOK_NOT_HIT: (
        f"{WEBHOOK_NOT_HIT}: messages arrived but the server log shows no request for "
        "them: check the webhook URL, a proxy or a firewall in between."
    ),
    INCONCLUSIVE: (
        f"{INCONCLUSIVE}: the server log given cannot tell whether the webhook received "
        "the messages (the note says why): give the log of the server the webhook points "
        "at, covering the period."
    ),
}
#: What each callback problem means.
CALLBACK_TEXT: dict[str, str] = {
    CallbackProblem.MISSING_FINAL: "the message reached a final status and no callback said so",
    CallbackProblem.REFUSED: "the application answered the callback with an error (not retried)",
    CallbackProblem.DISAGREES: "the final callback's status differs from the record's",
}
#: Worst first: the verdicts in the order the check tries them (ok and idle last).
VERDICT_RANK: dict[str, int] = {verdict: rank for rank, verdict in enumerate(VERDICTS)}


def sections(context: ReportContext) -> list[Section]:
    """The inbound reachability of every number; none without inbound results."""
    data = context.data.inbound
    if data is None:
        return []
    blocks: list[Block] = [Paragraph((inbound_headline(data),), kind="lead")]
    blocks += [Notice(warning) for warning in data.summary.warnings]
    bad = [v for v in ACTION_TEXT if data.summary.by_verdict.get(v, 0)]
    if bad:
        blocks.append(BulletList([ACTION_TEXT[v] for v in bad]))
    if not data.numbers.empty:
        intro: tuple[Inline, ...] = (
            "Every number, worst verdict first (",
            Code(NUMBERS_CHECK_FILE),
            " in the results folder):",
        )
        blocks += [Paragraph(intro, kind="muted"), numbers_table(data.numbers, context.redact)]
    blocks += unhandled_blocks(data, context.redact)
    blocks += callback_blocks(data, context.redact)
    return [Section(TITLE, blocks)]


def inbound_headline(data: InboundData) -> str:
    """The numbers checked, the inbound messages, and the numbers by verdict."""
    summary = data.summary
    if summary.numbers == 0:
        return "No number was checked: no exported number configuration."
    counts = ", ".join(
        f"{int(summary.by_verdict[v]):,} {v}" for v in VERDICTS if summary.by_verdict.get(v)
    )
    bad = sum(int(summary.by_verdict.get(v, 0)) for v in ACTION_TEXT)
    head = (
        f"{summary.numbers:,} {plural(summary.numbers, 'number')} checked against "
        f"{summary.inbound_messages:,} inbound {plural(summary.inbound_messages, 'message')}"
        f" ({counts})"
    )
    if bad == 0:
        return f"{head}: every number can receive SMS and hand them to the application."
    return f"{head}: {bad:,} {plural(bad, 'number')} need attention."


def worst_first(numbers: pd.DataFrame) -> pd.DataFrame:
    """The numbers by verdict (worst first), then most inbound messages, then number."""
    rank = numbers["verdict"].astype(str).map(VERDICT_RANK).fillna(len(VERDICTS))
    ordered = numbers.assign(_rank=rank, _inbound=-numbers["inbound_messages"].astype("int64"))
    ordered = ordered.sort_values(["_rank", "_inbound", "phone_number"], kind="stable")
    return ordered.drop(columns=["_rank", "_inbound"]).reset_index(drop=True)


def numbers_table(numbers: pd.DataFrame, redact: bool) -> Table:
    """One row per number: its capability, webhook, counts and verdict (bad ones marked)."""
    ordered = worst_first(numbers)
    rows: list[list[Cell]] = [
        [
            number or "",
            Styled(_text(sid), "sid"),
            "yes" if _flag(capable) else "no",
            Code(_text(webhook)) if _text(webhook) else "(none)",
            f"{int(inbound):,}",
            f"{int(hits):,}",
            f"{int(alerts):,}",
            Mark(str(verdict)) if verdict in ACTION_TEXT else _text(verdict),
        ]
        for number, sid, capable, webhook, inbound, hits, alerts, verdict in zip(
            masked(ordered["phone_number"].astype(object), redact),
            ordered["sid"],
            ordered["sms_capable"],
            ordered["webhook"],
            ordered["inbound_messages"],
            ordered["webhook_hits"],
            ordered["alerts"],
            ordered["verdict"],
            strict=True,
        )
    ]
    header = ["number", "SID", "SMS", "webhook", "inbound", "webhook hits", "alerts", "verdict"]
    notes = ordered["reason"].fillna("").astype(str) if "reason" in ordered else None
    if notes is not None and (notes != "").any():
        header.append("note")
        rows = [[*row, note] for row, note in zip(rows, notes, strict=True)]
    return Table(header, rows, numeric=frozenset({4, 5, 6}))


def unhandled_blocks(data: InboundData, redact: bool) -> list[Block]:
    """How many inbound messages no webhook request answered, and the first of them."""
    count = data.summary.unhandled_inbound
    if data.summary.numbers == 0:
        return []
    if count is None:
        text = (
            "No server log given: whether the application received each inbound message "
            "was not checked."
        )
        return [Paragraph((text,), kind="muted")]
    if count == 0:
        return [Paragraph(("Every inbound message has a webhook request for it.",))]
    intro: tuple[Inline, ...] = (
        f"{count:,} inbound {plural(count, 'message')} have no webhook request for them in "
        "the server log. ",
        Code(UNHANDLED_INBOUND_FILE),
        " lists them all.",
    )
    shown = data.unhandled.sort_values(["date_created", "sid"], kind="stable").head(UNHANDLED_ROWS)
    rows: list[list[Cell]] = [
        [time_text(created) or "", sender or "", to or "", Styled(_text(sid), "sid")]
        for created, sender, to, sid in zip(
            shown["date_created"],
            masked(shown["from"].astype(object), redact),
            masked(shown["to"].astype(object), redact),
            shown["sid"],
            strict=True,
        )
    ]
    blocks: list[Block] = [Paragraph(intro)]
    if len(shown) < count:
        blocks.append(Paragraph((f"The first {len(shown):,}:",), kind="muted"))
    blocks.append(Table(["received (UTC)", "from", "to (our number)", "SID"], rows))
    return blocks


def callback_blocks(data: InboundData, redact: bool) -> list[Block]:
    """What the status callbacks in the server log say, and the first problems."""
    summary = data.summary
    if summary.callbacks_logged is None:
        return []
    problems = summary.callback_problems
    counts = ", ".join(f"{problems[p]:,} {p}" for p in CALLBACK_TEXT if problems.get(p))
    head = (
        f"Status callbacks: {summary.callbacks_logged:,} in the server log; "
        f"{summary.callback_messages:,} outbound "
        f"{plural(summary.callback_messages, 'message')} checked for their final status"
    )
    if not counts:
        return [Paragraph((f"{head}: no problem found.",))]
    blocks: list[Block] = [
        Paragraph((f"{head}: {counts}. ", Code(STATUS_CALLBACKS_FILE), " lists them all.")),
        BulletList([f"{p}: {CALLBACK_TEXT[p]}." for p in CALLBACK_TEXT if problems.get(p)]),
    ]
    shown = data.callbacks.head(CALLBACK_ROWS)
    rows: list[list[Cell]] = [
        [
            time_text(at) or "",
            Mark(_text(problem)),
            Styled(_text(sid), "sid"),
            to or "",
            _text(status),
            _text(said),
            "" if pd.isna(http) else f"{int(http)}",
        ]
        for at, problem, sid, to, status, said, http in zip(
            shown["time"],
            shown["problem"],
            shown["sid"],
            masked(shown["to"].astype(object), redact),
            shown["status"],
            shown["callback_status"],
            shown["http_status"],
            strict=True,
        )
    ]
    if len(shown) < len(data.callbacks):
        blocks.append(Paragraph((f"The first {len(shown):,}:",), kind="muted"))
    header = ["time (UTC)", "problem", "SID", "to", "record", "callback said", "HTTP"]
    blocks.append(Table(header, rows))
    return blocks


def _flag(value: Any) -> bool:
    return False if value is None or pd.isna(value) else bool(value)


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)
