"""The opt-outs sections (the results of ``analyzer optouts``): who said STOP, who is
opted out at the end, and the sends made to them anyway."""

from __future__ import annotations

from typing import Any

import pandas as pd

from analyzer.redact import mask_numbers_in_text
from analyzer.report.document import (
    Block,
    BulletList,
    Cell,
    ChartBlock,
    Code,
    Inline,
    Mark,
    Notice,
    Paragraph,
    Section,
    Styled,
    Table,
)
from analyzer.report.headline import optout_sends_text, optouts_headline, period_text
from analyzer.report.optouts_data import OptoutsData
from analyzer.report.sections.base import ReportContext
from analyzer.report.sections.optout_charts import (
    blocked_per_day,
    blocked_sends,
    optouts_per_day,
    top_blocked_recipients,
)
from analyzer.report.text import masked, plural, time_text
from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_SENDS_FILE,
    SUPPRESSION_FILE,
)
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind, OptoutVerdict

#: Sends after an opt-out shown in the report; ``optout_sends.parquet`` has them all.
SEND_ROWS = 100
#: Inferred opt-outs shown; the CSV has them all.
INFERRED_ROWS = 20
#: Near misses shown; the CSV has them all.
NEAR_MISS_ROWS = 50
#: Senders and services listed in the suppression section.
SCOPE_ROWS = 10
#: A value that is missing (a scope without a sender).
NONE = "(none)"
#: What each kind of keyword does, as the events table says it.
KIND_TEXT: dict[str, str] = {
    OptoutKind.OPT_OUT: "opt-out (Twilio refuses later sends)",
    OptoutKind.OPT_IN: "opt-in (sends may resume)",
    OptoutKind.HELP: "help (changes nothing)",
}
VERDICT_TEXT: dict[str, str] = {
    OptoutVerdict.BLOCKED: (
        f"{OptoutVerdict.BLOCKED}: Twilio refused the send with {OPTED_OUT_ERROR} (not "
        "charged): wasted work; stop sending to the recipient."
    ),
    OptoutVerdict.SENT_AFTER_OPT_OUT: (
        f"{OptoutVerdict.SENT_AFTER_OPT_OUT}: no {OPTED_OUT_ERROR}, the message went out: "
        "a compliance risk to investigate (a sender without opt-out handling, such as a "
        "short code, or data that disagrees with Twilio's)."
    ),
}


def overview(context: ReportContext) -> list[Block]:
    """The period, when the report holds only opt-outs (else another analysis says it)."""
    data = context.data
    if data.optouts is None or data.duplicates or data.failures is not None:
        return []
    period: tuple[Inline, ...] = (period_text(context.summary),)
    if context.summary.source:
        period += (" · source ", Code(context.summary.source))
    return [Paragraph(period, kind="muted")]


def sections(context: ReportContext) -> list[Section]:
    """The opt-outs, the sends made after them, the opt-outs inferred from 21610, the
    near misses and the suppression list; none without opt-out results."""
    data = context.data.optouts
    if data is None:
        return []
    return [
        overview_section(data),
        sends_section(data, context.redact),
        inferred_section(data, context.redact),
        near_misses_section(data, context.redact),
        suppression_section(data),
    ]


def overview_section(data: OptoutsData) -> Section:
    """The lead, the warnings, the keyword messages by kind and per day."""
    summary = data.summary
    blocks: list[Block] = [Paragraph((optouts_headline(summary),), kind="lead")]
    sent = summary.sent_after_opt_out
    if sent:
        blocks.append(
            Notice(
                f"{sent:,} {plural(sent, 'message')} went out to recipients who had opted "
                f"out (no {OPTED_OUT_ERROR} error): a compliance risk to investigate."
            )
        )
    blocks += [Notice(warning) for warning in summary.warnings]
    if any(summary.events_by_kind.values()):
        blocks.append(events_table(data))
    blocks.append(ChartBlock(optouts_per_day(data.events)))
    return Section("Opt-outs", blocks)


