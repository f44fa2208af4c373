"""Sends Twilio refused before a record existed: the application's POSTs to
Messages.json answered with a 4xx, from its request logs."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.failures.rollups import counts_by_value
from analyzer.logs import np_bool
from analyzer.results import RejectedRequests


def refused_posts(requests: pa.Table) -> np.ndarray:
    """Which request rows are message POSTs answered 4xx (the rows rejected_requests
    reads; an analyzer.logs.RowFilter)."""
    status = requests["status"]
    refused = pc.and_(pc.greater_equal(status, 400), pc.less(status, 500))
    return np_bool(pc.and_(requests["is_send"], refused))


def rejected_requests(requests: pa.Table, posts: int | None = None) -> RejectedRequests:
    """Count the logged message POSTs, and those answered 4xx by status and Twilio code.

    ``posts`` gives the number of POSTs when ``requests`` holds only some of the log's
    rows (at least every refused_posts row).
    """
    refused = requests.filter(pa.array(refused_posts(requests)))
    if "twilio_error_code" in refused.column_names:
        codes = refused["twilio_error_code"].cast(pa.string())
    else:
        codes = pa.nulls(refused.num_rows, pa.string())
    if posts is None:
        posts = int(pc.sum(requests["is_send"]).as_py() or 0)
    return RejectedRequests(
        posts=posts,
        rejected=refused.num_rows,
        by_status=counts_by_value(refused["status"].cast(pa.string())),
        by_error_code=counts_by_value(pc.fill_null(codes, "unknown")),
    )
