"""Where detection runs: ``local`` (this machine, batch by batch) or ``dask`` (a cluster).

Both return the same Detection for the same records; the Dask equivalence tests hold
them to it.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from analyzer.duplicates.detect import Detection
from analyzer.engines.local import detect_path
from analyzer.errors import InputError
from analyzer.feedback import Feedback
from analyzer.options import DetectOptions, EngineOptions

__all__ = ["detect", "detect_path"]


def detect(
    source: str | Path,
    options: DetectOptions,
    engine: EngineOptions,
    *,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    day: date | None = None,
    feedback: Feedback | None = None,
) -> Detection:
    """Find the duplicate clusters of a Parquet file or dataset on the chosen engine."""
    if engine.name == "dask":
        if day is not None:
            raise InputError("the dask engine analyses date ranges; use --start/--end")
        from analyzer.engines.dask import dask_client, detect_dask

        with dask_client(engine.scheduler) as client:
            return detect_dask(
                source,
                client=client,
                window=options.window,
                key=options.key,
                start=start,
                end=end,
                partitions=engine.partitions,
            )
    return detect_path(
        source,
        window=options.window,
        key=options.key,
        start=start,
        end=end,
        day=day,
        feedback=feedback,
    )
