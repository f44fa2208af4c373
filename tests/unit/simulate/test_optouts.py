"""The opt-outs the simulator plants: the truth in simulation.json against the records,
checked with a plain replay written here, and the data planted before left as it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analyzer.simulate import simulate
from tests.unit.simulate.helpers import RICH, load_run

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN = {"START", "YES", "UNSTOP"}
HELP = {"HELP", "INFO"}
REFUSED = 21610


def _word(body: Any) -> str:
    return body.strip().upper() if isinstance(body, str) else ""


def _kind(body: Any) -> str | None:
    word = _word(body)
    return next((k for k, words in KINDS.items() if word in words), None)


KINDS = {"opt_out": OPT_OUT, "opt_in": OPT_IN, "help": HELP}


def _with_scope(messages: pd.DataFrame) -> pd.DataFrame:
    inbound = messages["direction"] == "inbound"
    number = messages["to"].where(inbound, messages["from"])
    return messages.assign(
        inbound=inbound,
        recipient=messages["from"].where(inbound, messages["to"]),
        scope=messages["messaging_service_sid"].fillna(number),
    )


def _replay(messages: pd.DataFrame) -> dict[str, Any]:
    """Twilio's rules, one record at a time."""
    frame = _with_scope(messages).reset_index(drop=True)
    frame = frame.assign(row=frame.index, outbound=~frame["inbound"])
    frame = frame.sort_values(["date_created", "outbound", "row"])
    opted_out: dict[tuple[str, str], bool] = {}
    blocked: list[str] = []
    sent: list[str] = []
    inferred: set[tuple[str, str]] = set()
    re_opt_ins = 0
    for row in frame.itertuples(index=False):
        key = (str(row.scope), str(row.recipient))
        if row.inbound:
            kind = _kind(row.body)
            if kind == "opt_in" and opted_out.get(key):
                re_opt_ins += 1
            if kind in ("opt_out", "opt_in"):
                opted_out[key] = kind == "opt_out"
        elif opted_out.get(key):
            (blocked if row.error_code == REFUSED else sent).append(str(row.sid))
        elif row.error_code == REFUSED:
            inferred.add(key)
    return {
        "blocked_sids": sorted(blocked, key=list(messages["sid"]).index),
        "sent_after_opt_out_sids": sorted(sent, key=list(messages["sid"]).index),
        "inferred": [{"recipient": r, "scope": s} for s, r in sorted(inferred)],
        "suppressed_at_end": [
            {"scope": s, "recipient": r} for (s, r), out in sorted(opted_out.items()) if out
        ],
        "re_opt_ins": re_opt_ins,
    }


@pytest.fixture(scope="module")
def optouts(rich: dict[str, Any]) -> dict[str, Any]:
    return dict(rich["meta"]["optouts"])


def test_the_truth_is_what_a_plain_replay_of_the_records_gives(
    rich: dict[str, Any], optouts: dict[str, Any]
) -> None:
    expected = _replay(rich["messages"])
    assert {k: optouts[k] for k in expected} == expected
    # Every scenario is there.
    assert optouts["re_opt_ins"] >= 1
    assert len(optouts["blocked_sids"]) >= 5 and len(optouts["sent_after_opt_out_sids"]) >= 1
    assert len(optouts["inferred"]) >= 2 and optouts["suppressed_at_end"]


def test_events_are_the_inbound_keyword_records(
    rich: dict[str, Any], optouts: dict[str, Any]
) -> None:
    messages = rich["messages"].set_index("sid")
    inbound = messages[messages["direction"] == "inbound"]
    keyword_sids = [sid for sid, body in inbound["body"].items() if _kind(body)]
    events = optouts["events"]
    assert [e["sid"] for e in events] == keyword_sids
    for event in events:
        body = messages.loc[event["sid"], "body"]
        assert _word(body) == event["keyword"] and _kind(body) == event["kind"]
    kinds = {e["kind"] for e in events}
    assert kinds == {"opt_out", "opt_in", "help"}
    # Mixed case and surrounding spaces count.
    bodies = set(inbound.loc[keyword_sids, "body"])
    assert {"stop", " Stop ", "sToP", "UNSUBSCRIBE", "START", "YES", "UNSTOP"} <= bodies


