"""The files a job writes, by name, and the columns of its tables."""

from __future__ import annotations

from analyzer.vocabulary import FailureCategory

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
CHARTS_DIR = "charts"
#: `analyzer nightly`: the history page in the reports folder.
HISTORY_FILE = "index.html"
#: `analyzer failures`: one row per failed or undelivered record, the counts, the
#: recipients to suppress, and the rollups (CSV, one row per group).
FAILURES_FILE = "failures.parquet"
FAILURES_SUMMARY_FILE = "failures_summary.json"
SUPPRESS_FILE = "recipients_to_suppress.csv"
FAILURES_BY_DAY_FILE = "failures_by_day.csv"
FAILURES_BY_CODE_DAY_FILE = "failures_by_code_day.csv"
FAILURES_BY_SENDER_FILE = "failures_by_sender.csv"
FAILURES_BY_SERVICE_FILE = "failures_by_service.csv"
FAILURES_BY_COUNTRY_FILE = "failures_by_country.csv"
#: `analyzer optouts`: keyword events, sends while opted out, near misses, opt-outs
#: inferred from 21610, the suppression list at the end, the counts.
OPTOUT_EVENTS_FILE = "optout_events.parquet"
OPTOUT_SENDS_FILE = "optout_sends.parquet"
NEAR_MISSES_FILE = "near_misses.csv"
INFERRED_OPTOUTS_FILE = "inferred_opt_outs.csv"
SUPPRESSION_FILE = "suppression.csv"
OPTOUTS_SUMMARY_FILE = "optouts_summary.json"
#: The columns of each opt-out file, in file order.
OPTOUT_COLUMNS: dict[str, tuple[str, ...]] = {
    OPTOUT_EVENTS_FILE: (
        "sid", "recipient", "number", "scope", "keyword", "kind", "date_created",
    ),
    OPTOUT_SENDS_FILE: (
        "sid", "to", "from", "scope", "status", "error_code", "opted_out_at", "verdict",
        "date_created",
    ),
    NEAR_MISSES_FILE: ("sid", "recipient", "number", "scope", "body", "date_created"),
    INFERRED_OPTOUTS_FILE: ("recipient", "scope", "first_blocked_at", "blocked_sends"),
    SUPPRESSION_FILE: ("scope", "recipient", "opted_out_at", "keyword"),
}  # fmt: skip
#: The columns of each failures CSV in file order, and those that hold text (numbers
#: such as ``+4477…`` and codes such as ``30007`` stay text when read back).
FAILURE_TABLES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    FAILURES_BY_DAY_FILE: (
        ("day", "outbound_messages", "failures", *(c.value for c in FailureCategory)),
        ("day",),
    ),
    FAILURES_BY_CODE_DAY_FILE: (
        ("day", "error_code", "category", "failures"),
        ("day", "error_code", "category"),
    ),
    FAILURES_BY_SENDER_FILE: (("from", "outbound_messages", "failures", "failure_rate"), ("from",)),
    FAILURES_BY_SERVICE_FILE: (
        ("messaging_service_sid", "outbound_messages", "failures", "failure_rate"),
        ("messaging_service_sid",),
    ),
    FAILURES_BY_COUNTRY_FILE: (
        ("calling_code", "outbound_messages", "failures", "failure_rate"),
        ("calling_code",),
    ),
    SUPPRESS_FILE: (
        ("recipient", "opted_out", "attempts", "last_error_code", "last_failed_at"),
        ("recipient", "last_error_code", "last_failed_at"),
    ),
}

#: `analyzer export --config`: the account's configuration, in the dataset's ``_config``
#: folder beside the day partitions (the underscore keeps readers of the dataset, ours
#: and pyarrow's, from taking it for messages): incoming numbers, Messaging Services and
#: their numbers, and Monitor alerts.
CONFIG_DIR = "_config"
NUMBERS_FILE = "numbers.parquet"
SERVICES_FILE = "services.parquet"
SERVICE_NUMBERS_FILE = "service_numbers.parquet"
ALERTS_FILE = "alerts.parquet"
#: The columns of each configuration file, in file order.
CONFIG_COLUMNS: dict[str, tuple[str, ...]] = {
    NUMBERS_FILE: (
        "sid", "phone_number", "sms_capable", "mms_capable", "voice_capable", "sms_url",
        "sms_method", "sms_fallback_url", "sms_application_sid", "status_callback",
        "date_updated",
    ),
    SERVICES_FILE: (
        "sid", "friendly_name", "inbound_request_url", "inbound_method", "fallback_url",
        "use_inbound_webhook_on_number", "status_callback",
    ),
    SERVICE_NUMBERS_FILE: ("service_sid", "sid", "phone_number"),
    ALERTS_FILE: (
        "sid", "error_code", "log_level", "alert_text", "request_url", "resource_sid",
        "date_generated",
    ),
}  # fmt: skip

#: `analyzer inbound`: one row per number, the inbound messages nothing answered, counts.
NUMBERS_CHECK_FILE = "numbers_check.parquet"
UNHANDLED_INBOUND_FILE = "unhandled_inbound.parquet"
#: Outbound messages whose status callbacks went wrong (one row per problem).
STATUS_CALLBACKS_FILE = "status_callbacks.parquet"
INBOUND_SUMMARY_FILE = "inbound_summary.json"
