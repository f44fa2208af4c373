"""What several log writers share: the client's identity, URL paths, response sizes."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SDK_VERSION = "9.13.0"
USER_AGENT = f"twilio-python/{SDK_VERSION} (Linux x86_64) Python/3.11.7"


def url_path(url: pa.Array) -> pa.Array:
    """The path (and query) of absolute URLs."""
    return pc.replace_substring_regex(url, r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/]*", "")


def optional_column(t: pa.Table, name: str) -> pa.Array:
    """The column of this name, all null when the table has none."""
    if name in t.column_names:
        column = t[name]
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return pa.nulls(t.num_rows, pa.string())


def user_agents(t: pa.Table) -> pa.Array:
    """Each request's User-Agent: the row's, else the SDK's."""
    return pc.coalesce(optional_column(t, "user_agent"), pa.scalar(USER_AGENT))


def request_numbers(t: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """status (0 = no response), duration (ms, 0 if unknown), is GET, per-row random ints."""
    status = np.asarray(pc.fill_null(t["status"], 0).to_numpy(zero_copy_only=False), np.int64)
    duration = np.asarray(
        pc.fill_null(t["duration_ms"], 0).to_numpy(zero_copy_only=False), np.int64
    )
    is_get = np.asarray(pc.equal(t["method"], "GET").to_numpy(zero_copy_only=False), bool)
    return status, duration, is_get, t["seq"].to_numpy()


def bytes_sent(status: np.ndarray, rnd: np.ndarray) -> np.ndarray:
    """Response sizes: none without a response or content (204), short error bodies,
    longer records."""
    return np.where(
        (status == 0) | (status == 204),
        0,
        np.where(status >= 400, 150 + rnd[:, 2] % 40, 820 + rnd[:, 3] % 180),
    )


def cut_text(text: str, fraction: float) -> str:
    """A torn write of one rendered request: its first ``fraction``, then a newline."""
    return text[: max(1, int(len(text) * fraction))] + "\n"
