"""Arrow helpers every format's parser shares, and the assembly of the per-chunk table."""

from __future__ import annotations

import functools
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
#: Distinct URLs of a chunk at most whose facts are remembered (a log of GETs by SID has
#: about as many URLs as lines).
_REMEMBERED_URLS = 64
#: The ASCII letters, by byte.
_LETTER = np.isin(np.arange(256), [*range(65, 91), *range(97, 123)])


def np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """A boolean Arrow array as numpy, nulls as False."""
    if arr.null_count:
        arr = pc.fill_null(arr, False)
    return np.asarray(arr.to_numpy(zero_copy_only=False), dtype=bool)


def is_valid(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are not null, as numpy."""
    if arr.null_count == 0:
        return np.ones(len(arr), dtype=bool)
    return np_bool(pc.is_valid(arr))


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


def per_distinct(values: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """fn(values), worked out once per distinct value (for an fn whose result for a value
    depends on no other, or only on which others there are); nulls stay null."""
    encoded = pc.dictionary_encode(values)
    return fn(encoded.dictionary).take(encoded.indices)


def per_value(text: pa.Array, check: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    """check() of each value (nulls False), worked out once per distinct value."""
    return np_bool(per_distinct(text, check))


def letters_only(text: pa.Array) -> np.ndarray:
    """Whether each value is one or more ASCII letters (nulls False): an HTTP method."""
    valid = is_valid(text)
    buffers = text.buffers() if isinstance(text, pa.Array) else []
    if pa.types.is_string(text.type) and len(buffers) == 3 and buffers[2] is not None:
        bounds = np.frombuffer(buffers[1], dtype=np.int32)
        bounds = bounds[text.offset : text.offset + len(text) + 1]
        data = np.frombuffer(buffers[2], dtype=np.uint8)[bounds[0] : bounds[-1]]
        # The common case, without a regex: every byte of every value is a letter.
        if (np.diff(bounds)[valid] > 0).all() and _LETTER[data].all():
            return valid
    return np_bool(pc.match_substring_regex(text, r"^[A-Za-z]+$"))


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
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.int32())
    num = _numbers(values, r"^[0-9]+(?:\.0*)?$")
    whole = pc.equal(pc.floor(num), num)
    ok = pc.and_(pc.and_(pc.greater_equal(num, 100), pc.less(num, 600)), whole)
    return pc.cast(pc.if_else(ok, num, pa.scalar(None, pa.float64())), pa.int32())


def to_error_code(values: pa.Array) -> pa.Array:
    """Twilio error codes (numbers or numeric text) as int64; anything that is not a
    positive whole number → null."""
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.int64())
    num = _numbers(values, r"^[0-9]+(?:\.0*)?$")
    ok = pc.and_(pc.equal(pc.floor(num), num), pc.and_(pc.greater(num, 0), pc.less(num, 1e9)))
    return pc.cast(pc.if_else(ok, num, pa.scalar(None, pa.float64())), pa.int64())


def to_float(values: pa.Array) -> pa.Array:
    """Numbers (or numeric text) as float64; anything else, and infinities, → null."""
    if values.null_count == len(values):
        return pa.nulls(len(values), pa.float64())
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
    paths, account, sends = _url_facts(encoded.dictionary)
    indices = encoded.indices
    tunnel = pc.equal(method, "CONNECT")
    if pc.any(tunnel).as_py():
        indices = pc.if_else(tunnel, pa.scalar(None, indices.type), indices)
    is_send = pc.and_(pc.equal(method, "POST"), sends.take(encoded.indices))
    return _encoded(paths, indices), _encoded(account, indices), pc.fill_null(is_send, False)


def _url_facts(urls: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """The path of each distinct URL, its account SID, and whether it creates messages."""
    if len(urls) <= _REMEMBERED_URLS:
        return _remembered_url_facts(tuple(urls.to_pylist()))
    paths = _target_paths(urls)
    return (paths, *_path_facts(paths))


@functools.lru_cache(maxsize=256)
def _remembered_url_facts(urls: tuple[str, ...]) -> tuple[pa.Array, pa.Array, pa.Array]:
    # Worked out once for the few endpoints most logs call, chunk after chunk.
    paths = _target_paths(pa.array(urls, pa.string()))
    return (paths, *_path_facts(paths))


def _encoded(values: pa.Array, indices: pa.Array) -> pa.DictionaryArray:
    """``values.take(indices)`` as a dictionary array with distinct values."""
    distinct = pc.dictionary_encode(values)
    return pa.DictionaryArray.from_arrays(
        distinct.indices.take(indices).cast(pa.int32()), distinct.dictionary
    )


def _as(values: pa.Array, typ: pa.DataType) -> pa.Array:
    """values cast to typ (as they are when of that type)."""
    return values if values.type == typ else values.cast(typ)


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
        return pa.nulls(n, typ) if a is None else _as(a, typ)

    method = pc.utf8_upper(_as(method, pa.string()))
    path, account, is_send = _targets(_as(url, pa.string()), method)
    cols = [
        _as(time, TIMESTAMP),
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
