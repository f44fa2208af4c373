"""Failure counts, categories and the suppression list against a brute-force fold."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.failures import ERROR_CODES, find_failures
from analyzer.failures.codes import CATEGORY_ACTIONS
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.vocabulary import FailureCategory

START = datetime(2026, 11, 20, tzinfo=UTC)
CODES = [None, 30003, 30005, 21610, 30007, 21211, 30008, 99999]
STATUSES = ["delivered", "sent", "failed", "undelivered", "queued"]
RECIPIENTS = ["+447700900001", "+447700900002", "+12025550103", "whatsapp:+4915100000004"]

record = st.fixed_dictionaries(
    {
        "to": st.sampled_from(RECIPIENTS),
        "from": st.sampled_from(["+15550001", "+15550002"]),
        "status": st.sampled_from(STATUSES),
        "error_code": st.sampled_from(CODES),
        "direction": st.sampled_from(["outbound-api", "outbound-api", "inbound"]),
        "minute": st.integers(0, 60 * 24 * 3),
    }
)


def _table(records: list[dict]) -> pa.Table:
    rows = [
        {
            "sid": f"SM{i:032x}",
            "to": r["to"],
            "from": r["from"],
            "messaging_service_sid": None,
            "status": r["status"],
            "error_code": r["error_code"],
            "direction": r["direction"],
            "date_created": START + timedelta(minutes=r["minute"]),
        }
        for i, r in enumerate(records)
    ]
    names = ["sid", "to", "from", "messaging_service_sid", "status", "error_code",
             "direction", "date_created"]  # fmt: skip
    schema = pa.schema([MESSAGE_SCHEMA.field(n) for n in names])
    return pa.Table.from_pylist(rows, schema=schema)


def _scan(table: pa.Table, size: int = 7):  # type: ignore[no-untyped-def]
    return lambda columns: table.select(list(columns)).to_batches(max_chunksize=size)


def _category(code: int | None) -> str:
    row = ERROR_CODES.get(code) if code is not None else None
    return str(row.category) if row else str(FailureCategory.UNKNOWN)


@settings(max_examples=60, deadline=None)
@given(st.lists(record, max_size=40))
def test_counts_equal_a_fold_over_the_records(records: list[dict]) -> None:
    found = find_failures(_scan(_table(records)))
    out = [r for r in records if r["direction"].startswith("outbound")]
    failed = [r for r in out if r["status"] in ("failed", "undelivered")]
    summary = found.summary
    assert summary.outbound_messages == len(out)
    assert summary.failed == sum(r["status"] == "failed" for r in failed)
    assert summary.undelivered == sum(r["status"] == "undelivered" for r in failed)
    codes = Counter("none" if r["error_code"] is None else str(r["error_code"]) for r in failed)
    assert summary.by_error_code == dict(codes)
    assert summary.by_category == dict(Counter(_category(r["error_code"]) for r in failed))
    assert found.failures.num_rows == len(failed)
    by_day = found.rollups.by_day
    assert int(by_day["failures"].sum()) == len(failed)
    assert int(by_day["outbound_messages"].sum()) == len(out)
    assert int(found.rollups.by_sender["failures"].sum()) == len(failed)
    assert int(found.rollups.by_country["outbound_messages"].sum()) == len(out)


@settings(max_examples=60, deadline=None)
@given(st.lists(record, max_size=40))
def test_suppressed_are_those_whose_every_attempt_failed_for_good(records: list[dict]) -> None:
    found = find_failures(_scan(_table(records)))
    out = [r for r in records if r["direction"].startswith("outbound")]

    def permanent(r: dict) -> bool:
        row = ERROR_CODES.get(r["error_code"]) if r["error_code"] is not None else None
        return r["status"] in ("failed", "undelivered") and bool(row and row.permanent)

    expected = {
        to for to in {r["to"] for r in out} if all(permanent(r) for r in out if r["to"] == to)
    }
    assert set(found.suppress["recipient"]) == expected
    for row in found.suppress.itertuples():
        mine = [r for r in out if r["to"] == row.recipient]
        assert row.attempts == len(mine)
        assert row.opted_out == any(r["error_code"] == 21610 for r in mine)


def test_every_code_maps_to_exactly_one_known_category_with_an_action() -> None:
    assert set(CATEGORY_ACTIONS) == set(FailureCategory)
    for code, row in ERROR_CODES.items():
        assert row.code == code and row.category in FailureCategory and row.title
    required = [21211, 21408, 21606, 21610, 21611, 21612, 21614, 21617, 21635, 21660,
                *range(30001, 30011), 30017, 30018, 30019, 30022, 30023, 30024, 30027,
                *range(30032, 30039), 30040, 30041, 30043, 30450, 30453, 63016]  # fmt: skip
    assert [c for c in required if c not in ERROR_CODES] == []


@settings(max_examples=80, deadline=None)
@given(
    st.dictionaries(
        st.tuples(st.integers(20_000, 20_012), st.sampled_from(["30007", "30034", "none"])),
        st.integers(1, 60),
        max_size=30,
    ),
    st.one_of(st.none(), st.integers(20_000, 20_012)),
)
def test_jumps_equal_a_day_by_day_reference(counts: dict, day_from: int | None) -> None:
    import pandas as pd

    from analyzer.failures.rollups import (
        BASELINE_DAYS,
        JUMP_FACTOR,
        JUMP_MIN_COUNT,
        MIN_BASELINE_DAYS,
        find_jumps,
    )

    frame = pd.DataFrame(
        [
            {"day": d, "error_code": c, "category": "x", "failures": n}
            for (d, c), n in counts.items()
        ],
        columns=["day", "error_code", "category", "failures"],
    )
    got = {(j.error_code, j.day, j.count) for j in find_jumps(frame, day_from)}
    expected = set()
    if counts:
        first = min(d for d, _ in counts)
        for (day, code), n in counts.items():
            prior = [d for d in range(day - BASELINE_DAYS, day) if d >= first]
            if len(prior) < MIN_BASELINE_DAYS or (day_from is not None and day < day_from):
                continue
            baseline = sum(counts.get((d, code), 0) for d in prior) / len(prior)
            if n >= JUMP_MIN_COUNT and n >= JUMP_FACTOR * max(baseline, 1.0):
                when = (datetime(1970, 1, 1) + timedelta(days=day)).date().isoformat()
                expected.add((code, when, n))
    assert got == expected
