"""Cross-reference cases seen in real logs: refused and lost POSTs, request ids, replies, clocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from analyzer.duplicates.crossref import cross_reference
from analyzer.duplicates.crossref.records import recipient_key
from analyzer.duplicates.crossref.skew import estimate_skew, skew_by_counts
from analyzer.duplicates.detect import find_duplicates
from analyzer.logs import REQUEST_SCHEMA
from analyzer.schema import coerce_messages
from analyzer.vocabulary import Verdict

T0 = datetime(2026, 11, 29, 10, 0, tzinfo=UTC)
ACCOUNT = "AC" + "0" * 32
URL = f"/2010-04-01/Accounts/{ACCOUNT}/Messages.json"
_US = 1_000_000


def sid(n: int) -> str:
    return f"SM{n:032x}"


class Traffic:
    """Records as Twilio holds them and the requests the application logged."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self._n = 0
        # A quiet background: other recipients every 40 s, and log lines all along.
        for k in range(0, 3600, 40):
            self.send(k + 0.3, f"+1555000{k:04d}", f"background {k}", [k + 0.5])

    def record(self, at: float, to: str, body: str, direction: str = "outbound-api") -> str:
        self._n += 1
        self.records.append(
            {
                "sid": sid(self._n),
                "to": to,
                "from": "+15550009999",
                "body": body,
                "direction": direction,
                "status": "delivered",
                "messaging_service_sid": None,
                "account_sid": ACCOUNT,
                "error_code": None,
                "date_created": T0 + timedelta(seconds=int(at)),
            }
        )
        return sid(self._n)

    def post(
        self,
        at: float,
        *,
        to: str | None,
        status: int | None = 201,
        message_sid: str | None = None,
        request_id: str | None = None,
    ) -> None:
        self.requests.append(
            {
                "time": T0 + timedelta(seconds=at),
                "method": "POST",
                "path": URL,
                "status": status,
                "to": to,
                "message_sid": message_sid,
                "request_id": request_id,
                "is_send": True,
            }
        )

    def send(self, at: float, to: str, body: str, made: list[float], **kw: Any) -> list[str]:
        sids = [self.record(t, to, body) for t in made]
        self.post(at, to=to, message_sid=sids[0] if kw.pop("log_sid", False) else None, **kw)
        return sids

    def tables(self) -> tuple[pa.Table, pa.Table]:
        messages = coerce_messages(pa.Table.from_pylist(self.records), fill_missing=True)
        rows = []
        for i, r in enumerate(sorted(self.requests, key=lambda r: r["time"])):
            row = {name: None for name in REQUEST_SCHEMA.names}
            row.update(r, source_file="app.log", line=i + 1)
            rows.append(row)
        return messages, pa.Table.from_pylist(rows, schema=REQUEST_SCHEMA)

    def judge(self, **options: Any) -> tuple[dict[str, dict[str, Any]], Any]:
        messages, requests = self.tables()
        clusters = find_duplicates(messages, window=60).clusters
        result = cross_reference(clusters, requests, messages, **options)
        rows = result.clusters.to_pylist()
        return {r["body"]: r for r in rows}, result


def without_recipients(traffic: Traffic) -> Traffic:
    for r in traffic.requests:
        r["to"] = None
    return traffic


@pytest.mark.parametrize("recipients", [True, False], ids=["recipient_time", "time_only"])
def test_a_refused_first_attempt_creates_nothing(recipients: bool) -> None:
    t = Traffic()
    # Twilio made two messages of the retry; the first attempt got a 429.
    t.post(600.2, to="+15551230001", status=429)
    t.send(601.2, "+15551230001", "your code is 1234", [601.5, 601.9])
    # An honest double submit nearby, for contrast.
    t.send(1200.1, "+15551230002", "welcome", [1200.3])
    t.send(1200.6, "+15551230002", "welcome", [1200.8])
    if not recipients:
        without_recipients(t)
    verdicts, result = t.judge()
    assert result.mode == ("recipient_time" if recipients else "time_only")
    assert verdicts["your code is 1234"]["verdict"] == Verdict.TWILIO_SIDE
    assert verdicts["welcome"]["verdict"] == Verdict.APP_SIDE
    assert result.sends["refused"] == 1
    hint = verdicts["your code is 1234"]["hint"]
    assert "Twilio support" in hint
    statuses = verdicts["your code is 1234"]["matched_statuses"]
    assert statuses[0] == 429  # the refused attempt is shown as evidence


