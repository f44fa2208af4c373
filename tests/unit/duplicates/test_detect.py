"""Unit tests of duplicate detection: edge cases the property tests do not aim at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from analyzer.duplicates.clusters import extra_reached_handset, repeated_keys
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
    records: list[dict[str, Any]] = [
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
    records: list[dict[str, Any]] = [
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
    # Thue-Morse strings collide under any polynomial hash modulo 2**64, over bytes
    # or (these, 2**11 words of 8 bytes) over words, so the fast path must notice and
    # fall back to exact key comparison.
    first = thue_morse(14)
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


def test_equal_strings_hash_equal_wherever_they_sit() -> None:
    values = ["", "a", "a\x00", "12345678", "123456789", "Ünïcødé ✓ 😀" * 7, None, "x" * 300]
    expected = hash_column(pa.chunked_array([pa.array(values)]))
    # Other places in the buffer, other chunks, sliced arrays, large strings, dictionaries.
    shifted = pa.array(["?", *values, "tail"]).slice(1, len(values))
    chunked = pa.chunked_array([pa.array(values[:3]), pa.array(values[3:])])
    large = pa.chunked_array([pa.array(values, type=pa.large_string())])
    encoded = pa.chunked_array([pa.array(values).dictionary_encode()])
    for column in (pa.chunked_array([shifted]), chunked, large, encoded):
        assert hash_column(column).tolist() == expected.tolist()
    # Long texts are hashed a few megabytes at a time: the first and the last slice agree.
    long = [f"{i % 7}" * 9_999 for i in range(2_000)]
    hashes = hash_column(pa.chunked_array([pa.array(long)]))
    assert hashes[0] == hashes[7 * 285] and hashes[1] != hashes[0]
    assert len(set(hashes.tolist())) == 7


def test_strings_that_differ_hash_differently() -> None:
    rng = np.random.default_rng(7)
    values = {"", "a", "a\x00", "\x00", "\x00a"}
    for length in range(1, 40):
        base = "".join(rng.choice(list("abc"), length))
        values.add(base)
        # One byte changed at each place, and the string one byte longer.
        values.update(base[:i] + "d" + base[i + 1 :] for i in range(length))
        values.add(base + "a")
    hashes = hash_column(pa.chunked_array([pa.array(sorted(values))]))
    assert len(set(hashes.tolist())) == len(values)


def test_repeated_keys_are_those_seen_more_than_once() -> None:
    rng = np.random.default_rng(3)
    hashes = rng.integers(0, 2**63, 5000, dtype=np.int64).astype(np.uint64)
    hashes[rng.integers(0, 5000, 800)] = hashes[rng.integers(0, 5000, 800)]
    counts: dict[int, int] = {}
    for value in hashes.tolist():
        counts[value] = counts.get(value, 0) + 1
    expected = np.array([counts[value] > 1 for value in hashes.tolist()])
    assert expected.any() and not expected.all()
    assert repeated_keys(hashes).tolist() == expected.tolist()
    assert repeated_keys(hashes[:1]).tolist() == [False]


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
