"""Privacy helpers: mask phone numbers and scrub credentials from text meant for people.

A masked E.164 number keeps its country calling code and its last four digits
(``+44 ••••••0123``); anything else keeps at most its last four digits. Masking is
idempotent: a masked value masks to itself.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MASK = "•"

#: ITU-T E.164 country calling codes in service (E.164 Annex, ITU Operational Bulletin),
#: including the shared codes of global services (800, 808, 870, 878, 881-883, 888, 979, 991).
#: The set is prefix-free, so the first code that matches a number is its code.
_ITU_CODES = """
    1 7
    20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58
    60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98
    211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234
    235 236 237 238 239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254
    255 256 257 258 260 261 262 263 264 265 266 267 268 269 290 291 297 298 299
    350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 375 376 377 378 379
    380 381 382 383 385 386 387 389 420 421 423
    500 501 502 503 504 505 506 507 508 509 590 591 592 593 594 595 596 597 598 599
    670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 687 688 689 690 691 692
    800 808 850 852 853 855 856 870 878 880 881 882 883 886 888
    960 961 962 963 964 965 966 967 968 970 971 972 973 974 975 976 977 979
    991 992 993 994 995 996 998
"""
CALLING_CODES: frozenset[str] = frozenset(_ITU_CODES.split())

#: Digits (and already masked digits) an E.164 number has in total, calling code included.
E164_MIN_DIGITS = 8
E164_MAX_DIGITS = 15
KEEP_LAST = 4

_SEPARATORS = r"[\s\-.()/]"
_CHANNEL = r"^([a-z][a-z0-9-]*:)?(.*)$"  # whatsapp:+1…, messenger:…
_CODES_BY_LENGTH = {n: sorted(c for c in CALLING_CODES if len(c) == n) for n in (1, 2, 3)}


def mask_phone(number: str) -> str:
    """Mask one phone number, keeping the country calling code and the last 4 digits.

    >>> mask_phone("+447700900123")
    '+44 ••••••0123'
    >>> mask_phone("whatsapp:+14155550123")
    'whatsapp:+1 ••••••0123'
    >>> mask_phone("07700 900123")  # not E.164: only the last 4 digits stay
    '•••••••0123'
    """
    result = mask_phones([number])[0]
    return "" if result is None else str(result)


def mask_phones(numbers: Any) -> pa.Array:
    """Mask an array of phone numbers (nulls stay null); returns a pyarrow string array.

    Accepts anything pyarrow can turn into a string array (list, numpy, pandas Series,
    pa.Array or ChunkedArray).

    >>> mask_phones(["+4915112345678", None]).to_pylist()
    ['+49 •••••••5678', None]

    Rules: separators (spaces, dashes, dots, brackets, slashes) are dropped; a channel
    prefix such as ``whatsapp:`` is kept. ``+`` followed by 8-15 digits that start with an
    ITU calling code is E.164 and keeps ``+code`` and the last 4 digits. Anything else keeps
    its last 4 digits if it has at least 8, else nothing; other characters (letters) are
    never shown, and a value without any digit becomes ``•••``.
    """
    values = _as_string_array(numbers)
    if len(values) == 0:
        return values
    channel, positions, n, code_len, e164 = _parse_numbers(values)
    keep = np.where(e164 | (n >= 8), KEEP_LAST, 0)
    code = np.where(e164, code_len, 0)
    hidden = np.maximum(n - code - keep, 0)
    # Values without any digit (e.g. an alphanumeric sender) still show that a value was there.
    hidden = np.where(n == 0, 3, hidden)
    last = pc.if_else(pa.array(keep > 0), pc.utf8_slice_codeunits(positions, start=-KEEP_LAST), "")
    head = pa.nulls(len(values), pa.string()).fill_null("")
    for length in (1, 2, 3):
        cut = pc.binary_join_element_wise(
            "+", pc.utf8_slice_codeunits(positions, start=0, stop=length), " ", ""
        )
        head = pc.if_else(pa.array(code == length), cut, head)
    bullets = pc.binary_repeat(pa.scalar(MASK), pa.array(hidden))
    joined = pc.binary_join_element_wise(channel, head, bullets, last, "")
    empty = pc.equal(values, "")
    out = pc.if_else(empty, "", joined)
    return pc.if_else(pc.is_null(values), pa.scalar(None, pa.string()), out)


def country_codes(numbers: Any) -> pa.Array:
    """The E.164 country calling code of each number (``+44``), null when it has none.

    >>> country_codes(["+447700900123", "whatsapp:+1 415 555 0100", "07700 900123"]).to_pylist()
    ['+44', '+1', None]
    """
    values = _as_string_array(numbers)
    if len(values) == 0:
        return values
    _, positions, _, code_len, e164 = _parse_numbers(values)
    codes = pa.nulls(len(values), pa.string())
    for length in (1, 2, 3):
        head = pc.binary_join_element_wise(
            "+", pc.utf8_slice_codeunits(positions, start=0, stop=length), ""
        )
        codes = pc.if_else(pa.array(e164 & (code_len == length)), head, codes)
    return codes


def _parse_numbers(
    values: pa.Array,
) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray, np.ndarray]:
    """Split numbers into channel prefix and digits; find each one's calling code.

    Returns the channel (``whatsapp:`` or ""), the digits (and mask characters), how
    many there are, the length of the calling code (0: none) and whether the number
    is E.164.
    """
    compact = pc.replace_substring_regex(values, _SEPARATORS, "")
    channel = pc.if_else(
        pc.match_substring_regex(compact, r"^[a-z][a-z0-9-]*:"),
        pc.replace_substring_regex(compact, r":.*$", ":"),
        "",
    )
    rest = pc.replace_substring_regex(compact, r"^[a-z][a-z0-9-]*:", "")
    positions = pc.replace_substring_regex(rest, f"[^0-9{MASK}]", "")
    n = _int(pc.utf8_length(positions))
    plus = pc.starts_with(rest, "+")
    shaped = pc.match_substring_regex(rest, rf"^\+[0-9{MASK}]+$")
    code_len = np.zeros(len(values), dtype=np.int64)
    for length in (3, 2, 1):
        head = pc.utf8_slice_codeunits(positions, start=0, stop=length)
        hit = _bool(pc.is_in(head, value_set=pa.array(_CODES_BY_LENGTH[length])))
        code_len[hit] = length
    e164 = (
        _bool(pc.and_(plus, shaped))
        & (code_len > 0)
        & (n >= E164_MIN_DIGITS)
        & (n <= E164_MAX_DIGITS)
    )
    return channel, positions, n, code_len, e164


def _as_string_array(numbers: Any) -> pa.Array:
    if isinstance(numbers, pa.ChunkedArray):
        numbers = numbers.combine_chunks()
    if isinstance(numbers, pa.Array):
        if pa.types.is_dictionary(numbers.type):
            numbers = numbers.dictionary_decode()
        if not pa.types.is_string(numbers.type):
            numbers = numbers.cast(pa.string())
        return numbers
    if isinstance(numbers, str):
        raise TypeError("mask_phones takes an array of numbers; use mask_phone for one")
    if hasattr(numbers, "to_numpy") and not isinstance(numbers, np.ndarray):
        numbers = numbers.to_numpy(dtype=object, na_value=None)
    return pa.array(
        list(numbers) if not isinstance(numbers, np.ndarray) else numbers,
        type=pa.string(),
        from_pandas=True,
    )


def _int(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(0).to_numpy(zero_copy_only=False), dtype=np.int64)


def _bool(array: pa.Array) -> np.ndarray:
    return np.asarray(array.fill_null(False).to_numpy(zero_copy_only=False), dtype=bool)


# ------------------------------------------------------------------ free text

#: Seven or more digits, possibly separated: a phone number inside a message body.
_NUMBER_IN_TEXT = r"\+?(?:[0-9][ \-.()]?){6,}[0-9]"


def mask_numbers_in_text(texts: Any) -> pa.Array:
    """Replace phone-number-like runs (7+ digits) inside free text with ``•••``.

    >>> mask_numbers_in_text(["Call +1 415 555 0123 now", "code 123456"]).to_pylist()
    ['Call ••• now', 'code 123456']
    """
    return pc.replace_substring_regex(_as_string_array(texts), _NUMBER_IN_TEXT, MASK * 3)


_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|API_KEY|PRIVATE|CREDENTIAL)", re.I)
_SECRET_PATTERNS = (
    # user:password@ in URLs
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@"), "•••@"),
    # HTTP Authorization headers
    (
        re.compile(r"(?i)\b(authorization\s*[:=]\s*)(basic|bearer)\s+[A-Za-z0-9+/=._~-]+"),
        r"\1\2 •••",
    ),
    # a bare 32-hex string is an auth token or API secret (SIDs carry a 2-letter prefix)
    (re.compile(r"(?<![A-Za-z0-9])[0-9a-fA-F]{32}(?![0-9a-zA-Z])"), "•••"),
)


def secret_values(environ: Mapping[str, str] | None = None) -> list[str]:
    """Values of environment variables that hold credentials (longest first)."""
    env = os.environ if environ is None else environ
    found = {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v) >= 6}
    return sorted(found, key=len, reverse=True)


def scrub_secrets(text: str, secrets: Iterable[str] | None = None) -> str:
    """Remove credentials from ``text``: the given secret values (default: those in the
    environment), URL passwords, Authorization headers and bare 32-hex tokens.

    >>> scrub_secrets("https://AC1:abc@api.twilio.com", secrets=[])
    'https://•••@api.twilio.com'
    """
    for value in secret_values() if secrets is None else secrets:
        if value:
            text = text.replace(value, "•••")
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# The same patterns for pyarrow's RE2, which has no look-behind.
_SECRET_PATTERNS_RE2 = (
    (r"(://)[^/\s:@]+:[^/\s@]+@", r"\1•••@"),
    (r"(?i)(authorization\s*[:=]\s*)(basic|bearer)\s+[A-Za-z0-9+/=._~-]+", r"\1\2 •••"),
    (r"(^|[^A-Za-z0-9])[0-9a-fA-F]{32}($|[^0-9a-zA-Z])", r"\1•••\2"),
)


def scrub_secrets_array(texts: Any, secrets: Iterable[str] | None = None) -> pa.Array:
    """Vectorized :func:`scrub_secrets` over a string array (nulls stay null).

    >>> scrub_secrets_array(["key 0123456789abcdef0123456789abcdef"], secrets=[]).to_pylist()
    ['key •••']
    """
    array = _as_string_array(texts)
    for value in secret_values() if secrets is None else secrets:
        if value:
            array = pc.replace_substring(array, value, "•••")
    for pattern, replacement in _SECRET_PATTERNS_RE2:
        array = pc.replace_substring_regex(array, pattern, replacement)
    return array
