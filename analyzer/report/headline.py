"""The report's prose: the headline, the period and the evidence, from the numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from analyzer.report.text import plural
from analyzer.results import (
    RequestIdSids,
    SendOutcomes,
    Span,
    duration_text,
    format_time,
    short_percent,
)
from analyzer.vocabulary import (
    GAP_PATTERNS,
    OPTED_OUT_ERROR,
    TIMEOUT_PATTERNS,
    OptoutKind,
    Verdict,
)

if TYPE_CHECKING:
    from analyzer.report.failures_data import FailuresData
    from analyzer.report.load import ReportData
    from analyzer.results import OptoutsSummary, ReportSummary

_NO_MESSAGES = (
    "No messages in this period: nothing to analyse. Check that the export ran and the "
    "dataset path."
)


def period_text(summary: ReportSummary) -> str:
    """The period the report covers, or that it had no message at all."""
    if summary.period_start is None and summary.period_end is None:
        return "Period: no messages"
    start, end = format_time(summary.period_start), format_time(summary.period_end)
    return f"Period {start} – {end} (UTC)"


def key_text(key: list[str]) -> str:
    """The columns that must match, in words."""
    return " + ".join(map(str, key))


def headline(data: ReportData, summary: ReportSummary) -> str:
    """The summary in plain words, computed from the data."""
    outbound = summary.outbound_messages
    if summary.messages == 0:
        return _NO_MESSAGES
    clusters, extra = summary.duplicate_clusters, summary.extra_messages
    if clusters == 0:
        return (
            f"No duplicate clusters among {outbound:,} outbound messages "
            f"(window {duration_text(float(summary.window_seconds or 0))}, "
            f"key {key_text(summary.key)})."
        )
    share = short_percent(summary.duplicate_rate)
    head = (
        f"{clusters:,} duplicate {plural(clusters, 'cluster')} with {extra:,} extra "
        f"{plural(extra, 'message')} ({share} of {outbound:,} outbound messages)"
    )
    causes = ", ".join(_causes(data, summary))
    return f"{head}: {causes}. {reached_text(summary)}"


def _causes(data: ReportData, summary: ReportSummary) -> list[str]:
    """One phrase per verdict that has clusters, in the listed order."""
    frame, counts = data.frame, summary.by_verdict
    parts: list[str] = []
    if counts[Verdict.APP_SIDE]:
        app = frame[frame["verdict"] == Verdict.APP_SIDE]
        pattern = pattern_text(app["pattern"])
        parts.append(
            f"{counts[Verdict.APP_SIDE]:,} sent {_times(app['n_records'])} by the application"
            + (f" ({pattern})" if pattern else "")
        )
    twilio = counts[Verdict.TWILIO_SIDE]
    if twilio:
        parts.append(
            f"{twilio:,} need{'s' if twilio == 1 else ''} "
            "Twilio support (one request, several records)"
        )
    if counts[Verdict.WEBHOOK_SIDE]:
        parts.append(
            f"{counts[Verdict.WEBHOOK_SIDE]:,} replies to incoming messages sent twice (the "
            "webhook was answered twice: check its 15 s timeout and fallback URL)"
        )
    if counts[Verdict.INCONCLUSIVE]:
        parts.append(
            f"{counts[Verdict.INCONCLUSIVE]:,} inconclusive (the logs cannot tell who sent them)"
        )
    if counts[Verdict.UNVERIFIED]:
        why = _unverified_why(data, summary)
        parts.append(f"{counts[Verdict.UNVERIFIED]:,} unverified ({why})")
    return parts


def _times(sizes: pd.Series) -> str:
    """How many times the application sent these clusters' messages."""
    low, high = sizes.min(), sizes.max()
    if high == 2:
        return "twice"
    if low == high:
        return f"{high} times"
    return f"{low}–{high} times"


