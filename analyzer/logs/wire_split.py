"""Reading the fields of proxy log lines at their delimiters (combined: found in the
bytes; envoy: split with Arrow's kernels): a fast path for the lines whose reading is
checked to give what the extraction regexes of ``wire`` would. The other lines are left
to those regexes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import is_valid, letters_only, np_bool, per_value
from analyzer.logs.files import byte_positions, count_byte

#: The fields read of each line, by name (time, method, target, status, ...).
Fields = dict[str, pa.Array]

#: Envoy's fields between the request and the quoted fields, in its default format:
#: status, flags, bytes received and sent, duration, upstream service time.
_ENVOY_NUMBERS_RE = r"^ [0-9]+ [^ ]+ (?:[0-9]+|-) (?:[0-9]+|-) (?:[0-9]+|-) [^ ]+ $"


def _split(
    text: pa.Array, separator: str, parts: int, keep: tuple[int, ...]
) -> tuple[list[pa.Array], np.ndarray]:
    """The pieces numbered ``keep`` of text split in ``parts`` pieces at separator (empty
    where it has fewer), and which values have that many."""
    split = pc.split_pattern(text, separator, max_splits=parts - 1)
    ok = np_bool(pc.equal(pc.list_value_length(split), parts))
    if not ok.all():
        split = pc.if_else(pa.array(ok), split, pa.scalar([""] * parts, split.type))
    return [pc.list_element(split, i) for i in keep], ok


def _method_and_target(
    request: pa.Array, method_re: str, words: int
) -> tuple[Fields, np.ndarray]:
    """Method and target of "METHOD TARGET[ REST]" requests, and which have that shape: a
    method matching ``method_re``, a target of at least a byte, at least ``words`` words
    (3: a space after the target)."""
    split = pc.split_pattern(request, " ", max_splits=2)
    ok = np_bool(pc.greater_equal(pc.list_value_length(split), words))
    if not ok.all():
        split = pc.if_else(pa.array(ok), split, pa.scalar([""] * 3, split.type))
    method, target = pc.list_element(split, 0), pc.list_element(split, 1)
    ok &= per_value(method, lambda m: pc.match_substring_regex(m, method_re))
    ok &= np_bool(pc.greater(pc.binary_length(target), 0))
    return {"method": method, "target": target}, ok


def combined_fields(lines: pa.StringArray) -> tuple[Fields, np.ndarray]:
    """time, method, target and status of combined lines (which match the format), and
    which lines they were read of."""
    # 'PREFIX [TIME] ' "REQUEST" ' STATUS ...', read from the positions of its delimiters.
    text = _Bytes(lines)
    starts, ends = text.starts, text.ends
    q1, q2 = text.first(ord('"'), starts, 2)
    ok = text.valid & (q2 < ends)
    # The time: the 26 bytes after the head's first "[", followed by '] '.
    head = q1 - starts
    ok &= _first_bracket(text, q1, ok) == head - 29
    ok &= head >= 2
    ok &= (text.at(q1 - 2, ok) == ord("]")) & (text.at(q1 - 1, ok) == ord(" "))
    # The request: "METHOD TARGET[ REST]", a target of at least a byte. Its spaces are
    # looked for in a copy of the requests alone (far fewer bytes than the lines hold).
    request = _Bytes(text.pieces(q1 + 1, q2, ok))
    sp1, sp2 = (
        np.where(at < request.ends, at - request.starts + q1 + 1, _NOWHERE)
        for at in request.first(ord(" "), request.starts, 2)
    )
    target_end = np.minimum(sp2, q2)
    ok &= (sp1 < q2) & (target_end > sp1 + 1)
    ok &= q2 + 5 < ends
    ok &= (text.at(q2 + 1, ok) == ord(" ")) & (text.at(q2 + 5, ok) == ord(" "))
    for digit in (2, 3, 4):
        ok &= (text.at(q2 + digit, ok) - ord("0")).astype(np.uint16) <= 9
    method = text.pieces(q1 + 1, sp1, ok)
    ok &= letters_only(method)
    fields = {
        "method": text.pieces(q1 + 1, sp1, ok),
        "target": text.pieces(sp1 + 1, target_end, ok),
        "time": _time_before(text, q1, ok),
        "status": text.pieces(q2 + 2, q2 + 5, ok),
    }
    return fields, ok


class _Bytes:
    """The values of a string array as positions in its data buffer (each value's bytes
    are ``data[starts[i]:ends[i]]``)."""

    def __init__(self, text: pa.Array) -> None:
        if isinstance(text, pa.ChunkedArray):
            text = text.combine_chunks()
        n = len(text)
        _, offsets, data = text.buffers()
        bounds = np.frombuffer(offsets, dtype=np.int32)[text.offset : text.offset + n + 1]
        self.starts, self.ends = bounds[:-1].astype(np.int64), bounds[1:].astype(np.int64)
        self.buffer = data if data is not None else pa.py_buffer(b"")
        self.data = np.frombuffer(self.buffer, dtype=np.uint8)
        self.valid = is_valid(text)
        self.span = self.data[int(bounds[0]) : int(bounds[-1])] if n else self.data[:0]
        self.base = int(bounds[0]) if n else 0

    def positions(self, byte: int) -> np.ndarray:
        """Where ``byte`` is in the values' bytes, in order, then _NOWHERE twice."""
        found = byte_positions(self.span, byte) + self.base
        return np.concatenate([found, [_NOWHERE, _NOWHERE]])

    def first(self, byte: int, after: np.ndarray, count: int) -> list[np.ndarray]:
        """The positions of the first ``count`` (1 or 2) ``byte``s at or after ``after``
        (of each value, or beyond its end when it holds fewer)."""
        found = self.positions(byte)
        at = np.minimum(np.searchsorted(found, after), len(found) - 2)
        return [found[at + k] for k in range(count)]

    def at(self, pos: np.ndarray, where: np.ndarray) -> np.ndarray:
        """The byte at ``pos`` of each value where ``where`` (which says pos is inside
        it); -1 elsewhere."""
        if not where.any():
            return np.full(len(where), -1, dtype=np.int16)
        return np.where(where, self.data[np.where(where, pos, 0)], -1).astype(np.int16)

    def pieces(self, begin: np.ndarray, end: np.ndarray, where: np.ndarray) -> pa.StringArray:
        """The text from ``begin`` to ``end`` of each value where ``where`` (which says
        they are inside it), null elsewhere."""
        n = len(where)
        # Offsets begin0, end0, begin1, end1, ... over the data buffer: the even values are
        # the pieces, the odd ones what lies between them.
        offsets = np.empty(2 * n + 1, dtype=np.int32)
        offsets[0:-1:2] = np.where(where, begin, self.starts)
        offsets[1::2] = np.where(where, end, self.starts)
        offsets[-1] = offsets[-2] if n else 0
        shown = np.zeros(2 * n, dtype=bool)
        shown[0::2] = where
        validity = pa.py_buffer(np.packbits(shown, bitorder="little"))
        both = pa.Array.from_buffers(
            pa.string(), 2 * n, [validity, pa.py_buffer(offsets), self.buffer]
        )
        return both.take(pa.array(np.arange(0, 2 * n, 2)))


