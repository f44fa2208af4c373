"""Properties of the vectorized helpers: digits, dates, quoting, gaps, collisions."""

from __future__ import annotations

import json
import re
import uuid
from datetime import datetime, time, timedelta

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import UserError
from analyzer.simulate.bodies import resolve_collisions
from analyzer.simulate.dates import clf_time, iso_ms, rfc2822, sdk_stamp
from analyzer.simulate.messages import price_text
from analyzer.simulate.templates import INBOUND_BODIES, NAMES
from analyzer.simulate.text import digits, hex_sids, json_quoted, python_repr, uuid4
from analyzer.simulate.timeline import LogGap
from tests.unit.simulate.helpers import gsm_units


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=60),
    st.integers(0, 2**32 - 1),
)
def test_resolve_collisions_matches_reference(pairs: list[tuple[int, int]], seed: int) -> None:
    key = np.array([k for k, _ in pairs], dtype=np.int64)
    param = np.array([p for _, p in pairs], dtype=np.int64)
    card = np.full(key.size, 200, dtype=np.int64)
    out = resolve_collisions(key, param, card, np.random.default_rng(seed))
    seen: set[tuple[int, int]] = set()
    for i, (k, p) in enumerate(pairs):
        if (k, p) not in seen:  # the first occurrence keeps its value
            assert out[i] == p
        seen.add((k, p))
    assert len(set(zip(key.tolist(), out.tolist(), strict=True))) == key.size
    assert ((out >= 0) & (out < card)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), max_size=30), st.integers(1, 20))
def test_digit_rendering_matches_python(values: list[int], width: int) -> None:
    arr = np.array(values, dtype=np.uint64)
    assert digits(arr, width).to_pylist() == [str(v % 10**width).zfill(width) for v in values]
    assert digits(arr, min(width, 16), 16).to_pylist() == [
        format(v % 16 ** min(width, 16), "x").zfill(min(width, 16)) for v in values
    ]
    raw = np.array([[v % 256] * 16 for v in values], dtype=np.uint8).reshape(-1, 16)
    prefix = np.broadcast_to(np.frombuffer(b"SM", np.uint8), (len(values), 2))
    assert hex_sids(raw, prefix).to_pylist() == ["SM" + bytes([v % 256] * 16).hex() for v in values]


@settings(max_examples=100, deadline=None)
@given(
    st.times(), st.times(), st.lists(st.integers(0, 3 * 86_400_000 - 1), min_size=1, max_size=20)
)
def test_gap_membership_matches_reference(start: time, end: time, ms: list[int]) -> None:
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    length = datetime.combine(datetime.min, end) - datetime.combine(datetime.min, start)
    seconds = length.total_seconds() % 86_400
    if seconds == 0 or seconds > 43_200:
        with pytest.raises(UserError):
            LogGap((start, end))
        return
    gap = LogGap((start, end))
    got = gap.contains(np.array(ms, dtype=np.int64)).tolist()
    for value, inside in zip(ms, got, strict=True):
        moment = (datetime(2026, 1, 1) + timedelta(milliseconds=value)).time()
        expected = start <= moment < end if start < end else moment >= start or moment < end
        assert inside == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-30_000_000_000_000, 250_000_000_000_000), max_size=30))
def test_iso_timestamps_match_datetime(ms: list[int]) -> None:
    expected = [
        (datetime(1970, 1, 1) + timedelta(milliseconds=v)).isoformat(timespec="milliseconds") + "Z"
        for v in ms
    ]
    assert iso_ms(np.array(ms, dtype=np.int64)).to_pylist() == expected


def test_template_bodies_use_only_expected_characters() -> None:
    for name in NAMES:
        assert not gsm_units(name)[0], name
    assert {gsm_units(b)[0] for b in INBOUND_BODIES} == {False, True}


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-30_000_000_000, 250_000_000_000), min_size=1, max_size=20))
def test_date_renderings_match_strftime(seconds: list[int]) -> None:
    moments = [datetime(1970, 1, 1) + timedelta(seconds=s) for s in seconds]
    ms = np.array(seconds, dtype=np.int64) * 1000 + 7
    assert rfc2822(np.array(seconds)).to_pylist() == [
        m.strftime("%a, %d %b %Y %H:%M:%S +0000") for m in moments
    ]
    assert sdk_stamp(ms).to_pylist() == [m.strftime("%Y-%m-%d %H:%M:%S,007") for m in moments]
    assert clf_time(ms, -330).to_pylist() == [
        (m - timedelta(minutes=330)).strftime("%d/%b/%Y:%H:%M:%S -0530") for m in moments
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=10))
def test_json_quoting_matches_python(texts: list[str]) -> None:
    quoted = json_quoted(pa.array([*texts, None], pa.string())).to_pylist()
    assert [json.loads(q) for q in quoted] == [*texts, None]


PRINTABLE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn"))
    | st.sampled_from("\n\t\r'\"\\"),
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(PRINTABLE, min_size=1, max_size=10))
def test_python_repr_matches_python(texts: list[str]) -> None:
    texts = [
        t for t in texts if t.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()
    ]
    got = python_repr(pa.array(texts, pa.string())).to_pylist()
    assert got == [repr(t) for t in texts]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=10))
def test_uuid4_rendering(raw: list[bytes]) -> None:
    mat = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, 16)
    got = uuid4(mat).to_pylist()
    for data, text in zip(raw, got, strict=True):
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed == uuid.UUID(bytes=data, version=4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.floats(-50, 50, allow_nan=False), min_size=1, max_size=20))
def test_price_text_matches_format(prices: list[float | None]) -> None:
    got = price_text(pa.array(prices, pa.float64())).to_pylist()
    for price, text in zip(prices, got, strict=True):
        if price is None:
            assert text is None
        else:
            assert float(text) == pytest.approx(round(price, 5), abs=1e-9)
            assert re.fullmatch(r"-?\d+\.\d{5}", text)
