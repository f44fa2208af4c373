"""The ``twilio-sdk`` format: the twilio-python ``twilio.http_client`` logger at INFO, the
2022+ ``-- BEGIN Twilio API Request --`` blocks and the older ``POST Request:`` /
``PAYLOAD:`` / ``POST Response: 201 {...}`` lines, behind any formatter prefix.

Twilio's ``Date`` response header, which twilio-python 7.8.2+ logs in
``Response Headers: {...}``, fills ``twilio_time``, and times the blocks whose lines carry
no time (``logging.basicConfig()``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import (
    core_table,
    np_bool,
    nullify_empty,
    to_error_code,
    to_int_status,
)
from analyzer.logs.dates import HTTP_DATE_FIXED, parse_twilio_dates
from analyzer.logs.files import LineChunk
from analyzer.logs.model import (
    MAX_SAMPLES,
    SAMPLE_CHARS,
    UNTIMED_REASON,
    MalformedSample,
    ParsedChunk,
    Parser,
    empty_core,
)
from analyzer.logs.sdk_lines import LineKind, sdk_line_rows

#: A block still open at the end of a chunk is carried into the next one when it began
#: within this many lines of the chunk's end (older ones are read as cut short).
_CARRY_WINDOW_LINES = 10_000
_MICROS_PER_MS = 1000.0


class _Slot(IntEnum):
    """The lines a request block holds at most once (a status line and an old-style
    response count as one)."""

    REQUEST = 0
    PAYLOAD = 1
    RESPONSE = 2
    HEADERS = 3
    END = 4
    REQUEST_ID = 5


_SLOT_OF_KIND: dict[LineKind, _Slot] = {
    LineKind.REQUEST: _Slot.REQUEST,
    LineKind.PAYLOAD: _Slot.PAYLOAD,
    LineKind.STATUS: _Slot.RESPONSE,
    LineKind.RESPONSE: _Slot.RESPONSE,
    LineKind.HEADERS: _Slot.HEADERS,
    LineKind.END: _Slot.END,
    LineKind.REQUEST_ID: _Slot.REQUEST_ID,
}

_TO_PAYLOAD_RE = r"['\"]To['\"]\s*:\s*['\"](?P<v>[^'\"]*)['\"]"
_TO_BODY_RE = r"\"to\"\s*:\s*\"(?P<v>[^\"]*)\""
_SID_BODY_RE = r"\"sid\"\s*:\s*\"(?P<v>[^\"]+)\""
_REQUEST_ID_RE = r"(?i)twilio-request-id['\"]?\s*:\s*['\"]?(?P<v>[A-Za-z0-9]+)"
# Twilio's Date header in the logged response headers: requests' dict repr or aiohttp's
# CIMultiDictProxy repr, both "'Date': '...'" (HTTP/2 would write "date").
_DATE_HEADER_RE = r"(?i)['\"]date['\"]\s*:\s*['\"](?P<v>[^'\"]+)['\"]"
# requests' dict repr as twilio-python logs it: Twilio sends Date first, and the request id
# follows its key. Fast paths (no regex capture over the whole text); the regexes above
# read whatever else.
_DATE_FIRST = "{'Date': '"
_DATE_WIDTH = len("Wed, 08 Apr 2026 09:04:08 GMT")
_REQUEST_ID_KEY = "'Twilio-Request-Id': '"
# Twilio's error code of a refused request: a response header, and the error body's
# "code" (the pre-2022 SDK logs the body).
_ERROR_CODE_KEY = "error-code"
_ERROR_CODE_HEADER_RE = r"(?i)['\"]x-twilio-error-code['\"]\s*:\s*['\"]?(?P<v>[0-9]+)"
_ERROR_CODE_BODY_RE = r"\"code\"\s*:\s*(?P<v>[0-9]+)"


def _regex_rest(out: pa.Array, found: pa.Array, text: pa.Array, pattern: str) -> pa.Array:
    """out, with group "v" of pattern in text where nothing was found yet."""
    rest = pc.fill_null(pc.and_(pc.invert(found), pc.is_valid(text)), False)
    if not pc.any(rest).as_py():
        return out
    value = pc.struct_field(pc.extract_regex(text.filter(rest), pattern), "v")
    return pc.replace_with_mask(out, rest, nullify_empty(value))


def _regex_value(text: pa.Array, pattern: str) -> pa.Array:
    """Group "v" of pattern in text, empty or missing as null."""
    return nullify_empty(pc.struct_field(pc.extract_regex(text, pattern), "v"))


def _header_date(headers: pa.Array) -> pa.Array:
    """The Date header's text in logged response headers (null where absent)."""
    end = len(_DATE_FIRST) + _DATE_WIDTH
    candidate = pc.utf8_slice_codeunits(headers, len(_DATE_FIRST), end)
    found = pc.fill_null(
        pc.and_(
            pc.and_(
                pc.starts_with(headers, _DATE_FIRST),
                pc.match_substring_regex(candidate, HTTP_DATE_FIXED),
            ),
            pc.equal(pc.utf8_slice_codeunits(headers, end, end + 1), "'"),
        ),
        False,
    )
    out = pc.if_else(found, candidate, pa.scalar(None, pa.string()))
    return _regex_rest(out, found, headers, _DATE_HEADER_RE)


