"""The local engine: detection on this machine, a day at a time, batch by batch."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from analyzer.duplicates.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    LOW_CARDINALITY,
    SENSITIVITY_WINDOWS,
    Detection,
    combine_detections,
    detect_batches,
    detect_columns,
    find_duplicates,
)
from analyzer.feedback import Feedback, Silent
from analyzer.schema import MICROS_PER_SECOND
from analyzer.store import as_day, list_days, read_messages, scan_messages


def detect_path(
    source: str | Path,
    *,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    day: date | None = None,
    feedback: Feedback | None = None,
) -> Detection:
    """Find duplicates in a Parquet file or dataset, reading it batch by batch.

    Memory holds compact per-record keys, not the records; only the records of
    duplicate clusters are read in full. On a dataset, the days are analysed one
    at a time, each with the days around it, and the results added up: memory
    stays that of a few days however long the range. With ``day``, only the
    clusters that start on that UTC day are kept.
    """
    report = feedback or Silent()
    if day is not None:
        return _detect_day(source, day, window=window, key=key, feedback=report)
    days = _days_of(source)
    first, last = as_day(start), as_day(end)
    selected = [
        date.fromisoformat(d)
        for d in days
        if (first is None or d >= first.isoformat()) and (last is None or d <= last.isoformat())
    ]
    if len(selected) > 1:
        parts = [_detect_day(source, d, window=window, key=key, feedback=report) for d in selected]
        return combine_detections(parts, window=window, key=key)
    return _detect_range(source, window=window, key=key, start=start, end=end, feedback=report)


def _detect_day(
    source: str | Path, day: date, *, window: float, key: Sequence[str], feedback: Feedback
) -> Detection:
    """Clusters that start on ``day``, read with enough of the days around to see them whole."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    focus = (_us(midnight), _us(midnight + timedelta(days=1)))
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    # Every record a window or less before the day is read, so a run that seems to
    # start on the day really does.
    before = max(1, math.ceil(widest / 86_400))
    after = 1
    while True:
        last = day + timedelta(days=after)
        detection = _detect_range(
            source,
            window=window,
            key=key,
            start=day - timedelta(days=before),
            end=last,
            focus=focus,
            feedback=feedback,
            label=f"Finding duplicates on {day.isoformat()}",
        )
        read_end = _us(midnight + timedelta(days=after + 1))
        # A run that starts on the day and comes within a window of the end of what
        # was read may go on beyond it: read one more day.
        reach = detection.reach
        reaches_end = reach is not None and reach + widest * MICROS_PER_SECOND >= read_end
        if not reaches_end or not any(d > last.isoformat() for d in _days_of(source)):
            return detection
        after += 1


def _days_of(source: str | Path) -> list[str]:
    return list_days(source) if Path(source).is_dir() else []


def _detect_range(
    source: str | Path,
    *,
    window: float,
    key: Sequence[str],
    start: date | datetime | str | None,
    end: date | datetime | str | None,
    focus: tuple[int | None, int | None] = (None, None),
    feedback: Feedback | None = None,
    label: str = "Finding duplicates",
) -> Detection:
    scan = scan_messages(
        source, start, end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
    )
    report = feedback or Silent()
    report.step(label, scan.rows)
    detection = detect_batches(
        scan.batches,
        window=window,
        key=key,
        bounds=scan.bounds,
        focus=focus,
        progress=report.advance,
    )
    if detection is None:  # a hash collision: compare the keys themselves, in memory
        messages = read_messages(
            source, start=start, end=end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
        )
        detection = find_duplicates(messages, window=window, key=key, focus=focus)
    return detection


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * MICROS_PER_SECOND


