"""The local engine: detection on this machine, a day at a time, batch by batch."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from analyzer.duplicates.clusters import member_columns
from analyzer.duplicates.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    LOW_CARDINALITY,
    SENSITIVITY_WINDOWS,
    Detection,
    combine_detections,
    detect_columns,
    detect_keys,
    find_duplicates,
    key_columns,
)
from analyzer.duplicates.keys import Keys, join_keys, scan_keys
from analyzer.feedback import Feedback, Silent
from analyzer.schema import MICROS_PER_SECOND
from analyzer.store import MessageScan, as_day, list_days, read_messages, scan_messages


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
        days_read = _DayKeys(source, key, report)
        parts = [
            _detect_day(source, d, window=window, key=key, feedback=report, days=days_read)
            for d in selected
        ]
        return combine_detections(parts, window=window, key=key)
    return _detect_range(source, window=window, key=key, start=start, end=end, feedback=report)


def _detect_day(
    source: str | Path,
    day: date,
    *,
    window: float,
    key: Sequence[str],
    feedback: Feedback,
    days: _DayKeys | None = None,
) -> Detection:
    """Clusters that start on ``day``, read with enough of the days around to see them whole.

    On a dataset, ``days`` holds the keys of the day files already read (a run over
    many days reads each file's keys once).
    """
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    focus = (_us(midnight), _us(midnight + timedelta(days=1)))
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    # Every record a window or less before the day is read, so a run that seems to
    # start on the day really does.
    before = max(1, math.ceil(widest / 86_400))
    after = 1
    if days is None and Path(source).is_dir():
        days = _DayKeys(source, key, feedback)
    while True:
        first, last = day - timedelta(days=before), day + timedelta(days=after)
        if days is None:
            detection = _detect_range(
                source,
                window=window,
                key=key,
                start=first,
                end=last,
                focus=focus,
                feedback=feedback,
                label=f"Finding duplicates on {day.isoformat()}",
            )
        else:
            keys, fetch = days.window(first, last, label=f"Finding duplicates on {day}")
            found = detect_keys(keys, window, key, fetch, focus)
            detection = found or _in_memory(source, first, last, window, key, focus)
        read_end = _us(midnight + timedelta(days=after + 1))
        # A run that starts on the day and comes within a window of the end of what
        # was read may go on beyond it: read one more day.
        reach = detection.reach
        reaches_end = reach is not None and reach + widest * MICROS_PER_SECOND >= read_end
        if not reaches_end or not any(d > last.isoformat() for d in _days_of(source)):
            return detection
        after += 1


class _DayKeys:
    """The keys of a dataset's day files, each read once while the days around it are
    analysed, and the records of clusters taken from the row groups that hold them."""

    def __init__(self, source: str | Path, key: Sequence[str], feedback: Feedback) -> None:
        self.source, self.key, self.feedback = source, key, feedback
        self.kept: dict[str, tuple[MessageScan, Keys]] = {}

    def window(
        self, first: date, last: date, *, label: str
    ) -> tuple[Keys, Callable[[np.ndarray], pa.Table]]:
        """The keys of the days from ``first`` to ``last`` as one source, and its fetch."""
        names = [d for d in list_days(self.source) if first.isoformat() <= d <= last.isoformat()]
        for old in [d for d in self.kept if d < first.isoformat()]:
            del self.kept[old]
        scans = {
            d: scan_messages(
                self.source, d, d, columns=detect_columns(self.key), dictionary=LOW_CARDINALITY
            )
            for d in names
            if d not in self.kept
        }
        self.feedback.step(label, sum(scan.rows for scan in scans.values()))
        for name, scan in scans.items():
            keys = scan_keys(
                scan.batches(key_columns(self.key)), self.key, scan.bounds, self.feedback.advance
            )
            self.kept[name] = (scan, keys)
        parts = [self.kept[d] for d in names]
        starts = np.cumsum([0, *(keys.size for _, keys in parts)])
        members = member_columns(self.key)

        def fetch(rows: np.ndarray) -> pa.Table:
            taken = []
            for (scan, _), start, end in zip(parts, starts[:-1], starts[1:], strict=True):
                lo, hi = np.searchsorted(rows, [start, end])
                taken.append(scan.take(members, rows[lo:hi] - start))
            return pa.concat_tables(taken).combine_chunks()

        return join_keys([keys for _, keys in parts]), fetch


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
    keys = scan_keys(scan.batches(key_columns(key)), key, scan.bounds, report.advance)
    members = member_columns(key)
    detection = detect_keys(keys, window, key, lambda rows: scan.take(members, rows), focus)
    return detection or _in_memory(source, start, end, window, key, focus)


def _in_memory(
    source: str | Path,
    start: date | datetime | str | None,
    end: date | datetime | str | None,
    window: float,
    key: Sequence[str],
    focus: tuple[int | None, int | None],
) -> Detection:
    """Detection on the records in memory, comparing the keys themselves (after a hash
    collision)."""
    messages = read_messages(
        source, start=start, end=end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
    )
    return find_duplicates(messages, window=window, key=key, focus=focus)


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * MICROS_PER_SECOND
