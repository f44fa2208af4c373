"""Arrow helpers every format's parser shares, and the assembly of the per-chunk table."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.files import LineChunk
from analyzer.logs.model import CORE_SCHEMA
from analyzer.schema import TIMESTAMP

# Messages.json, Messages (no extension: Twilio's own Arduino example), .xml, and the
# legacy SMS/Messages resource all create a message.
SEND_PATH_RE = r"^/2010-04-01/Accounts/[^/]+/(?:SMS/)?Messages(?:\.json|\.xml)?$"
# Account SIDs hold no dot: "AC….json" gives the SID without the extension.
ACCOUNT_RE = r"^/2010-04-01/Accounts/(?P<a>[^/.]*)"
_URL_SCHEME_RE = r"^[A-Za-z][A-Za-z0-9+.\-]*://"
#: The bytes a blank line may start with (space, tab, CR, LF), by byte.
_BLANK_START = np.isin(np.arange(256), [32, 9, 13, 10])


def np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def without_blank_lines(chunk: LineChunk) -> tuple[pa.StringArray, np.ndarray]:
    """The chunk's lines that are not blank, and their 1-based line numbers."""
    lines = chunk.lines
    # Only a line that is empty or starts with whitespace may be blank.
    data = np.frombuffer(chunk.data, dtype=np.uint8)
    maybe = np.diff(chunk.offsets) == 0
    if len(data):
        maybe |= _BLANK_START[data[np.minimum(chunk.offsets[:-1], len(data) - 1)]]
    line_no = np.arange(chunk.first_line, chunk.first_line + len(lines))
    if not maybe.any():
        return lines, line_no
    candidates = np.flatnonzero(maybe)
    blank = np.zeros(len(lines), dtype=bool)
    # JSON's own whitespace, so that pyarrow's JSON reader skips exactly these lines.
    blank[candidates] = np_bool(
        pc.match_substring_regex(lines.take(pa.array(candidates)), r"^[ \t]*$")
    )
    keep = np.flatnonzero(~blank)
    body = lines.take(pa.array(keep)) if len(keep) < len(lines) else lines
    return body, line_no[keep]


def nullify_empty(arr: pa.Array) -> pa.Array:
    """Text trimmed of whitespace, empty text as null."""
    if arr.null_count == len(arr):
        return arr
    arr = pc.utf8_trim_whitespace(arr)
    if (pc.min(pc.binary_length(arr)).as_py() or 0) > 0:
        return arr  # no empty text
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _numbers(values: pa.Array, valid_text: str) -> pa.Array:
    """Values as float64; text that does not match ``valid_text`` becomes null."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.cast(values, pa.float64())
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        ok = pc.match_substring_regex(text, valid_text)
        return pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())


def to_int_status(values: pa.Array) -> pa.Array:
    """HTTP status codes as int32; anything outside 100..599 → null."""
    num = _numbers(values, r"^[0-9]+(?:\.0*)?$")
    whole = pc.equal(pc.floor(num), num)
    ok = pc.and_(pc.and_(pc.greater_equal(num, 100), pc.less(num, 600)), whole)
    return pc.cast(pc.if_else(ok, num, pa.scalar(None, pa.float64())), pa.int32())


def to_error_code(values: pa.Array) -> pa.Array:
    """Twilio error codes (numbers or numeric text) as int64; anything that is not a
    positive whole number → null."""
    num = _numbers(values, r"^[0-9]+(?:\.0*)?$")
    ok = pc.and_(pc.equal(pc.floor(num), num), pc.and_(pc.greater(num, 0), pc.less(num, 1e9)))
    return pc.cast(pc.if_else(ok, num, pa.scalar(None, pa.float64())), pa.int64())


def to_float(values: pa.Array) -> pa.Array:
    """Numbers (or numeric text) as float64; anything else, and infinities, → null."""
    num = _numbers(values, r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
    finite = pc.is_finite(num)
    return pc.if_else(finite, num, pa.scalar(None, pa.float64()))


def apply_where(arr: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """arr with fn applied to the masked values only (fn is costly, the mask often empty)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fn(arr.filter(mask)))


