"""Jobs that chain the library's steps: read, detect, write results."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from analyzer.atomic import write_parquet, write_text
from analyzer.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    LOW_CARDINALITY,
    Detection,
    detect_columns,
    find_duplicates,
)
from analyzer.errors import InputError
from analyzer.store import read_messages

CLUSTERS_FILE = "clusters.parquet"
SENSITIVITY_FILE = "sensitivity.csv"
SUMMARY_FILE = "summary.json"

Step = Callable[[str], None]


@dataclass
class DetectRun:
    """A finished detection job and where its results were written."""

    detection: Detection
    out_dir: Path

    @property
    def clusters_path(self) -> Path:
        return self.out_dir / CLUSTERS_FILE


def run_detect(
    source: str | Path,
    out_dir: str | Path,
    *,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    step: Step | None = None,
) -> DetectRun:
    """Read messages, find duplicate clusters and write the results to ``out_dir``.

    Writes ``clusters.parquet`` (duplicate clusters only), ``sensitivity.csv`` and
    ``summary.json``. Raises InputError when there is nothing to analyse.
    """
    announce = step or (lambda _name: None)
    announce("Reading messages")
    messages = read_messages(
        source, start=start, end=end, columns=detect_columns(key), dictionary=LOW_CARDINALITY
    )
    if messages.num_rows == 0:
        raise InputError(f"no message records in {source}" + _range_text(start, end))
    announce("Finding duplicates")
    detection = find_duplicates(messages, window=window, key=key)
    del messages
    announce("Writing results")
    out = Path(out_dir)
    write_detection(detection, out, source=source)
    return DetectRun(detection=detection, out_dir=out)


def write_detection(
    detection: Detection, out_dir: Path, *, source: str | Path | None = None
) -> None:
    """Write a detection's clusters, sensitivity table and summary, each atomically."""
    out_dir.mkdir(parents=True, exist_ok=True)
    write_parquet(detection.clusters, out_dir / CLUSTERS_FILE)
    write_text(detection.sensitivity.to_csv(index=False), out_dir / SENSITIVITY_FILE)
    summary = dict(detection.summary)
    if source is not None:
        summary["source"] = str(source)
    write_text(json.dumps(summary, indent=2, default=_json_default) + "\n", out_dir / SUMMARY_FILE)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _range_text(start: object, end: object) -> str:
    if start is None and end is None:
        return ""
    return f" between {start or 'the start'} and {end or 'the end'}"
