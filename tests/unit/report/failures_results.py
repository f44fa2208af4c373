"""A small results folder of ``analyzer failures``, written by hand from the contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.failures.codes import CATEGORY_ACTIONS
from analyzer.results import (
    FAILURES_BY_CODE_DAY_FILE,
    FAILURES_BY_COUNTRY_FILE,
    FAILURES_BY_DAY_FILE,
    FAILURES_BY_SENDER_FILE,
    FAILURES_BY_SERVICE_FILE,
    FAILURES_FILE,
    FAILURES_SUMMARY_FILE,
    SUPPRESS_FILE,
    FailureJump,
    FailuresSummary,
    RejectedRequests,
    write_json,
)
from analyzer.vocabulary import FailureCategory

C = FailureCategory
#: The sections of a failures report, in order.
SECTIONS = [
    "Delivery failures",
    "Failures by error code",
    "Where failures come from",
    "Rejected requests",
    "Recipients to suppress",
]
DAYS = ("2026-11-28", "2026-11-29")
#: (error code or None, category, title, status, failures on each day).
CODES = (
    (30007, C.CONTENT, "filtered by the carrier or Twilio", "undelivered", (2, 30)),
    (30003, C.RECIPIENT, "handset unreachable (off, no signal)", "undelivered", (4, 6)),
    (21610, C.OPTED_OUT, "the recipient opted out (STOP)", "failed", (5, 7)),
    (30001, C.RATE, "queue overflow: sent faster than the sender's throughput", "failed", (3, 15)),
    (30008, C.CARRIER, "unknown error at the carrier", "undelivered", (1, 4)),
    (None, C.UNKNOWN, "no error code", "failed", (0, 3)),
)
OUTBOUND = (480, 520)
SENDERS = (
    ("+15550001111", 600, 60),
    ("+15550002222", 380, 17),
    ("+15550003333", 10, 3),  # too few messages to rank
    ("+15550004444", 10, 0),
)
SERVICE = "MG0123456789abcdef0123456789abcdef"
SUPPRESS_COUNT = 25
REJECTED = RejectedRequests(
    posts=1020,
    rejected=20,
    by_status={"400": 15, "429": 5},
    by_error_code={"21211": 10, "20429": 5, "unknown": 5},
)
JUMP = FailureJump(error_code="30007", category=C.CONTENT, day=DAYS[1], count=30, baseline=2.0)


def recipient(i: int) -> str:
    """The i-th recipient to suppress."""
    return f"+4477009{i:05d}"


def write_failures_results(out: Path, *, rejected: bool = True) -> FailuresSummary:
    """Write every file of the contract into ``out``; returns the summary written."""
    out.mkdir(parents=True, exist_ok=True)
    _write_failures(out)
    by_category = dict.fromkeys((c.value for c in C), 0)
    by_code: dict[str, int] = {}
    failed = undelivered = 0
    for code, category, _title, status, counts in CODES:
        by_category[category] += sum(counts)
        by_code["none" if code is None else str(code)] = sum(counts)
        failed += sum(counts) if status == "failed" else 0
        undelivered += sum(counts) if status == "undelivered" else 0
    summary = FailuresSummary(
        outbound_messages=sum(OUTBOUND),
        failed=failed,
        undelivered=undelivered,
        by_error_code=by_code,
        by_category=by_category,
        rejected_requests=REJECTED if rejected else None,
        recipients_to_suppress=SUPPRESS_COUNT,
        jumps=[JUMP],
        period_start=datetime(2026, 11, 28, tzinfo=UTC),
        period_end=datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),
        source="data/messages.parquet",
        warnings=[],
    )
    write_json(summary.to_json(), out / FAILURES_SUMMARY_FILE)
    _write_rollups(out)
    return summary


def _write_failures(out: Path) -> None:
    names = ("sid", "error_code", "category", "action", "title", "status")
    rows: dict[str, list[object]] = {name: [] for name in names}
    for code, category, title, status, counts in CODES:
        for _ in range(sum(counts)):
            rows["sid"].append(f"SM{len(rows['sid']):032x}")
            rows["error_code"].append(code)
            rows["category"].append(category.value)
            rows["action"].append(CATEGORY_ACTIONS[category])
            rows["title"].append(title)
            rows["status"].append(status)
    n = len(rows["sid"])
    table = pa.table(
        {
            "sid": rows["sid"],
            "to": [recipient(i % 40) for i in range(n)],
            "from": [SENDERS[i % 2][0] for i in range(n)],
            "messaging_service_sid": [SERVICE] * n,
            "status": rows["status"],
            "error_code": pa.array(rows["error_code"], pa.int64()),
            "category": rows["category"],
            "action": rows["action"],
            "title": rows["title"],
            "date_created": pa.array(
                [datetime(2026, 11, 29, 12, tzinfo=UTC)] * n, pa.timestamp("us", tz="UTC")
            ),
        }
    )
    pq.write_table(table, out / FAILURES_FILE)


def _write_rollups(out: Path) -> None:
    by_day = pd.DataFrame({"day": list(DAYS), "outbound_messages": list(OUTBOUND)})
    by_day["failures"] = [sum(c[4][d] for c in CODES) for d in range(len(DAYS))]
    for category in C:
        by_day[category.value] = [
            sum(c[4][d] for c in CODES if c[1] == category) for d in range(len(DAYS))
        ]
    by_day.to_csv(out / FAILURES_BY_DAY_FILE, index=False)
    code_days = [
        ("none" if code is None else str(code), category.value, counts)
        for code, category, _title, _status, counts in CODES
    ]
    pd.DataFrame(
        [
            {"day": day, "error_code": code, "category": category, "failures": counts[d]}
            for code, category, counts in code_days
            for d, day in enumerate(DAYS)
        ]
    ).to_csv(out / FAILURES_BY_CODE_DAY_FILE, index=False)
    senders = pd.DataFrame(SENDERS, columns=["from", "outbound_messages", "failures"])
    _with_rate(senders).to_csv(out / FAILURES_BY_SENDER_FILE, index=False)
    services = pd.DataFrame(
        [[SERVICE, 980, 77], ["(none)", 20, 3]],
        columns=["messaging_service_sid", "outbound_messages", "failures"],
    )
    _with_rate(services).to_csv(out / FAILURES_BY_SERVICE_FILE, index=False)
    countries = pd.DataFrame(
        [["+44", 300, 50], ["+1", 700, 30]],
        columns=["calling_code", "outbound_messages", "failures"],
    )
    _with_rate(countries).to_csv(out / FAILURES_BY_COUNTRY_FILE, index=False)
    pd.DataFrame(
        {
            "recipient": [recipient(i) for i in range(SUPPRESS_COUNT)],
            "opted_out": [i % 2 == 0 for i in range(SUPPRESS_COUNT)],
            "attempts": [1 + i % 3 for i in range(SUPPRESS_COUNT)],
            "last_error_code": [21610 if i % 2 == 0 else 30005 for i in range(SUPPRESS_COUNT)],
            "last_failed_at": ["2026-11-29T12:00:00Z"] * SUPPRESS_COUNT,
        }
    ).to_csv(out / SUPPRESS_FILE, index=False)


def _with_rate(frame: pd.DataFrame) -> pd.DataFrame:
    frame["failure_rate"] = frame["failures"] / frame["outbound_messages"]
    return frame.sort_values("failures", ascending=False)