def _header_request_id(headers: pa.Array) -> pa.Array:
    """The Twilio-Request-Id header in logged response headers (null where absent)."""
    parts = pc.split_pattern(headers, _REQUEST_ID_KEY, max_splits=1)
    two = pc.equal(pc.list_value_length(parts), 2)
    after = pc.list_element(pc.if_else(two, parts, pa.scalar(None, parts.type)), 1)
    out = _regex_value(after, r"^(?P<v>[A-Za-z0-9]+)'")
    return _regex_rest(out, pc.is_valid(out), headers, _REQUEST_ID_RE)


def _error_code(headers: pa.Array, status: pa.Array, body: pa.Array) -> pa.Array:
    """Twilio's error code: the X-Twilio-Error-Code header, else the code of an error
    answer's body (null where neither)."""
    codes = pa.nulls(len(headers), pa.string())
    has_header = pc.fill_null(pc.match_substring(headers, _ERROR_CODE_KEY, ignore_case=True), False)
    codes = _regex_where(codes, has_header, headers, _ERROR_CODE_HEADER_RE)
    error_body = pc.and_(pc.is_null(codes), pc.greater_equal(status, 400))
    codes = _regex_where(codes, pc.fill_null(error_body, False), body, _ERROR_CODE_BODY_RE)
    return to_error_code(codes)


def _regex_where(out: pa.Array, mask: pa.Array, text: pa.Array, pattern: str) -> pa.Array:
    """out, with group "v" of pattern in text where mask is set."""
    if not pc.any(mask).as_py():
        return out
    return pc.replace_with_mask(out, mask, _regex_value(text.filter(mask), pattern))


@dataclass
class _Blocks:
    """The request blocks of a stretch of SDK lines."""

    #: Each row's block, numbered from 1; 0 for a line outside any block.
    number: np.ndarray
    #: Rows that start a block (BEGIN, or a request line not preceded by BEGIN).
    is_start: np.ndarray
    #: Blocks numbered.
    count: int
    #: The block of each thread key's last row.
    last_of_each_key: np.ndarray


def _number_blocks(kind: np.ndarray, line: np.ndarray, key: np.ndarray) -> _Blocks:
    """Group rows into request blocks: per thread key, in line order, a block runs from
    one start to the next."""
    n = len(kind)
    order = np.lexsort((line, key))
    key_sorted, kind_sorted = key[order], kind[order]
    same_key = np.concatenate(([False], key_sorted[1:] == key_sorted[:-1]))
    after_begin = np.concatenate(([False], kind_sorted[:-1] == LineKind.BEGIN)) & same_key
    starts_sorted = (kind_sorted == LineKind.BEGIN) | (
        (kind_sorted == LineKind.REQUEST) & ~after_begin
    )
    starts_so_far = np.cumsum(starts_sorted)
    key_first = np.flatnonzero(~same_key)
    starts_before_key = np.repeat(
        starts_so_far[key_first] - starts_sorted[key_first], np.diff(np.append(key_first, n))
    )
    before_first_start = starts_so_far == starts_before_key
    number_sorted = np.where(before_first_start, 0, starts_so_far)
    number = np.empty(n, dtype=np.int64)
    number[order] = number_sorted
    is_start = np.empty(n, dtype=bool)
    is_start[order] = starts_sorted
    last_of_key = np.flatnonzero(np.append(key_sorted[1:] != key_sorted[:-1], True))
    return _Blocks(number, is_start, int(starts_so_far[-1]), number_sorted[last_of_key])