def test_near_misses_are_inbound_and_no_keyword(
    rich: dict[str, Any], optouts: dict[str, Any]
) -> None:
    messages = rich["messages"].set_index("sid")
    near = messages.loc[optouts["near_miss_sids"]]
    assert (near["direction"] == "inbound").all()
    assert not near["body"].map(_kind).notna().any()
    assert near["body"].str.upper().str.contains("STOP").all()
    assert {"STOP.", "stop texting me", "STOP ALL", "Please stop"} <= set(near["body"])


def test_sends_after_an_opt_out_by_verdict(rich: dict[str, Any], optouts: dict[str, Any]) -> None:
    messages = rich["messages"].set_index("sid")
    blocked = messages.loc[optouts["blocked_sids"]]
    assert (blocked["error_code"] == REFUSED).all() and (blocked["status"] == "failed").all()
    assert blocked["date_sent"].isna().all() and blocked["price"].isna().all()
    sent = messages.loc[optouts["sent_after_opt_out_sids"]]
    assert (sent["error_code"] != REFUSED).all() and sent["direction"].str.startswith("out").all()
    planted = set(rich["truth"].loc[rich["truth"]["scenario"] == "opt_out", "sid"])
    assert planted & set(sent.index) and sent["status"].isin(["delivered", "sent"]).any()


def test_an_opt_out_covers_its_messaging_service_but_not_a_lone_number(
    rich: dict[str, Any], optouts: dict[str, Any]
) -> None:
    frame = _with_scope(rich["messages"]).set_index("sid")
    opt_outs = frame.loc[[e["sid"] for e in optouts["events"] if e["kind"] == "opt_out"]]
    assert optouts["service_wide_sids"]
    for sid in optouts["service_wide_sids"]:
        send = frame.loc[sid]
        assert sid in optouts["blocked_sids"] and isinstance(send["messaging_service_sid"], str)
        stops = opt_outs[
            (opt_outs["recipient"] == send["recipient"])
            & (opt_outs["messaging_service_sid"] == send["messaging_service_sid"])
            & (opt_outs["date_created"] < send["date_created"])
        ]
        assert len(stops) and (stops["to"] != send["from"]).all()
    assert optouts["other_scope_sids"]
    flagged = set(optouts["blocked_sids"]) | set(optouts["sent_after_opt_out_sids"])
    for sid in optouts["other_scope_sids"]:
        send = frame.loc[sid]
        assert sid not in flagged and send["status"] == "delivered"
        stops = opt_outs[
            (opt_outs["recipient"] == send["recipient"])
            & opt_outs["messaging_service_sid"].isna()
            & (opt_outs["date_created"] < send["date_created"])
        ]
        assert len(stops) and (stops["to"] != send["from"]).all()


def test_inferred_opt_outs_have_a_refusal_and_no_keyword(
    rich: dict[str, Any], optouts: dict[str, Any]
) -> None:
    frame = _with_scope(rich["messages"])
    for pair in optouts["inferred"]:
        pair_rows = (frame["recipient"] == pair["recipient"]) & (frame["scope"] == pair["scope"])
        theirs = frame[pair_rows]
        assert (theirs["error_code"] == REFUSED).any()
        first = theirs.loc[theirs["error_code"] == REFUSED, "date_created"].min()
        earlier = theirs[theirs["inbound"] & (theirs["date_created"] <= first)]
        assert not earlier["body"].map(_kind).eq("opt_out").any()


