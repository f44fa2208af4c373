"""The lines of the ``twilio-sdk`` format: which of the SDK's messages each line holds,
and what it says (time, thread key, method, URL, status, the rest)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import np_bool, nullify_empty, per_value
from analyzer.logs.dates import ISO_TIME_RE, parse_times
from analyzer.schema import TIMESTAMP


class LineKind(IntEnum):
    """The SDK's log messages; the values number the kinds in ``SDK_LINE_SCHEMA``."""

    BEGIN = 0
    END = 1
    STATUS = 2
    HEADERS = 3
    REQUEST_ID = 4
    PAYLOAD = 5
    REQUEST = 6
    RESPONSE = 7


#: Each kind of SDK line: a literal it contains, and the message that ends the line (after
#: the formatter's prefix). In LineKind order.
_LINE_SHAPES: dict[LineKind, tuple[str, str]] = {
    LineKind.BEGIN: ("-- BEGIN Twilio", r"-- BEGIN Twilio API Request --\s*$"),
    LineKind.END: ("-- END Twilio", r"-- END Twilio API Request --\s*$"),
    LineKind.STATUS: ("Response Status Code: ", r"Response Status Code: (?P<status>[0-9]+)\s*$"),
    LineKind.HEADERS: ("Response Headers: ", r"Response Headers: (?P<extra>.*)$"),
    # A response header logged on its own line, in the SDK's "Key : value" form. Only the
    # request id: no client sends it, whereas a "Date : ..." line may be a request header
    # (the client's clock), so Twilio's Date is only read from the response headers.
    LineKind.REQUEST_ID: (
        "Twilio-Request-Id : ",
        r"Twilio-Request-Id : (?P<extra>[A-Za-z0-9]+)\s*$",
    ),
    LineKind.PAYLOAD: ("PAYLOAD: ", r"PAYLOAD: (?P<extra>.*)$"),
    LineKind.REQUEST: (" Request: ", r"\b(?P<method>[A-Z]+) Request: (?P<url>[^ ]+)\s*$"),
    LineKind.RESPONSE: (
        " Response: ",
        r"\b(?P<method>[A-Z]+) Response: (?P<status>[0-9]+)(?: (?P<extra>.*))?$",
    ),
}
#: What follows each kind's marker (its literal) in its message, for _split_message():
#: a pattern it matches, and the group the whole of it is (None: no group). Narrower than
#: the kind's own pattern (no trailing whitespace), so that the group is all of it.
_MESSAGE_REST: dict[LineKind, tuple[str, str | None]] = {
    LineKind.BEGIN: (r"^ API Request --\s*$", None),
    LineKind.END: (r"^ API Request --\s*$", None),
    LineKind.STATUS: (r"^[0-9]+$", "status"),
    LineKind.HEADERS: ("", "extra"),
    LineKind.REQUEST_ID: (r"^[A-Za-z0-9]+$", "extra"),
    LineKind.PAYLOAD: ("", "extra"),
    LineKind.REQUEST: (r"^\S+$", "url"),
}
#: A prefix's first 25 characters when it starts with the time as logging's default
#: formatter writes it, which ISO_TIME_RE reads whole (no zone, no more digits after it).
_LOG_TIME_RE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}[.,][0-9]{3} [^\sZ+\-0-9]$"
#: The kinds whose line's prefix gives the time of the request or its answer.
_TIMED_KINDS = (LineKind.BEGIN, LineKind.REQUEST, LineKind.STATUS, LineKind.RESPONSE)
# One unanchored pass finds each line's marker: RE2 runs a DFA over the line and its
# capture engine over the (short) marker only.
_MARKER_RE = "(?P<k>" + "|".join(re.escape(lit) for lit, _ in _LINE_SHAPES.values()) + ")"
_MARKERS = pa.array([lit for lit, _ in _LINE_SHAPES.values()])
_BEGIN = "-- BEGIN Twilio API Request --"
_OLD_REQUEST = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE) Request: \S+://")

