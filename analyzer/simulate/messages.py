"""The message records as Twilio holds them, and their API JSON."""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP, coerce_messages
from analyzer.simulate.bodies import num_segments, render_bodies
from analyzer.simulate.dates import timestamp_text
from analyzer.simulate.phone_numbers import MMS_PRICE, PRICE_PER_SEGMENT, PhoneNumbers
from analyzer.simulate.text import as_text, digits, hex_sids, join, json_quoted, pick

if TYPE_CHECKING:
    from analyzer.simulate.plan import Plan

API_VERSION = "2010-04-01"
SOURCE = "simulator"


class Status(IntEnum):
    """A record's status; the value is its code in the plan."""

    DELIVERED = 0
    SENT = 1
    UNDELIVERED = 2
    FAILED = 3
    QUEUED = 4
    RECEIVED = 5


class Direction(IntEnum):
    """A record's direction; the value is its code in the plan."""

    OUTBOUND_API = 0
    OUTBOUND_REPLY = 1
    INBOUND = 2


STATUSES: tuple[str, ...] = tuple(s.name.lower() for s in Status)
DIRECTIONS: tuple[str, ...] = tuple(d.name.lower().replace("_", "-") for d in Direction)
#: Twilio's error message of each code the simulator writes.
ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by carrier",
    30008: "Unknown error",
    21610: "Attempt to send to unsubscribed recipient",
    30001: "Queue overflow",
    30004: "Message blocked",
    30032: "Toll-Free Number Has Not Been Verified",
    30034: "Message from an Unregistered Number",
    30450: "Message delivery blocked by SMS Pumping Protection",
    21211: "Invalid 'To' Phone Number",
    21614: "'To' number is not a valid mobile number",
}
ERROR_CODES = np.array(list(ERRORS))


def record_sids(plan: Plan, rows: np.ndarray) -> pa.Array:
    """The SID of each record (MM for media, SM for text)."""
    prefix = np.where(
        plan.media[rows, None],
        np.frombuffer(b"MM", np.uint8)[None, :],
        np.frombuffer(b"SM", np.uint8)[None, :],
    )
    return hex_sids(plan.sid_raw[rows], prefix)


def _timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * MICROS_PER_SECOND, type=TIMESTAMP, mask=mask)


def message_chunk(plan: Plan, numbers: PhoneNumbers, sids: list[str], rows: np.ndarray) -> pa.Table:
    """These records as a table of the message schema."""
    n = rows.size
    account_sid, service_sids = sids[0], sids[1:]
    inbound = plan.direction[rows] == Direction.INBOUND
    template, param = plan.template[rows], plan.param[rows]
    body = render_bodies(template, param)
    segments = num_segments(template, param, body)
    recipient = plan.recipient[rows]
    customer = numbers.recipients.take(pa.array(recipient))
    ours = numbers.senders.take(pa.array(plan.sender[rows]))
    mask = pa.array(inbound)
    service = numbers.sender_service[plan.sender[rows]]
    status = plan.status[rows]
    error = plan.error[rows]
    priced = np.isin(status, [Status.DELIVERED, Status.SENT, Status.UNDELIVERED, Status.RECEIVED])
    country = np.where(inbound, 0, numbers.country(recipient))
    per_segment = np.where(plan.media[rows], MMS_PRICE, PRICE_PER_SEGMENT[country])
    price = -np.round(per_segment * np.where(plan.media[rows], 1, segments), 5)
    error_index = np.full(n, len(ERRORS), dtype=np.int64)
    for k, code in enumerate(ERROR_CODES):
        error_index[error == code] = k
    sent_delay = plan.sent_delay[rows]
    created = plan.created[rows]
    columns: dict[str, Any] = {
        "sid": record_sids(plan, rows),
        "account_sid": pick(np.zeros(n, np.int64), (account_sid,)),
        "messaging_service_sid": pick(
            np.where(service < 0, len(service_sids), service), (*service_sids, None)
        ),
        "from": pc.if_else(mask, customer, ours),
        "to": pc.if_else(mask, ours, customer),
        "body": body,
        "status": pick(status, STATUSES),
        "direction": pick(plan.direction[rows], DIRECTIONS),
        "error_code": pa.array(error, mask=error == 0),
        "error_message": pick(error_index, (*ERRORS.values(), None)),
        "num_segments": pa.array(segments),
        "num_media": pa.array(plan.media[rows].astype(np.int64)),
        "price": pa.array(price, mask=~priced),
        "price_unit": pick(np.zeros(n, np.int64), ("USD",)),
        "api_version": pick(np.zeros(n, np.int64), (API_VERSION,)),
        "date_created": _timestamps(created),
        "date_sent": _timestamps(created + np.maximum(sent_delay, 0), mask=sent_delay < 0),
        "date_updated": _timestamps(
            created + np.maximum(sent_delay, 0) + plan.after[rows].astype(np.int64)
        ),
        "source": pick(np.zeros(n, np.int64), (SOURCE,)),
    }
    return coerce_messages(pa.table(columns))


