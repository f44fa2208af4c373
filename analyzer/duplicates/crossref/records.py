"""Twilio's side of the cross-reference: the records, their recipients, the replies."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.phones import normalize_e164

#: Logged recipients must name exported records this often to be used at all.
RECIPIENT_MATCH_SHARE = 0.5
#: The logged recipients compared with the records: the first this many.
RECIPIENT_SAMPLE = 100_000
#: Directions of records sent from a TwiML answer, not by a POST.
_REPLY_DIRECTIONS = ("outbound-reply", "outbound-call")


def present(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow mask as NumPy, nulls as False."""
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def api_mask(messages: pa.Table) -> np.ndarray:
    """Which messages stand for a POST by the application: outbound-api, with a creation time."""
    direction = pc.equal(messages["direction"], "outbound-api")
    return present(pc.and_(direction, pc.is_valid(messages["date_created"])))


def record_columns(messages: pa.Table) -> pa.Table:
    """Every message's sid, to and creation time (µs) as the cross-reference compares
    them, sharing the messages' memory."""
    return pa.table(
        {
            "sid": messages["sid"].cast(pa.string()),
            "to": messages["to"].cast(pa.string()),
            "us": pc.cast(messages["date_created"], pa.int64()),
        }
    )


def with_failed(records: pa.Table, messages: pa.Table, keep: np.ndarray) -> pa.Table:
    """The rows ``keep`` of ``records`` (record_columns of ``messages``), with whether
    each record failed (status ``failed``)."""
    mask = pa.array(keep)
    subset = records.filter(mask)
    if "status" in messages.column_names:
        status = messages["status"].filter(mask).cast(pa.string())
        failed = pc.fill_null(pc.equal(status, "failed"), False)
    else:
        failed = pa.array(np.zeros(subset.num_rows, dtype=bool))
    return subset.append_column("failed", failed)


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
        pc.is_in(messages["direction"], value_set=pa.array(list(_REPLY_DIRECTIONS))), False
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


#: How logged recipients are compared with the records': as logged, both as
#: recipient_key, or not at all (the records' still as recipient_key).
RECIPIENTS_AS_LOGGED = "as_logged"
RECIPIENTS_KEYED = "recipient_key"
RECIPIENTS_NOT_USED = "not_used"


def comparable_recipients(
    sends: pa.Table,
    usable: np.ndarray,
    records: pa.Table,
    known: np.ndarray,
    *,
    how: str | None = None,
) -> tuple[pa.Table, pa.Table, str, str]:
    """Logged and exported recipients in one form, or none logged when they cannot match;
    the sends are the rows ``usable``, the records the rows ``known``.

    Logs write numbers their own way (no ``+``, spaces) or not at all (``redacted``, another
    account's numbers). Where they already name the records' recipients nothing changes;
    otherwise both sides are compared as recipient_key; and where the logged recipients
    still name too few records, they are not used (the SIDs or the times are). ``how``
    imposes a decision made on the whole log (a RECIPIENTS_* value). Returns the sends,
    the records, how they are compared and a note when the logged ones are not used.
    """
    share, keyed = 0.0, None
    if how is None:
        how, share, keyed = _recipient_decision(sends["to"], usable, records["to"], known)
    if how == RECIPIENTS_AS_LOGGED:
        return sends, records, how, ""
    records = _replaced(records, "to", recipient_key(records["to"]) if keyed is None else keyed)
    if how == RECIPIENTS_KEYED:
        return _replaced(sends, "to", recipient_key(sends["to"])), records, how, ""
    note = (
        f"the recipients in the request logs name {share:.0%} of the exported records' "
        "recipients (redacted, written another way, or another account's): they are not "
        "used, and requests are matched by SID or by time"
    )
    nulls = pa.nulls(sends.num_rows, pa.string())
    return _replaced(sends, "to", nulls), records, how, note if keyed is not None else ""


def _recipient_decision(
    logged: pa.ChunkedArray, usable: np.ndarray, known: pa.ChunkedArray, rows: np.ndarray
) -> tuple[str, float, pa.Array | None]:
    """How to compare the logged recipients (rows ``usable``) with the records' (rows
    ``rows``); the share of logged keys naming a record, and the records' keys, when
    they are not compared as logged."""
    named = usable & present(pc.is_valid(logged))
    if not named.any() or not rows.any():
        return RECIPIENTS_AS_LOGGED, 1.0, None
    sample = logged.take(pa.array(np.flatnonzero(named)[:RECIPIENT_SAMPLE], pa.int64()))
    if _share_in(sample, known, rows) >= RECIPIENT_MATCH_SHARE:
        return RECIPIENTS_AS_LOGGED, 1.0, None
    keyed = recipient_key(known)
    share = _share_in(_first_keys(logged, named), keyed, rows)
    how = RECIPIENTS_KEYED if share >= RECIPIENT_MATCH_SHARE else RECIPIENTS_NOT_USED
    return how, share, keyed


def _first_keys(logged: pa.ChunkedArray, rows: np.ndarray) -> pa.Array:
    """The first RECIPIENT_SAMPLE recipient keys that are not null among ``rows``,
    keying a block of rows at a time."""
    picked, found, at = [], 0, np.flatnonzero(rows)
    for start in range(0, len(at), RECIPIENT_SAMPLE):
        block = logged.take(pa.array(at[start : start + RECIPIENT_SAMPLE], pa.int64()))
        keys = recipient_key(block).drop_null()
        picked.append(keys.slice(0, RECIPIENT_SAMPLE - found))
        found += len(picked[-1])
        if found >= RECIPIENT_SAMPLE:
            break
    return pa.concat_arrays(picked) if picked else pa.array([], pa.string())


def _replaced(table: pa.Table, name: str, values: pa.Array | pa.ChunkedArray) -> pa.Table:
    return table.set_column(table.schema.get_field_index(name), name, values)


def _share_in(
    values: pa.Array | pa.ChunkedArray, known: pa.Array | pa.ChunkedArray, rows: np.ndarray
) -> float:
    """The share of ``values`` found among the rows ``rows`` of ``known`` (hashing the few
    values, not the many)."""
    if len(values) == 0:
        return 0.0
    distinct = pc.unique(values)
    distinct = distinct.combine_chunks() if isinstance(distinct, pa.ChunkedArray) else distinct
    hit = rows & present(pc.is_in(known, value_set=distinct))
    found = pc.unique(known.filter(pa.array(hit)))
    found = found.combine_chunks() if isinstance(found, pa.ChunkedArray) else found
    return float(pc.mean(pc.cast(pc.is_in(values, value_set=found), pa.int8())).as_py() or 0.0)
