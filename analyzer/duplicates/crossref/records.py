"""Twilio's side of the cross-reference: the records, their recipients, the replies."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.phones import normalize_e164

#: Logged recipients must name exported records this often to be used at all.
RECIPIENT_MATCH_SHARE = 0.5
_RECIPIENT_SAMPLE = 100_000
#: Directions of records sent from a TwiML answer, not by a POST.
_REPLY_DIRECTIONS = ("outbound-reply", "outbound-call")


def present(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow mask as NumPy, nulls as False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def api_records(messages: pa.Table) -> pa.Table:
    """Records that stand for a POST by the application: outbound-api, with a creation time."""
    direction = pc.fill_null(
        pc.equal(messages["direction"].cast(pa.string()), "outbound-api"), False
    )
    subset = messages.filter(pc.and_(direction, pc.is_valid(messages["date_created"])))
    if "status" in subset.column_names:
        failed = pc.fill_null(pc.equal(subset["status"].cast(pa.string()), "failed"), False)
    else:
        failed = pa.array(np.zeros(subset.num_rows, dtype=bool))
    return pa.table(
        {
            "sid": subset["sid"].cast(pa.string()),
            "to": subset["to"].cast(pa.string()),
            "us": pc.cast(subset["date_created"], pa.int64()),
            "failed": failed,
        }
    )


def records_in_clusters(records: pa.Table, clusters: pa.Table) -> np.ndarray:
    """Which records belong to a duplicate cluster."""
    flat = pc.list_flatten(clusters["sids"]).cast(pa.string()).combine_chunks()
    return present(pc.is_in(records["sid"], value_set=flat))


def reply_counts(clusters: pa.Table, messages: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: records sent as replies (TwiML, no POST), and all its records."""
    n = clusters.num_rows
    sizes = clusters["n_records"].to_numpy(zero_copy_only=False).astype(np.int64)
    if n == 0:
        return np.zeros(0, dtype=np.int64), sizes
    flat = pc.list_flatten(clusters["sids"])
    parent = pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False)
    reply = pc.fill_null(
        pc.is_in(
            messages["direction"].cast(pa.string()), value_set=pa.array(list(_REPLY_DIRECTIONS))
        ),
        False,
    )
    reply_sids = messages["sid"].filter(reply)
    hit = np.asarray(
        pc.fill_null(pc.is_in(flat, value_set=reply_sids.combine_chunks()), False).to_numpy(
            zero_copy_only=False
        ),
        dtype=bool,
    )
    return np.bincount(parent, weights=hit, minlength=n).astype(np.int64), sizes


def recipient_key(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Recipients in one comparable form: the channel (``whatsapp:``), if any, and the
    number as E.164 (analyzer.phones.normalize_e164); null for what holds no number
    (``redacted``, empty). ``+1 (232) 812-8904``, ``12328128904`` and ``+12328128904``
    are one key."""
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    parts = pc.extract_regex(text, r"^(?P<channel>[A-Za-z]+:)?(?P<number>.*)$")
    number = normalize_e164(pc.struct_field(parts, "number"))
    channel = pc.utf8_lower(pc.fill_null(pc.struct_field(parts, "channel"), ""))
    key = pc.binary_join_element_wise(channel, number, "")
    return key.combine_chunks() if isinstance(key, pa.ChunkedArray) else key


def comparable_recipients(sends: pa.Table, records: pa.Table) -> tuple[pa.Table, pa.Table, str]:
    """Logged and exported recipients in one form, or none logged when they cannot match.

    Logs write numbers their own way (no ``+``, spaces) or not at all (``redacted``, another
    account's numbers). Where they already name the records' recipients nothing changes;
    otherwise both sides are compared as recipient_key; and where the logged recipients
    still name too few records, they are not used (the SIDs or the times are).
    """
    logged = sends["to"]
    if sends.num_rows == 0 or logged.null_count == len(logged) or records.num_rows == 0:
        return sends, records, ""
    sample = logged.drop_null().slice(0, _RECIPIENT_SAMPLE)
    known = records["to"]
    if _share_in(sample, known) >= RECIPIENT_MATCH_SHARE:
        return sends, records, ""
    records = records.set_column(
        records.schema.get_field_index("to"), "to", recipient_key(records["to"])
    )
    keyed = recipient_key(logged)
    share = _share_in(keyed.drop_null().slice(0, _RECIPIENT_SAMPLE), records["to"])
    column = sends.schema.get_field_index("to")
    if share >= RECIPIENT_MATCH_SHARE:
        return sends.set_column(column, "to", keyed), records, ""
    note = (
        f"the recipients in the request logs name {share:.0%} of the exported records' "
        "recipients (redacted, written another way, or another account's): they are not "
        "used, and requests are matched by SID or by time"
    )
    return sends.set_column(column, "to", pa.nulls(sends.num_rows, pa.string())), records, note


def _share_in(values: pa.Array | pa.ChunkedArray, known: pa.Array | pa.ChunkedArray) -> float:
    """The share of ``values`` found in ``known`` (hashing the few values, not the many)."""
    if len(values) == 0:
        return 0.0
    distinct = pc.unique(values)
    distinct = distinct.combine_chunks() if isinstance(distinct, pa.ChunkedArray) else distinct
    present = pc.unique(known.filter(pc.fill_null(pc.is_in(known, value_set=distinct), False)))
    present = present.combine_chunks() if isinstance(present, pa.ChunkedArray) else present
    return float(pc.mean(pc.cast(pc.is_in(values, value_set=present), pa.int8())).as_py() or 0.0)