def test_a_timed_out_attempt_that_alone_explains_a_record_is_counted() -> None:
    t = Traffic()
    t.post(900.1, to="+15551230003", status=None)  # the client gave up; Twilio had made it
    t.record(900.4, "+15551230003", "order shipped")
    t.send(915.2, "+15551230003", "order shipped", [915.5])
    verdicts, _ = t.judge()
    row = verdicts["order shipped"]
    assert row["verdict"] == Verdict.APP_SIDE
    assert row["possible_posts"] == 1 and "no answer or a 5xx" in row["verdict_reason"]
    assert "15 s client timeout" in row["hint"]


def test_a_lost_attempt_next_to_its_retry_cannot_be_told_apart() -> None:
    t = without_recipients(Traffic())
    t.post(1500.1, to=None, status=502)
    t.send(1500.4, "+15551230004", "reminder", [1500.6, 1500.9])
    verdicts, _ = t.judge()
    assert verdicts["reminder"]["verdict"] == Verdict.INCONCLUSIVE
    assert "either way" in verdicts["reminder"]["verdict_reason"]


def _sdk_like(traffic: Traffic, *, honest_ids: bool) -> Traffic:
    """Requests as twilio-python's log has them: no recipient, no SID, a request id."""
    rng = np.random.default_rng(0)
    records = {r["date_created"]: r["sid"] for r in traffic.records}
    for r in traffic.requests:
        r["to"] = None
        made = records.get((r["time"] + timedelta(seconds=0.5)).replace(microsecond=0))
        if r["status"] == 201 and made and honest_ids:
            r["request_id"] = "RQ" + made[2:]
        else:
            r["request_id"] = "RQ" + "".join(rng.choice(list("0123456789abcdef"), 32))
    return traffic


def test_request_ids_confirmed_by_the_records_are_used_as_sids() -> None:
    t = Traffic()
    t.send(2000.2, "+15551230005", "two of one", [2000.4, 2000.8])
    verdicts, result = t.judge()
    t = Traffic()
    t.send(2000.2, "+15551230005", "two of one", [2000.4, 2000.8])
    _sdk_like(t, honest_ids=True)
    verdicts, result = t.judge()
    assert result.request_ids["used"] and result.request_ids["found"] > 50
    assert result.mode == "sid"
    assert verdicts["two of one"]["verdict"] == Verdict.TWILIO_SIDE


def test_request_ids_that_name_no_record_are_not_used() -> None:
    t = Traffic()
    t.send(2000.2, "+15551230005", "two of one", [2000.4, 2000.8])
    _sdk_like(t, honest_ids=False)
    verdicts, result = t.judge()
    assert not result.request_ids["used"] and result.request_ids["found"] == 0
    assert result.mode == "time_only"
    assert any("Twilio-Request-Id values were not used" in w for w in result.warnings)
    assert verdicts["two of one"]["verdict"] in (Verdict.TWILIO_SIDE, Verdict.INCONCLUSIVE)


def test_replies_are_webhook_side_with_or_without_logs() -> None:
    t = Traffic()
    t.record(2500, "+15551230006", "Thanks, we got it", direction="outbound-reply")
    t.record(2515, "+15551230006", "Thanks, we got it", direction="outbound-reply")
    verdicts, _ = t.judge()
    row = verdicts["Thanks, we got it"]
    assert row["verdict"] == Verdict.WEBHOOK_SIDE and "fallback URL" in row["hint"]
    messages, _ = t.tables()
    clusters = find_duplicates(messages, window=60).clusters
    alone = cross_reference(clusters, None, messages).clusters.to_pylist()
    assert {r["body"]: r["verdict"] for r in alone}["Thanks, we got it"] == Verdict.WEBHOOK_SIDE


@pytest.mark.parametrize("recipients", [True, False])
def test_a_log_in_another_zone_is_warned_about(recipients: bool) -> None:
    t = Traffic()
    t.send(700.2, "+15551230007", "hello", [700.4])
    t.send(701.0, "+15551230007", "hello", [701.3])
    for r in t.requests:
        r["time"] += timedelta(hours=3)  # a worker logging local time, read as UTC
        if not recipients:
            r["to"] = None
    verdicts, result = t.judge()
    assert any("--log-tz" in w for w in result.warnings), result.warnings
    if recipients:  # pairs by recipient agree closely: the log is placed all the same
        assert result.skew.method == "recipient_pairs"
        assert abs(result.skew.seconds - 3 * 3600) < 1
        assert verdicts["hello"]["verdict"] == Verdict.APP_SIDE
    else:
        assert verdicts["hello"]["verdict"] == Verdict.UNVERIFIED
        assert any("do not overlap the messages" in w for w in result.warnings)