def test_planted_records_come_on_top_with_their_posts(rich: dict[str, Any]) -> None:
    records, log = rich["records"], rich["log"]
    planted = records[records["scenario"] == "opt_out"]
    assert len(planted) == rich["meta"]["records"]["opt_out"] > 0
    assert (planted["group_id"].isna() & planted["expected_verdict"].isna()).all()
    inbound = planted["direction"] == "inbound"
    assert (planted.loc[inbound, "status"] == "received").all()
    assert (planted.loc[inbound, "posts"] == 0).all()
    sends = planted[~inbound]
    assert (sends["direction"] == "outbound-api").all() and (sends["posts"] == 1).all()
    assert sends["body"].str.len().gt(0).all()
    posted = log.loc[log["method"] == "POST", "message_sid"].value_counts()
    covered = sends.loc[sends["covered"], "sid"]
    assert (posted.reindex(covered).fillna(0) == 1).all()
    assert not posted.index.isin(sends.loc[~sends["covered"], "sid"]).any()


def _without_optouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr("analyzer.simulate.plan.plant_optouts", lambda *args: None)
        simulate(tmp_path, RICH)
    return load_run(tmp_path)


def _not_planted(run: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    keep = run["truth"]["scenario"] != "opt_out"
    return (
        run["messages"][keep].reset_index(drop=True),
        run["truth"][keep].reset_index(drop=True),
    )


def test_planting_changes_only_the_sends_after_an_opt_out(
    rich: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _without_optouts(tmp_path, monkeypatch)
    after_messages, after_truth = _not_planted(rich)
    pd.testing.assert_frame_equal(after_truth, before["truth"])
    assert rich["complaints"] == before["complaints"]
    # Sends to a recipient who had opted out (in the data before) became refusals.
    changed = (after_messages["status"] != before["messages"]["status"]).to_numpy()
    refused = after_messages[changed]
    assert (refused["error_code"] == REFUSED).all() and (refused["status"] == "failed").all()
    assert set(refused["sid"]) <= set(rich["meta"]["optouts"]["blocked_sids"])
    refusal_columns = ["status", "error_code", "error_message", "price", "date_sent"]
    pd.testing.assert_frame_equal(
        after_messages[~changed].reset_index(drop=True),
        before["messages"][~changed].reset_index(drop=True),
    )
    pd.testing.assert_frame_equal(
        after_messages.drop(columns=[*refusal_columns, "date_updated"]),
        before["messages"].drop(columns=[*refusal_columns, "date_updated"]),
    )
    # The failures counted: the same, but the refusals.
    old, new = before["meta"], rich["meta"]
    codes = dict(old["failures_by_error_code"])
    codes[str(REFUSED)] = codes.get(str(REFUSED), 0) + int(
        (rich["truth"]["scenario"].eq("opt_out") & rich["messages"]["error_code"].eq(REFUSED)).sum()
        + len(refused)
    )
    assert new["failures_by_error_code"] == codes
    assert new["failure_jump"] == old["failure_jump"]
    assert new["permanent_failure_recipients"] == old["permanent_failure_recipients"]
    # The log: the lines there were, and the POSTs of the planted sends.
    planted = set(rich["truth"].loc[rich["truth"]["scenario"] == "opt_out", "sid"])
    lines = [line for line in rich["lines"] if not any(sid in line for sid in planted)]
    assert lines == before["lines"]
    posts = len(rich["lines"]) - len(lines)
    assert new["rejected_requests"] == {
        **old["rejected_requests"],
        "posts": old["rejected_requests"]["posts"] + posts,
    }


def test_optouts_draw_from_their_own_generator(
    rich: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another opt-out generator changes the planted records only."""
    monkeypatch.setattr(
        "analyzer.simulate.optouts.optout_rng", lambda seed: np.random.default_rng([seed, 2])
    )
    simulate(tmp_path, RICH)
    other = load_run(tmp_path)
    for got, expected in zip(_not_planted(other), _not_planted(rich), strict=True):
        pd.testing.assert_frame_equal(got, expected)
    assert other["meta"]["optouts"]["events"] != rich["meta"]["optouts"]["events"]

    def unplanted(run: dict[str, Any]) -> list[str]:
        planted = set(run["truth"].loc[run["truth"]["scenario"] == "opt_out", "sid"])
        return [line for line in run["lines"] if not any(sid in line for sid in planted)]

    assert unplanted(other) == unplanted(rich)
