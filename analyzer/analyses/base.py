"""What every analysis is given and returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from analyzer.atomic import ensure_output_dir, write_parquet, write_text
from analyzer.feedback import Feedback, Silent
from analyzer.logs import LogParseResult, RowFilter, read_server_logs
from analyzer.options import (
    DetectOptions,
    EngineOptions,
    FailuresOptions,
    LogOptions,
    OptoutsOptions,
)
from analyzer.results import write_json
from analyzer.schema import MICROS_PER_SECOND


class Summary(Protocol):
    """An analysis's counts, as written to its summary file."""

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""


@dataclass
class AnalysisInput:
    """What an analysis reads: the messages, the period, the request logs, the options."""

    source: str | Path
    start: date | datetime | str | None = None
    end: date | datetime | str | None = None
    #: Only what starts on this UTC day (the days around it are read to see it whole).
    day: date | None = None
    logs: LogOptions = field(default_factory=LogOptions)
    options: DetectOptions = field(default_factory=DetectOptions)
    engine: EngineOptions = field(default_factory=EngineOptions)
    failures: FailuresOptions = field(default_factory=FailuresOptions)
    optouts: OptoutsOptions = field(default_factory=OptoutsOptions)
    #: Whether an empty period is a result (nightly) rather than an error.
    allow_empty: bool = False
    feedback: Feedback = field(default_factory=Silent)
    #: The request-log rows the job's analyses read, beside those an analysis asks for
    #: with a scope (Analysis.log_rows of each); None: unknown, every row is kept.
    log_rows: tuple[RowFilter, ...] | None = None
    _parsed: LogParseResult | None = field(default=None, repr=False)

    def parsed_logs(self, scope: RowFilter | None = None) -> LogParseResult:
        """The request logs, parsed once however many analyses use them.

        ``scope`` names the rows the caller needs: the logs read now keep only those and
        the rows of ``log_rows`` (every row when ``log_rows`` is None). Whether rows
        were left out: LogParseResult.complete.
        """
        if self._parsed is None:
            others = self.log_rows
            keep = None if scope is None or others is None else _any_of(scope, *others)
            self._parsed = self._read_logs(keep)
        return self._parsed

    def reread_logs(self) -> LogParseResult:
        """The request logs read again with every row (a scope left out too many)."""
        self._parsed = None
        self._parsed = self._read_logs(None)
        return self._parsed

    def _read_logs(self, keep: RowFilter | None) -> LogParseResult:
        self.feedback.step("Reading server logs (lines)")
        return read_server_logs(
            list(self.logs.paths),
            format=self.logs.format,
            log_tz=self.logs.tz,
            fields=self.logs.field_map or None,
            progress=self.feedback.advance,
            keep=keep,
        )

    @property
    def read_period(self) -> tuple[Any, Any]:
        """The days read: the range, or the day with its neighbours."""
        if self.day is not None:
            return self.day - timedelta(days=1), self.day + timedelta(days=1)
        return self.start, self.end


@dataclass
class AnalysisResult:
    """An analysis's tables and summary, and how to write them."""

    name: str
    #: Results file name → table (Parquet) or text (CSV and the like).
    files: dict[str, pa.Table | str]
    summary: Summary
    summary_file: str
    #: What the analysis worked with, for callers that want more than the files.
    detail: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: str | Path) -> Path:
        """Write every file of the result into ``out_dir``, each atomically."""
        out = ensure_output_dir(out_dir)
        for name, content in self.files.items():
            if isinstance(content, pa.Table):
                write_parquet(content, out / name)
            else:
                write_text(content, out / name)
        write_json(self.summary.to_json(), out / self.summary_file)
        return out


@dataclass(frozen=True)
class Analysis:
    """A registered analysis."""

    name: str
    title: str
    #: The message columns it reads.
    columns: tuple[str, ...]
    run: Callable[[AnalysisInput], AnalysisResult]
    #: Whether it spreads its own steps over the engine (else the engine runs it whole).
    spreads_itself: bool = False
    #: The request-log rows it reads, when they do not depend on the data (an analysis
    #: that reads none, or asks for its own with a scope, has None).
    log_rows: RowFilter | None = None


def _any_of(*filters: RowFilter) -> RowFilter:
    """The rows any of the filters keeps (each sees every chunk, in order)."""

    def keep(chunk: pa.Table) -> np.ndarray:
        masks = [np.asarray(f(chunk), dtype=bool) for f in filters]
        return np.logical_or.reduce(masks)

    return keep


def day_start_micros(day: object) -> int:
    """Midnight UTC of a day (a date or ``YYYY-MM-DD``), in microseconds since the epoch."""
    moment = datetime.fromisoformat(str(day)).replace(tzinfo=UTC)
    return int(moment.timestamp()) * MICROS_PER_SECOND
