"""The Dask engine: the same detection, spread over a cluster of workers.

Records are shuffled by a hash of the grouping key, so every record of a key lands
in one partition; each partition then runs the single-machine pandas/Arrow code
(analyzer.duplicates.detect) and the per-partition results are combined. Keys never span
partitions, so the combination is exact: clusters are concatenated, counts summed. A
day (nightly) is read with the days around it, as the local engine reads it, and only
the clusters that start on it are kept.

One client serves a whole job: ``session`` opens it (a scheduler's, or a LocalCluster)
and every step run inside reuses it.

Needs the optional extra: ``pip install -e '.[dask]'`` from a checkout.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
import pyarrow as pa

from analyzer.duplicates.clusters import SENSITIVITY_WINDOWS
from analyzer.duplicates.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    Detection,
    combine_detections,
    detect_columns,
    find_duplicates,
)
from analyzer.duplicates.hashing import hashed_key
from analyzer.duplicates.keys import Limits
from analyzer.errors import UserError
from analyzer.schema import MESSAGE_SCHEMA, MICROS_PER_SECOND
from analyzer.store import list_days, scan_messages

_KEY = "__key_hash"
_T = TypeVar("_T")
_R = TypeVar("_R")
#: The scheduler (None: a LocalCluster) and client of the job running now (see ``session``).
_SESSION: ContextVar[tuple[str | None, Any] | None] = ContextVar(
    "analyzer_dask_session", default=None
)


def _require_dask() -> Any:
    try:
        import dask.dataframe as dd
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise UserError(
            "the dask engine needs the optional extra: "
            "pip install -e '.[dask]' (from the analyzer checkout)"
        ) from None
    return dd, Client, LocalCluster


@contextmanager
def dask_client(scheduler: str | None = None, workers: int = 2) -> Iterator[Any]:
    """Connect to a scheduler (``tcp://host:8786``), or start a LocalCluster; closed after."""
    _, client_class, local_cluster = _require_dask()
    import logging

    # The shuffle announces every run at WARNING level; that is not a warning to our users.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    if scheduler:
        try:
            client = client_class(scheduler, timeout="10s")
        except OSError as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
        with client:
            yield client
        return
    with (
        local_cluster(
            n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        client_class(cluster) as client,
    ):
        yield client


@contextmanager
def session(scheduler: str | None = None) -> Iterator[Any]:
    """The client every Dask step inside uses: the open one of this scheduler, else a new one."""
    current = _SESSION.get()
    if current is not None and current[0] == scheduler:
        yield current[1]
        return
    with dask_client(scheduler) as client:
        token = _SESSION.set((scheduler, client))
        try:
            yield client
        finally:
            _SESSION.reset(token)


def run_on_cluster(function: Callable[[_T], _R], argument: _T, scheduler: str | None) -> _R:
    """``function(argument)`` run as one task on a worker of the cluster."""
    with session(scheduler) as client:
        shipped = client.scatter(argument, hash=False)
        result: _R = client.submit(function, shipped, pure=False).result()
        return result


def detect_dask(
    source: str | Path,
    *,
    client: Any,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    partitions: int | None = None,
    day: date | None = None,
) -> Detection:
    """Find duplicate clusters with Dask; the result equals ``find_duplicates``'s.

    ``source`` is a dataset folder, a Parquet file, or an fsspec URL of a
    hive-partitioned dataset (``s3://bucket/dataset``, read with ``date``
    filters). ``partitions`` sets how many key partitions the shuffle makes. With
    ``day``, only the clusters that start on that UTC day are kept, as the local
    engine keeps them (``start`` and ``end`` are then not used).
    """
    if day is not None:
        return _detect_day(source, day, client, window, key, partitions)
    return _detect_range(source, client, window, key, start, end, partitions)[0]


def _detect_day(
    source: str | Path,
    day: date,
    client: Any,
    window: float,
    key: Sequence[str],
    partitions: int | None,
) -> Detection:
    """Clusters that start on ``day``, read with the days around as the local engine reads them."""
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    focus = (_us(midnight), _us(midnight + timedelta(days=1)))
    widest = max(float(window), *SENSITIVITY_WINDOWS)
    before, after = max(1, math.ceil(widest / 86_400)), 1
    days = list_days(source) if Path(source).is_dir() else []
    while True:
        last = day + timedelta(days=after)
        start = day - timedelta(days=before)
        detection, reach = _detect_range(
            source, client, window, key, start, last, partitions, focus
        )
        read_end = _us(midnight + timedelta(days=after + 1))
        # A run reaching the end of what was read may go on: read one more day.
        reaches_end = reach is not None and reach + widest * MICROS_PER_SECOND >= read_end
        if not reaches_end or not any(d > last.isoformat() for d in days):
            return detection
        after += 1


def _us(moment: datetime) -> int:
    return int(moment.timestamp()) * MICROS_PER_SECOND


def _detect_range(
    source: str | Path,
    client: Any,
    window: float,
    key: Sequence[str],
    start: date | datetime | str | None,
    end: date | datetime | str | None,
    partitions: int | None,
    focus: Limits = (None, None),
) -> tuple[Detection, int | None]:
    """The detection over a period, and the latest time a run starting in the focus reaches."""
    dd, _, _ = _require_dask()
    import dask

    columns = detect_columns(key)
    text = str(source)
    if "://" in text:
        filters = []
        if start is not None:
            filters.append(("date", ">=", str(start)[:10]))
        if end is not None:
            filters.append(("date", "<=", str(end)[:10]))
        frame = dd.read_parquet(text, columns=columns, filters=filters or None)
    else:
        scan = scan_messages(source, start, end, columns=columns)
        if not scan.files:
            empty = pa.schema([MESSAGE_SCHEMA.field(c) for c in columns]).empty_table()
            nothing = find_duplicates(empty, window=window, key=key, focus=focus)
            return nothing, nothing.reach
        frame = dd.read_parquet([str(f) for f in scan.files], columns=columns)
        if scan.bounds != (None, None):
            created = frame["date_created"]
            if scan.bounds[0] is not None:
                frame = frame[created >= pd.Timestamp(scan.bounds[0], unit="us", tz="UTC")]
            if scan.bounds[1] is not None:
                frame = frame[created < pd.Timestamp(scan.bounds[1], unit="us", tz="UTC")]
    count = partitions or max(frame.npartitions, 1)
    keyed = frame.map_partitions(_with_key_hash, tuple(key), meta=_meta(frame, columns))
    shuffled = keyed.shuffle(on=_KEY, npartitions=count)
    parts = [
        dask.delayed(_detect_part)(part, window, tuple(key), tuple(columns), focus)
        for part in shuffled.to_delayed()
    ]
    results = client.compute(parts, sync=True)
    reaches = [r.reach for r in results if r.reach is not None]
    combined = combine_detections(results, window=window, key=key)
    return combined, max(reaches) if reaches else None


def _meta(frame: Any, columns: Sequence[str]) -> pd.DataFrame:
    meta = frame._meta.copy()
    meta[_KEY] = pd.Series([], dtype="uint64")
    return meta


def _with_key_hash(part: pd.DataFrame, key: tuple[str, ...]) -> pd.DataFrame:
    table = pa.Table.from_pandas(part[list(key)], preserve_index=False)
    import numpy as np

    result = part.copy()
    result[_KEY] = hashed_key(table, np.arange(len(part)), key)
    return result


def _detect_part(
    part: pd.DataFrame,
    window: float,
    key: tuple[str, ...],
    columns: tuple[str, ...],
    focus: Limits,
) -> Detection:
    table = pa.Table.from_pandas(part[list(columns)], preserve_index=False)
    schema = pa.schema([MESSAGE_SCHEMA.field(c) for c in columns])
    return find_duplicates(table.cast(schema), window=window, key=key, focus=focus)
