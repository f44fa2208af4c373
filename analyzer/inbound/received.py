"""The requests the application's server received, as the server log shows them: what
Twilio's webhooks and status callbacks are looked for in, and the time it covers."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs import np_bool
from analyzer.vocabulary import TWILIO_USER_AGENT

#: The columns kept of each received request.
RECEIVED_COLUMNS = (
    "time",
    "method",
    "path",
    "status",
    "message_sid",
    "from",
    "user_agent",
    "message_status",
    "twilio_error_code",
)
#: Calls to Twilio's REST API: the application's own requests, never ones it received.
TWILIO_API_PATH = "/2010-04-01/"


@dataclass
class Received:
    """What the server log says the application received, and whether it can say so."""

    #: One row per request (RECEIVED_COLUMNS); Twilio's are ``twilio_posts``.
    requests: pd.DataFrame
    #: The first and last time of a received request (None: the log shows none).
    start: pd.Timestamp | None
    end: pd.Timestamp | None

    @property
    def shows_any(self) -> bool:
        """Whether the log holds any request the application received (an SDK log or an
        egress proxy's shows only the application's calls to Twilio)."""
        return self.start is not None

    def shows_twilio(self, paths: Iterable[str]) -> bool:
        """Whether Twilio is seen reaching this server: a request from TwilioProxy, or a
        POST of unknown user agent to one of ``paths`` (the account's webhooks). Without
        that, the log may be another server's (an API's, an egress proxy's), and a
        webhook missing from it proves nothing."""
        frame = self.requests
        agent = frame["user_agent"].fillna("").astype(str)
        if agent.str.startswith(TWILIO_USER_AGENT).any():
            return True
        posts = self.twilio_posts
        return bool(is_in(posts["path"], list(paths)).any())

    @cached_property
    def twilio_posts(self) -> pd.DataFrame:
        """The POSTs that may be Twilio's: from TwilioProxy, or of unknown user agent
        (worked out once: the webhook check and the callback check both read them)."""
        frame = self.requests
        agent = frame["user_agent"].fillna("").astype(str)
        twilio = (agent == "") | agent.str.startswith(TWILIO_USER_AGENT)
        return frame[(frame["method"] == "POST") & twilio.to_numpy()]

    def covers(self, times: pd.Series, slack: float = 0.0) -> pd.Series:
        """Whether each time lies within the log's span (widened by ``slack`` seconds)."""
        if self.start is None or self.end is None:
            return pd.Series(False, index=times.index)
        pad = pd.Timedelta(seconds=slack)
        stamps = pd.to_datetime(times, utc=True)
        return (stamps >= self.start - pad) & (stamps <= self.end + pad)


def not_sends(requests: pa.Table) -> np.ndarray:
    """Which request rows are not message POSTs: the rows received_requests may read
    (an analyzer.logs.RowFilter)."""
    return ~np_bool(requests["is_send"])


def received_requests(requests: pa.Table | pd.DataFrame | None) -> Received | None:
    """The requests of a parsed server log (``analyzer.logs`` table, or a frame with at
    least time, method and path) that the application received; None without a log."""
    if requests is None:
        return None
    table = (
        requests
        if isinstance(requests, pa.Table)
        else pa.Table.from_pandas(requests, preserve_index=False)
    )
    path = table["path"].cast(pa.string())
    keep = pc.and_(
        pc.and_(pc.is_valid(path), pc.is_valid(table["time"])),
        pc.invert(pc.fill_null(pc.starts_with(path, TWILIO_API_PATH), False)),
    )
    if "is_send" in table.column_names:
        keep = pc.and_(keep, pa.array(not_sends(table)))
    kept = table.filter(pc.fill_null(keep, False))
    columns = {}
    for name in RECEIVED_COLUMNS:
        column = kept[name] if name in kept.column_names else pa.nulls(kept.num_rows, pa.string())
        if pa.types.is_dictionary(column.type):
            column = column.cast(column.type.value_type)
        columns[name] = column
    frame = pa.table(columns).to_pandas()
    frame["method"] = frame["method"].astype(str).str.upper()
    frame["time"] = pd.to_datetime(frame["time"], utc=True)
    if frame.empty:
        return Received(frame, None, None)
    return Received(frame, frame["time"].min(), frame["time"].max())


def is_in(values: pd.Series, among: Iterable[Any] | pd.Series | pd.Index) -> np.ndarray:
    """Whether each value is one of ``among`` (a null never is), computed by Arrow:
    pandas' own isin walks Arrow-backed text in Python, value by value."""
    left = pa.array(values, from_pandas=True)
    if isinstance(left, pa.ChunkedArray):
        left = left.combine_chunks()
    right = pa.array(
        list(among) if not isinstance(among, pd.Series | pd.Index) else among, from_pandas=True
    )
    if isinstance(right, pa.ChunkedArray):
        right = right.combine_chunks()
    if pa.types.is_dictionary(left.type):
        left = left.dictionary_decode()
    if len(left) == 0 or len(right) == 0 or pa.types.is_null(left.type):
        return np.zeros(len(left), dtype=bool)
    if right.type != left.type:
        try:
            right = right.cast(left.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            left, right = left.cast(pa.large_string()), right.cast(pa.large_string())
    found = pc.is_in(left, value_set=right, skip_nulls=True)
    return np.asarray(pc.fill_null(found, False).to_numpy(zero_copy_only=False), dtype=bool)
