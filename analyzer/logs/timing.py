"""Steps over a whole file's requests, once all of them are read: correcting line times
written in local time, placing requests without a time between their neighbours, and
saying where the times come from."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import np_bool
from analyzer.logs.model import ANSWERED_LINE, FROM_TWILIO, UNTIMED_REASON, FileStats
from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP

#: Local-time detection: pairs of line time and Twilio Date needed, the smallest offset
#: read as a zone (smaller ones are clock skew), and the unit zones come in.
_OFFSET_MIN_PAIRS = 3
_OFFSET_MIN_SECONDS = 600.0
_OFFSET_STEP_SECONDS = 900.0
#: An untimed request placed within a longer interval than this stays malformed.
_MAX_PLACED_SPAN_US = 600 * MICROS_PER_SECOND
_INT64_MIN, _INT64_MAX = np.iinfo(np.int64).min, np.iinfo(np.int64).max


def _micros(times: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Timestamps as int64 microseconds (nulls must have been filled or filtered)."""
    return np.asarray(times.cast(pa.int64()).to_numpy(), dtype=np.int64)


def _timestamps(micros: np.ndarray, mask: np.ndarray) -> pa.Array:
    """int64 microseconds as TIMESTAMP values, null where mask is set."""
    return pa.array(micros, pa.int64(), mask=mask).cast(pa.timestamp("us")).cast(TIMESTAMP)


def correct_local_time(table: pa.Table, stats: FileStats, log_tz: str) -> pa.Table:
    """Shift a file's line times by whole quarter hours when Twilio's Date header shows
    they are local time read in the wrong zone (records it in ``stats``)."""
    if table.num_rows - table["twilio_time"].null_count < _OFFSET_MIN_PAIRS:
        return table
    line_timed = pc.and_(pc.is_valid(table["time"]), pc.invert(table[FROM_TWILIO]))
    both = np_bool(pc.and_(line_timed, pc.is_valid(table["twilio_time"])))
    if int(both.sum()) < _OFFSET_MIN_PAIRS:
        return table
    take = pa.array(both)
    line_micros = _micros(table["time"].filter(take))
    twilio_micros = _micros(table["twilio_time"].filter(take))
    diff_seconds = (line_micros - twilio_micros) / 1e6
    offset = float(np.median(diff_seconds))
    if abs(offset) < _OFFSET_MIN_SECONDS:
        return table  # clock skew: the cross-reference measures and handles it
    step = float(np.round(offset / _OFFSET_STEP_SECONDS) * _OFFSET_STEP_SECONDS)
    shift_us = int(round(step * 1e6))
    shift = np.where(np_bool(line_timed), shift_us, 0)
    time_us = pc.subtract(table["time"].cast(pa.int64()), pa.array(shift, pa.int64()))
    fixed = time_us.cast(pa.timestamp("us")).cast(TIMESTAMP)
    table = table.set_column(table.schema.get_field_index("time"), "time", fixed)
    stats.offset_corrected_seconds = step
    stats.warnings.extend(_correction_warnings(stats.path, log_tz, step, diff_seconds))
    return table


def _correction_warnings(
    path: str, log_tz: str, step: float, diff_seconds: np.ndarray
) -> list[str]:
    """What to tell of a correction by ``step`` seconds, given each pair's difference."""
    span = _duration_text(step)
    if log_tz == "UTC":
        out = [
            f"times in {path} look like local time {span} "
            f"{'ahead of' if step > 0 else 'behind'} UTC (measured against Twilio's Date "
            "header): corrected; pass --log-tz to state the zone"
        ]
    else:
        out = [
            f"times in {path}, read in {log_tz}, are {span} "
            f"{'ahead of' if step > 0 else 'behind'} Twilio's Date header: corrected; "
            "check --log-tz"
        ]
    still_off = int((np.abs(diff_seconds - step) >= _OFFSET_MIN_SECONDS).sum())
    if still_off:
        out.append(
            f"{still_off} of {len(diff_seconds)} requests in {path} still differ from "
            "Twilio's Date header by 10 minutes or more after that correction (a change of "
            "zone or of daylight saving time within the file?)"
        )
    return out


def _duration_text(seconds: float) -> str:
    minutes = int(round(abs(seconds) / 60))
    hours, minutes = divmod(minutes, 60)
    return " ".join([f"{hours} h"] * bool(hours) + [f"{minutes} min"] * bool(minutes)) or "0 min"


