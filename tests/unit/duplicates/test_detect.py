"""Unit tests of duplicate detection: edge cases the property tests do not aim at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pytest

from analyzer.duplicates.clusters import extra_reached_handset
from analyzer.duplicates.detect import (
    Detection,
    combine_detections,
    detect_columns,
    find_duplicates,
)
from analyzer.duplicates.hashing import hash_column
from analyzer.errors import InputError, SchemaError
from analyzer.schema import MESSAGE_SCHEMA
from tests.unit.duplicates.reference import brute_force_clusters

BASE = datetime(2026, 11, 29, 12, tzinfo=UTC)


def table(records: list[dict[str, Any]]) -> pa.Table:
    defaults = {"direction": "outbound-api", "status": "delivered", "from": "+15005550006"}
    rows = [{**defaults, **r} for r in records]
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


def at(seconds: float) -> datetime:
    return BASE + timedelta(seconds=seconds)


def test_empty_input_gives_empty_clusters_and_zero_counts() -> None:
    result = find_duplicates(table([]), window=60)
    assert isinstance(result, Detection)
    assert result.clusters.num_rows == 0
    assert "sids" in result.clusters.column_names
    assert result.summary.messages == 0
    assert result.summary.duplicate_clusters == 0
    assert result.sensitivity["duplicate_clusters"].sum() == 0


def test_single_record_is_not_a_cluster() -> None:
    result = find_duplicates(
        table([{"sid": "SM1", "to": "+1", "body": "x", "date_created": at(0)}])
    )
    assert result.clusters.num_rows == 0
    assert result.summary.candidate_messages == 1


def test_gap_equal_to_window_is_inside() -> None:
    records = [
        {"sid": "SMa", "to": "+1", "body": "hi", "date_created": at(0)},
        {"sid": "SMb", "to": "+1", "body": "hi", "date_created": at(15)},
        {"sid": "SMc", "to": "+1", "body": "hi", "date_created": at(31)},
    ]
    assert find_duplicates(table(records), window=15).clusters["sids"].to_pylist() == [
        ["SMa", "SMb"]
    ]
    assert find_duplicates(table(records), window=16).clusters["sids"].to_pylist() == [
        ["SMa", "SMb", "SMc"]
    ]


def test_equal_timestamps_are_ordered_by_sid() -> None:
    records = [
        {"sid": "SMz", "to": "+1", "body": "hi", "date_created": at(0)},
        {"sid": "SMa", "to": "+1", "body": "hi", "date_created": at(0)},
        {"sid": "SMm", "to": "+1", "body": "hi", "date_created": at(0)},
    ]
    result = find_duplicates(table(records), window=0)
    assert result.clusters["sids"].to_pylist() == [["SMa", "SMm", "SMz"]]
    assert result.clusters["cluster_id"].to_pylist() == ["SMa"]
    assert result.clusters["gaps_seconds"].to_pylist() == [[0.0, 0.0]]


def test_media_only_and_inbound_are_left_out_and_counted() -> None:
    records = [
        {"sid": "SM1", "to": "+1", "body": None, "date_created": at(0)},
        {"sid": "SM2", "to": "+1", "body": "", "date_created": at(1)},
        {"sid": "SM3", "to": "+1", "body": "x", "date_created": at(1), "direction": "inbound"},
        {"sid": "SM4", "to": "+1", "body": "x", "date_created": at(2), "direction": "inbound"},
    ]
    result = find_duplicates(table(records))
    assert result.clusters.num_rows == 0
    assert result.summary.outbound_messages == 2
    assert result.summary.skipped_no_body == 2


def test_canceled_and_scheduled_are_left_out_and_counted() -> None:
    records = [
        {"sid": "SM1", "to": "+1", "body": "x", "date_created": at(0), "status": "canceled"},
        {"sid": "SM2", "to": "+1", "body": "x", "date_created": at(1), "status": "scheduled"},
        {"sid": "SM3", "to": "+1", "body": "x", "date_created": at(2), "status": "delivered"},
        # 60 s after SM2 but 70 s after SM3: the scheduled one does not bridge the gap
        {"sid": "SM4", "to": "+1", "body": "x", "date_created": at(72), "status": "delivered"},
        {"sid": "SM5", "to": "+1", "body": "", "date_created": at(3), "status": "canceled"},
    ]
    result = find_duplicates(table(records), window=60)
    assert result.clusters.num_rows == 0
    summary = result.summary
    assert (summary.outbound_messages, summary.candidate_messages) == (5, 2)
    assert summary.skipped_not_sent == 2
    assert summary.skipped_no_body == 1  # counted once, as without a body


def test_failed_records_stay_in_clusters_and_reached_handset_counts_the_rest() -> None:
    statuses = [
        ["delivered", "failed", "read"],  # 3 records, 2 reached: 1 extra reached
        ["failed", "undelivered"],  # none reached: 0
        ["sent", "delivered", "read", "queued"],  # 3 reached: 2
        ["undelivered", "delivered"],  # 1 reached: 0
    ]
    records = []
    for c, cluster in enumerate(statuses):
        for i, status in enumerate(cluster):
            records.append(
                {
                    "sid": f"SM{c}{i}",
                    "to": f"+{c}",
                    "body": "x",
                    "date_created": at(i),
                    "status": status,
                }
            )
    result = find_duplicates(table(records), window=60)
    assert result.clusters["statuses"].to_pylist() == statuses
    assert result.summary.extra_messages == 7
    assert result.summary.extra_reached_handset == 3
    assert extra_reached_handset(result.clusters.slice(0, 0)) == 0


def test_records_without_date_created_are_not_counted() -> None:
    records = [
        {"sid": "SM1", "to": "+1", "body": "x", "date_created": None, "status": "failed"},
        {"sid": "SM2", "to": "+1", "body": "x", "date_created": at(0)},
    ]
    summary = find_duplicates(table(records)).summary
    assert (summary.messages, summary.outbound_messages, summary.skipped_no_body) == (
        1,
        1,
        0,
    )


def test_combining_detections_sums_the_new_counts() -> None:
    first = [
        {"sid": "SMa", "to": "+1", "body": "x", "date_created": at(0)},
        {"sid": "SMb", "to": "+1", "body": "x", "date_created": at(1)},
        {"sid": "SMc", "to": "+1", "body": "x", "date_created": at(2), "status": "canceled"},
    ]
    second = [
        {"sid": "SMd", "to": "+2", "body": "y", "date_created": at(0), "status": "read"},
        {"sid": "SMe", "to": "+2", "body": "y", "date_created": at(1), "status": "sent"},
        {"sid": "SMf", "to": "+2", "body": "y", "date_created": at(2), "status": "scheduled"},
    ]
    parts = [find_duplicates(table(first)), find_duplicates(table(second))]
    combined = combine_detections(parts, window=60, key=("to", "body"))
    whole = find_duplicates(table(first + second))
    assert combined.summary.skipped_not_sent == 2
    assert combined.summary.extra_reached_handset == 2
    assert combined.summary == whole.summary


def test_unicode_bodies_differ_by_one_code_point() -> None:
    records = [
        {"sid": "SM1", "to": "+1", "body": "Café ✓", "date_created": at(0)},
        {"sid": "SM2", "to": "+1", "body": "Cafe ✓", "date_created": at(1)},
        {"sid": "SM3", "to": "+1", "body": "Café ✓", "date_created": at(2)},
    ]
    result = find_duplicates(table(records), window=5)
    assert result.clusters["sids"].to_pylist() == [["SM1", "SM3"]]
    assert result.clusters["body"].to_pylist() == ["Café ✓"]


def thue_morse(n: int) -> str:
    return "".join("ab"[bin(i).count("1") % 2] for i in range(2**n))


def test_hash_collision_still_gives_exact_clusters() -> None:
    # Thue-Morse strings collide under any polynomial hash modulo 2**64, so the
    # fast path must notice and fall back to exact key comparison.
    first = thue_morse(11)
    second = first.translate(str.maketrans("ab", "ba"))
    records = [
        {"sid": "SM1", "to": "+1", "body": first, "date_created": at(0)},
        {"sid": "SM2", "to": "+1", "body": second, "date_created": at(1)},
        {"sid": "SM3", "to": "+1", "body": first, "date_created": at(30)},
    ]
    for record in records:
        record["direction"] = "outbound-api"
    hashes = hash_column(pa.chunked_array([pa.array([first, second])]))
    assert hashes[0] == hashes[1], "the test needs a real collision"
    result = find_duplicates(table(records), window=60)
    assert (
        result.clusters["sids"].to_pylist() == brute_force_clusters(records, 60) == [["SM1", "SM3"]]
    )


def test_key_must_hold_to_and_body() -> None:
    with pytest.raises(InputError, match="'to' and 'body'"):
        find_duplicates(table([]), key=("to",))
    with pytest.raises(InputError, match="unknown key column"):
        find_duplicates(table([]), key=("to", "body", "nope"))


def test_missing_columns_are_named() -> None:
    bare = pa.table({"sid": ["SM1"], "to": ["+1"]})
    with pytest.raises(SchemaError, match="body") as info:
        find_duplicates(bare)
    assert "date_created" in str(info.value)


def test_negative_window_is_rejected() -> None:
    with pytest.raises(InputError, match="window"):
        find_duplicates(table([]), window=-1)


def test_projection_lists_only_needed_columns() -> None:
    columns = detect_columns(("to", "body", "messaging_service_sid"))
    assert len(columns) == len(set(columns))
    assert {"to", "body", "date_created", "sid", "direction"} <= set(columns)
    assert "price" not in columns


def test_dictionary_encoded_input_gives_same_clusters() -> None:
    records = [
        {"sid": f"SM{i}", "to": "+1", "body": "hi", "date_created": at(i * 10)} for i in range(4)
    ]
    plain = table(records)
    encoded = plain.set_column(
        plain.schema.get_field_index("direction"),
        "direction",
        plain["direction"].dictionary_encode(),
    )
    assert (
        find_duplicates(encoded, 10).clusters.to_pylist()
        == find_duplicates(plain, 10).clusters.to_pylist()
    )