#: A position past every value's end.
_NOWHERE = np.iinfo(np.int64).max // 4


def _first_bracket(text: _Bytes, q1: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Where the first "[" before ``q1`` is in each value (from its start; -1: none)."""
    guess = q1 - 29
    sure = ok & (guess >= text.starts)
    hit = sure & (text.at(guess, sure) == ord("["))
    if count_byte(text.span, ord("[")) == np.count_nonzero(hit):
        return np.where(hit, guess - text.starts, -1)  # no other "[" anywhere
    (bracket,) = text.first(ord("["), text.starts, 1)
    return np.where(bracket < q1, bracket - text.starts, -1)


def _time_before(text: _Bytes, q1: np.ndarray, ok: np.ndarray) -> pa.StringArray:
    """The 26 characters before the last two of the text before ``q1``, where ok (it
    holds 28 bytes at least)."""
    time = text.pieces(q1 - 28, q1 - 2, ok)
    if not len(text.span) or text.span.max() < 0x80:
        return time
    # Characters of several bytes there: count characters, not bytes.
    high = np.flatnonzero(text.span >= 0x80) + text.base
    wide = ok & (np.searchsorted(high, q1) > np.searchsorted(high, q1 - 28))
    if not wide.any():
        return time
    head = text.pieces(text.starts, q1, wide).filter(pa.array(wide))
    return pc.replace_with_mask(time, pa.array(wide), pc.utf8_slice_codeunits(head, -28, -2))


def envoy_fields(lines: pa.StringArray) -> tuple[Fields, np.ndarray]:
    """time, method, target, status, flags, duration and user agent of Envoy lines in its
    default format (which match the format), and which lines they were read of."""
    # '[TIME] ' "REQUEST" ' NUMBERS ' "XFF" ' ' "AGENT" REST
    (head, request, numbers, between, agent), ok = _split(lines, '"', 7, (0, 1, 2, 4, 5))
    ok &= np_bool(pc.starts_with(head, "[")) & np_bool(pc.ends_with(head, "] "))
    time = pc.utf8_slice_codeunits(head, 1, -2)
    ok &= ~np_bool(pc.match_substring(time, "]"))
    fields, shaped = _method_and_target(request, r"^[A-Za-z-]+$", 3)
    ok &= shaped
    ok &= np_bool(pc.match_substring_regex(numbers, _ENVOY_NUMBERS_RE))
    ok &= np_bool(pc.equal(between, " "))
    (status, flags, dur), _ = _split(numbers, " ", 8, (1, 2, 5))
    fields.update(time=time, status=status, flags=flags, dur=dur, agent=agent)
    return _only(fields, ok), ok


def _only(fields: Fields, ok: np.ndarray) -> Fields:
    """fields with null where not ok."""
    if ok.all():
        return fields
    keep = pa.array(ok)
    return {k: pc.if_else(keep, v, pa.scalar(None, v.type)) for k, v in fields.items()}


def merge(fast: Fields, ok: np.ndarray, slow: Callable[[np.ndarray], Fields]) -> Fields:
    """fast's fields where ok, slow(rows)'s where not (slow is given the rows' indices)."""
    if ok.all():
        return fast
    rows = np.flatnonzero(~ok)
    mask = pa.array(~ok)
    return {
        name: pc.replace_with_mask(fast[name], mask, values.cast(fast[name].type))
        for name, values in slow(rows).items()
    }