def price_text(price: pa.Array) -> pa.Array:
    """Twilio's price strings (``-0.00790``), nulls kept."""
    valid = pc.is_valid(price)
    value = np.asarray(pc.fill_null(price, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    units = np.rint(np.abs(value) * 100_000).astype(np.int64)
    text = join(
        [
            pick((value < 0).astype(np.int64), ("", "-")),
            as_text(units // 100_000),
            ".",
            digits(units % 100_000, 5),
        ]
    )
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))


def message_json(records: pa.Table) -> pa.Array:
    """Message resources as the API's JSON (keys in Twilio's alphabetical order)."""

    def col(name: str) -> pa.Array:
        column = records[name]
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    base = join([f"/{API_VERSION}/Accounts/", col("account_sid"), "/Messages/", col("sid")])
    return join(
        [
            '{"account_sid": ', json_quoted(col("account_sid")),
            ', "api_version": ', json_quoted(col("api_version")),
            ', "body": ', json_quoted(col("body")),
            ', "date_created": ', json_quoted(timestamp_text(col("date_created"))),
            ', "date_sent": ', json_quoted(timestamp_text(col("date_sent"))),
            ', "date_updated": ', json_quoted(timestamp_text(col("date_updated"))),
            ', "direction": ', json_quoted(col("direction")),
            ', "error_code": ', pc.fill_null(pc.cast(col("error_code"), pa.string()), "null"),
            ', "error_message": ', json_quoted(col("error_message")),
            ', "from": ', json_quoted(col("from")),
            ', "messaging_service_sid": ', json_quoted(col("messaging_service_sid")),
            ', "num_media": ', json_quoted(pc.cast(col("num_media"), pa.string())),
            ', "num_segments": ', json_quoted(pc.cast(col("num_segments"), pa.string())),
            ', "price": ', json_quoted(price_text(col("price"))),
            ', "price_unit": ', json_quoted(col("price_unit")),
            ', "sid": ', json_quoted(col("sid")),
            ', "status": ', json_quoted(col("status")),
            ', "subresource_uris": {"media": "', base, '/Media.json"}, "to": ',
            json_quoted(col("to")),
            ', "uri": "', base, '.json"}',
        ]
    )  # fmt: skip


def created_view(records: pa.Table, via_service: np.ndarray) -> pa.Table:
    """The records as the create call answered them: just accepted (service) or queued."""
    n = records.num_rows
    replace = {
        "status": pick(via_service.astype(np.int64), ("queued", "accepted")),
        "date_sent": pa.nulls(n, TIMESTAMP),
        "date_updated": records["date_created"].combine_chunks(),
        "price": pa.nulls(n, pa.float64()),
        "error_code": pa.nulls(n, pa.int64()),
        "error_message": pa.nulls(n, pa.string()),
        # Sent through a Messaging Service, the sender is only picked later.
        "from": pc.if_else(
            pa.array(via_service), pa.scalar(None, pa.string()), records["from"].combine_chunks()
        ),
    }
    for name, values in replace.items():
        records = records.set_column(records.schema.get_field_index(name), name, values)
    return records


def order_by_time_and_sid(created: np.ndarray, sid_raw: np.ndarray) -> np.ndarray:
    """Permutation sorting records by (created, sid); created must be non-negative."""
    hi = sid_raw[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    # One int64 sort on (created, top 30 bits of the sid); exact ties resolved below.
    packed = (created.astype(np.int64) << 30) | (hi >> np.uint64(34)).astype(np.int64)
    order = np.argsort(packed)
    ties = np.flatnonzero(packed[order][1:] == packed[order][:-1])
    if ties.size:
        members = np.unique(np.concatenate([ties, ties + 1]))
        sub = order[members]
        lo = sid_raw[sub, 8:].copy().view(">u8").ravel().astype(np.uint64)
        order[members] = sub[np.lexsort((lo, hi[sub], packed[sub]))]
    return order
