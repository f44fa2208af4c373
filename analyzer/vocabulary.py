"""The stable names the whole project shares: verdicts, in the order they are listed.

Written here once and imported everywhere else, so that a verdict is never retyped.
"""

from __future__ import annotations

from enum import StrEnum


class Verdict(StrEnum):
    """Who caused a duplicate; the values are the labels in every output file."""

    APP_SIDE = "app_side"
    TWILIO_SIDE = "twilio_side"
    WEBHOOK_SIDE = "webhook_side"
    CARRIER_SIDE = "carrier_side"
    INCONCLUSIVE = "inconclusive"
    UNVERIFIED = "unverified"
    NOT_FOUND = "not_found"


#: What the cross-reference gives a duplicate cluster.
CLUSTER_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.WEBHOOK_SIDE,
    Verdict.UNVERIFIED,
    Verdict.INCONCLUSIVE,
)
#: What the simulator plants as the truth of a duplicate group.
PLANTED_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.CARRIER_SIDE,
    Verdict.UNVERIFIED,
)
#: The order in which reports and charts list verdicts.
LISTED_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.WEBHOOK_SIDE,
    Verdict.CARRIER_SIDE,
    Verdict.INCONCLUSIVE,
    Verdict.UNVERIFIED,
)

# The files the jobs write, by name.
#: `analyzer detect`: every duplicate cluster, the window sensitivity table, the counts.
CLUSTERS_FILE = "clusters.parquet"
SENSITIVITY_FILE = "sensitivity.csv"
SUMMARY_FILE = "summary.json"
#: `analyzer investigate --out`: one row per report, and the whole investigation.
CARRIER_FILE = "carrier.parquet"
INVESTIGATION_FILE = "investigation.json"
#: `analyzer report`: the page, its Markdown twin, the clusters for spreadsheets, the ticket.
REPORT_HTML_FILE = "index.html"
REPORT_MD_FILE = "report.md"
REPORT_CSV_FILE = "clusters.csv"
TICKET_FILE = "ticket.md"
#: `analyzer nightly`: the history page in the reports folder.
HISTORY_FILE = "index.html"
