"""Vectorized text of epoch times in the formats the logs and the API write."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MICROS_PER_SECOND
from analyzer.simulate.text import compose
from analyzer.simulate.timeline import DAY_MS

MONTH_NAMES = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", np.uint8).reshape(12, 3)
WEEKDAY_NAMES = np.frombuffer(b"MonTueWedThuFriSatSun", np.uint8).reshape(7, 3)


def calendar(ms: np.ndarray) -> dict[str, np.ndarray]:
    """Calendar fields of epoch milliseconds: Y m d H M S f(ms) and a (weekday, Monday 0)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = np.floor_divide(ms, DAY_MS)
    in_day = ms - days * DAY_MS
    date = days.astype("datetime64[D]")
    year = date.astype("datetime64[Y]")
    month = date.astype("datetime64[M]")
    return {
        "Y": year.astype(np.int64) + 1970,
        "m": (month - year).astype(np.int64) + 1,
        "d": (date - month).astype(np.int64) + 1,
        "H": in_day // 3_600_000,
        "M": in_day // 60_000 % 60,
        "S": in_day // 1000 % 60,
        "f": in_day % 1000,
        "a": (days + 3) % 7,  # 1970-01-01 was a Thursday
    }


def iso_ms(ms: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for epoch milliseconds (years 1000-9999)."""
    c = calendar(ms)
    return compose(
        np.size(ms),
        [(c["Y"], 4), "-", (c["m"], 2), "-", (c["d"], 2), "T", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), ".", (c["f"], 3), "Z"],
    )  # fmt: skip


def rfc2822(seconds: np.ndarray, zone: str = "+0000") -> pa.Array:
    """``Sun, 29 Nov 2026 14:03:01 +0000`` (Twilio's dates; zone "GMT" for HTTP dates)."""
    c = calendar(np.asarray(seconds, dtype=np.int64) * 1000)
    return compose(
        np.size(seconds),
        [WEEKDAY_NAMES[c["a"]], ", ", (c["d"], 2), " ", MONTH_NAMES[c["m"] - 1], " ",
         (c["Y"], 4), " ", (c["H"], 2), ":", (c["M"], 2), ":", (c["S"], 2), " " + zone],
    )  # fmt: skip


def sdk_stamp(ms: np.ndarray) -> pa.Array:
    """Python logging's default asctime: ``2026-11-29 14:03:01,123``."""
    c = calendar(ms)
    return compose(
        np.size(ms),
        [(c["Y"], 4), "-", (c["m"], 2), "-", (c["d"], 2), " ", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), ",", (c["f"], 3)],
    )  # fmt: skip


def clf_time(ms: np.ndarray, offset_minutes: int) -> pa.Array:
    """nginx ``$time_local`` at a fixed UTC offset: ``29/Nov/2026:15:03:01 +0100``."""
    c = calendar(np.asarray(ms, dtype=np.int64) + offset_minutes * 60_000)
    sign = "+" if offset_minutes >= 0 else "-"
    zone = f" {sign}{abs(offset_minutes) // 60:02d}{abs(offset_minutes) % 60:02d}"
    return compose(
        np.size(ms),
        [(c["d"], 2), "/", MONTH_NAMES[c["m"] - 1], "/", (c["Y"], 4), ":", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), zone],
    )  # fmt: skip


def timestamp_text(values: pa.Array, zone: str = "+0000") -> pa.Array:
    """RFC 2822 text of a timestamp column, nulls kept."""
    valid = pc.is_valid(values)
    micros = pc.fill_null(pc.cast(values, pa.int64()), 0).to_numpy(zero_copy_only=False)
    texts = rfc2822(micros // MICROS_PER_SECOND, zone)
    return pc.if_else(valid, texts, pa.scalar(None, pa.string()))
