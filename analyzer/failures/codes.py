"""Our table of Twilio messaging error codes: a category, a short title in our words,
and whether the failure is permanent for the recipient; one recommended action per
category. Twilio's downloadable error catalog (``--catalog``) adds titles for codes
the table lacks; codes known to neither are ``unknown``, never dropped."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError
from analyzer.vocabulary import FailureCategory

C = FailureCategory

#: What to do about the failures of each category (written in the report).
CATEGORY_ACTIONS: dict[FailureCategory, str] = {
    C.REQUEST: "Fix the request in the application: the To number's format and country, "
    "the From number or Messaging Service, Geo Permissions, the message length.",
    C.COMPLIANCE: "Complete or repair the sender's registration (A2P 10DLC campaign, "
    "toll-free verification) or the account's standing; these sends fail until it is done.",
    C.RATE: "Send more slowly: queue on your side within the sender's throughput and "
    "daily limits, spread over more senders, or allow a longer validity period.",
    C.CONTENT: "Review the message content (links, URL shorteners, wording): a carrier or "
    "Twilio filtered it.",
    C.RECIPIENT: "Stop sending to numbers that fail for good (invalid, landline, unknown, "
    "blocked); retry unreachable handsets later, not at once.",
    C.OPTED_OUT: "Remove the recipient from your sending list: they replied STOP, and a "
    "START from them is the only way back.",
    C.CARRIER: "Nothing to change in the request; if one carrier or country fails often, "
    "send the SIDs to Twilio support.",
    C.FRAUD: "Check the destinations and Fraud Guard settings: the traffic looks like SMS "
    "pumping and was blocked.",
    C.UNKNOWN: "Look the code up in Twilio's error dictionary (or pass --catalog) and add it "
    "to analyzer's table.",
}


@dataclass(frozen=True)
class ErrorCode:
    """One row of our table."""

    code: int
    category: FailureCategory
    title: str
    #: The recipient cannot receive from this sender until something changes on their side.
    permanent: bool = False


def _rows(category: FailureCategory, permanent: bool, *rows: tuple[int, str]) -> list[ErrorCode]:
    return [ErrorCode(code, category, title, permanent) for code, title in rows]


#: Our table, by code.
ERROR_CODES: dict[int, ErrorCode] = {
    row.code: row
    for row in (
        *_rows(
            C.REQUEST,
            False,
            (21408, "sending to this region is not enabled (Geo Permissions)"),
            (21602, "message body missing"),
            (21606, "the From number cannot send SMS for this account"),
            (21612, "this From cannot reach this To"),
            (21617, "body longer than 1,600 characters"),
            (21660, "From number belongs to another account"),
            (30010, "message price above the set maximum"),
            (63016, "WhatsApp: outside the 24 h window, a template is needed"),
        ),
        *_rows(C.REQUEST, True, (21211, "To is not a valid phone number")),
        *_rows(
            C.COMPLIANCE,
            False,
            (30002, "account suspended"),
            (30018, "destination carrier wants the sender registered first"),
            (30032, "toll-free number not verified"),
            (30033, "A2P 10DLC campaign suspended"),
            (30034, "US number not registered for A2P 10DLC"),
            (30035, "A2P 10DLC number still being set up"),
            (30037, "outbound messaging disabled on the account"),
            (30040, "destination carrier wants the sender pre-registered"),
            (30043, "sender registration missing for this destination"),
        ),
        *_rows(
            C.RATE,
            False,
            (20429, "too many concurrent API requests"),
            (21611, "too many messages queued for this From"),
            (30001, "queue overflow: sent faster than the sender's throughput"),
            (30022, "A2P 10DLC throughput limit exceeded"),
            (30023, "A2P 10DLC daily limit reached"),
            (30027, "T-Mobile daily limit reached for this brand"),
            (30036, "expired in the queue (validity period)"),
        ),
        *_rows(
            C.CONTENT,
            False,
            (30007, "filtered by the carrier or Twilio"),
            (30019, "content larger than the carrier accepts"),
            (30038, "one-time-password message filtered"),
        ),
        *_rows(C.RECIPIENT, False, (30003, "handset unreachable (off, no signal)")),
        *_rows(
            C.RECIPIENT,
            True,
            (21614, "To is not a mobile number"),
            (21635, "To is a landline"),
            (30004, "the recipient blocks this sender"),
            (30005, "unknown number, perhaps no longer in service"),
            (30006, "landline or unreachable carrier"),
        ),
        *_rows(C.OPTED_OUT, True, (21610, "the recipient opted out (STOP)")),
        *_rows(
            C.CARRIER,
            False,
            (30008, "unknown error at the carrier"),
            (30009, "a segment of the message went missing"),
            (30017, "carrier network congestion"),
            (30024, "sender ID not provisioned at the carrier"),
            (30041, "destination carrier rejected the sender"),
        ),
        *_rows(
            C.FRAUD,
            False,
            (30450, "blocked by SMS pumping protection"),
            (30453, "blocked as suspected fraud"),
        ),
    )
}


def read_catalog(path: str | Path) -> dict[int, str]:
    """Titles by code from Twilio's downloadable error catalog (JSON: a list of objects
    with ``code`` and ``message``, or an object holding such a list)."""
    try:
        data: Any = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"no such catalog file: {path}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read the error catalog {path}: {exc}") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), [])
    titles: dict[int, str] = {}
    for entry in data if isinstance(data, list) else []:
        if isinstance(entry, dict) and str(entry.get("code", "")).strip().isdigit():
            titles[int(entry["code"])] = str(entry.get("message") or "").strip()
    if not titles:
        raise InputError(f"{path} holds no error codes (expected objects with code and message)")
    return titles


def describe_codes(
    codes: pa.Array | pa.ChunkedArray, catalog: Mapping[int, str] | None = None
) -> dict[str, pa.Array]:
    """The category, title, action and permanence of each error code, as columns aligned
    with ``codes``. A code in neither our table nor the catalog (or no code) is
    ``unknown``; the catalog only gives titles to codes our table lacks."""
    catalog = catalog or {}
    known = sorted(set(ERROR_CODES) | set(catalog))
    rows = [ERROR_CODES.get(code) for code in known]
    categories = [str(row.category if row else C.UNKNOWN) for row in rows]
    columns = {
        "category": (pa.array(categories), str(C.UNKNOWN)),
        "title": (
            pa.array(
                [row.title if row else catalog[code] for code, row in zip(known, rows, strict=True)]
            ),
            "",
        ),
        "action": (
            pa.array([CATEGORY_ACTIONS[C(category)] for category in categories]),
            CATEGORY_ACTIONS[C.UNKNOWN],
        ),
        "permanent": (pa.array([bool(row and row.permanent) for row in rows]), False),
    }
    position = pc.index_in(pc.cast(codes, pa.int64()), value_set=pa.array(known, pa.int64()))
    found, at = pc.is_valid(position), pc.fill_null(position, 0)
    return {
        name: pc.if_else(found, values.take(at), pa.scalar(otherwise, values.type))
        for name, (values, otherwise) in columns.items()
    }
