"""The application's side of the cross-reference: the logged POSTs and what each did.

Each POST to Messages.json in the logs is one of: *accepted* (2xx: it created a
record), *possible* (a 5xx, or no answer: a timeout or a dropped connection; it may
have created one) or *refused* (any other 4xx: it created nothing). A 400 may also
stand for a ``failed`` record (Twilio records some rejected sends since 2024).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref.records import present
from analyzer.duplicates.crossref.skew import MAX_SKEW_SECONDS
from analyzer.schema import MICROS_PER_SECOND

#: Send outcomes from the HTTP status.
ACCEPTED = "accepted"
POSSIBLE = "possible"
REFUSED = "refused"
OUTCOMES: tuple[str, ...] = (ACCEPTED, POSSIBLE, REFUSED)
#: Statuses that may hide a created message: a proxy's client-closed (499), request
#: timeout (408) and Twilio's own 400 (since 2024 some refused sends are failed records).
UNSURE_4XX = (400, 408, 499)
#: Request ids are used as SIDs only when this share of them names a record.
REQUEST_ID_CONFIRMATION = 0.95
MIN_REQUEST_IDS = 3
_REQUEST_ID_RE = r"^(?:RQ|rq)(?P<h>[0-9a-fA-F]{32})$"
_SEND_COLUMNS = ["time", "to", "message_sid", "request_id", "status", "source_file", "line"]


def post_outcomes(status: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """The position in OUTCOMES (accepted, possible, refused) of each POST's outcome."""
    code = np.asarray(pc.fill_null(status, -1).to_numpy(zero_copy_only=False), dtype=np.int64)
    out = np.full(len(code), OUTCOMES.index(REFUSED), dtype=np.int8)
    out[(code >= 200) & (code < 300)] = OUTCOMES.index(ACCEPTED)
    out[(code < 100) | (code >= 500) | np.isin(code, UNSURE_4XX)] = OUTCOMES.index(POSSIBLE)
    return out


def send_columns(requests: pa.Table) -> tuple[pa.Table, np.ndarray]:
    """The request table's columns used here (no copy), and which rows are logged POSTs
    to Messages.json that have a time."""
    optional = [c for c in ("twilio_time", "time_max") if c in requests.column_names]
    return requests.select(_SEND_COLUMNS + optional), usable_posts(requests)


def usable_posts(requests: pa.Table) -> np.ndarray:
    """Which rows of a request table (or its timeline) are logged POSTs to
    Messages.json that have a time."""
    return present(
        pc.and_(pc.fill_null(requests["is_send"], False), pc.is_valid(requests["time"]))
    )


def _request_id_candidates(
    sends: pa.Table, usable: np.ndarray
) -> tuple[np.ndarray, pa.ChunkedArray] | None:
    """Accepted POSTs without a SID whose request id holds 32 hex digits, and those
    digits (lower case); None when there are none."""
    if not usable.any():
        return None
    status = sends["status"]
    ok = usable & present(
        pc.and_(
            pc.and_(pc.greater_equal(status, 200), pc.less(status, 300)),
            pc.and_(pc.is_null(sends["message_sid"]), pc.is_valid(sends["request_id"])),
        )
    )
    if not ok.any():
        return None
    hexes = pc.struct_field(
        pc.extract_regex(pc.fill_null(sends["request_id"], ""), _REQUEST_ID_RE), "h"
    )
    candidate = ok & present(pc.is_valid(hexes))
    if not candidate.any():
        return None
    return candidate, pc.utf8_lower(hexes)


def sids_from_request_ids(
    sends: pa.Table, usable: np.ndarray, messages: pa.Table, *, use: bool | None = None
) -> tuple[pa.Table, dict[str, Any]]:
    """Fill missing SIDs of accepted POSTs (rows ``usable``) from Twilio-Request-Id, where
    the records confirm it.

    twilio-python's log holds no SID, but in public logs the request id of a successful
    create carries the created SID's 32 hex digits. The hypothesis is used only when
    nearly every candidate within the records' period names an exported record, or
    when ``use`` says so (a decision made on the whole log: True or False).
    """
    info: dict[str, Any] = {"candidates": 0, "found": 0, "used": False, "note": ""}
    candidates = None if use is False else _request_id_candidates(sends, usable)
    if candidates is None:
        return sends, info
    candidate, hexes = candidates
    lo, hi = pc.min_max(messages["date_created"]).values()
    if not lo.is_valid:
        return sends, info
    times = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    margin = MAX_SKEW_SECONDS * MICROS_PER_SECOND
    in_period = (times >= lo.value - margin) & (times <= hi.value + margin)
    sm = pc.binary_join_element_wise("SM", hexes, "")
    mm = pc.binary_join_element_wise("MM", hexes, "")
    known = messages["sid"].cast(pa.string()).combine_chunks()
    sm_found = present(pc.is_in(sm, value_set=known))
    mm_found = present(pc.is_in(mm, value_set=known))
    found = (sm_found | mm_found) & candidate
    considered = candidate & in_period
    n_cand, n_found = int(considered.sum()), int((found & in_period).sum())
    rate = n_found / n_cand if n_cand else 0.0
    info.update(candidates=n_cand, found=n_found, rate=round(rate, 4))
    if use is None and (n_cand < MIN_REQUEST_IDS or rate < REQUEST_ID_CONFIRMATION):
        info["note"] = (
            f"Twilio-Request-Id values were not used as SIDs: {n_found} of {n_cand} "
            "successful creates in the records' period name an exported record"
            + (" (too few to confirm)" if n_cand < MIN_REQUEST_IDS else "")
        )
        return sends, info
    info["used"] = True
    info["note"] = (
        f"Twilio-Request-Id values used as SIDs: {n_found} of {n_cand} successful creates "
        f"({rate:.1%}) name an exported record"
    )
    sid = pc.if_else(pa.array(sm_found), sm, mm)
    sid = pc.if_else(pa.array(found), sid, pa.scalar(None, pa.string()))
    filled = pc.coalesce(sends["message_sid"], sid)
    return sends.set_column(
        sends.schema.get_field_index("message_sid"), "message_sid", filled
    ), info