def place_untimed(table: pa.Table, stats: FileStats) -> pa.Table:
    """Give requests without a time (SDK blocks of a log without times that got no answer)
    the interval their neighbours allow: ``time`` to ``time_max``.

    A block that began before this one (a line time) or whose answer was logged before it
    (Twilio's Date, truncated) bounds it from below; a block that began after it bounds
    it from above (its Date plus the second it was truncated by). Counted malformed no more.
    """
    untimed = np_bool(pc.is_null(table["time"]))
    if not untimed.any() or untimed.all():
        return table
    micros = _micros(pc.fill_null(table["time"].cast(pa.int64()), 0))
    line = np.asarray(table["line"].to_numpy(), dtype=np.int64)
    dated = np_bool(table[FROM_TWILIO])
    answered = np.asarray(
        pc.fill_null(table[ANSWERED_LINE].cast(pa.int64()), -1).to_numpy(zero_copy_only=False),
        dtype=np.int64,
    )
    lower = _lower_bounds(micros, line, dated, answered, untimed)
    upper = _upper_bounds(micros, line, dated, untimed)
    placed = (lower > _INT64_MIN) & (upper < _INT64_MAX)
    placed &= (upper >= lower) & (upper - lower <= _MAX_PLACED_SPAN_US)
    if not placed.any():
        return table
    rows = np.flatnonzero(untimed)[placed]
    start = micros.copy()
    start[rows] = lower[placed]
    end = np.zeros(len(micros), dtype=np.int64)
    end[rows] = upper[placed]
    not_placed = np.ones(len(micros), dtype=bool)
    not_placed[rows] = False
    time = _timestamps(start, untimed & not_placed)
    time_max = _timestamps(end, not_placed)
    table = table.set_column(table.schema.get_field_index("time"), "time", time)
    table = table.set_column(table.schema.get_field_index("time_max"), "time_max", time_max)
    placed_lines = set(line[rows].tolist())
    stats.malformed -= len(rows)
    stats.samples = [
        x for x in stats.samples if not (x.reason == UNTIMED_REASON and x.line in placed_lines)
    ]
    return table


def _lower_bounds(
    micros: np.ndarray,
    line: np.ndarray,
    dated: np.ndarray,
    answered: np.ndarray,
    untimed: np.ndarray,
) -> np.ndarray:
    """For each untimed request, the latest time known to lie before it (INT64_MIN: none):
    when a block began (line time), or its answer came (Date, logged first)."""
    known_at = np.where(dated, answered, line)
    usable = ~untimed & (known_at >= 0)
    order = np.argsort(known_at[usable], kind="stable")
    keys = known_at[usable][order]
    latest = np.maximum.accumulate(micros[usable][order])
    before = np.searchsorted(keys, line[untimed], side="left") - 1
    lower = np.full(len(before), _INT64_MIN, dtype=np.int64)
    lower[before >= 0] = latest[before[before >= 0]]
    return lower


def _upper_bounds(
    micros: np.ndarray, line: np.ndarray, dated: np.ndarray, untimed: np.ndarray
) -> np.ndarray:
    """For each untimed request, the earliest time known to lie after it (INT64_MAX: none):
    blocks that began later, at the latest a second after their Date."""
    timed = ~untimed
    high = micros + np.where(dated, MICROS_PER_SECOND, 0)
    order = np.argsort(line[timed], kind="stable")
    keys = line[timed][order]
    earliest = np.minimum.accumulate(high[timed][order][::-1])[::-1]
    after = np.searchsorted(keys, line[untimed], side="right")
    upper = np.full(len(after), _INT64_MAX, dtype=np.int64)
    upper[after < len(keys)] = earliest[after[after < len(keys)]]
    return upper


def time_source(table: pa.Table) -> str | None:
    """Where the file's request times come from: "line", "twilio_date", "mixed" or None."""
    timed = np_bool(pc.and_(pc.is_valid(table["time"]), pc.is_null(table["time_max"])))
    from_twilio = np_bool(table[FROM_TWILIO])
    n_twilio = int((timed & from_twilio).sum())
    n_line = int(timed.sum()) - n_twilio
    if n_line and n_twilio:
        return "mixed"
    if n_twilio:
        return "twilio_date"
    return "line" if n_line else None
