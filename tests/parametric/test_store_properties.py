"""Property test: upserts by sid keep the newest date_updated, like a plain dict fold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.store import read_messages, write_messages

BASE = datetime(2026, 11, 29, 23, 59, tzinfo=UTC)

rows = st.fixed_dictionaries(
    {
        "sid": st.sampled_from([f"SM{i:032x}" for i in range(6)]),
        "created": st.integers(0, 120),  # crosses midnight: two day partitions
        "updated": st.one_of(st.none(), st.integers(0, 5)),
        "status": st.sampled_from(["queued", "sent", "delivered", "failed"]),
    }
)


def batch(items: list[dict[str, Any]]) -> pa.Table:
    records = [
        {
            "sid": r["sid"],
            # A message's creation time never changes; derive it from the sid.
            "date_created": BASE + timedelta(seconds=int(r["sid"][-2:], 16) * 20),
            "date_updated": None if r["updated"] is None else BASE + timedelta(r["updated"]),
            "status": r["status"],
            "direction": "outbound-api",
        }
        for r in items
    ]
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in records], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


def newer_or_equal(new: Any, old: Any) -> bool:
    if old is None:
        return True
    return new is not None and new >= old


@settings(max_examples=80, deadline=None)
@given(writes=st.lists(st.lists(rows, max_size=8), min_size=1, max_size=4))
def test_upserts_match_a_dict_fold(
    tmp_path_factory: pytest.TempPathFactory, writes: list[list[dict[str, Any]]]
) -> None:
    folder = tmp_path_factory.mktemp("ds")
    expected: dict[str, tuple[Any, str]] = {}
    for items in writes:
        write_messages(folder, batch(items))
        for r in items:  # later rows of one write win ties, as later writes do
            old = expected.get(r["sid"])
            if old is None or newer_or_equal(r["updated"], old[0]):
                expected[r["sid"]] = (r["updated"], r["status"])
    table = read_messages(folder, columns=["sid", "status"]).to_pylist()
    assert sorted(table, key=lambda r: r["sid"]) == [
        {"sid": sid, "status": status} for sid, (_, status) in sorted(expected.items())
    ]
