"""Request tables: the columns every log writer renders, from the plan or from a caller."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import UserError
from analyzer.schema import TIMESTAMP
from analyzer.simulate.failures import GET_LINE
from analyzer.simulate.log_plan import LINE_ERRORS
from analyzer.simulate.messages import (
    API_VERSION,
    created_view,
    message_chunk,
    message_json,
    record_sids,
)
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.plan import Plan
from analyzer.simulate.text import counter_bytes, fixed_width, hex_matrix, hex_sids, join, pick

API_HOST = "https://api.twilio.com"
#: The optional text columns of a request table (user_agent, message_status and
#: remote_addr describe requests the application received).
TEXT_COLUMNS = (
    "to", "message_sid", "request_id", "error", "from", "messaging_service_sid", "body",
    "media_url", "response_body", "user_agent", "message_status", "remote_addr",
)  # fmt: skip
#: What only the pre-2022 SDK logged of the application's requests (with_records).
SDK_RECORD_COLUMNS = ("from", "messaging_service_sid", "body", "media_url", "response_body")


def request_chunk(
    plan: Plan,
    numbers: PhoneNumbers,
    sids: list[str],
    seed: int,
    lines: np.ndarray,
    with_records: bool,
    request_id_is_sid: bool = False,
) -> pa.Table:
    """The given planned log lines as a request table (the jsonl fields and Twilio's
    ``error_code`` of a refused POST, plus ``ms``, ``seq`` and ``cut``; with_records adds
    what the pre-2022 SDK logged)."""
    n = lines.size
    rec = plan.line_rec[lines]
    is_get = plan.line_kind[lines] == GET_LINE
    status = plan.line_status[lines]
    seq = plan.line_seq[lines]
    sid = record_sids(plan, rec)
    with_sid = (status == 201) | is_get
    has_response = status != 0
    request_id = hex_sids(
        counter_bytes(seed, 1, seq),
        np.broadcast_to(np.frombuffer(b"RQ", np.uint8), (n, 2)),
    )
    if request_id_is_sid:
        created = pa.array((status == 201) & ~is_get)
        same = pc.binary_join_element_wise("RQ", pc.utf8_slice_codeunits(sid, 2), "")
        request_id = pc.if_else(created, same, request_id)
    own_recipient = plan.line_recipient[lines]
    recipient = np.where(own_recipient >= 0, own_recipient, plan.recipient[rec])
    to = numbers.recipients.take(pa.array(recipient))
    code = plan.line_code[lines]
    nulls = pa.nulls(n, pa.string())
    get = pa.array(is_get)
    url = f"{API_HOST}/{API_VERSION}/Accounts/{sids[0]}/Messages"
    columns: dict[str, pa.Array] = {
        "ms": pa.array(plan.line_ms[lines]),
        "method": pick(is_get.astype(np.int64), ("POST", "GET")),
        "url": join([url, pc.if_else(get, join(["/", sid, ".json"]), ".json")]),
        "status": pa.array(status, mask=~has_response),
        "duration_ms": pa.array(plan.line_duration[lines]),
        "to": pc.if_else(get, nulls, to),
        "message_sid": pc.if_else(pa.array(with_sid), sid, nulls),
        "request_id": pc.if_else(pa.array(has_response), request_id, nulls),
        "error": pick(plan.line_error[lines], LINE_ERRORS),
        "error_code": pa.array(code.astype(np.int64), mask=code == 0),
        "seq": pa.array(seq.astype(np.int64)),
        "cut": pa.array(plan.line_cut[lines]),
    }
    if with_records:
        columns.update(_sdk_record_columns(plan, numbers, sids, seed, rec, is_get, with_sid))
    return pa.table(columns)


def _sdk_record_columns(
    plan: Plan,
    numbers: PhoneNumbers,
    sids: list[str],
    seed: int,
    rec: np.ndarray,
    is_get: np.ndarray,
    with_sid: np.ndarray,
) -> dict[str, pa.Array]:
    """What the pre-2022 SDK logged of each request: its form and the answered record."""
    nulls = pa.nulls(rec.size, pa.string())
    get = pa.array(is_get)
    records = message_chunk(plan, numbers, sids, rec)
    post = ~is_get
    via_service = numbers.sender_service[plan.sender[rec]] >= 0
    columns: dict[str, pa.Array] = {}
    columns["from"] = pc.if_else(pa.array(post & ~via_service), records["from"], nulls)
    columns["messaging_service_sid"] = pc.if_else(
        pa.array(post & via_service), records["messaging_service_sid"], nulls
    )
    columns["body"] = pc.if_else(pa.array(post), records["body"], nulls)
    media_name = fixed_width(hex_matrix(counter_bytes(seed, 4, rec.astype(np.int64))[:, :8]))
    columns["media_url"] = pc.if_else(
        pa.array(post & plan.media[rec]),
        join(["https://nw.example/m/", media_name, ".jpg"]),
        nulls,
    )
    # Create calls answer with the new record; status look-ups with its current state.
    created = message_json(created_view(records, via_service))
    fetched = message_json(records)
    columns["response_body"] = pc.if_else(
        pa.array(with_sid), pc.if_else(get, fetched, created), nulls
    )
    return columns


def request_table(requests: pa.Table | pd.DataFrame) -> pa.Table:
    """Normalize a caller's request table to the writers' columns."""
    table = (
        requests
        if isinstance(requests, pa.Table)
        else pa.Table.from_pandas(requests, preserve_index=False)
    )
    names = table.column_names
    n = table.num_rows

    def column(name: str) -> pa.Array:
        c = table[name]
        return c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c

    stamp_name = next((c for c in ("timestamp", "time") if c in names), None)
    if stamp_name is None or "method" not in names or not {"url", "path"} & set(names):
        raise UserError("requests need timestamp (or time), method and url (or path) columns")
    ms = _epoch_ms(column(stamp_name))
    url = (
        column("url").cast(pa.string())
        if "url" in names
        else pc.binary_join_element_wise(API_HOST, column("path").cast(pa.string()), "")
    )
    out: dict[str, pa.Array] = {
        "ms": pa.array(ms),
        "method": pc.utf8_upper(column("method").cast(pa.string())),
        "url": url,
    }
    for name, typ in (("status", pa.int16()), ("duration_ms", pa.int64())):
        values = column(name) if name in names else pa.nulls(n, pa.float64())
        if not pa.types.is_integer(values.type):
            values = pc.round(pc.cast(values, pa.float64()))
        out[name] = pc.cast(values, typ)
    for name in TEXT_COLUMNS:
        out[name] = column(name).cast(pa.string()) if name in names else pa.nulls(n, pa.string())
    code = column("error_code") if "error_code" in names else pa.nulls(n, pa.float64())
    if not pa.types.is_integer(code.type):
        code = pc.round(pc.cast(code, pa.float64()))
    out["error_code"] = pc.cast(code, pa.int64())
    out["seq"] = pa.array(np.arange(n, dtype=np.int64))
    cut = column("cut") if "cut" in names else pa.array(np.zeros(n, np.float32))
    out["cut"] = pc.fill_null(pc.cast(cut, pa.float32()), 0.0)
    return pa.table(out)


def _epoch_ms(stamp: pa.Array) -> np.ndarray:
    """Epoch milliseconds of timestamps or ISO 8601 text."""
    try:
        if not pa.types.is_timestamp(stamp.type):
            stamp = pc.cast(stamp.cast(pa.string()), TIMESTAMP)
        us = pc.cast(stamp.cast(pa.timestamp("us", tz=stamp.type.tz)), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserError(f"unreadable request timestamps: {exc}") from exc
    if us.null_count:
        raise UserError("every request needs a timestamp")
    return np.floor_divide(us.to_numpy(zero_copy_only=False), 1000)
