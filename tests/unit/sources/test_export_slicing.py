"""Cutting an export's range into slices."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.sources.twilio_api import (
    plan_slices,
)


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(0, 10 * 86_400),
    length=st.integers(0, 3 * 86_400),
    step=st.sampled_from([1, 7, 300, 3_600, 21_600, 86_400, 100_000]),
)
def test_plan_slices_cover_the_range_once(first: int, length: int, step: int) -> None:
    last = first + length
    slices = plan_slices(first, last, step)
    assert slices[0][0] == first and slices[-1][1] == last
    for (_, hi), (nxt, _) in zip(slices, slices[1:], strict=False):
        assert nxt == hi + 1  # contiguous, no overlap: bounds are inclusive seconds
    for lo, hi in slices:
        assert lo <= hi and lo // step == hi // step  # never crosses a step boundary
    assert len(slices) == last // step - first // step + 1
