"""The messages the fake holds: pre-formatted as the API writes them, serialised once,
indexed per account by date_sent for list pages."""

from __future__ import annotations

import bisect
import json
import threading
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA, coerce_messages
from tests.fakes.twilio.wire import API, rfc2822

#: The fields of a Message resource, in the order the API writes them.
MESSAGE_FIELDS = (
    "sid",
    "account_sid",
    "messaging_service_sid",
    "from",
    "to",
    "body",
    "status",
    "direction",
    "error_code",
    "error_message",
    "num_segments",
    "num_media",
    "price",
    "price_unit",
    "api_version",
    "date_created",
    "date_sent",
    "date_updated",
)


class MessageStore:
    """Message records held as pre-formatted columns, indexed per account by date_sent."""

    def __init__(self) -> None:
        self.cols: dict[str, np.ndarray] = {f: np.empty(0, dtype=object) for f in MESSAGE_FIELDS}
        self.json = np.empty(0, dtype=object)  # each record serialised once, up front
        self.sent = np.empty(0, dtype=np.int64)  # epoch seconds, INT64_MIN when null
        self.index: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self.lock = threading.Lock()

    def load(self, table: pa.Table) -> None:
        """Add normalised records (see ``normalize``)."""
        cols = _format_columns(table)
        sent = _epoch_seconds(table["date_sent"])
        texts = np.empty(table.num_rows, dtype=object)
        texts[:] = [json.dumps(r) for r in self._render(cols, range(table.num_rows))]
        with self.lock:
            for name in MESSAGE_FIELDS:
                self.cols[name] = np.concatenate([self.cols[name], cols[name]])
            self.json = np.concatenate([self.json, texts])
            self.sent = np.concatenate([self.sent, sent])
            self._reindex()

    def _reindex(self) -> None:
        # Newest first by date_sent, nulls (never sent) first, ties by sid descending.
        sids = self.cols["sid"].astype(str)
        order = np.lexsort((sids, self.sent))[::-1]
        nulls = order[self.sent[order] == np.iinfo(np.int64).min]
        order = np.concatenate([nulls, order[: len(order) - len(nulls)]])
        accounts = self.cols["account_sid"][order].astype(str)
        self.index = {}
        for account in np.unique(accounts):
            rows = order[accounts == account]
            sent = self.sent[rows]
            null = sent == np.iinfo(np.int64).min
            self.index[str(account)] = (rows, np.where(null, sent, -sent))

    def select(
        self,
        account: str,
        after: int | None,
        before: int | None,
        to: str | None,
        from_: str | None,
    ) -> np.ndarray:
        """Rows of one account in list order, filtered (bounds are inclusive epoch seconds)."""
        with self.lock:
            rows, keys = self.index.get(account, (np.empty(0, np.int64), np.empty(0, np.int64)))
            cols = self.cols
        lo, hi = 0, len(rows)
        if after is not None or before is not None:
            # keys (-date_sent) ascend; never-sent records lead with INT64_MIN and no
            # DateSent filter matches them
            lo = int(np.searchsorted(keys, np.iinfo(np.int64).min, side="right"))
            if before is not None:
                lo = max(lo, bisect.bisect_left(keys, -before, lo, hi))
            if after is not None:
                hi = min(hi, bisect.bisect_right(keys, -after, lo, hi))
        picked = rows[lo:hi]
        if to is not None:
            picked = picked[cols["to"][picked] == to]
        if from_ is not None:
            picked = picked[cols["from"][picked] == from_]
        return picked

    def records(self, rows: Iterable[int]) -> list[dict[str, Any]]:
        """The JSON objects of some rows."""
        return self._render(self.cols, rows)

    @staticmethod
    def _render(cols: Mapping[str, np.ndarray], rows: Iterable[int]) -> list[dict[str, Any]]:
        out = []
        for i in rows:
            rec = {name: cols[name][i] for name in MESSAGE_FIELDS}
            base = f"{API}/Accounts/{rec['account_sid']}/Messages/{rec['sid']}"
            rec["uri"] = f"{base}.json"
            rec["subresource_uris"] = {
                "media": f"{base}/Media.json",
                "feedback": f"{base}/Feedback.json",
            }
            out.append(rec)
        return out

    def page_json(self, rows: np.ndarray, rest: Mapping[str, Any]) -> bytes:
        """A list page: the rows' pre-serialised records plus the paging keys."""
        with self.lock:
            texts = self.json[rows]
        tail = json.dumps(dict(rest))[1:]
        return ('{"messages": [' + ", ".join(texts) + "], " + tail).encode()

    def find(self, account: str, sid: str) -> int | None:
        """The row of one account's record with this sid, or None."""
        hits = np.flatnonzero(self.cols["sid"] == sid)
        for i in hits:
            if self.cols["account_sid"][i] == account:
                return int(i)
        return None


def _epoch_seconds(column: pa.ChunkedArray) -> np.ndarray:
    seconds = pc.cast(column, pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
    return np.asarray(pc.fill_null(seconds, np.iinfo(np.int64).min).to_numpy(), dtype=np.int64)


def _format_columns(table: pa.Table) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for name in MESSAGE_FIELDS:
        col = table[name]
        if name.startswith("date_"):
            secs = pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False).cast(pa.int64())
            values = [rfc2822(v) for v in secs.to_pylist()]
        elif name in ("num_segments", "num_media"):
            values = [None if v is None else str(v) for v in col.to_pylist()]
        elif name == "price":
            values = [None if v is None else f"{v:.5f}" for v in col.to_pylist()]
        else:
            values = col.to_pylist()
        arr = np.empty(len(values), dtype=object)
        arr[:] = values
        out[name] = arr
    return out


def normalize(data: pa.Table | pd.DataFrame) -> pa.Table:
    """Return records as the server holds them: whole seconds, prices to 5 decimals."""
    table = coerce_messages(data, fill_missing=True)
    arrays = []
    for f in MESSAGE_SCHEMA:
        col = table[f.name]
        if f.name.startswith("date_"):
            col = pc.cast(pc.cast(col, pa.timestamp("s", tz="UTC"), safe=False), f.type)
        elif f.name == "price":
            col = pa.chunked_array(
                [
                    pa.array(
                        [None if v is None else float(f"{v:.5f}") for v in col.to_pylist()],
                        pa.float64(),
                    )
                ]
            )
        arrays.append(col)
    return pa.Table.from_arrays(arrays, schema=MESSAGE_SCHEMA)