def _unverified_why(data: ReportData, summary: ReportSummary) -> str:
    frame = data.frame
    if not data.logs_given:
        pattern = pattern_text(frame["pattern"])
        return "no server logs given" + (f"; {pattern}" if pattern else "")
    times = frame.loc[frame["verdict"] == Verdict.UNVERIFIED, "first_created"]
    return uncovered_text(times, summary)


def failures_headline(data: FailuresData) -> str:
    """The failures in one paragraph: how many, failed or undelivered, what to do first."""
    summary = data.summary
    outbound, failures = summary.outbound_messages, summary.failures
    if failures == 0:
        return f"No failed or undelivered messages among {outbound:,} outbound messages."
    head = (
        f"{failures:,} of {outbound:,} outbound messages did not arrive "
        f"({short_percent(summary.failure_rate)}): {summary.failed:,} failed (never "
        f"handed to a carrier) and {summary.undelivered:,} undelivered (the carrier did "
        "not deliver them)."
    )
    counts = {k: v for k, v in summary.by_category.items() if v}
    if not counts:
        return head
    top = max(counts, key=lambda name: counts[name])
    share = short_percent(counts[top] / failures)
    action = data.category_actions().get(top, "").strip().rstrip(".")
    todo = f" What to do: {action}." if action else ""
    return f"{head} Most are {top} failures ({counts[top]:,}, {share} of them).{todo}"


def optouts_headline(summary: OptoutsSummary) -> str:
    """The opt-outs in one paragraph: keyword opt-outs, re-opt-ins, who is opted out at
    the end, and the sends made to opted-out recipients."""
    opt_outs = int(summary.events_by_kind.get(OptoutKind.OPT_OUT, 0))
    back, end = summary.re_opt_ins, summary.opted_out_at_end
    state = (
        f"{opt_outs:,} keyword {plural(opt_outs, 'opt-out')} and {back:,} "
        f"{plural(back, 're-opt-in')} among {summary.inbound_messages:,} inbound messages; "
        f"{end:,} {plural(end, 'recipient')} opted out at the end of the period."
    )
    return f"{state} {optout_sends_text(summary)}"


def optout_sends_text(summary: OptoutsSummary) -> str:
    """One sentence on the sends to opted-out recipients: blocked or sent."""
    blocked, sent = summary.blocked, summary.sent_after_opt_out
    if blocked + sent == 0:
        return "No sends to opted-out recipients."
    verb = "was" if blocked == 1 else "were"
    refused = (
        f"{blocked:,} {verb} blocked by Twilio ({OPTED_OUT_ERROR}: wasted work, not charged)"
    )
    went = (
        f"{sent:,} went out after the opt-out (a compliance risk to investigate)"
        if sent
        else "none went out"
    )
    sends = f"{blocked + sent:,} {plural(blocked + sent, 'send')}"
    return f"Of {sends} to opted-out recipients, {refused} and {went}."


def reached_text(summary: ReportSummary) -> str:
    """One sentence on how many extra messages reached a handset."""
    extra, reached = summary.extra_messages, summary.extra_reached_handset
    statuses = "(sent, delivered or read)"
    if reached == extra:
        every = "The extra message" if extra == 1 else f"All {extra:,} extra messages"
        return f"{every} reached a handset {statuses}."
    return (
        f"Of the {extra:,} extra {plural(extra, 'message')}, {reached:,} reached a "
        f"handset {statuses}; the rest failed or were undelivered (or had no final status yet)."
    )