@pytest.mark.parametrize("logged", ["sid", "recipient", "time"])
def test_a_log_half_an_hour_off_is_warned_about(logged: str) -> None:
    t = Traffic()
    t.send(700.2, "+15551230007", "hello", [700.4], log_sid=logged == "sid")
    t.send(701.0, "+15551230007", "hello", [701.3], log_sid=logged == "sid")
    for r in t.requests:
        r["time"] += timedelta(minutes=30)  # India's +05:30 read as +05:00, say
        if logged == "time":
            r["to"] = None
    verdicts, result = t.judge()
    assert any("--log-tz" in w for w in result.warnings), result.warnings
    if logged == "sid":  # exact pairs place the log on Twilio's clock all the same
        assert abs(result.skew.seconds - 1800) < 1
        assert verdicts["hello"]["verdict"] == Verdict.APP_SIDE


def test_count_alignment_prefers_the_smallest_of_equal_lags() -> None:
    # Two requests, two records: lags +3, +38, -65 and -100 each line up one pair.
    posts = np.array([100, 135]) * _US
    made = np.array([97, 200]) * _US
    estimate = skew_by_counts(posts, made)
    assert estimate.seconds == 3.0
    assert estimate.confidence == "low"


def test_too_few_requests_give_no_skew() -> None:
    sends = pa.table(
        {
            "time": pa.array([T0, T0 + timedelta(seconds=35)], pa.timestamp("us", tz="UTC")),
            "to": pa.array([None, None], pa.string()),
            "message_sid": pa.array([None, None], pa.string()),
        }
    )
    records = pa.table({"sid": ["SM1", "SM2"], "to": ["+1", "+2"], "us": [0, 10]})
    estimate = estimate_skew(sends, records, "time_only")
    assert estimate.method == "none" and estimate.seconds == 0.0
    assert "too few" in estimate.note


def test_the_date_header_places_the_log_on_twilio_clock() -> None:
    times = [T0 + timedelta(seconds=s) for s in (10.25, 70.5, 130.75, 190.1)]
    sends = pa.table(
        {
            "time": pa.array([t + timedelta(seconds=42) for t in times], pa.timestamp("us", "UTC")),
            "twilio_time": pa.array(
                [t.replace(microsecond=0) for t in times], pa.timestamp("us", "UTC")
            ),
            "to": pa.array([None] * 4, pa.string()),
            "message_sid": pa.array([None] * 4, pa.string()),
        }
    )
    records = pa.table({"sid": ["SM1"], "to": ["+1"], "us": [0]})
    estimate = estimate_skew(sends, records, "time_only")
    assert estimate.method == "date_header"
    assert abs(estimate.seconds - 42.0) < 0.5


@pytest.mark.parametrize(
    ("written", "mode"),
    [
        (lambda to: to.lstrip("+"), "recipient_time"),  # no "+"
        (lambda to: f"{to[:2]} {to[2:5]}-{to[5:]}", "recipient_time"),  # spaces and dashes
        (lambda to: "redacted", "time_only"),
        (lambda to: "+4420" + to[-7:], "time_only"),  # another account's recipients
    ],
    ids=["no-plus", "formatted", "redacted", "other-account"],
)
@pytest.mark.parametrize("infer_string", [False, True], ids=["object", "string-dtype"])
def test_recipients_written_another_way(written: Any, mode: str, infer_string: bool) -> None:
    t = Traffic()
    t.post(600.2, to="+15551230001", status=429)
    t.send(601.2, "+15551230001", "your code is 1234", [601.5, 601.9])
    t.send(1200.1, "+15551230002", "welcome", [1200.3])
    t.send(1200.6, "+15551230002", "welcome", [1200.8])
    for r in t.requests:
        r["to"] = written(r["to"])
    with pd.option_context("future.infer_string", infer_string):
        verdicts, result = t.judge()
    assert result.mode == mode
    assert verdicts["your code is 1234"]["verdict"] == Verdict.TWILIO_SIDE
    assert verdicts["welcome"]["verdict"] == Verdict.APP_SIDE
    unused = [w for w in result.warnings if "recipients in the request logs" in w]
    assert bool(unused) == (mode == "time_only")


def test_recipient_key_forms() -> None:
    values = pa.array(
        ["+1 (232) 812-8904", "12328128904", "0012328128904", "whatsapp:+12328128904",
         "redacted", "", None]
    )  # fmt: skip
    assert recipient_key(values).to_pylist() == [
        "+12328128904", "+12328128904", "+12328128904", "whatsapp:+12328128904",
        None, None, None,
    ]  # fmt: skip