def events_table(data: OptoutsData) -> Table:
    """The keyword messages by kind, with the keywords used."""
    events = data.events
    keywords = (
        pd.DataFrame({"kind": events["kind"].astype(str), "keyword": events["keyword"].astype(str)})
        .value_counts()
        .reset_index(name="messages")
        .sort_values(["messages", "keyword"], ascending=[False, True], kind="stable")
    )
    rows: list[list[Cell]] = []
    for kind in OptoutKind:
        count = int(data.summary.events_by_kind.get(kind, 0))
        if count:
            used = keywords[keywords["kind"] == kind.value]
            pairs = zip(used["keyword"], used["messages"], strict=True)
            words = ", ".join(f"{word} {int(n):,}" for word, n in pairs)
            rows.append([KIND_TEXT[kind], f"{count:,}", words])
    return Table(["kind", "keyword messages", "keywords"], rows, numeric=frozenset({1}))


def sends_section(data: OptoutsData, redact: bool) -> Section:
    """The sends to recipients while they were opted out, worst first."""
    title = "Sends after opt-out"
    summary = data.summary
    if summary.blocked + summary.sent_after_opt_out == 0 and data.sends.empty:
        return Section(title, [Paragraph(("No send to a recipient who had opted out.",))])
    intro: tuple[Inline, ...] = (
        optout_sends_text(summary) + " ",
        Code(OPTOUT_SENDS_FILE),
        " in the results folder lists them all.",
    )
    blocks: list[Block] = [Paragraph(intro), BulletList(list(VERDICT_TEXT.values()))]
    ordered = worst_first(data.sends)
    shown = ordered.head(SEND_ROWS)
    if len(shown) < len(ordered):
        note = f"The first {len(shown):,} of {len(ordered):,}, sent after the opt-out first:"
        blocks.append(Paragraph((note,), kind="muted"))
    if not shown.empty:
        blocks.append(sends_table(shown, redact))
    if not blocked_sends(data.sends).empty:
        blocks += [
            ChartBlock(blocked_per_day(data.sends)),
            ChartBlock(top_blocked_recipients(data.sends, redact)),
        ]
    return Section(title, blocks)


def worst_first(sends: pd.DataFrame) -> pd.DataFrame:
    """The sends that went out first, then the blocked ones; earliest first in each."""
    went = (sends["verdict"].astype(str) != OptoutVerdict.SENT_AFTER_OPT_OUT).astype(int)
    ordered = sends.assign(_went=went).sort_values(
        ["_went", "date_created", "sid"], kind="stable"
    )
    return ordered.drop(columns="_went").reset_index(drop=True)


def sends_table(sends: pd.DataFrame, redact: bool) -> Table:
    """A table of sends after an opt-out; the ones that went out marked."""
    recipients = masked(sends["to"].astype(object), redact)
    rows: list[list[Cell]] = [
        [
            Styled(_text(sid), "sid"),
            to or "",
            _text(sender),
            _scope(scope),
            _text(status),
            Code(_text(code)) if _text(code) else "",
            time_text(opted_out) or "",
            Mark(str(verdict)) if verdict == OptoutVerdict.SENT_AFTER_OPT_OUT else _text(verdict),
            time_text(created) or "",
        ]
        for sid, to, sender, scope, status, code, opted_out, verdict, created in zip(
            sends["sid"],
            recipients,
            sends["from"],
            sends["scope"],
            sends["status"],
            sends["error_code"],
            sends["opted_out_at"],
            sends["verdict"],
            sends["date_created"],
            strict=True,
        )
    ]
    header = [
        "SID",
        "to",
        "from",
        "scope",
        "status",
        "error code",
        "opted out (UTC)",
        "verdict",
        "created (UTC)",
    ]
    return Table(header, rows)


def inferred_section(data: OptoutsData, redact: bool) -> Section:
    """The recipients blocked with 21610 without an opt-out keyword before it."""
    title = "Inferred opt-outs"
    count = data.summary.inferred_opt_outs
    if count == 0:
        text = (
            f"No inferred opt-outs: every send blocked with {OPTED_OUT_ERROR} follows an "
            "opt-out keyword in the data."
        )
        return Section(title, [Paragraph((text,))])
    intro: tuple[Inline, ...] = (
        f"{count:,} {plural(count, 'recipient')} had sends blocked with {OPTED_OUT_ERROR} "
        "without an opt-out keyword before them in the data: they opted out before the "
        "data starts (or the number was given to someone else). ",
        Code(INFERRED_OPTOUTS_FILE),
        " lists them all.",
    )
    ordered = data.inferred.sort_values(
        ["blocked_sends", "first_blocked_at"], ascending=[False, True], kind="stable"
    )
    shown = ordered.head(INFERRED_ROWS)
    rows: list[list[Cell]] = [
        [recipient or "", _scope(scope), _time(first), f"{int(sends):,}"]
        for recipient, scope, first, sends in zip(
            masked(shown["recipient"].astype(object), redact),
            shown["scope"],
            shown["first_blocked_at"],
            shown["blocked_sends"],
            strict=True,
        )
    ]
    blocks: list[Block] = [Paragraph(intro)]
    if len(shown) < len(ordered):
        blocks.append(Paragraph((f"The {len(shown):,} with the most blocked sends:",), "muted"))
    header = ["recipient", "scope", "first blocked (UTC)", "blocked sends"]
    blocks.append(Table(header, rows, numeric=frozenset({3})))
    return Section(title, blocks)