#: One row per SDK line: its kind (LineKind), the prefix without its time (the thread key),
#: the whole line, its time and the groups of its message.
SDK_LINE_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("kind", pa.int8()),
        pa.field("key", pa.string()),
        pa.field("text", pa.string()),
        pa.field("time", TIMESTAMP),
        pa.field("method", pa.string()),
        pa.field("url", pa.string()),
        pa.field("status", pa.string()),
        pa.field("extra", pa.string()),
    ]
)


def sniff_sdk(lines: Sequence[str]) -> int:
    """All sample lines when any of them starts an SDK request block, else none: the SDK's
    lines are few among the application's own."""
    found = any(_BEGIN in line for line in lines) or any(
        _OLD_REQUEST.search(line) for line in lines
    )
    return len(lines) if found else 0


def sdk_line_rows(lines: pa.StringArray, first_line: int, log_tz: str) -> pa.Table:
    """The SDK lines among ``lines`` (the first is line ``first_line``), in line order."""
    marker = pc.struct_field(pc.extract_regex(lines, _MARKER_RE), "k")
    kind_numbers = pc.index_in(marker, value_set=_MARKERS)
    index = np.flatnonzero(np_bool(pc.is_valid(kind_numbers)))
    kinds = np.asarray(kind_numbers.take(pa.array(index)).to_numpy(zero_copy_only=False))
    candidates = lines.take(pa.array(index))
    line_no = index + first_line
    parts: list[pa.Table] = []
    for kind, (literal, pattern) in _LINE_SHAPES.items():
        of_kind = np.flatnonzero(kinds == kind)
        if not len(of_kind):
            continue
        texts = candidates.take(pa.array(of_kind))
        fields, ok = _split_message(kind, literal, texts)
        if ok.any():
            keep = pa.array(ok)
            fields = {name: value.filter(keep) for name, value in fields.items()}
            texts_ok, lines_ok = texts.filter(keep), line_no[of_kind][ok]
            parts.append(_rows_of_fields(kind, texts_ok, lines_ok, fields, log_tz))
        if ok.all():
            continue
        # The others, by the message's pattern (those that do not match are no SDK lines).
        rest = texts.filter(pa.array(~ok))
        valid = np_bool(pc.match_substring_regex(rest, pattern))
        if valid.any():
            rest, rest_lines = rest.filter(pa.array(valid)), line_no[of_kind][~ok][valid]
            parts.append(_rows_of_kind(kind, pattern, rest, rest_lines, log_tz))
    if not parts:
        return SDK_LINE_SCHEMA.empty_table()
    rows = pa.concat_tables(parts).combine_chunks()
    return rows.take(pc.sort_indices(rows["line"]))


