"""The Dask engine: the same detection, spread over a cluster of workers.

Records are shuffled by a hash of the grouping key, so every record of a key lands
in one partition; each partition then runs the single-machine pandas/Arrow code
(analyzer.duplicates.detect) and the per-partition results are combined. Keys never span
partitions, so the combination is exact: clusters are concatenated, counts summed.

Needs the optional extra: ``pip install -e '.[dask]'`` from a checkout.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from analyzer.duplicates.detect import (
    DEFAULT_KEY,
    DEFAULT_WINDOW,
    Detection,
    combine_detections,
    detect_columns,
    find_duplicates,
)
from analyzer.duplicates.hashing import hashed_key
from analyzer.errors import UserError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.store import scan_messages

_KEY = "__key_hash"


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


def dask_client(scheduler: str | None = None, workers: int = 2) -> Any:
    """Connect to a scheduler (``tcp://host:8786``), or start a LocalCluster."""
    _, client_class, local_cluster = _require_dask()
    import logging

    # The shuffle announces every run at WARNING level; that is not a warning to our users.
    logging.getLogger("distributed.shuffle").setLevel(logging.ERROR)
    if scheduler:
        try:
            return client_class(scheduler, timeout="10s")
        except OSError as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
    cluster = local_cluster(
        n_workers=workers, threads_per_worker=1, processes=False, dashboard_address=None
    )
    return client_class(cluster)


def detect_dask(
    source: str | Path,
    *,
    client: Any,
    window: float = DEFAULT_WINDOW,
    key: Sequence[str] = DEFAULT_KEY,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    partitions: int | None = None,
) -> Detection:
    """Find duplicate clusters with Dask; the result equals ``find_duplicates``'s.

    ``source`` is a dataset folder, a Parquet file, or an fsspec URL of a
    hive-partitioned dataset (``s3://bucket/dataset``, read with ``date``
    filters). ``partitions`` sets how many key partitions the shuffle makes.
    """
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
            return find_duplicates(
                pa.schema([MESSAGE_SCHEMA.field(c) for c in columns]).empty_table(),
                window=window,
                key=key,
            )
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
        dask.delayed(_detect_part)(part, window, tuple(key), tuple(columns))
        for part in shuffled.to_delayed()
    ]
    results = client.compute(parts, sync=True)
    return combine_detections(results, window=window, key=key)


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
    part: pd.DataFrame, window: float, key: tuple[str, ...], columns: tuple[str, ...]
) -> Detection:
    table = pa.Table.from_pandas(part[list(columns)], preserve_index=False)
    schema = pa.schema([MESSAGE_SCHEMA.field(c) for c in columns])
    return find_duplicates(table.cast(schema), window=window, key=key)