def _held_back(blocks: _Blocks, line: np.ndarray, last_line: int) -> np.ndarray:
    """Rows of the blocks that may go on in the next chunk: each key's last block, when it
    began recently."""
    last_blocks = blocks.last_of_each_key[blocks.last_of_each_key > 0]
    start_line = np.zeros(blocks.count + 1, dtype=np.int64)
    start_line[blocks.number[blocks.is_start]] = line[blocks.is_start]
    pending = last_blocks[start_line[last_blocks] > last_line - _CARRY_WINDOW_LINES]
    return np.isin(blocks.number, pending) & (blocks.number != 0)


def _first_rows(
    kind: np.ndarray, blocks: _Blocks, live: np.ndarray
) -> tuple[dict[_Slot, np.ndarray], np.ndarray]:
    """For each slot, the first row of each block holding it (-1: none); and the rows
    that repeat a slot within their block (lines of a lost block)."""
    slot_of_row = np.full(len(kind), -1, dtype=np.int64)
    for line_kind, slot in _SLOT_OF_KIND.items():
        slot_of_row[kind == line_kind] = slot
    first_row = {slot: np.full(blocks.count + 1, -1, dtype=np.int64) for slot in _Slot}
    repeated = np.zeros(len(kind), dtype=bool)
    for slot in _Slot:
        rows = np.flatnonzero(live & (slot_of_row == slot))
        if not len(rows):
            continue
        numbers = blocks.number[rows]
        first = np.unique(numbers, return_index=True)[1]
        first_row[slot][numbers[first]] = rows[first]
        later = np.ones(len(rows), dtype=bool)
        later[first] = False
        repeated[rows[later]] = True
    return first_row, repeated & ~blocks.is_start


def _request_table(
    rows: pa.Table,
    kind: np.ndarray,
    line: np.ndarray,
    starts: np.ndarray,
    at: dict[_Slot, np.ndarray],
) -> pa.Table:
    """One request per block: ``starts`` are the blocks' first rows, ``at`` the row of each
    slot in each block (-1: none)."""

    def take(column: str, row: np.ndarray) -> pa.Array:
        return rows[column].combine_chunks().take(pa.array(row, pa.int64(), mask=row < 0))

    response = at[_Slot.RESPONSE]
    headers = take("extra", at[_Slot.HEADERS])
    twilio_time = parse_twilio_dates(_header_date(headers))
    line_time = take("time", starts)
    # Lines without a time (logging.basicConfig()): the block is timed by Twilio's Date.
    from_twilio = np_bool(pc.and_(pc.is_null(line_time), pc.is_valid(twilio_time)))
    time = pc.coalesce(line_time, twilio_time) if from_twilio.any() else line_time
    response_kind = np.where(response >= 0, kind[np.maximum(response, 0)], -1)
    body = take("extra", np.where(response_kind == LineKind.RESPONSE, response, -1))
    payload = take("extra", at[_Slot.PAYLOAD])
    to = pc.coalesce(_regex_value(payload, _TO_PAYLOAD_RE), _regex_value(body, _TO_BODY_RE))
    request_id = pc.coalesce(
        _header_request_id(headers), nullify_empty(take("extra", at[_Slot.REQUEST_ID]))
    )
    status = to_int_status(take("status", response))
    waited_us = pc.subtract(take("time", response).cast(pa.int64()), line_time.cast(pa.int64()))
    return core_table(
        time=time,
        method=take("method", at[_Slot.REQUEST]),
        url=take("url", at[_Slot.REQUEST]),
        status=status,
        duration_ms=pc.divide(pc.cast(waited_us, pa.float64()), _MICROS_PER_MS),
        to=to,
        message_sid=_regex_value(body, _SID_BODY_RE),
        request_id=request_id,
        twilio_error_code=_error_code(headers, status, body),
        line=line[starts],
        twilio_time=twilio_time,
        from_twilio=from_twilio,
        answered_line=pa.array(
            np.where(response >= 0, line[np.maximum(response, 0)], 0), mask=response < 0
        ),
    )