def _target_paths(url: pa.Array) -> pa.Array:
    """The path of each URL or request target; "-" (a missing value) and "" are null."""
    absolute = pc.match_substring(url, "://")

    def strip_host(u: pa.Array) -> pa.Array:
        p = pc.replace_substring_regex(u, _URL_SCHEME_RE + r"[^/?#]*", "")
        return pc.if_else(pc.equal(p, ""), pa.scalar("/"), p)

    path = apply_where(url, absolute, strip_host)
    path = apply_where(
        path,
        pc.match_substring_regex(path, "[?#]"),
        lambda u: pc.replace_substring_regex(u, r"[?#].*$", ""),
    )
    missing = pc.or_(pc.equal(path, "-"), pc.equal(path, ""))
    return pc.if_else(missing, pa.scalar(None, pa.string()), path)


def _path_facts(paths: pa.Array) -> tuple[pa.Array, pa.Array]:
    """The account SID in each path (null: none) and whether the path creates messages."""
    account = pc.struct_field(pc.extract_regex(paths, ACCOUNT_RE), "a")
    account = pc.if_else(pc.equal(account, ""), pa.scalar(None, pa.string()), account)
    return account, pc.match_substring_regex(paths, SEND_PATH_RE)


def _targets(url: pa.Array, method: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The path, account SID and is-a-send of each request (text worked out once per
    distinct URL: most requests call a few endpoints). Path and account stay
    dictionary-encoded: repeated text kept once keeps multi-million-line logs small."""
    encoded = pc.dictionary_encode(url)
    paths = _target_paths(encoded.dictionary)
    account, sends = _path_facts(paths)
    indices = encoded.indices
    tunnel = pc.equal(method, "CONNECT")
    if pc.any(tunnel).as_py():
        indices = pc.if_else(tunnel, pa.scalar(None, indices.type), indices)
    is_send = pc.and_(pc.equal(method, "POST"), sends.take(encoded.indices))
    return _encoded(paths, indices), _encoded(account, indices), pc.fill_null(is_send, False)


def _encoded(values: pa.Array, indices: pa.Array) -> pa.DictionaryArray:
    """``values.take(indices)`` as a dictionary array with distinct values."""
    distinct = pc.dictionary_encode(values)
    return pa.DictionaryArray.from_arrays(
        distinct.indices.take(indices).cast(pa.int32()), distinct.dictionary
    )


def core_table(
    *,
    time: pa.Array,
    method: pa.Array,
    url: pa.Array,
    line: np.ndarray,
    status: pa.Array | None = None,
    duration_ms: pa.Array | None = None,
    to: pa.Array | None = None,
    message_sid: pa.Array | None = None,
    request_id: pa.Array | None = None,
    error: pa.Array | None = None,
    twilio_error_code: pa.Array | None = None,
    user_agent: pa.Array | None = None,
    sender: pa.Array | None = None,
    message_status: pa.Array | None = None,
    twilio_time: pa.Array | None = None,
    from_twilio: np.ndarray | None = None,
    answered_line: pa.Array | None = None,
) -> pa.Table:
    """Assemble canonical columns (all but source_file) from raw parsed columns."""
    n = len(line)

    def opt(a: pa.Array | None, typ: pa.DataType) -> pa.Array:
        return pa.nulls(n, typ) if a is None else a.cast(typ)

    method = pc.utf8_upper(method.cast(pa.string()))
    path, account, is_send = _targets(url.cast(pa.string()), method)
    cols = [
        time.cast(TIMESTAMP),
        opt(twilio_time, TIMESTAMP),
        pa.nulls(n, TIMESTAMP),
        method,
        path,
        account,
        opt(status, pa.int32()),
        opt(duration_ms, pa.float64()),
        opt(to, pa.string()),
        opt(message_sid, pa.string()),
        opt(request_id, pa.string()),
        is_send,
        opt(error, pa.string()),
        opt(twilio_error_code, pa.int64()),
        opt(user_agent, pa.string()),
        opt(sender, pa.string()),
        opt(message_status, pa.string()),
        pa.array(line, pa.int64()),
        pa.array(np.zeros(n, dtype=bool) if from_twilio is None else from_twilio, pa.bool_()),
        opt(answered_line, pa.int64()),
    ]
    return pa.Table.from_arrays(cols, schema=CORE_SCHEMA)
