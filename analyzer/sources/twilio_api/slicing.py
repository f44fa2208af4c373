"""The requested time range: its bounds in UTC, and the slices it is listed in."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from analyzer.errors import UserError

#: Slice lengths (seconds) to choose from, longest first.
_AUTO_SLICES = (86_400, 43_200, 21_600, 10_800, 7_200, 3_600, 1_800, 900, 600, 300)


def to_utc(value: date | datetime | str, *, end: bool) -> datetime:
    """A day or timestamp (or its ISO text) as a UTC moment to the second; a day stands
    for its first second, or its last with ``end``."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                date.fromisoformat(text)
                if len(text) == 10
                else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise UserError(
                f"not a date or timestamp: {value!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)"
            ) from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(microsecond=0)
    moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return moment + timedelta(days=1, seconds=-1) if end else moment


def plan_slices(first: int, last: int, slice_seconds: int) -> list[tuple[int, int]]:
    """Cut [first, last] (epoch seconds, inclusive) into non-overlapping inclusive slices.

    Boundaries fall on multiples of ``slice_seconds`` since 1970, so a slice length that
    divides a day never crosses midnight UTC.
    """
    if last < first:
        return []
    step = max(1, int(slice_seconds))
    slices = []
    lo = first
    while lo <= last:
        hi = min(last, (lo // step + 1) * step - 1)
        slices.append((lo, hi))
        lo = hi + 1
    return slices


def auto_slice(first: int, last: int, concurrency: int) -> int:
    """The longest slice length that gives every worker at least four slices."""
    span = last - first + 1
    for seconds in _AUTO_SLICES:
        if span / seconds >= 4 * concurrency:
            return seconds
    return _AUTO_SLICES[-1]


def stamp(seconds: int) -> str:
    """Epoch seconds as the API's DateSent filters write them."""
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
