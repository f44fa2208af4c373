"""The lines of the ``twilio-sdk`` format: which of the SDK's messages each line holds,
and what it says (time, thread key, method, URL, status, the rest)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from enum import IntEnum

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import np_bool, nullify_empty
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
    for kind, (_, pattern) in _LINE_SHAPES.items():
        mask = kinds == kind
        if not mask.any():
            continue
        of_kind = np.flatnonzero(mask)
        mask[of_kind] = np_bool(
            pc.match_substring_regex(candidates.take(pa.array(of_kind)), pattern)
        )
        if not mask.any():
            continue
        texts = candidates.filter(pa.array(mask))
        parts.append(_rows_of_kind(kind, pattern, texts, line_no[mask], log_tz))
    if not parts:
        return SDK_LINE_SCHEMA.empty_table()
    rows = pa.concat_tables(parts).combine_chunks()
    return rows.take(pc.sort_indices(rows["line"]))


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
