"""Root-cause hints: what the gaps between a cluster's records and its first POST's
outcome suggest, one text per cluster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref.outcomes import UNSURE_4XX
from analyzer.vocabulary import Verdict, classify_gaps, gap_hints

WEBHOOK_HINT = (
    "replies to an incoming message: Twilio waits 15 s for the webhook, then calls the "
    "fallback URL, and a reply goes out from each TwiML answer; answer the webhook within "
    "15 s (acknowledge first, work later) and keep the fallback URL from replying again"
)
_RETRIED = "the first attempt timed out or got a 5xx: a retried non-idempotent POST"
_ESCALATE = "one request, several messages: send the SIDs to Twilio support"


def hints(clusters: pa.Table, matched_statuses: pa.ListArray, verdict: np.ndarray) -> np.ndarray:
    """Root-cause hints from the gaps and the first attempt's outcome, one text per cluster.

    ``matched_statuses`` are the HTTP statuses of the POSTs near each cluster, in time
    order; ``verdict`` the clusters' verdicts.
    """
    n = clusters.num_rows
    if n == 0:
        return np.full(n, "", dtype=object)
    found = np.array(gap_hints(classify_gaps(clusters["gaps_seconds"])), dtype=object)

    first = _first_status(matched_statuses)
    lengths = pc.list_value_length(matched_statuses).to_numpy(zero_copy_only=False)
    has_posts = np.asarray(lengths) > 1
    failed = has_posts & ((first == -1) | (first >= 500))
    found[failed] = np.where(found[failed] == "", _RETRIED, found[failed] + "; " + _RETRIED)
    refused = has_posts & (first >= 400) & (first < 500) & ~np.isin(first, UNSURE_4XX)
    found[refused] = [
        (h + "; " if h else "")
        + f"the first attempt was refused (HTTP {code}) and retried: a refused POST creates "
        "nothing, so it explains none of the records"
        for h, code in zip(found[refused], first[refused], strict=True)
    ]
    # The gap pattern says nothing about the application when Twilio made the copies.
    found[verdict == Verdict.TWILIO_SIDE] = _ESCALATE
    found[verdict == Verdict.WEBHOOK_SIDE] = WEBHOOK_HINT
    return found


def _first_status(statuses: pa.ListArray) -> np.ndarray:
    """The status of each cluster's first POST (-1: none, or no answer)."""
    first_status = (
        pc.list_element(
            pc.if_else(
                pc.greater(pc.list_value_length(statuses), 0),
                statuses,
                pa.scalar(None, statuses.type),
            ),
            0,
        )
        if len(statuses)
        else pa.array([], pa.int32())
    )
    return np.asarray(pc.fill_null(first_status, -1).to_numpy(zero_copy_only=False))
