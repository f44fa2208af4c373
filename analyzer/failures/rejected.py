"""Sends Twilio refused before a record existed: the application's POSTs to
Messages.json answered with a 4xx, from its request logs."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.failures.rollups import counts_by_value
from analyzer.results import RejectedRequests


def rejected_requests(requests: pa.Table) -> RejectedRequests:
    """Count the logged message POSTs, and those answered 4xx by status and Twilio code."""
    sends = requests.filter(requests["is_send"])
    status = sends["status"]
    refused = sends.filter(
        pc.fill_null(pc.and_(pc.greater_equal(status, 400), pc.less(status, 500)), False)
    )
    if "twilio_error_code" in refused.column_names:
        codes = refused["twilio_error_code"].cast(pa.string())
    else:
        codes = pa.nulls(refused.num_rows, pa.string())
    return RejectedRequests(
        posts=sends.num_rows,
        rejected=refused.num_rows,
        by_status=counts_by_value(refused["status"].cast(pa.string())),
        by_error_code=counts_by_value(pc.fill_null(codes, "unknown")),
    )