def pattern_text(patterns: pd.Series) -> str:
    """Describe the most telling gap pattern of these clusters, if one stands out."""
    if patterns.empty:
        return ""
    counts = patterns.value_counts()
    meaning = {p.name: (p.shape, p.meaning) for p in GAP_PATTERNS}
    timeout_seconds = {p.name: seconds for seconds, p in TIMEOUT_PATTERNS.items()}
    top = str(counts.index[0])
    share = counts.iloc[0] / len(patterns)
    timeouts = counts[[str(name) in timeout_seconds for name in counts.index]]
    timeout_share = timeouts.sum() / len(patterns)
    if top in meaning and share >= 0.5:
        shape, why = meaning[top]
    elif timeout_share >= 0.5:
        share = timeout_share
        listed = " or ".join(
            f"{seconds} s" for seconds in sorted(timeout_seconds[str(n)] for n in timeouts.index)
        )
        shape = f"the second send came just after a common client timeout of {listed}"
        why = "the signature of retries after a client timeout"
    elif top in meaning and share >= 0.25:
        shape, why = meaning[top]
    else:
        return ""
    if share == 1:
        return f"in all of them {shape}, {why}"
    return f"in {share:.0%} of them {shape}, {why}"


def uncovered_text(times: pd.Series, summary: ReportSummary) -> str:
    """Which stretches without server logs hold these clusters' first records."""
    uncovered = [
        (pd.Timestamp(str(span.start)), pd.Timestamp(str(span.end)))
        for span in summary.uncovered_periods
    ]
    if not uncovered or summary.period_start is None or summary.period_end is None:
        return "the server logs do not cover them"
    stamps = times.to_numpy(dtype="datetime64[us]").astype(np.int64)
    start, end = pd.Timestamp(summary.period_start), pd.Timestamp(summary.period_end)
    multi_day = start.floor("D") != end.floor("D")
    relevant = [
        _span_text(a, b, multi_day)
        for a, b in uncovered
        if np.any((stamps >= _micros(a)) & (stamps <= _micros(b)))
    ]
    shown = relevant or [_span_text(a, b, multi_day) for a, b in uncovered[:3]]
    more = len(relevant) - 3 if len(relevant) > 3 else 0
    text = "no server logs " + ", ".join(shown[:3]) + " UTC"
    return text + (f" and {more} more gaps" if more else "")


def _micros(stamp: pd.Timestamp) -> int:
    naive = stamp.tz_convert("UTC").tz_localize(None).to_datetime64()
    return int(naive.astype("datetime64[us]").astype(np.int64))


def _span_text(a: pd.Timestamp, b: pd.Timestamp, multi_day: bool) -> str:
    fmt = "%Y-%m-%d %H:%M" if multi_day else "%H:%M"
    return f"{a.strftime(fmt)}–{b.strftime(fmt)}"


def span_text(span: Span) -> str:
    """A stretch of time as ``start – end``."""
    return f"{span.start} – {span.end}"


def evidence_text(summary: ReportSummary, host: str) -> str:
    """How the request logs were matched: mode, skew and its confidence, delay band, POSTs
    (``host`` names the side whose clock was compared with Twilio's)."""
    spread = summary.skew_spread_seconds
    text = (
        f"Server logs matched by {summary.match_mode or '?'}; clock skew between {host} "
        f"and Twilio {float(summary.skew_seconds or 0):+.3f} s (estimated by "
        f"{summary.skew_method or '?'} from {int(summary.skew_pairs or 0):,} pairs"
        + (f", interquartile range {float(spread):.2f} s" if spread is not None else "")
        + f"; confidence {summary.skew_confidence or 'none'})."
    )
    band = summary.delay_band_seconds
    if band:
        text += (
            f" A record was matched to the POSTs made {-float(band[1]):+.1f} s to "
            f"{-float(band[0]):+.1f} s from its creation time (POST minus record, after the "
            "skew; learned from the data, Twilio's times being whole seconds)."
        )
    sends = SendOutcomes.of(summary.sends_by_outcome)
    if sends is not None:
        text += (
            f" POSTs: {sends.accepted:,} accepted (2xx), {sends.possible:,} without a 2xx "
            f"that may have created a message, {sends.refused:,} refused (4xx, created nothing)."
        )
    ids = RequestIdSids.of(summary.request_id_sids)
    if ids.candidates:
        used = "used as SIDs" if ids.used else "not used"
        text += (
            f" Twilio-Request-Id: {ids.found:,} of {ids.candidates:,} successful creates "
            f"name an exported record ({used})."
        )
    return text
