"""Messages list pages (raw JSON) as message-schema records."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from analyzer.schema import MESSAGE_SCHEMA, TIMESTAMP, coerce_messages

API_SOURCE = "api"
_MESSAGE_FIELDS = [f.name for f in MESSAGE_SCHEMA if f.name != "source"]
_DATE_FIELDS = ("date_created", "date_sent", "date_updated")
# What the list API sends: counts and prices are strings, error_code a number.
_PAGE_SCHEMA = pa.schema(
    [
        pa.field(
            "messages",
            pa.list_(
                pa.struct(
                    [
                        pa.field(name, pa.int64() if name == "error_code" else pa.string())
                        for name in _MESSAGE_FIELDS
                    ]
                )
            ),
        ),
        pa.field("next_page_uri", pa.string()),
    ]
)
_MONTHS = pa.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)


def page_to_table(body: bytes, source: str = API_SOURCE) -> tuple[pa.Table, str | None]:
    """Turn one Messages list page (raw JSON) into message-schema records and the next page URI.

    Raises ValueError (or ArrowInvalid) when the body is not a list page.
    """
    try:
        parsed = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(block_size=len(body) + 64),
            parse_options=pj.ParseOptions(
                explicit_schema=_PAGE_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowInvalid:
        return _page_to_table_slow(body, source)
    if parsed.num_rows != 1 or parsed["messages"].null_count:
        raise ValueError("not a Messages list page")
    structs = parsed["messages"].combine_chunks().values
    columns = {name: structs.field(name) for name in _MESSAGE_FIELDS}
    for name in _DATE_FIELDS:
        columns[name] = parse_rfc2822(columns[name])
    columns["source"] = pa.array([source] * len(structs), pa.string())
    next_uri = parsed["next_page_uri"][0].as_py()
    return coerce_messages(pa.table(columns)), next_uri


def _page_to_table_slow(body: bytes, source: str) -> tuple[pa.Table, str | None]:
    payload = json.loads(body)  # ValueError on a broken body: the caller retries
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise ValueError("not a Messages list page")
    records = payload["messages"]
    columns: dict[str, pa.Array] = {}
    for name in _MESSAGE_FIELDS:
        values = [r.get(name) if isinstance(r, dict) else None for r in records]
        columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    columns["source"] = pa.array([source] * len(records), pa.string())
    return coerce_messages(pa.table(columns)), payload.get("next_page_uri")


def parse_rfc2822(column: pa.Array) -> pa.Array:
    """Parse ``Fri, 24 May 2019 17:44:46 +0000``; leave other forms to coerce_messages."""
    try:
        if pc.all(pc.ends_with(column, "+0000")).as_py() is not False:
            # Twilio always writes GMT: rearrange into ISO text, which Arrow casts fast.
            month = pc.add(
                pc.index_in(pc.utf8_slice_codeunits(column, 8, 11), value_set=_MONTHS), 1
            )
            iso = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(column, 12, 16),
                "-",
                pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0"),
                "-",
                pc.utf8_slice_codeunits(column, 5, 7),
                " ",
                pc.utf8_slice_codeunits(column, 17, 25),
                "",
            )
            stamps = pc.cast(iso, pa.timestamp("s"))
            if stamps.null_count == column.null_count:
                return pc.assume_timezone(stamps, "UTC").cast(TIMESTAMP)
        stamps = pc.strptime(
            pc.utf8_slice_codeunits(column, 5), format="%d %b %Y %H:%M:%S %z", unit="s"
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column
    return stamps.cast(TIMESTAMP)
