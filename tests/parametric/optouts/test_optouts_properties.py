"""The opt-out state machine against a plain, record-by-record reference."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.optouts import find_optouts
from analyzer.optouts.keywords import DEFAULT_HELP, DEFAULT_OPT_IN, DEFAULT_OPT_OUT
from analyzer.schema import coerce_messages

START = datetime(2026, 11, 29, tzinfo=UTC)
#: Our numbers: two in service MG1, one in no service, one WhatsApp sender in no service.
NUMBERS = {"+100": "MG1", "+101": "MG1", "+200": None, "whatsapp:+200": None}
RECIPIENTS = ["+441", "+442", "whatsapp:+441"]
BODIES = ["stop", " Stop ", "sToP", "UNSUBSCRIBE", "START", "yes", "HELP", "STOP.",
          "stop texting me", "STOP ALL", "hello", "end"]  # fmt: skip

inbound = st.fixed_dictionaries(
    {
        "kind": st.just("in"),
        "number": st.sampled_from(sorted(NUMBERS)),
        "recipient": st.sampled_from(RECIPIENTS),
        "body": st.sampled_from(BODIES),
        "minute": st.integers(0, 30),
    }
)
outbound = st.fixed_dictionaries(
    {
        "kind": st.just("out"),
        "number": st.sampled_from(sorted(NUMBERS)),
        "recipient": st.sampled_from(RECIPIENTS),
        "blocked": st.booleans(),
        "minute": st.integers(0, 30),
    }
)


def _records(events: list[dict]) -> pd.DataFrame:
    rows = []
    for i, e in enumerate(events):
        service = NUMBERS[e["number"]]
        base = {"sid": f"SM{i:032x}", "account_sid": "AC" + "0" * 32,
                "messaging_service_sid": service,
                "date_created": START + timedelta(minutes=e["minute"])}  # fmt: skip
        if e["kind"] == "in":
            rows.append({**base, "direction": "inbound", "from": e["recipient"],
                         "to": e["number"], "body": e["body"], "status": "received"})  # fmt: skip
        else:
            rows.append({**base, "direction": "outbound-api", "from": e["number"],
                         "to": e["recipient"], "body": "hi",
                         "status": "failed" if e["blocked"] else "delivered",
                         "error_code": 21610 if e["blocked"] else None})  # fmt: skip
    return pd.DataFrame(rows)


def _reference(frame: pd.DataFrame) -> dict:
    """Walk the records in time order (an inbound keyword first at the same instant)."""
    state: dict[tuple[str, str], tuple[bool, object, str]] = {}
    sends, inferred, kinds, re_opt_ins = {}, Counter(), Counter(), 0
    order = frame.assign(inbound_first=frame["direction"] != "inbound")
    for r in order.sort_values(["date_created", "inbound_first", "sid"]).itertuples():
        service = r.messaging_service_sid if isinstance(r.messaging_service_sid, str) else None
        if r.direction == "inbound":
            word = r.body.strip().upper()
            key = (service or r.to, r.sender)
            opted = state.get(key, (False, None, ""))[0]
            if word in DEFAULT_OPT_OUT:
                kinds["opt_out"] += 1
                if not opted:
                    state[key] = (True, r.date_created, word)
            elif word in DEFAULT_OPT_IN:
                kinds["opt_in"] += 1
                if opted:
                    state[key] = (False, None, "")
                    re_opt_ins += 1
            elif word in DEFAULT_HELP:
                kinds["help"] += 1
            continue
        scopes = [r.sender] + ([service] if service else [])
        hit = [s for s in scopes if state.get((s, r.to), (False,))[0]]
        if hit:
            scope = hit[-1]
            verdict = "blocked" if r.error_code == 21610 else "sent_after_opt_out"
            sends[r.sid] = (scope, state[(scope, r.to)][1], verdict)
        elif r.error_code == 21610:
            inferred[(r.to, service or r.sender)] += 1
    suppressed = {(s, rcpt): v[2] for (s, rcpt), v in state.items() if v[0]}
    return {"sends": sends, "inferred": dict(inferred), "kinds": dict(kinds),
            "re_opt_ins": re_opt_ins, "suppressed": suppressed}  # fmt: skip


@settings(max_examples=80, deadline=None)
@given(st.lists(st.one_of(inbound, outbound), min_size=1, max_size=30))
def test_the_state_machine_equals_a_record_by_record_walk(events: list[dict]) -> None:
    frame = _records(events)
    table = coerce_messages(frame, fill_missing=True)
    found = find_optouts(lambda columns: table.select(list(columns)).to_batches(max_chunksize=4))
    expected = _reference(frame.rename(columns={"from": "sender"}))
    sends = found.tables["optout_sends.parquet"]
    got = {r.sid: (r.scope, r.opted_out_at, r.verdict) for r in sends.itertuples()}
    assert got == expected["sends"]
    inferred = found.tables["inferred_opt_outs.csv"]
    assert {(r.recipient, r.scope): r.blocked_sends for r in inferred.itertuples()} == expected[
        "inferred"
    ]
    suppression = found.tables["suppression.csv"]
    assert {(r.scope, r.recipient): r.keyword for r in suppression.itertuples()} == expected[
        "suppressed"
    ]
    assert found.summary.events_by_kind == expected["kinds"]
    assert found.summary.re_opt_ins == expected["re_opt_ins"]
    assert found.summary.blocked + found.summary.sent_after_opt_out == len(expected["sends"])
