"""How long jobs report progress: the Feedback protocol, a silent default, and the
logging set-up of the command-line jobs (plain lines or JSON lines on stderr)."""

from __future__ import annotations

import json
import logging
import sys
from typing import Protocol

from analyzer.results import format_time


class Feedback(Protocol):
    """Where a long job reports what it is doing (a progress bar, a log)."""

    def step(self, name: str, total: int | None = None) -> None:
        """A new step begins; ``total`` is its amount of work in records, if known."""

    def advance(self, amount: int) -> None:
        """``amount`` more records of the current step are done."""


class Silent:
    """Feedback that shows nothing."""

    def step(self, name: str, total: int | None = None) -> None:
        """Nothing to show."""

    def advance(self, amount: int) -> None:
        """Nothing to show."""


class _JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        from datetime import UTC, datetime

        return json.dumps(
            {
                "time": format_time(datetime.fromtimestamp(record.created, UTC)),
                "level": record.levelname.lower(),
                "logger": record.name,
                "message": record.getMessage(),
            }
        )


def setup_logging(*, json_lines: bool, quiet: bool) -> None:
    """Log analyzer's progress to stderr, as plain lines or JSON lines (warnings only
    when ``quiet``)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        _JsonLines() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    logger = logging.getLogger("analyzer")
    logger.handlers = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False
