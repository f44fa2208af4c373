"""Property tests: the vectorized detector agrees with the brute-force reference."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.duplicates.detect import SENSITIVITY_WINDOWS, detect_batches, find_duplicates
from analyzer.engines import detect_path
from analyzer.schema import HANDSET_STATUSES, MESSAGE_SCHEMA, NOT_SENT_STATUSES
from analyzer.store import scan_messages, write_messages
from tests.unit.duplicates.reference import (
    NOT_SENT,
    REACHED,
    brute_force_clusters,
    brute_force_reached_extra,
)

BASE = datetime(2026, 11, 29, tzinfo=UTC)

# Few distinct values so collisions, ties and exact-window gaps are common.
recipients = st.sampled_from(["+14155550100", "+447700900123", "+4915112345678", None])
bodies = st.sampled_from(["Your code is 1234", "Ünïcødé ✓ 😀", "a", "", None, "A"])
senders = st.sampled_from(["+15005550006", "+15005550007", None])
directions = st.sampled_from(["outbound-api", "outbound-api", "outbound-reply", "inbound", None])
statuses = st.sampled_from(
    [
        "delivered",
        "sent",
        "read",
        "failed",
        "undelivered",
        "queued",
        "accepted",
        "canceled",
        "scheduled",
        None,
    ]
)


@st.composite
def message_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    n = draw(st.integers(min_value=0, max_value=40))
    sids = draw(
        st.lists(
            st.text(alphabet="0123456789abcdef", min_size=4, max_size=4),
            min_size=n,
            max_size=n,
            unique=True,
        )
    )
    records = []
    for sid in sids:
        records.append(
            {
                "sid": "SM" + sid,
                "to": draw(recipients),
                "body": draw(bodies),
                "from": draw(senders),
                "direction": draw(directions),
                "date_created": BASE + timedelta(seconds=draw(st.integers(0, 120))),
                "status": draw(statuses),
            }
        )
    return records


def to_table(records: list[dict[str, Any]]) -> pa.Table:
    columns = {}
    for field in MESSAGE_SCHEMA:
        columns[field.name] = pa.array([r.get(field.name) for r in records], type=field.type)
    return pa.table(columns, schema=MESSAGE_SCHEMA)


windows = st.sampled_from([0, 1, 5, 10, 30, 60, 2.5])


@settings(max_examples=300, deadline=None)
@given(records=message_records(), window=windows)
def test_clusters_match_brute_force(records: list[dict[str, Any]], window: float) -> None:
    detection = find_duplicates(to_table(records), window=window)
    assert detection.clusters["sids"].to_pylist() == brute_force_clusters(records, window)


@settings(max_examples=150, deadline=None)
@given(records=message_records(), window=windows)
def test_configurable_key_matches_brute_force(records: list[dict[str, Any]], window: float) -> None:
    key = ("to", "body", "from")
    detection = find_duplicates(to_table(records), window=window, key=key)
    assert detection.clusters["sids"].to_pylist() == brute_force_clusters(records, window, key)


@settings(max_examples=150, deadline=None)
@given(records=message_records(), window=windows)
def test_cluster_columns_are_consistent(records: list[dict[str, Any]], window: float) -> None:
    clusters = find_duplicates(to_table(records), window=window).clusters.to_pylist()
    by_sid = {r["sid"]: r for r in records}
    for cluster in clusters:
        members = [by_sid[s] for s in cluster["sids"]]
        times = [m["date_created"] for m in members]
        assert cluster["cluster_id"] == cluster["sids"][0]
        assert cluster["n_records"] == len(members) >= 2
        assert cluster["first_created"] == times[0] and cluster["last_created"] == times[-1]
        assert cluster["span_seconds"] == (times[-1] - times[0]).total_seconds()
        assert cluster["gaps_seconds"] == [
            (b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)
        ]
        assert all(g <= window for g in cluster["gaps_seconds"])
        assert cluster["from_numbers"] == [m["from"] for m in members]
        assert {cluster["to"]} == {m["to"] for m in members}
        assert {cluster["body"]} == {m["body"] for m in members}


@settings(max_examples=150, deadline=None)
@given(records=message_records(), window=windows)
def test_sensitivity_matches_brute_force(records: list[dict[str, Any]], window: float) -> None:
    table = find_duplicates(to_table(records), window=window).sensitivity
    assert set(SENSITIVITY_WINDOWS) <= set(table["window_seconds"])
    for row in table.itertuples():
        expected = brute_force_clusters(records, row.window_seconds)
        assert row.duplicate_clusters == len(expected)
        assert row.extra_messages == sum(len(c) - 1 for c in expected)
    assert table.loc[table["selected"], "window_seconds"].tolist() == [float(window)]


@settings(max_examples=100, deadline=None)
@given(records=message_records(), window=windows)
def test_summary_counts(records: list[dict[str, Any]], window: float) -> None:
    summary = find_duplicates(to_table(records), window=window).summary
    outbound = [r for r in records if (r["direction"] or "").startswith("outbound")]
    assert summary.messages == len(records)
    assert summary.outbound_messages == len(outbound)
    assert summary.skipped_no_body == sum(1 for r in outbound if not r["body"])
    assert summary.skipped_not_sent == sum(
        1 for r in outbound if r["body"] and r["status"] in NOT_SENT
    )
    assert summary.candidate_messages == (
        summary.outbound_messages - summary.skipped_no_body - summary.skipped_not_sent
    )
    expected = brute_force_clusters(records, window)
    assert summary.duplicate_clusters == len(expected)
    assert summary.extra_messages == sum(len(c) - 1 for c in expected)
    assert summary.extra_reached_handset == brute_force_reached_extra(records, expected)
    assert 0 <= summary.extra_reached_handset <= summary.extra_messages


def test_reference_statuses_are_the_schema_constants() -> None:
    assert set(NOT_SENT) == set(NOT_SENT_STATUSES)
    assert set(REACHED) == set(HANDSET_STATUSES)


@settings(max_examples=60, deadline=None)
@given(records=message_records(), window=windows, batch_size=st.integers(1, 7))
def test_batch_by_batch_detection_matches_brute_force(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[dict[str, Any]],
    window: float,
    batch_size: int,
) -> None:
    # Records span two UTC days, so clusters cross files as well as batches.
    shifted = [{**r, "date_created": r["date_created"] - timedelta(seconds=60)} for r in records]
    folder = tmp_path_factory.mktemp("ds")
    write_messages(folder, to_table(shifted))
    scan = scan_messages(folder, batch_size=batch_size)
    detection = detect_batches(scan.batches, window=window)
    assert detection is not None
    assert detection.clusters["sids"].to_pylist() == brute_force_clusters(shifted, window)
    in_memory = find_duplicates(to_table(shifted), window=window)
    assert detection.clusters.equals(in_memory.clusters)
    assert detection.summary == in_memory.summary
    assert detection.sensitivity.equals(in_memory.sensitivity)


@settings(max_examples=40, deadline=None)
@given(records=message_records(), window=windows)
def test_single_file_day_bounds_match_filtering_first(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], window: float
) -> None:
    path = tmp_path_factory.mktemp("file") / "m.parquet"
    shifted = [{**r, "date_created": r["date_created"] - timedelta(seconds=60)} for r in records]
    pq.write_table(to_table(shifted), path)
    scan = scan_messages(path, start="2026-11-29", end="2026-11-29", batch_size=4)
    detection = detect_batches(scan.batches, window=window, bounds=scan.bounds)
    assert detection is not None
    inside = [r for r in shifted if r["date_created"] >= BASE]
    assert detection.clusters["sids"].to_pylist() == brute_force_clusters(inside, window)
    assert detection.summary.messages == len(inside)


@settings(max_examples=60, deadline=None)
@given(records=message_records(), window=windows, cut=st.integers(0, 120))
def test_focus_keeps_clusters_starting_inside_and_sees_them_whole(
    tmp_path_factory: pytest.TempPathFactory,
    records: list[dict[str, Any]],
    window: float,
    cut: int,
) -> None:
    path = tmp_path_factory.mktemp("focus") / "m.parquet"
    pq.write_table(to_table(records), path)
    start = BASE + timedelta(seconds=cut)
    focus = (int(start.timestamp() * 1_000_000), None)
    scan = scan_messages(path, batch_size=5)
    detection = detect_batches(scan.batches, window=window, focus=focus)
    assert detection is not None
    by_sid = {r["sid"]: r for r in records}
    expected = [
        c for c in brute_force_clusters(records, window) if by_sid[c[0]]["date_created"] >= start
    ]
    assert detection.clusters["sids"].to_pylist() == expected
    inside = [r for r in records if r["date_created"] >= start]
    assert detection.summary.messages == len(inside)
    row = detection.sensitivity.loc[detection.sensitivity["selected"]].iloc[0]
    assert row["duplicate_clusters"] == len(expected)
    assert row["records_in_clusters"] == sum(len(c) for c in expected)


MIDNIGHTS = [BASE + timedelta(days=d) for d in range(1, 4)]
moments = st.one_of(
    st.integers(0, 4 * 86_400).map(lambda s: BASE + timedelta(seconds=s)),
    st.tuples(st.sampled_from(MIDNIGHTS), st.integers(-90, 90)).map(
        lambda p: p[0] + timedelta(seconds=p[1])
    ),
)


@st.composite
def multi_day_records(draw: st.DrawFn) -> list[dict[str, Any]]:
    records = draw(message_records())
    return [{**r, "date_created": draw(moments)} for r in records]


@settings(max_examples=40, deadline=None)
@given(
    records=multi_day_records(),
    window=st.sampled_from([5, 60, 3600, 2 * 86_400]),
)
def test_day_by_day_detection_over_a_range_equals_one_pass(
    tmp_path_factory: pytest.TempPathFactory, records: list[dict[str, Any]], window: float
) -> None:
    folder = tmp_path_factory.mktemp("days")
    write_messages(folder, to_table(records))
    if not records:
        return
    by_day = detect_path(folder, window=window)
    whole = find_duplicates(to_table(records), window=window)
    assert by_day.clusters["sids"].to_pylist() == brute_force_clusters(records, window)
    assert by_day.clusters.equals(whole.clusters)
    assert by_day.summary == whole.summary
    assert by_day.sensitivity.equals(whole.sensitivity)
