"""``ticket.md``: the text for Twilio support, with the evidence of each case.

It lists the twilio_side clusters (one request, several records) with their SIDs and
the request log lines, and the carrier_side reports; numbers are masked and bodies and
notes left out unless asked.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analyzer.report.headline import evidence_text
from analyzer.report.load import LIST_COLUMNS, ReportData
from analyzer.report.markdown import table as markdown_table
from analyzer.report.sections.carrier import carrier_table
from analyzer.report.text import masked, plural, time_text
from analyzer.results import ReportSummary, format_time
from analyzer.vocabulary import Verdict

TITLE = "# Duplicate messages: one API request, several Message records"
_NOTHING = (
    "No twilio_side clusters and no carrier-side reports in these results: "
    "nothing to report to Twilio support."
)
_CASE_COLUMNS = ("to", "body", "posts", "n_records", "records_in_window", "verdict_reason")


def render_ticket(data: ReportData, summary: ReportSummary, redact: bool) -> str:
    """The ticket's text; ``redact`` masks numbers and leaves bodies and notes out."""
    twilio = np.flatnonzero(data.frame["verdict"].to_numpy() == Verdict.TWILIO_SIDE)
    carrier_side = _carrier_side(data.carrier)
    lines = [TITLE, ""]
    if len(twilio) == 0 and carrier_side is None:
        return "\n".join([*lines, _NOTHING, ""])
    lines += _request(data, summary, twilio)
    if len(twilio):
        cases = data.table.take(pa.array(twilio))
        for i in range(cases.num_rows):
            lines += _case(cases.slice(i, 1), i + 1, redact)
    if carrier_side is not None:
        lines += _carrier_part(carrier_side, redact)
    return "\n".join(lines)


def _carrier_side(carrier: pd.DataFrame | None) -> pd.DataFrame | None:
    """The carrier_side reports, None if there are none."""
    if carrier is None or "verdict" not in carrier:
        return None
    found = carrier[carrier["verdict"].astype(str) == Verdict.CARRIER_SIDE]
    return None if found.empty else found


def _request(data: ReportData, summary: ReportSummary, twilio: np.ndarray) -> list[str]:
    """The accounts, the period and what we ask."""
    table = data.table
    accounts: set[str] = set()
    if "account_sids" in table.column_names:
        for sids in table["account_sids"].take(pa.array(twilio)).to_pylist():
            accounts.update(a for a in sids or [] if a)
    cases = len(twilio)
    records = int(data.frame["n_records"].to_numpy()[twilio].sum()) if cases else 0
    start, end = format_time(summary.period_start), format_time(summary.period_end)
    return [
        f"{plural(len(accounts), 'Account')}: {', '.join(sorted(accounts)) or 'see SIDs'}  ",
        f"Period analysed (UTC): {start} to {end}  ",
        "",
        f"Our application made **one** API request (POST /2010-04-01/Accounts/…/Messages.json) "
        f"for each of the {cases:,} cases below, but your Message log shows "
        f"{records:,} records for them: {records - cases:,} messages we did not "
        "request, with the same recipient and body, created within seconds. Our request log "
        "lines are quoted for each case; please tell us why several messages were created "
        "and whether the recipients were charged or received them twice.",
        "",
        "Evidence: " + evidence_text(summary, "our server") + " All times are UTC.",
        "",
    ]


def _case(case: pa.Table, number: int, redact: bool) -> list[str]:
    """One twilio_side cluster: its records and the request log lines matched to it."""
    row: dict[str, Any] = {
        c: case[c][0].as_py()
        for c in case.column_names
        if c in LIST_COLUMNS or c in _CASE_COLUMNS
    }
    sids = row.get("sids") or []
    created = [time_text(x) for x in row.get("created") or []]
    to = masked(case["to"].combine_chunks(), redact)[0]
    lines = [f"## {number}. {len(sids)} records for one request, {created[0] if created else ''}"]
    lines += ["", f"- To: {to}"]
    if not redact and "body" in row:
        lines.append(f"- Body: {row['body']}")
    lines.append("- Message SIDs (created, status, from, error):")
    details = zip(
        *(_padded(row.get(c), len(sids)) for c in ("statuses", "from_numbers", "error_codes")),
        strict=True,
    )
    for sid, when, (status, sender, error) in zip(
        sids, _padded(created, len(sids)), details, strict=True
    ):
        shown = ", ".join(str(d) for d in (when, status, sender, error) if d is not None)
        lines.append(f"  - {sid} ({shown})")
    services = {s for s in row.get("messaging_service_sids") or [] if s}
    if services:
        lines.append(f"- Messaging Service: {', '.join(sorted(services))}")
    posts = row.get("posts")
    reason = row.get("verdict_reason")
    lines.append(
        f"- POST requests in our log: {posts if posts is not None else '?'}; "
        f"records in your log: {row['n_records']}"
        + (f" ({reason})" if "verdict_reason" in row else "")
    )
    return [*lines, *_matched_lines(row), ""]


def _padded(values: list[Any] | None, length: int) -> list[Any]:
    """``values`` cut or filled with None to ``length`` items."""
    values = list(values or [])[:length]
    return values + [None] * (length - len(values))


def _matched_lines(row: dict[str, Any]) -> list[str]:
    """The request log lines matched to a cluster, one item each."""
    matched = row.get("matched_lines") or []
    times = _padded(row.get("matched_times"), len(matched))
    codes = _padded(row.get("matched_statuses"), len(matched))
    return [
        f"  - request log {where}: POST at {time_text(when) or '?'} (our clock), "
        f"HTTP {code if code is not None else 'no response'}"
        for where, when, code in zip(matched, times, codes, strict=True)
    ]


def _carrier_part(carrier_side: pd.DataFrame, redact: bool) -> list[str]:
    return [
        "# Recipients who received a message twice (one record, one request)",
        "",
        "For each of these our application made one request and your Message log "
        "shows one record, yet the recipient reported receiving it twice: please "
        "ask the carrier whether their SMSC delivered it again.",
        "",
        markdown_table(carrier_table(carrier_side, redact, notes=not redact)),
        "",
    ]
