"""Small text helpers shared by the report's sections and outputs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.redact import mask_phones
from analyzer.results import format_time


def time_text(value: Any) -> str | None:
    """A time (datetime, pandas Timestamp, text) in the results format; None if missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    stamp = pd.Timestamp(value)
    if pd.isna(stamp):
        return None
    return format_time(stamp.to_pydatetime(warn=False))


def plural(count: int, word: str) -> str:
    """``word`` with an ``s`` unless ``count`` is one."""
    return word if count == 1 else f"{word}s"


def masked(values: pd.Series | pa.Array, redact: bool) -> list[str | None]:
    """Phone numbers as text, masked when ``redact``."""
    if not redact:
        return [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in (values.to_pylist() if isinstance(values, pa.Array) else values)
        ]
    return mask_phones(values).to_pylist()


def join_lists(column: pa.ChunkedArray | pa.Array, times: str | None = None) -> pa.Array:
    """Join each list into one ``;``-separated string (null items become empty strings);
    ``times`` (``s`` or ``ms``) formats timestamps to that precision."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ChunkedArray):
        array = pa.concat_arrays(array.chunks)
    values = pc.list_flatten(array)
    if times:
        strings = pc.strftime(
            values.cast(pa.timestamp(times, tz="UTC"), safe=False), format="%Y-%m-%dT%H:%M:%SZ"
        )
    else:
        strings = pc.cast(values, pa.string())
    strings = strings.fill_null("")
    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    rebuilt = pa.ListArray.from_arrays(pa.array(offsets), strings)
    return pc.binary_join(rebuilt, ";")
