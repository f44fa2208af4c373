"""Where the work runs: ``local`` (this machine, batch by batch) or ``dask`` (a cluster).

Both return the same Detection and cross-reference for the same records; the Dask
equivalence tests hold them to it. With the dask engine the other analyses run as
tasks on the cluster (``run_analysis_on``), reading the dataset from the workers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa

from analyzer.duplicates.crossref import CrossReference
from analyzer.duplicates.detect import Detection
from analyzer.engines.local import detect_path
from analyzer.feedback import Feedback, Silent
from analyzer.options import DetectOptions, EngineOptions

if TYPE_CHECKING:
    from analyzer.analyses.base import AnalysisInput, AnalysisResult

__all__ = ["cross_reference_on_dask", "detect", "detect_path", "engine_session", "run_on_engine"]


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
        from analyzer.engines.dask import detect_dask, session

        with session(engine.scheduler) as client:
            return detect_dask(
                source,
                client=client,
                window=options.window,
                key=options.key,
                start=start,
                end=end,
                partitions=engine.partitions,
                day=day,
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


@contextmanager
def engine_session(engine: EngineOptions) -> Iterator[None]:
    """One Dask client for every step of a job run inside (nothing to open for pandas)."""
    if engine.name != "dask":
        yield
        return
    from analyzer.engines.dask import session

    with session(engine.scheduler):
        yield


def run_on_engine(
    run: Callable[[AnalysisInput], AnalysisResult], given: AnalysisInput
) -> AnalysisResult:
    """``run(given)`` here, or with the dask engine as one task on a worker of the cluster
    (which reads the dataset, and the request logs if not parsed yet, from its own side)."""
    if given.engine.name != "dask":
        return run(given)
    from analyzer.engines.dask import run_on_cluster

    # Progress bars stay here: the worker reports nothing back while it runs.
    return run_on_cluster(run, replace(given, feedback=Silent()), given.engine.scheduler)


def cross_reference_on_dask(
    clusters: pa.Table,
    requests: pa.Table | None,
    engine: EngineOptions,
    *,
    source: str | Path,
    period: tuple[date | datetime | str | None, date | datetime | str | None],
    formats: Mapping[str, str | None] | None,
    skew: float | None,
    tolerance: float,
) -> CrossReference:
    """The cross-reference on the Dask cluster, by time partitions (analyzer.engines.dask_crossref);
    the workers read the records of ``period`` (inclusive days) from ``source``."""
    from analyzer.engines.dask import session
    from analyzer.engines.dask_crossref import MessageRead, cross_reference_dask

    with session(engine.scheduler) as client:
        return cross_reference_dask(
            clusters,
            requests,
            MessageRead(source, *period),
            client=client,
            formats=formats,
            skew=skew,
            tolerance=tolerance,
        )
