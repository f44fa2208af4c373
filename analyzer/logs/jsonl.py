"""The ``jsonl`` format: JSON-lines application logs, one object per request, with
remappable field names."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from analyzer.errors import UserError
from analyzer.logs.columns import (
    core_table,
    is_valid,
    letters_only,
    np_bool,
    nullify_empty,
    to_error_code,
    to_float,
    to_int_status,
    without_blank_lines,
)
from analyzer.logs.dates import parse_times, parse_twilio_dates
from analyzer.logs.files import LineChunk
from analyzer.logs.model import ParsedChunk, Parser, empty_core, malformed_samples

#: jsonl field names, keyed by the names accepted in ``fields=``.
DEFAULT_JSONL_FIELDS: dict[str, str] = {
    "timestamp": "timestamp",
    "method": "method",
    "url": "url",
    "status": "status",
    "to": "to",
    "message_sid": "message_sid",
    "duration_ms": "duration_ms",
    "request_id": "request_id",
    "error": "error",
    # Twilio's Date response header: RFC 2822 / RFC 7231 text, ISO 8601 or epoch seconds.
    "twilio_date": "twilio_date",
    # Twilio's error code of a refused request (e.g. 21211), or of a status callback.
    "twilio_error_code": "error_code",
    # What the application logs of the requests Twilio makes to it (webhooks, callbacks).
    "user_agent": "user_agent",
    "from": "from",
    "message_status": "message_status",
}
#: A field read when the field a name maps to is missing, unless the name was remapped
#: (applications log the requests they receive by path).
_FALLBACK_FIELDS: dict[str, str] = {"twilio_error_code": "twilio_error_code", "url": "path"}
#: Lines whose first JSON values give the Arrow types of the fields.
_TYPE_SAMPLE_LINES = 200
_JSON_SCALAR_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}


def jsonl_fields(fields: Mapping[str, str] | None) -> dict[str, str]:
    """The jsonl field names with ``fields`` remapping some; raises UserError naming the
    names it does not know."""
    out = dict(DEFAULT_JSONL_FIELDS)
    if fields:
        unknown = sorted(set(fields) - set(DEFAULT_JSONL_FIELDS))
        if unknown:
            raise UserError(
                f"unknown jsonl field(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULT_JSONL_FIELDS)}"
            )
        out.update({k: str(v) for k, v in fields.items()})
    return out


def parse_field_map(items: Sequence[str]) -> dict[str, str]:
    """Parse ``NAME=FIELD`` pairs (``--log-field to=recipient``) into a mapping for
    ``read_server_logs(fields=...)``; raises UserError on a malformed pair."""
    fields: dict[str, str] = {}
    for item in items:
        name, sep, source = str(item).partition("=")
        if not sep or not name.strip() or not source.strip():
            raise UserError(f"--log-field expects NAME=FIELD, got {item!r}")
        fields[name.strip()] = source.strip()
    jsonl_fields(fields)  # names it does not know are refused here, with the known ones
    return fields


def sniff_jsonl(lines: Sequence[str]) -> int:
    """How many of the sample lines are JSON objects."""
    objects = 0
    for line in lines:
        text = line.strip()
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                objects += isinstance(json.loads(text), dict)
    return objects


def _json_scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Match Arrow's float→string cast, which drops ".0".
        return str(int(value))
    return json.dumps(value)


def _read_json_text(data: pa.Buffer, schema: pa.Schema) -> pa.Table:
    """The fields of ``schema`` in each JSON object of data (one thread: chunks are read
    in parallel)."""
    return pj.read_json(
        pa.BufferReader(data),
        read_options=pj.ReadOptions(use_threads=False, block_size=max(data.size, 1 << 16)),
        parse_options=pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore"),
    )


class JsonlParser(Parser):
    """JSON lines: pyarrow's JSON reader per chunk, bisecting down to json.loads on errors."""

    _SLOW_BELOW = 512

    def __init__(self, log_tz: str, fields: Mapping[str, str]) -> None:
        super().__init__(log_tz, fields)
        self.fallbacks = {
            name: source
            for name, source in _FALLBACK_FIELDS.items()
            if self.fields[name] == DEFAULT_JSONL_FIELDS[name]
        }
        self.sources = list(dict.fromkeys([*self.fields.values(), *self.fallbacks.values()]))
        self.schema: pa.Schema | None = None
        #: The schema with the fields not seen in the first lines typed null, which the
        #: JSON reader handles faster; dropped once a chunk holds a value for one of them.
        self.lean_schema: pa.Schema | None = None
        self._types_learnt = threading.Condition()
        #: The first line after the chunks known to hold blank lines only.
        self._blank_until = 1

    def _infer_schema(self, sample: list[str]) -> tuple[pa.Schema, pa.Schema]:
        """Arrow types of the source fields, from the first JSON values seen; and the same
        with the fields not seen typed null."""
        types: dict[str, pa.DataType] = {}
        for text in sample:
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            for name in self.sources:
                if name in obj and name not in types and obj[name] is not None:
                    typ = _JSON_SCALAR_TYPES.get(type(obj[name]))
                    if typ is not None:
                        types[name] = typ
        seen = set(types)
        # A duration logged as 120 in the first lines may read 120.5 later.
        duration = self.fields["duration_ms"]
        if types.get(duration) == pa.int64():
            types[duration] = pa.float64()
        # Error codes show only on refused requests, often not among the first lines: read
        # as numbers unless they were seen as text.
        codes = [self.fields["twilio_error_code"], self.fallbacks.get("twilio_error_code")]
        for code in filter(None, codes):
            if types.get(code, pa.int64()) == pa.int64():
                types[code] = pa.float64()
        full = pa.schema([pa.field(n, types.get(n, pa.string())) for n in self.sources])
        return full, pa.schema([f if f.name in seen else f.with_type(pa.null()) for f in full])

    def prepare(self, chunk: LineChunk) -> ParsedChunk:
        self._learn_types(chunk)
        if self.schema is None:
            return ParsedChunk(empty_core())  # blank lines only
        cols = self._parse_clean(chunk)
        if cols is not None:
            line_no = np.arange(chunk.first_line, chunk.first_line + len(chunk))
            return self._finish_rows(
                lambda: chunk.lines, line_no, cols, np.zeros(len(chunk), dtype=bool)
            )
        body, line_no = without_blank_lines(chunk)
        if len(body) == 0:
            return ParsedChunk(empty_core())
        return self._finish_rows(lambda: body, line_no, *self._parse(body))

    def _learn_types(self, chunk: LineChunk) -> None:
        """Wait for the types of the fields: learnt from the first chunk whose lines are
        not all blank, here if that is this one (chunks are prepared a few at once)."""
        with self._types_learnt:
            self._types_learnt.wait_for(
                lambda: self.schema is not None or self._blank_until == chunk.first_line
            )
            if self.schema is not None:
                return
            try:
                head, _ = without_blank_lines(chunk)
                if len(head):
                    sample = head.slice(0, _TYPE_SAMPLE_LINES).to_pylist()
                    self.schema, self.lean_schema = self._infer_schema(sample)
            finally:
                # The next chunk learns them if this one could not (blank, or failing).
                self._blank_until = chunk.first_line + len(chunk)
                self._types_learnt.notify_all()

    def _parse_clean(self, chunk: LineChunk) -> dict[str, pa.Array] | None:
        """The fields of a chunk whose every line is one JSON object, read from its bytes
        in one pass; None for any other chunk."""
        # Each line opens an object: no blank lines, whose line numbers would be lost.
        if not chunk.lines_start_with(b"{"):
            return None
        # A line cut short (a log being written, a crash) would make the read fail and be
        # read again: such a chunk goes straight to the line-by-line path.
        if not chunk.lines_end_with(b"}"):
            return None
        if not chunk.is_utf8:
            return None  # read line by line, with replacement characters
        try:
            return self._read_json(chunk.data, len(chunk))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return None

    def _parse(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        # Lines that cannot be a JSON object (mostly truncated ones) go straight to the
        # line-by-line path, so one of them does not make a whole chunk fall back.
        trimmed = pc.utf8_trim_whitespace(body)
        plausible = np_bool(
            pc.fill_null(pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")), False)
        )
        if plausible.all():
            return self._parse_split(body)
        good, bad = np.flatnonzero(plausible), np.flatnonzero(~plausible)
        if not len(good):
            return self._parse_slow(body)
        # A line that does not start with "{" and end with "}" is no JSON object: it is
        # malformed and carries no values.
        good_cols, good_invalid = self._parse_split(body.take(pa.array(good)))
        order = pa.array(np.argsort(np.concatenate([good, bad]), kind="stable"))
        cols = {
            name: pa.concat_arrays([array, pa.nulls(len(bad), array.type)]).take(order)
            for name, array in good_cols.items()
        }
        invalid = np.concatenate([good_invalid, np.ones(len(bad), dtype=bool)])
        return cols, invalid[order.to_numpy()]

    def _parse_split(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        try:
            return self._parse_fast(body), np.zeros(len(body), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        if len(body) <= self._SLOW_BELOW:
            return self._parse_slow(body)
        half = len(body) // 2
        head_cols, head_invalid = self._parse_split(body.slice(0, half))
        tail_cols, tail_invalid = self._parse_split(body.slice(half))
        cols = {}
        for name in head_cols:
            head, tail = head_cols[name], tail_cols[name]
            if head.type != tail.type:
                head, tail = head.cast(pa.string()), tail.cast(pa.string())
            cols[name] = pa.concat_arrays([head, tail])
        return cols, np.concatenate([head_invalid, tail_invalid])

    def _parse_fast(self, body: pa.StringArray) -> dict[str, pa.Array]:
        joined = pc.binary_join(
            pa.ListArray.from_arrays(pa.array([0, len(body)], pa.int32()), body), "\n"
        )[0]
        return self._read_json(joined.as_buffer(), len(body))

    def _read_json(self, data: pa.Buffer, n_lines: int) -> dict[str, pa.Array]:
        """The source fields of ``n_lines`` lines of JSON objects; raises ArrowInvalid
        when a line is no JSON object."""
        assert self.schema is not None
        lean = self.lean_schema
        try:
            table = _read_json_text(data, lean or self.schema)
        except pa.ArrowInvalid:
            if lean is None:
                raise
            table = _read_json_text(data, self.schema)
            self.lean_schema = None  # a field unseen at first holds values after all
        if table.num_rows != n_lines:
            # Several objects on one line: rows would not line up with lines.
            raise pa.ArrowInvalid("row count differs from line count")
        out = {}
        for field in self.schema:
            name = field.name
            col = table[name]
            col = col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()
            if pa.types.is_null(col.type):
                col = pa.nulls(n_lines, field.type)
            if pa.types.is_boolean(col.type):
                col = pc.if_else(col, "true", "false")
            out[name] = col
        return out

    def _parse_slow(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        values: dict[str, list[str | None]] = {name: [] for name in self.sources}
        invalid = np.zeros(len(body), dtype=bool)
        for i, text in enumerate(body.to_pylist()):
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                invalid[i] = True
                obj = {}
            for name in self.sources:
                values[name].append(_json_scalar_text(obj.get(name)))
        return {k: pa.array(v, pa.string()) for k, v in values.items()}, invalid

    def _times(
        self, cols: dict[str, pa.Array]
    ) -> tuple[pa.Array, pa.Array, np.ndarray, np.ndarray]:
        """Each record's time, Twilio's Date, whether it has a timestamp field, and whether
        its time is Twilio's (no timestamp, but a Date)."""
        stamp_col = cols[self.fields["timestamp"]]
        stamp = nullify_empty(stamp_col) if pa.types.is_string(stamp_col.type) else stamp_col
        time = parse_times(stamp, self.log_tz)
        twilio_time = parse_twilio_dates(cols[self.fields["twilio_date"]])
        has_stamp = is_valid(stamp)
        # A record without a timestamp but with Twilio's Date is timed by Twilio's clock.
        from_twilio = ~has_stamp & is_valid(twilio_time)
        if from_twilio.any():
            time = pc.if_else(pa.array(from_twilio), twilio_time, time)
        return time, twilio_time, has_stamp, from_twilio

    def _error_codes(self, cols: dict[str, pa.Array]) -> pa.Array:
        """Each record's Twilio error code, from its field or the fallback field."""
        codes = to_error_code(cols[self.fields["twilio_error_code"]])
        fallback = self.fallbacks.get("twilio_error_code")
        if fallback is None or cols[fallback].null_count == len(codes):
            return codes
        return pc.coalesce(codes, to_error_code(cols[fallback]))

    def _url(self, cols: dict[str, pa.Array]) -> pa.Array:
        """Each record's URL, or its path when it has no URL field."""
        url = nullify_empty(cols[self.fields["url"]].cast(pa.string()))
        fallback = self.fallbacks.get("url")
        if fallback is None or cols[fallback].null_count == len(url):
            return url
        return pc.coalesce(url, nullify_empty(cols[fallback].cast(pa.string())))

    def _finish_rows(
        self,
        texts: Callable[[], pa.StringArray],
        line_no: np.ndarray,
        cols: dict[str, pa.Array],
        invalid: np.ndarray,
    ) -> ParsedChunk:
        def text(name: str) -> pa.Array:
            return nullify_empty(cols[self.fields[name]].cast(pa.string()))

        method, url = text("method"), self._url(cols)
        time, twilio_time, has_stamp, from_twilio = self._times(cols)
        has_method = is_valid(method)
        has_url = is_valid(url)
        valid_method = letters_only(method)
        skipped = ~invalid & ~has_method & ~has_url

        def reason(i: int) -> str:
            if invalid[i]:
                return "invalid JSON object"
            if not (has_method[i] and valid_method[i]):
                return "missing or invalid method"
            if not has_url[i]:
                return "missing url"
            return "missing timestamp" if not has_stamp[i] else "unparseable timestamp"

        ok = ~invalid & has_method & valid_method & has_url & is_valid(time)
        bad = ~ok & ~skipped
        take = None if ok.all() else pa.array(ok)

        def only(values: pa.Array) -> pa.Array:
            return values if take is None else values.filter(take)

        table = core_table(
            time=only(time),
            method=only(method),
            url=only(url),
            line=line_no[ok],
            status=to_int_status(only(cols[self.fields["status"]])),
            duration_ms=to_float(only(cols[self.fields["duration_ms"]])),
            to=only(text("to")),
            message_sid=only(text("message_sid")),
            request_id=only(text("request_id")),
            error=only(text("error")),
            twilio_error_code=only(self._error_codes(cols)),
            user_agent=only(text("user_agent")),
            sender=only(text("from")),
            message_status=only(text("message_status")),
            twilio_time=only(twilio_time),
            from_twilio=from_twilio[ok],
        )
        return ParsedChunk(
            table,
            malformed=int(bad.sum()),
            skipped=int(skipped.sum()),
            samples=malformed_samples(texts(), line_no, bad, reason) if bad.any() else [],
        )