def _split_message(
    kind: LineKind, literal: str, texts: pa.StringArray
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """The message's groups, and the prefix before it split into time and thread key, of
    lines of one kind whose marker ``literal`` starts their message (or follows its
    method) and whose prefix starts with a logging time ("2026-11-29 14:03:01,123 ");
    and which lines are such (the others are left to the regexes)."""
    halves = pc.split_pattern(texts, literal, max_splits=1)
    head, tail = pc.list_element(halves, 0), pc.list_element(halves, 1)
    fields: dict[str, pa.Array] = {}
    ok = np.ones(len(texts), dtype=bool)
    if kind in (LineKind.REQUEST, LineKind.RESPONSE):
        # "PREFIX METHOD Request: ...": the method is the prefix's last word.
        words = pc.split_pattern(head, " ", max_splits=1, reverse=True)
        ok &= np_bool(pc.equal(pc.list_value_length(words), 2))
        if not ok.all():
            words = pc.if_else(pa.array(ok), words, pa.scalar(["", ""], words.type))
        head, fields["method"] = pc.list_element(words, 0), pc.list_element(words, 1)
        ok &= per_value(fields["method"], lambda m: pc.match_substring_regex(m, "^[A-Z]+$"))
    if kind == LineKind.RESPONSE:
        fields.update(_status_and_body(tail))
        ok &= np_bool(pc.is_valid(fields["status"]))
    rest, group = _MESSAGE_REST.get(kind, ("", None))
    if rest:
        ok &= np_bool(pc.match_substring_regex(tail, rest))
    if group:
        fields[group] = tail
    # The prefix: a logging time, then (without any other time) the thread key.
    ok &= np_bool(pc.match_substring_regex(pc.utf8_slice_codeunits(head, 0, 25), _LOG_TIME_RE))
    key = pc.utf8_slice_codeunits(head, 23)
    ok &= ~np_bool(pc.match_substring_regex(key, ISO_TIME_RE))
    fields["time"] = pc.utf8_slice_codeunits(head, 0, 23)
    fields["key"] = pc.utf8_trim_whitespace(key)
    return fields, ok


def _status_and_body(tail: pa.Array) -> dict[str, pa.Array]:
    """The status and body of an older SDK's "201 {...}" answer (null status: not such;
    an empty body when none, as the regex reads it)."""
    split = pc.split_pattern(tail, " ", max_splits=1)
    status = pc.list_element(split, 0)
    digits = pc.match_substring_regex(status, "^[0-9]+$")
    status = pc.if_else(digits, status, pa.scalar(None, pa.string()))
    two = pc.equal(pc.list_value_length(split), 2)
    body = pc.list_element(pc.if_else(two, split, pa.scalar(["", ""], split.type)), 1)
    return {"status": status, "extra": body}


def _rows_of_fields(
    kind: LineKind,
    texts: pa.StringArray,
    line_no: np.ndarray,
    fields: dict[str, pa.Array],
    log_tz: str,
) -> pa.Table:
    """SDK_LINE_SCHEMA rows of lines of one kind, from _split_message()'s fields."""
    n = len(texts)

    def group(name: str) -> pa.Array:
        return fields[name] if name in fields else pa.nulls(n, pa.string())

    timed = kind in _TIMED_KINDS
    cols = [
        pa.array(line_no, pa.int64()),
        pa.array(np.full(n, kind, dtype=np.int8)),
        fields["key"],
        texts,
        parse_times(fields["time"], log_tz) if timed else pa.nulls(n, TIMESTAMP),
        group("method"),
        group("url"),
        group("status"),
        group("extra"),
    ]
    return pa.Table.from_arrays(cols, schema=SDK_LINE_SCHEMA)


def _rows_of_kind(
    kind: LineKind, pattern: str, texts: pa.StringArray, line_no: np.ndarray, log_tz: str
) -> pa.Table:
    """SDK_LINE_SCHEMA rows of lines of one kind, whose message matches ``pattern``."""
    n = len(texts)
    # Unanchored extraction: RE2 runs its capture engine on the message only.
    groups = pc.extract_regex(texts, pattern) if "(?P<" in pattern else None
    names = {f.name for f in groups.type} if groups is not None else set()

    def group(name: str) -> pa.Array:
        if groups is None or name not in names:
            return pa.nulls(n, pa.string())
        return pc.struct_field(groups, name)

    prefix = pc.replace_substring_regex(texts, re.sub(r"\(\?P<\w+>", "(?:", pattern), "")
    if kind in _TIMED_KINDS:
        raw = pc.struct_field(pc.extract_regex(prefix, f"(?P<t>{ISO_TIME_RE})"), "t")
        time = parse_times(nullify_empty(raw), log_tz)
    else:
        time = pa.nulls(n, TIMESTAMP)
    key = pc.utf8_trim_whitespace(pc.replace_substring_regex(prefix, ISO_TIME_RE, ""))
    cols = [
        pa.array(line_no, pa.int64()),
        pa.array(np.full(n, kind, dtype=np.int8)),
        key,
        texts,
        time,
        group("method"),
        group("url"),
        group("status"),
        group("extra"),
    ]
    return pa.Table.from_arrays(cols, schema=SDK_LINE_SCHEMA)
