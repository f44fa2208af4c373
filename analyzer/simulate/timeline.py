"""When events happen: the daily volume curve and the daily window the log misses."""

from __future__ import annotations

from datetime import time

import numpy as np

from analyzer.errors import UserError

DAY_S = 86_400
DAY_MS = 86_400_000
#: Relative message volume of each hour of the day (UTC).
HOUR_WEIGHTS = np.array(
    [0.25, 0.18, 0.12, 0.10, 0.10, 0.15, 0.30, 0.55, 0.85, 1.00, 1.10, 1.15,
     1.20, 1.20, 1.15, 1.10, 1.10, 1.05, 1.00, 0.95, 0.85, 0.70, 0.50, 0.35]
)  # fmt: skip


class LogGap:
    """The daily window without server-log coverage, in the application's clock."""

    def __init__(self, gap: tuple[time, time] | None) -> None:
        self.enabled = gap is not None
        self.length_ms = 0
        if gap is None:
            self.start_ms = self.end_ms = 0
            return
        self.start_ms, self.end_ms = (
            ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000 for t in gap
        )
        length = (self.end_ms - self.start_ms) % DAY_MS
        if length == 0 or length > DAY_MS // 2:
            raise UserError("log_gap must be a window shorter than 12 hours")
        self.length_ms = length

    def contains(self, ms: np.ndarray) -> np.ndarray:
        """Whether each app-clock time (ms since the epoch) is inside the gap."""
        if not self.enabled:
            return np.zeros(ms.shape, dtype=bool)
        tod = np.mod(ms, DAY_MS)
        if self.start_ms < self.end_ms:
            return (tod >= self.start_ms) & (tod < self.end_ms)
        return (tod >= self.start_ms) | (tod < self.end_ms)


def draw_times(
    rng: np.random.Generator, n: int, window_start: int, days: int, span: int | None = None
) -> np.ndarray:
    """Event times (epoch seconds) following a diurnal volume curve, or even over ``span``."""
    if span is not None:
        return window_start + rng.integers(0, span, size=n)
    day = rng.integers(0, days, size=n)
    hour = rng.choice(24, size=n, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    second = rng.integers(0, 3600, size=n)
    return window_start + day * DAY_S + hour * 3600 + second