def _problems(
    rows: pa.Table, line: np.ndarray, groups: list[tuple[np.ndarray, str]]
) -> tuple[int, list[MalformedSample]]:
    """How many malformed rows ``groups`` (rows, reason) hold, and the first of them."""
    bad_rows = np.concatenate([group for group, _ in groups])
    reasons = [reason for group, reason in groups for _ in range(len(group))]
    first = np.argsort(line[bad_rows], kind="stable")[:MAX_SAMPLES]
    texts = rows["text"].combine_chunks()
    samples = [
        MalformedSample(
            int(line[bad_rows[i]]),
            reasons[i],
            (texts[int(bad_rows[i])].as_py() or "")[:SAMPLE_CHARS],
        )
        for i in first
    ]
    return len(bad_rows), samples


class SdkParser(Parser):
    """twilio.http_client blocks, assembled per logging prefix ("thread key").

    Lines are classified by their message; a block starts at BEGIN (2022+) or at a
    ``METHOD Request:`` line not preceded by BEGIN (older SDKs). The prefix without its
    timestamp keys the block, so that threads whose formatter shows their name do not
    mix. Blocks still open at the end of a chunk are carried into the next one.
    """

    def __init__(self, log_tz: str, fields: Mapping[str, str]) -> None:
        super().__init__(log_tz, fields)
        self.carry: pa.Table | None = None
        self.single_key: bool | None = None

    def prepare(self, chunk: LineChunk) -> Any:
        rows = sdk_line_rows(chunk.lines, chunk.first_line, self.log_tz)
        return rows, chunk.first_line + len(chunk) - 1

    def feed(self, prepared: Any) -> ParsedChunk:
        rows, last_line = prepared
        if self.carry is not None:
            rows = pa.concat_tables([self.carry, rows]).combine_chunks()
        self.carry = None
        return self._assemble(rows, last_line)

    def finish(self) -> ParsedChunk:
        if self.carry is None:
            return ParsedChunk(empty_core())
        rows, self.carry = self.carry, None
        return self._assemble(rows, None)

    def _thread_keys(self, rows: pa.Table, kind: np.ndarray) -> np.ndarray:
        """A number per row for its thread key (all 0 when keys are read as one)."""
        keys = pc.dictionary_encode(rows["key"].combine_chunks())
        codes = np.asarray(keys.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        if self.single_key is None:
            starts = codes[kind == LineKind.BEGIN]
            if not len(starts):
                starts = codes[kind == LineKind.REQUEST]
            if len(starts):
                # A formatter field that changes on every line (e.g. relativeCreated) would
                # tear blocks apart: then all lines are read as one sequence.
                self.single_key = float(np.isin(codes, np.unique(starts)).mean()) < 0.9
        return np.zeros(len(codes), dtype=np.int64) if self.single_key else codes

    def _assemble(self, rows: pa.Table, last_line: int | None) -> ParsedChunk:
        """The requests of the blocks in ``rows`` (SDK lines), holding back the blocks that
        may go on after ``last_line`` (None: the file's end)."""
        if rows.num_rows == 0:
            return ParsedChunk(empty_core())
        kind = np.asarray(rows["kind"].to_numpy(), dtype=np.int8)
        line = np.asarray(rows["line"].to_numpy(), dtype=np.int64)
        blocks = _number_blocks(kind, line, self._thread_keys(rows, kind))
        outside = blocks.number == 0
        held = (
            np.zeros(len(kind), dtype=bool)
            if last_line is None
            else _held_back(blocks, line, last_line)
        )
        self.carry = rows.filter(pa.array(held)) if held.any() else None
        live = ~held & ~outside
        first_row, repeated = _first_rows(kind, blocks, live)
        starts = np.flatnonzero(live & blocks.is_start)
        has_request = first_row[_Slot.REQUEST][blocks.number[starts]] >= 0
        complete = starts[has_request]
        at = {slot: first[blocks.number[complete]] for slot, first in first_row.items()}
        table = _request_table(rows, kind, line, complete, at)
        untimed = complete[np_bool(pc.is_null(table["time"]))]
        # Malformed: lines outside blocks, repeated lines, blocks without a request line,
        # and blocks with neither a time nor a Twilio Date (kept as rows with a null time).
        malformed, samples = _problems(
            rows,
            line,
            [
                (np.flatnonzero(outside), "SDK log line outside a request block"),
                (
                    np.flatnonzero(repeated & live),
                    "SDK log line repeated within one request block",
                ),
                (starts[~has_request], "request block without a request line"),
                (untimed, UNTIMED_REASON),
            ],
        )
        return ParsedChunk(table, malformed=malformed, samples=samples)
