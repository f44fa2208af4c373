"""The simulated jsonl request log and the complaints, against the truth."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd

from tests.unit.simulate.helpers import GAP_END, GAP_START, SKEW, planted_groups


def _in_gap(ts: pd.Series) -> pd.Series:
    tod = ts.dt.hour * 3600 + ts.dt.minute * 60 + ts.dt.second + ts.dt.microsecond / 1e6
    start = GAP_START.hour * 3600 + GAP_START.minute * 60
    end = GAP_END.hour * 3600 + GAP_END.minute * 60
    return (tod >= start) & (tod < end)


def test_log_lines_are_well_formed_sorted_and_outside_the_gap(rich: dict[str, Any]) -> None:
    log, lines = rich["log"], rich["lines"]
    assert log["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert log["ts"].is_monotonic_increasing
    assert not _in_gap(log["ts"]).any()
    assert 1 <= len(rich["malformed"]) <= max(1, len(lines) // 2000)
    assert set(log.columns) >= {
        "timestamp",
        "method",
        "url",
        "status",
        "duration_ms",
        "to",
        "message_sid",
        "request_id",
        "error",
    }
    account = rich["messages"]["account_sid"].iloc[0]
    base = f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages"
    post, get = log[log["method"] == "POST"], log[log["method"] == "GET"]
    assert len(post) + len(get) == len(log) and len(get) > 0
    assert (post["url"] == base + ".json").all()
    assert (get["url"] == base + "/" + get["message_sid"] + ".json").all()
    assert get["to"].isna().all() and (get["status"] == 200).all()
    answered = log["status"].notna()
    assert log.loc[answered, "request_id"].str.fullmatch(r"RQ[0-9a-f]{32}").all()
    assert log.loc[~answered, "request_id"].isna().all()
    refused = post["error_code"].notna()
    assert set(post.loc[~refused, "status"].dropna().astype(int)) <= {201, 500, 503}
    assert (post["status"].isin([500, 503]).sum()) <= len(post) // 100
    # POSTs Twilio refused: a 4xx with Twilio's code, no record; only they carry a code.
    assert set(post.loc[refused, "status"].astype(int)) <= {400, 429}
    assert post.loc[refused, "message_sid"].isna().all()
    assert (post.loc[refused, "error"] == "TwilioRestException").all()
    assert rich["meta"]["rejected_requests"]["rejected"] == refused.sum() >= 1
    assert not post.loc[~refused, "status"].between(400, 499).any()


def test_post_lines_account_for_truth(rich: dict[str, Any]) -> None:
    r, log = rich["records"], rich["log"]
    # Refused POSTs made no record: their recipients have none (the run is one day long).
    refused = log[(log["method"] == "POST") & log["error_code"].notna()]
    assert len(refused) and not set(refused["to"]) & (set(r["to"]) | set(r["from"]))
    post = log[(log["method"] == "POST") & log["error_code"].isna()]
    assert len(post) == r.loc[r["covered"], "posts"].sum()
    # Records not covered have no line at all.
    assert not set(log["message_sid"].dropna()) & set(r.loc[~r["covered"], "sid"])
    ok = post[post["status"] == 201].set_index("message_sid")
    posted = r[(r["posts"] == 1) & r["covered"]].set_index("sid")
    answered = posted.index.intersection(ok.index)
    assert len(answered) == len(ok)
    delta = (ok.loc[answered, "ts"] - posted.loc[answered, "date_created"]).dt.total_seconds()
    assert delta.between(SKEW - 0.3, SKEW + 1.0).all()
    assert (ok.loc[answered, "to"] == posted.loc[answered, "to"]).all()
    unanswered = posted.index.difference(ok.index)
    assert set(r.loc[r["sid"].isin(unanswered), "scenario"]) == {"app_retry_timeout"}


def test_retry_groups_time_out_before_the_last_attempt(rich: dict[str, Any]) -> None:
    log = rich["log"]
    post = log[log["method"] == "POST"]
    checked = 0
    for frame in planted_groups(rich["records"]).values():
        if frame["scenario"].iloc[0] != "app_retry_timeout" or not frame["covered"].all():
            continue
        start = frame["date_created"].min() - timedelta(seconds=5)
        end = frame["date_created"].max() + timedelta(seconds=5)
        attempts = post[(post["to"] == frame["to"].iloc[0]) & post["ts"].between(start, end)]
        assert len(attempts) == len(frame)
        failed, last = attempts.iloc[:-1], attempts.iloc[-1]
        assert last["status"] == 201 and last["message_sid"] == frame["sid"].iloc[-1]
        assert failed["message_sid"].isna().all()
        timed_out = failed["error"] == "ReadTimeout"
        assert (failed["status"].isna() == timed_out).all()
        gap = frame["date_created"].diff().dt.total_seconds().iloc[1]
        assert ((failed.loc[timed_out, "duration_ms"] / 1000 - gap).between(-2.1, 0.1)).all()
        checked += 1
    assert checked >= 5


def test_twilio_side_has_one_post_carrying_the_first_sid(rich: dict[str, Any]) -> None:
    log = rich["log"]
    post = log[log["method"] == "POST"]
    for frame in planted_groups(rich["records"]).values():
        if frame["scenario"].iloc[0] != "twilio_side" or not frame["covered"].all():
            continue
        lines = post[post["to"] == frame["to"].iloc[0]]
        near = lines[(lines["ts"] - frame["date_created"].min()).abs() < pd.Timedelta("1min")]
        assert len(near) == 1
        assert near["message_sid"].iloc[0] == frame.loc[frame["posts"] == 1, "sid"].iloc[0]


def test_complaints_point_at_carrier_and_app_side_recipients(rich: dict[str, Any]) -> None:
    r, complaints = rich["records"], rich["complaints"]
    assert complaints and set(complaints[0]) == {"to", "reported_at", "note"}
    carrier = r[r["scenario"] == "carrier_side"]
    app = r[
        r["expected_verdict"].eq("app_side")
        | (r["scenario"].isin(["app_retry_timeout", "double_submit", "queue_redelivery"]))
    ]
    first_seen = r.groupby("to")["date_created"].min()
    kinds = defaultdict(int)
    for row in complaints:
        reported = datetime.strptime(row["reported_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert reported > first_seen[row["to"]]
        if row["to"] in set(carrier["to"]):
            kinds["carrier"] += 1
        else:
            assert row["to"] in set(app["to"])
            kinds["app"] += 1
        assert row["note"]
    assert kinds["carrier"] == len(carrier) and kinds["app"] == 2
    assert [c["reported_at"] for c in complaints] == sorted(c["reported_at"] for c in complaints)
