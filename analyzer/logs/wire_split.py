"""Reading the fields of proxy log lines by splitting them at their delimiters: a fast
path for the lines whose split is checked to give what the extraction regexes of
``wire`` would. The other lines are left to those regexes."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import np_bool

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


def _per_value(text: pa.Array, check: Callable[[pa.Array], pa.Array]) -> np.ndarray:
    """check() of each value (nulls False), worked out once per distinct value."""
    encoded = pc.dictionary_encode(text)
    return np_bool(check(encoded.dictionary).take(encoded.indices))


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
    ok &= _per_value(method, lambda m: pc.match_substring_regex(m, method_re))
    ok &= np_bool(pc.greater(pc.binary_length(target), 0))
    return {"method": method, "target": target}, ok


def combined_fields(lines: pa.StringArray) -> tuple[Fields, np.ndarray]:
    """time, method, target and status of combined lines (which match the format), and
    which lines they were read of."""
    # 'PREFIX [TIME] ' "REQUEST" ' STATUS ...'
    (head, request, rest), ok = _split(lines, '"', 3, (0, 1, 2))
    # The time: the 26 bytes after the line's first "[", followed by '] '.
    ok &= np_bool(pc.equal(pc.find_substring(head, "["), pc.subtract(pc.binary_length(head), 29)))
    ok &= np_bool(pc.ends_with(head, "] "))
    fields, shaped = _method_and_target(request, r"^[A-Za-z]+$", 2)
    ok &= shaped
    status = pc.utf8_slice_codeunits(rest, 0, 5)
    ok &= _per_value(status, lambda s: pc.match_substring_regex(s, r"^ [0-9]{3} $"))
    fields["time"] = pc.utf8_slice_codeunits(head, -28, -2)
    fields["status"] = pc.utf8_slice_codeunits(status, 1, 4)
    return _only(fields, ok), ok


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
