"""Phone numbers written by people and other systems, read as E.164 (``+12328128904``).

Complaint CSVs, support tools and application logs write one number many ways:
``+1 232-812-8904``, ``+1 (232) 812.8904``, ``12328128904``, ``0012328128904``.
:func:`normalize_e164` turns each into ``+`` and its digits, so it compares equal
to the ``to`` of Twilio's Message records.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.redact import CALLING_CODES, E164_MAX_DIGITS, E164_MIN_DIGITS

#: Characters people put inside a number: ASCII whitespace, no-break spaces, the
#: hyphen and Unicode dashes, the minus sign, dots and parentheses. Listed one by one
#: (no Unicode classes) so the result does not depend on a Unicode database version.
SEPARATORS = "\t\n\v\f\r \u00a0\u2007\u202f-\u2010\u2011\u2012\u2013\u2014\u2015\u2212.()"

_SEPARATOR_CLASS = "[" + "".join(f"\\x{{{ord(c):x}}}" for c in SEPARATORS) + "]"
_SHAPE = rf"^\+?[0-9]{{{E164_MIN_DIGITS},{E164_MAX_DIGITS}}}$"
_CODES_BY_LENGTH = {n: sorted(c for c in CALLING_CODES if len(c) == n) for n in (1, 2, 3)}


def normalize_e164(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Each value as an E.164 number (``+`` and 8-15 digits), or null if it cannot be one.

    Separators (:data:`SEPARATORS`: spaces, dashes, dots, parentheses) are dropped and a
    leading international prefix ``00`` is read as ``+``. What is left must be digits,
    optionally after one leading ``+``, 8 to 15 of them, starting with an ITU country
    calling code (``analyzer.redact.CALLING_CODES``). Digits without ``+`` are read as
    starting with the country code, as logs and CSV exports often write them. Anything
    else is null: letters (``redacted``, ``whatsapp:`` channels), a national number
    (``07700 900123``: no calling code starts with 0), a short code, an empty value.

    >>> normalize_e164(pa.array(["+1 232-812-8904", "12328128904", "0044 7700 900123",
    ...                          "redacted", "07700 900123", None])).to_pylist()
    ['+12328128904', '+12328128904', '+447700900123', None, None, None]
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    text = values.cast(pa.string())
    compact = pc.replace_substring_regex(text, _SEPARATOR_CLASS, "")
    compact = pc.replace_substring_regex(compact, "^00", "+")
    digits = pc.replace_substring_regex(compact, r"^\+", "")
    valid = pc.match_substring_regex(compact, _SHAPE)
    has_code = [
        pc.is_in(pc.utf8_slice_codeunits(digits, 0, length), value_set=pa.array(codes))
        for length, codes in _CODES_BY_LENGTH.items()
    ]
    valid = pc.and_(valid, pc.or_(pc.or_(has_code[0], has_code[1]), has_code[2]))
    e164 = pc.binary_join_element_wise("+", digits, "")
    return pc.if_else(valid, e164, pa.scalar(None, pa.string()))


def calling_code(values: pa.Array | pa.ChunkedArray) -> pa.Array:
    """The country calling code (``+44``) each number starts with, after an optional
    channel prefix such as ``whatsapp:``; null when it starts with none.

    >>> calling_code(pa.array(["+447700900123", "whatsapp:+12328128904", "+8", None])).to_pylist()
    ['+44', '+1', None, None]
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    text = pc.replace_substring_regex(values.cast(pa.string()), r"^[a-z][a-z0-9-]*:", "")
    digits = pc.replace_substring_regex(text, r"^\+", "")
    code = pa.nulls(len(text), pa.string())
    # Calling codes are prefix-free: at most one length matches.
    for length, codes in _CODES_BY_LENGTH.items():
        head = pc.utf8_slice_codeunits(digits, 0, length)
        found = pc.and_(pc.starts_with(text, "+"), pc.is_in(head, value_set=pa.array(codes)))
        code = pc.if_else(found, pc.binary_join_element_wise("+", head, ""), code)
    return code