def near_misses_section(data: OptoutsData, redact: bool) -> Section:
    """The inbound messages that look like an opt-out without being a keyword: to read."""
    title = "Opt-out near misses"
    count = data.summary.near_misses
    if count == 0:
        text = (
            "No near misses: no inbound message looked like an opt-out keyword without "
            "being one."
        )
        return Section(title, [Paragraph((text,))])
    intro: tuple[Inline, ...] = (
        f"{count:,} inbound {plural(count, 'message')} look like an opt-out without being "
        "exactly a keyword (a keyword with punctuation or more words, such as ",
        Code("STOP."),
        " or ",
        Code("stop texting me"),
        "). They change nothing at Twilio, but a person should read them and consider "
        "honouring them. ",
        Code(NEAR_MISSES_FILE),
        " lists them all.",
    )
    shown = data.near_misses.sort_values(["date_created", "sid"], kind="stable").head(
        NEAR_MISS_ROWS
    )
    bodies = shown["body"].astype(object)
    texts = mask_numbers_in_text(bodies).to_pylist() if redact else bodies.tolist()
    rows: list[list[Cell]] = [
        [
            _time(created),
            recipient or "",
            _text(number),
            _scope(scope),
            _text(body),
            Styled(_text(sid), "sid"),
        ]
        for created, recipient, number, scope, body, sid in zip(
            shown["date_created"],
            masked(shown["recipient"].astype(object), redact),
            shown["number"],
            shown["scope"],
            texts,
            shown["sid"],
            strict=True,
        )
    ]
    blocks: list[Block] = [Paragraph(intro)]
    if len(shown) < len(data.near_misses):
        blocks.append(Paragraph((f"The first {len(shown):,}:",), kind="muted"))
    header = ["received (UTC)", "recipient", "our number", "scope", "body", "SID"]
    blocks.append(Table(header, rows))
    return Section(title, blocks)


def suppression_section(data: OptoutsData) -> Section:
    """How many recipients are opted out at the end, by sender or service, and the file."""
    title = "Suppression list"
    count = data.summary.opted_out_at_end
    if count == 0:
        text = (
            "Nobody is opted out at the end of the period: nothing to add to a suppression "
            "list."
        )
        return Section(title, [Paragraph((text,))])
    intro: tuple[Inline, ...] = (
        f"{count:,} {plural(count, 'recipient')} opted out at the end of the period "
        "(counted per sender or Messaging Service). ",
        Code(SUPPRESSION_FILE),
        " in the results folder lists them with the time and keyword of their opt-out: "
        "load it into your own suppression list.",
    )
    blocks: list[Block] = [Paragraph(intro)]
    scopes = data.suppression["scope"].astype(object).fillna(NONE).astype(str)
    per_scope = scopes.value_counts(sort=True)
    if not per_scope.empty:
        shown = per_scope.head(SCOPE_ROWS)
        rows: list[list[Cell]] = [[_scope(s), f"{int(n):,}"] for s, n in shown.items()]
        if len(shown) < len(per_scope):
            note = f"The {len(shown):,} senders or services (of {len(per_scope):,}) with the most:"
            blocks.append(Paragraph((note,), kind="muted"))
        blocks.append(Table(["scope", "opted-out recipients"], rows, numeric=frozenset({1})))
    return Section(title, blocks)


def _scope(value: Any) -> Cell:
    """A sender number as is, a Messaging Service SID in the SID style."""
    text = _text(value) or NONE
    return Styled(text, "sid") if text.startswith("MG") else text


def _time(value: Any) -> str:
    """A time in the results format; text that is not a time as it is."""
    try:
        return time_text(value) or _text(value)
    except ValueError:
        return _text(value)


def _text(value: Any) -> str:
    return "" if value is None or pd.isna(value) else str(value)
