"""A clock tests move forward: what the fake and the test's logs stamp times with."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime


class VirtualClock:
    """A clock for the fake and the test's logs: real time plus an offset tests move forward.

    ``sleep(s)`` advances it without waiting, ``advance_to(t)`` jumps to an epoch time (never
    backwards); real time keeps running underneath, so a real client timeout still takes its
    real second. Calling the clock gives epoch seconds, like ``time.time``.
    """

    def __init__(self, start: datetime | float | None = None) -> None:
        if isinstance(start, datetime):
            start = start.timestamp()
        self._offset = 0.0 if start is None else start - time.time()
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return time.time() + self._offset

    def sleep(self, seconds: float) -> None:
        """Let ``seconds`` pass on this clock at once."""
        with self._lock:
            self._offset += max(seconds, 0.0)

    def advance_to(self, moment: datetime | float) -> None:
        """Move the clock to ``moment`` if that is later than now."""
        target = moment.timestamp() if isinstance(moment, datetime) else moment
        self.sleep(target - self())

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime."""
        return datetime.fromtimestamp(self(), UTC)

    def log_filter(self) -> logging.Filter:
        """A filter that stamps log records with this clock (add it to a logger)."""
        clock = self

        class _Stamp(logging.Filter):
            def filter(self, record: logging.LogRecord) -> bool:
                record.created = clock()
                record.msecs = int((record.created - int(record.created)) * 1000) + 0.0
                return True

        return _Stamp()
