"""The cross-reference on a Dask cluster: time partitions judged on the workers.

Each cluster is owned by the time bucket (a UTC day by default) of its first record.
With one bucket of clusters (a nightly run's day) the whole cross-reference runs as
one task on a worker, which reads the records from the dataset: exactly the local
result. With more, a first task learns the plan from the whole log and every record
(``plan_cross_reference``: the clock skew, the match mode, the Twilio-Request-Id
hypothesis, how recipients are compared, the delay band, the log's coverage, the POSTs
by outcome and the warnings). Then every bucket is judged on a worker by the
single-machine ``analyzer.duplicates.crossref.cross_reference`` with that plan, over
the records and requests from OVERLAP before its first cluster to OVERLAP after its
last record. The rows are put back in the clusters' order and the verdicts counted
again from them; the log's figures are the plan's.

Every decision is the whole log's, so a partition judges its clusters as the single
machine does, as long as what decides a cluster lies within OVERLAP of it: the POSTs
and records chained to its records (each within the delay band of the next), and the
record a POST's request id names.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref import (
    CrossReference,
    CrossrefPlan,
    cross_reference,
    plan_cross_reference,
)
from analyzer.duplicates.crossref.skew import MAX_SKEW_SECONDS
from analyzer.schema import MICROS_PER_SECOND
from analyzer.store import as_day, read_messages

#: Message columns the cross-reference reads.
MESSAGE_COLUMNS = ("sid", "to", "direction", "date_created", "status")
#: How far around its clusters a partition reads records and requests, beyond the
#: tolerance: wider than any delay band (POSTs and records at most MAX_SKEW_SECONDS
#: apart) and a refused POST's reach (60 s).
OVERLAP = timedelta(seconds=3 * MAX_SKEW_SECONDS)
DEFAULT_BUCKET = timedelta(days=1)


@dataclass(frozen=True)
class MessageRead:
    """Where the records come from: the source and the days read (inclusive, None: open)."""

    source: str | Path
    start: date | datetime | str | None = None
    end: date | datetime | str | None = None

    def around(self, lo_us: int, hi_us: int) -> pa.Table:
        """The records created in [lo_us, hi_us] among those read (on a worker)."""
        start, end = as_day(self.start), as_day(self.end)
        first, last = _day_of(lo_us), _day_of(hi_us)
        first = first if start is None else max(start, first)
        last = last if end is None else min(end, last)
        table = read_messages(self.source, first, last, MESSAGE_COLUMNS, ["direction"])
        created = pc.cast(table["date_created"], pa.int64())
        inside = pc.and_(pc.greater_equal(created, lo_us), pc.less_equal(created, hi_us))
        return table.filter(pc.fill_null(inside, False))

    def everything(self) -> pa.Table:
        """Every record read (on a worker)."""
        return read_messages(self.source, self.start, self.end, MESSAGE_COLUMNS, ["direction"])


def cross_reference_dask(
    clusters: pa.Table,
    requests: pa.Table | None,
    messages: MessageRead,
    *,
    client: Any,
    formats: Mapping[str, str | None] | None = None,
    skew: float | None = None,
    tolerance: float,
    bucket: timedelta = DEFAULT_BUCKET,
) -> CrossReference:
    """The cross-reference of ``clusters`` against ``requests``, spread over time partitions.

    Gives what ``cross_reference(clusters, requests, messages.everything(), ...)`` gives
    (see the module's docstring).
    """
    shared = None if requests is None else client.scatter(requests, hash=False)
    parts = _parts(clusters, bucket, OVERLAP + timedelta(seconds=tolerance))
    if len(parts) < 2 or requests is None or requests.num_rows == 0:
        every = client.scatter(clusters, hash=False)
        return client.submit(
            _whole, every, shared, messages, formats, skew, tolerance, pure=False
        ).result()
    whole = client.submit(
        _whole, clusters, shared, messages, formats, skew, tolerance, True, pure=False
    )
    plan = whole.result()
    futures = [
        client.submit(
            _part,
            client.scatter(clusters.take(pa.array(part.rows, pa.int64())), hash=False),
            client.scatter(_requests_between(requests, part, plan.skew.seconds), hash=False),
            messages,
            part,
            plan,
            formats,
            tolerance,
            pure=False,
        )
        for part in parts
    ]
    return _combine(client.gather(futures), parts, plan)


@dataclass(frozen=True)
class _Part:
    """One partition: its clusters (rows of the clusters table) and the time it reads (µs)."""

    rows: np.ndarray
    lo_us: int
    hi_us: int


def _parts(clusters: pa.Table, bucket: timedelta, overlap: timedelta) -> list[_Part]:
    """The partitions: the clusters of each bucket of first records, and the time around them."""
    first = pc.cast(clusters["first_created"], pa.int64()).to_numpy(zero_copy_only=False)
    last = pc.cast(clusters["last_created"], pa.int64()).to_numpy(zero_copy_only=False)
    size = int(bucket.total_seconds() * MICROS_PER_SECOND)
    margin = int(overlap.total_seconds() * MICROS_PER_SECOND)
    owner = first // size
    order = np.argsort(owner, kind="stable")
    cuts = np.flatnonzero(np.diff(owner[order])) + 1
    return [
        _Part(
            rows=rows,
            lo_us=int(first[rows].min()) - margin,
            hi_us=int(last[rows].max()) + margin,
        )
        for rows in np.split(order, cuts)
    ]


def _requests_between(requests: pa.Table, part: _Part, skew: float) -> pa.Table:
    """The requests whose time on Twilio's clock falls in the partition's period."""
    shift = int(round(skew * MICROS_PER_SECOND))
    at = pc.subtract(pc.cast(requests["time"], pa.int64()), shift)
    inside = pc.and_(pc.greater_equal(at, part.lo_us), pc.less_equal(at, part.hi_us))
    return requests.filter(pc.fill_null(inside, False))


def _whole(
    clusters: pa.Table,
    requests: pa.Table | None,
    messages: MessageRead,
    formats: Mapping[str, str | None] | None,
    skew: float | None,
    tolerance: float,
    plan_only: bool = False,
) -> CrossReference | CrossrefPlan:
    """The whole cross-reference as one task, or (``plan_only``) what the whole log and
    every record decide for it (on a worker)."""
    everything = messages.everything()
    if plan_only and requests is not None:
        return plan_cross_reference(
            clusters, requests, everything, skew=skew, tolerance=tolerance
        )
    return cross_reference(
        clusters, requests, everything, formats=formats, skew=skew, tolerance=tolerance
    )


def _part(
    clusters: pa.Table,
    requests: pa.Table,
    messages: MessageRead,
    part: _Part,
    plan: CrossrefPlan,
    formats: Mapping[str, str | None] | None,
    tolerance: float,
) -> CrossReference:
    """The verdicts of one partition's clusters, with the whole log's plan (on a worker)."""
    records = messages.around(part.lo_us, part.hi_us)
    return cross_reference(
        clusters, requests, records, formats=formats, tolerance=tolerance, plan=plan
    )


def _combine(
    judged: Sequence[CrossReference], parts: Sequence[_Part], plan: CrossrefPlan
) -> CrossReference:
    """The partitions' rows in the clusters' order; the log's figures from the plan."""
    rows = np.concatenate([part.rows for part in parts])
    table = pa.concat_tables([one.clusters for one in judged])
    table = table.take(pa.array(np.argsort(rows, kind="stable"), pa.int64()))
    return CrossReference.from_plan(table, plan)


def _day_of(us: int) -> date:
    return datetime.fromtimestamp(us / MICROS_PER_SECOND, tz=UTC).date()
