"""The log's clock against Twilio's: the skew, what it covers, and time-zone warnings.

Time is compared in Twilio's clock: log times minus the skew.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref.records import present
from analyzer.results import time_from_micros
from analyzer.schema import MICROS_PER_SECOND

#: The largest skew looked for by pairs and counts, seconds.
MAX_SKEW_SECONDS = 300
#: Time zones are at most 14 h from UTC.
_MAX_ZONE_SECONDS = 14 * 3600
#: Fewer requests than this cannot place a log on Twilio's clock by counts alone.
MIN_SKEW_REQUESTS = 10
#: Fewer pairs than this give no skew (or delay band) of their own.
MIN_PAIRS = 3
MIN_BAND_PAIRS = 5
#: A clock this far off Twilio's is likely a time zone, not drift.
ZONE_SUSPECT_SECONDS = 120.0
#: Pairs are taken from the first this many usable sends that have the column paired on.
SKEW_SAMPLE = 200_000
_ZONE_STEP_MINUTES = 15


@dataclass
class SkewEstimate:
    """Clock skew: log time minus Twilio time, in seconds, and how sure it is."""

    seconds: float
    method: str
    pairs: int = 0
    estimated: float | None = None
    #: Interquartile range of the pairs' differences, seconds (None: not from pairs).
    spread: float | None = None
    #: "high", "low" or "none", with why in ``note``.
    confidence: str = "none"
    note: str = ""


def estimate_skew(
    sends: pa.Table,
    records: pa.Table,
    mode: str,
    usable: np.ndarray | None = None,
    known: np.ndarray | None = None,
    counted_us: np.ndarray | None = None,
) -> SkewEstimate:
    """Estimate log clock minus Twilio clock from the data, and how sure it is.

    ``records`` hold sid, to and us; ``known`` selects the outbound-api records among
    them, ``usable`` the sends to use (default: all). Uses, best first: Twilio's own
    Date header where the log has it; SID-matched pairs; the nearest record to the same
    recipient; and otherwise lines up per-second POST counts with per-second record
    counts (refused with fewer than MIN_SKEW_REQUESTS requests). Pairs come from a
    sample of the first 200,000 requests. ``counted_us`` gives the times of every usable
    send of the whole log, when ``sends`` holds only some of them.
    """
    keep = np.ones(sends.num_rows, dtype=bool) if usable is None else usable
    known = np.ones(records.num_rows, dtype=bool) if known is None else known
    if counted_us is None:
        counted_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)[keep]
    if not len(counted_us) or not known.any():
        return SkewEstimate(0.0, "none", note="no requests or no records to compare")

    def sample(column: str, *more: str) -> pa.Table:
        """Up to 200,000 usable sends that have ``column``, with only the columns used."""
        rows = np.flatnonzero(keep & present(pc.is_valid(sends[column])))[:SKEW_SAMPLE]
        return sends.select(["time", column, *more]).take(pa.array(rows, pa.int64()))

    if "twilio_time" in sends.column_names:
        dated = sample("twilio_time")
        if dated.num_rows >= MIN_PAIRS:
            line = pc.cast(dated["time"], pa.int64()).to_numpy(zero_copy_only=False)
            twilio = pc.cast(dated["twilio_time"], pa.int64()).to_numpy(zero_copy_only=False)
            # The Date header is truncated to the second: its mid-point is half a second on.
            return _from_diffs((line - twilio) / MICROS_PER_SECOND - 0.5, "date_header")
    # Twilio truncates date_created to the second: its mid-point is half a second on.
    if mode == "sid":
        estimate = _from_sid_pairs(sample("message_sid"), records, known)
        if estimate is not None:
            return estimate
    if mode in ("sid", "recipient_time"):
        estimate = _from_recipient_pairs(sample("to"), records, known)
        if estimate is not None:
            return estimate
    if len(counted_us) < MIN_SKEW_REQUESTS:
        return SkewEstimate(
            0.0,
            "none",
            note=f"{len(counted_us)} requests are too few to place the log on Twilio's clock "
            "by counts; assumed 0 s",
        )
    record_us = records["us"].to_numpy(zero_copy_only=False)[known]
    return skew_by_counts(counted_us, record_us)


def _from_sid_pairs(
    with_sid: pa.Table, records: pa.Table, known: np.ndarray
) -> SkewEstimate | None:
    """The skew from sends whose logged SID names a record (None: too few pairs)."""
    position = pc.index_in(records["sid"], value_set=with_sid["message_sid"])
    matched = pa.array(known & present(pc.is_valid(position)))
    if not pc.any(matched).as_py():
        return None
    picked = position.filter(matched).to_numpy(zero_copy_only=False)
    sample_us = pc.cast(with_sid["time"], pa.int64()).to_numpy(zero_copy_only=False)
    twilio_us = records["us"].filter(matched).to_numpy(zero_copy_only=False)
    # Every pair is exact, however far off the log clock is: a log in local
    # time is placed on Twilio's clock here.
    sid_diffs = (sample_us[picked] - twilio_us) / MICROS_PER_SECOND - 0.5
    if len(sid_diffs) >= MIN_PAIRS:
        return _from_diffs(sid_diffs, "sid_pairs")
    return None


def _from_recipient_pairs(
    with_to: pa.Table, records: pa.Table, known: np.ndarray
) -> SkewEstimate | None:
    """The skew from each send and the nearest record to its recipient (None: not sure)."""
    recipients = pc.unique(with_to["to"])
    near = records.filter(pa.array(known & present(pc.is_in(records["to"], value_set=recipients))))
    diffs = _nearest_recipient_diffs(with_to, near)
    if len(diffs) < MIN_PAIRS:
        return None
    estimate = _from_diffs(diffs - 0.5, "recipient_pairs")
    # The nearest record is the right one only when the clocks are close, or
    # when the pairs agree closely on how far apart they are.
    if abs(estimate.seconds) <= MAX_SKEW_SECONDS or (estimate.spread or 0) <= 5.0:
        return estimate
    return None


def _from_diffs(diffs: np.ndarray, method: str) -> SkewEstimate:
    q1, median, q3 = np.quantile(diffs, [0.25, 0.5, 0.75])
    spread = float(q3 - q1)
    sure = len(diffs) >= MIN_BAND_PAIRS and spread <= 2.0
    return SkewEstimate(
        float(median),
        method,
        len(diffs),
        spread=spread,
        confidence="high" if sure else "low",
        note=f"median of {len(diffs):,} pairs, interquartile range {spread:.2f} s",
    )


def _nearest_recipient_diffs(sends: pa.Table, records: pa.Table) -> np.ndarray:
    if sends.num_rows == 0 or records.num_rows == 0:
        return np.zeros(0)
    left = pd.DataFrame(
        {
            "to": sends["to"].to_numpy(zero_copy_only=False),
            "us": pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False),
        }
    ).sort_values("us")
    right = pd.DataFrame(
        {
            "to": records["to"].to_numpy(zero_copy_only=False),
            "us_tw": records["us"].to_numpy(zero_copy_only=False),
        }
    ).sort_values("us_tw")
    merged = pd.merge_asof(
        left,
        right,
        left_on="us",
        right_on="us_tw",
        by="to",
        direction="nearest",
        tolerance=_MAX_ZONE_SECONDS * MICROS_PER_SECOND,
    ).dropna(subset=["us_tw"])
    return np.asarray((merged["us"] - merged["us_tw"]) / MICROS_PER_SECOND, dtype=float)


def skew_by_counts(log_us: np.ndarray, twilio_us: np.ndarray) -> SkewEstimate:
    """Line up per-second POST counts with per-second record counts.

    Of equally good lags the smallest one wins; the estimate is sure when the best
    lag scores clearly above every lag more than a second away from it.
    """
    second, reach = MICROS_PER_SECOND, MAX_SKEW_SECONDS
    start = min(int(log_us.min()), int(twilio_us.min())) // second - reach
    end = max(int(log_us.max()), int(twilio_us.max())) // second + reach
    size = end - start + 1
    posts = np.bincount(log_us // second - start, minlength=size).astype(float)
    made = np.bincount(twilio_us // second - start, minlength=size).astype(float)
    lags = np.arange(-reach, reach + 1)
    scores = np.array(
        [np.dot(posts[reach + k : size - reach + k], made[reach : size - reach]) for k in lags]
    )
    if not scores.any():
        return SkewEstimate(0.0, "none", note="no lag lines the requests up with the records")
    best = scores.max()
    tied = lags[scores == best]
    lag = int(tied[np.lexsort((-tied, np.abs(tied)))[0]])  # smallest, the positive one first
    far = np.abs(lags - lag) > 1
    runner_up = scores[far].max() if far.any() else 0.0
    ratio = best / runner_up if runner_up > 0 else float("inf")
    sure = ratio >= 1.5 and len(log_us) >= 3 * MIN_SKEW_REQUESTS
    return SkewEstimate(
        float(lag),
        "count_alignment",
        len(log_us),
        confidence="high" if sure else "low",
        note=(
            f"per-second counts of {len(log_us):,} requests; the best lag scores "
            + ("above every other" if ratio == float("inf") else f"{ratio:.2f}x the next best")
        ),
    )


def log_coverage(timeline: pa.Table, skew: float, gap: float) -> pd.DataFrame:
    """Periods (Twilio clock) in which the log (its timeline, analyzer.logs.TIMELINE_SCHEMA)
    has lines no more than ``gap`` seconds apart.

    Tunnel lines (CONNECT) do not count: such a proxy sees no sends at all.
    """
    times = timeline["time"].filter(pc.invert(timeline["tunnel"]))
    times = pc.cast(times.filter(pc.is_valid(times)), pa.int64())
    us = np.sort(times.to_numpy(zero_copy_only=False)) - int(round(skew * MICROS_PER_SECOND))
    if len(us) == 0:
        return pd.DataFrame(
            {"start": pd.Series([], dtype="int64"), "end": pd.Series([], dtype="int64")}
        )
    breaks = np.flatnonzero(np.diff(us) > gap * MICROS_PER_SECOND)
    starts = np.concatenate(([us[0]], us[breaks + 1]))
    ends = np.concatenate((us[breaks], [us[-1]]))
    return pd.DataFrame({"start": starts, "end": ends})


def covered_by(lo: np.ndarray, hi: np.ndarray, coverage: pd.DataFrame) -> np.ndarray:
    if coverage.empty:
        return np.zeros(len(lo), dtype=bool)
    starts = coverage["start"].to_numpy()
    ends = coverage["end"].to_numpy()
    idx = np.searchsorted(starts, lo, side="right") - 1
    ok = idx >= 0
    result = np.zeros(len(lo), dtype=bool)
    result[ok] = ends[idx[ok]] >= hi[ok]
    return result


def clock_warnings(
    coverage: pd.DataFrame, record_us: np.ndarray, skew: SkewEstimate, send_us: np.ndarray
) -> list[str]:
    """Warnings for logs whose clock looks like another time zone's; ``record_us`` are
    the outbound-api records' times, ``send_us`` the live POSTs'."""
    out = []
    if len(record_us) and not coverage.empty:
        lo, hi = int(record_us.min()), int(record_us.max())
        starts, ends = coverage["start"].to_numpy(), coverage["end"].to_numpy()
        if not ((starts <= hi) & (ends >= lo)).any():
            logs_from, logs_to = time_from_micros(starts.min()), time_from_micros(ends.max())
            out.append(
                f"the server logs ({logs_from} – {logs_to}) do not overlap the messages "
                f"({time_from_micros(lo)} – {time_from_micros(hi)}): if the logs are written "
                "in local time, pass --log-tz with their zone"
            )
    paired = skew.method in ("date_header", "sid_pairs", "recipient_pairs")
    if paired and abs(skew.seconds) > ZONE_SUSPECT_SECONDS:
        out.append(
            f"matched requests put the log clock {skew.seconds:+.0f} s off Twilio's: if the "
            "log is written in local time, pass --log-tz with its zone (or --skew)"
        )
    elif not paired and len(record_us) and len(send_us):
        shift = _zone_shift(send_us, record_us)
        if shift:
            out.append(
                f"the requests line up best with the messages {shift / 60:+g} h away: if the "
                "log is written in local time, pass --log-tz with its zone"
            )
    return out


def _zone_shift(send_us: np.ndarray, record_us: np.ndarray) -> int:
    """Minutes (a multiple of 15, within 14 h) by which per-minute request counts line up
    with record counts clearly better than at no shift; 0 when no shift does."""
    minute = 60 * MICROS_PER_SECOND
    start = min(int(send_us.min()), int(record_us.min())) // minute
    end = max(int(send_us.max()), int(record_us.max())) // minute
    size = end - start + 1
    posts = np.bincount(send_us // minute - start, minlength=size).astype(float)
    made = np.bincount(record_us // minute - start, minlength=size).astype(float)
    reach = _MAX_ZONE_SECONDS // 60
    shifts = np.arange(-reach, reach + 1, _ZONE_STEP_MINUTES)
    padded = np.concatenate([np.zeros(reach), made, np.zeros(reach)])
    scores = np.array([np.dot(posts, padded[reach - k : reach - k + size]) for k in shifts])
    best = int(shifts[int(np.argmax(scores))])
    at_zero = scores[shifts == 0][0]
    return best if best and scores.max() >= 2 * max(at_zero, 1.0) else 0
