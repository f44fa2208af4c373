"""The formats of proxies, which see the calls on the wire: ``combined`` (nginx/Apache
access logs, also with a ``vhost[:port]`` field or an X-Forwarded-For chain before the
client address) and ``envoy`` (Envoy's default access log format, and Istio's)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import (
    core_table,
    is_valid,
    np_bool,
    per_distinct,
    to_float,
    to_int_status,
    without_blank_lines,
)
from analyzer.logs.dates import clf_times, iso_to_timestamps, month_numbers, parse_times
from analyzer.logs.files import LineChunk
from analyzer.logs.model import ParsedChunk, Parser, empty_core, malformed_samples
from analyzer.logs.wire_split import Fields, combined_fields, envoy_fields, merge

# RE2 extracts capture groups far faster from short, anchored, unambiguous ("one-pass")
# patterns: each format has a full pattern to validate lines (DFA match only) and a
# short one to extract the fields.

# Before "[time]": an optional vhost[:port] (Apache/nginx vhost_combined), the client
# address or an X-Forwarded-For chain ("10.0.0.2, 10.0.0.1"), ident and user.
_COMBINED_RE = (
    r"^(?:[^ ]+ )?(?:[^ ]+, )*[^ ]+ [^ ]+ [^ ]+ \[[^\]]*\] "
    r'"[A-Za-z]+ [^ "]+(?: [^"]*)?" '
    r"[0-9]{3} (?:[0-9]+|-) "
    r'"(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"(?: .*)?$'
)
_COMBINED_EXTRACT = (
    r'^[^\[]*\[(?P<time>[^\]]*)\] "(?P<method>[A-Za-z]+) (?P<target>[^ "]+)'
    r'(?: [^"]*)?" (?P<status>[0-9]{3}) '
)
# The user agent, read only for requests that are not calls to Twilio's API (the ones
# Twilio makes to the application: webhooks, status callbacks).
_COMBINED_AGENT_EXTRACT = (
    r'^[^\[]*\[[^\]]*\] "[A-Za-z]+ [^ "]+(?: [^"]*)?" [0-9]{3} (?:[0-9]+|-) '
    r'"(?:[^"\\]|\\.)*" "(?P<agent>(?:[^"\\]|\\.)*)"'
)
_TWILIO_API_TARGET = r"^(?:[A-Za-z][A-Za-z0-9+.\-]*://[^/]*)?/2010-04-01/"
_CLF_TIME_EXTRACT = (
    r"^(?P<d>[0-9]{2})/(?P<mon>[A-Za-z]{3})/(?P<y>[0-9]{4}):"
    r"(?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2}) (?P<z>[+-][0-9]{4})$"
)
_ENVOY_RE = (
    r'^\[[^\]]*\] "[A-Za-z-]+ [^ ]+ [^"]*" '
    r"[0-9]+ [^ ]+ "
    # Istio 1.8+: response code details, connection termination details and the upstream
    # transport failure reason; before 1.8: the mixer status and that reason.
    r'(?:[^ "]+ [^ "]+ "[^"]*" |"[^"]*" "[^"]*" )?'
    r"(?:[0-9]+|-) (?:[0-9]+|-) (?:[0-9]+|-) [^ ]+ "
    # Istio (and custom formats) append fields: upstream cluster, addresses, SNI, route.
    r'"[^"]*" "[^"]*" "[^"]*" "[^"]*" "[^"]*"(?: .*)?$'
)
_ENVOY_EXTRACT = (
    r'^\[(?P<time>[^\]]*)\] "(?P<method>[A-Za-z-]+) (?P<target>[^ ]+) [^"]*" (?P<status>[0-9]+) '
)
_ENVOY_EXTRACT_MORE = (
    r'^\[[^\]]*\] "[^"]*" [0-9]+ (?P<flags>[^ ]+) (?:[0-9]+|-) (?:[0-9]+|-) (?P<dur>[0-9]+|-) '
    r'[^ ]+ "[^"]*" "(?P<agent>[^"]*)"'
)
# Istio's shapes, for the lines the default one does not fit (still one-pass).
_ENVOY_EXTRACT_ISTIO = (
    r'^\[[^\]]*\] "[^"]*" [0-9]+ (?P<flags>[^ ]+) (?:[^ "]+ [^ "]+ )?(?:"[^"]*" )+'
    r'(?:[0-9]+|-) (?:[0-9]+|-) (?P<dur>[0-9]+|-) [^ ]+ "[^"]*" "(?P<agent>[^"]*)"'
)
#: Envoy's method for a TCP proxy connection ("- - -"): a tunnel, like CONNECT.
_ENVOY_TCP_METHOD = "-"
#: Envoy's RESPONSE_FLAGS when nothing went wrong.
_ENVOY_NO_FLAGS = "-"


def _count_matches(pattern: str, lines: Sequence[str]) -> int:
    compiled = re.compile(pattern)
    return sum(1 for line in lines if compiled.match(line))


def sniff_combined(lines: Sequence[str]) -> int:
    """How many of the sample lines are combined access log lines."""
    return _count_matches(_COMBINED_RE, lines)


def sniff_envoy(lines: Sequence[str]) -> int:
    """How many of the sample lines are Envoy (or Istio) access log lines."""
    return _count_matches(_ENVOY_RE, lines)


class RegexLineParser(Parser):
    """One request per line: a full-line pattern validates, a short one extracts."""

    pattern = ""
    #: Extraction patterns, each with at most 4 groups (RE2's fast one-pass limit).
    extracts: tuple[str, ...] = ()

    def prepare(self, chunk: LineChunk) -> ParsedChunk:
        body, line_no = without_blank_lines(chunk)
        if len(body) == 0:
            return ParsedChunk(empty_core())
        matched = np_bool(pc.match_substring_regex(body, self.pattern))
        valid = body if matched.all() else body.filter(pa.array(matched))
        fields = self.extract(valid)
        self.refine(valid, fields)
        parts = pa.StructArray.from_arrays(list(fields.values()), list(fields))
        time = self.parse_time(pc.struct_field(parts, "time"))
        good_time = is_valid(time)
        ok = matched.copy()
        ok[matched] = good_time
        bad = ~ok

        def reason(i: int) -> str:
            return "unparseable time" if matched[i] else "line does not match the format"

        if not good_time.all():
            keep_rows = pa.array(good_time)
            parts, time = parts.filter(keep_rows), time.filter(keep_rows)
        table = self.build(parts, time, line_no[ok])
        if not bad.any():
            return ParsedChunk(table)
        return ParsedChunk(
            table, malformed=int(bad.sum()), samples=malformed_samples(body, line_no, bad, reason)
        )

    def extract(self, valid: pa.StringArray) -> Fields:
        """The fields of lines that match the format."""
        return self.extract_regex(valid)

    def extract_regex(self, valid: pa.StringArray) -> Fields:
        """The fields of lines that match the format, read by the extraction patterns."""
        fields: Fields = {}
        for pattern in self.extracts:
            found = pc.extract_regex(valid, pattern)
            fields.update({f.name: pc.struct_field(found, f.name) for f in found.type})
        return fields

    def refine(self, valid: pa.StringArray, fields: dict[str, pa.Array]) -> None:
        """Fix up extracted fields in place (e.g. from a second pattern for some lines)."""

    def parse_time(self, raw: pa.Array) -> pa.Array:
        """UTC timestamps of the extracted ``time`` field (null: unparseable)."""
        raise NotImplementedError

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        """The per-chunk table of the valid lines' extracted fields."""
        raise NotImplementedError


class CombinedParser(RegexLineParser):
    """nginx/Apache combined access logs."""

    pattern = _COMBINED_RE
    extracts = (_COMBINED_EXTRACT,)

    def extract(self, valid: pa.StringArray) -> Fields:
        fast, ok = combined_fields(valid)
        return merge(fast, ok, lambda rows: self.extract_regex(valid.take(pa.array(rows))))

    def refine(self, valid: pa.StringArray, fields: dict[str, pa.Array]) -> None:
        encoded = pc.dictionary_encode(fields["target"])
        to_twilio = pc.match_substring_regex(encoded.dictionary, _TWILIO_API_TARGET)
        to_app = pc.invert(to_twilio.take(encoded.indices))
        agent = pa.nulls(len(valid), pa.string())
        if pc.any(to_app).as_py():
            found = pc.extract_regex(valid.filter(to_app), _COMBINED_AGENT_EXTRACT)
            agent = pc.replace_with_mask(agent, to_app, pc.struct_field(found, "agent"))
        fields["agent"] = agent

    def parse_time(self, raw: pa.Array) -> pa.Array:
        return clf_times(raw, self.parse_time_text)

    def parse_time_text(self, raw: pa.Array) -> pa.Array:
        """parse_time() for any text (slower)."""
        # [29/Nov/2026:14:03:01 +0100] rewritten as ISO 8601 for Arrow's fast parser.
        parts = pc.extract_regex(raw, _CLF_TIME_EXTRACT)
        part = functools.partial(pc.struct_field, parts)
        month = month_numbers(part("mon"))
        iso = pc.binary_join_element_wise(
            part("y"), "-", month, "-", part("d"), "T", part("hms"), part("z"), ""
        )
        return iso_to_timestamps(iso)

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        return core_table(
            time=time,
            method=pc.struct_field(parts, "method"),
            url=pc.struct_field(parts, "target"),
            status=per_distinct(pc.struct_field(parts, "status"), to_int_status),
            user_agent=_agent(pc.struct_field(parts, "agent")),
            line=line,
        )


class EnvoyParser(RegexLineParser):
    """Envoy's default access log format, and Istio's."""

    pattern = _ENVOY_RE
    extracts = (_ENVOY_EXTRACT, _ENVOY_EXTRACT_MORE)

    def extract(self, valid: pa.StringArray) -> Fields:
        fast, ok = envoy_fields(valid)
        return merge(fast, ok, lambda rows: self.extract_regex(valid.take(pa.array(rows))))

    def refine(self, valid: pa.StringArray, fields: dict[str, pa.Array]) -> None:
        # Istio's lines do not fit the default shape's flags/duration pattern.
        istio = pc.is_null(fields["flags"])
        if not pc.any(istio).as_py():
            return
        found = pc.extract_regex(valid.filter(istio), _ENVOY_EXTRACT_ISTIO)
        for name in ("flags", "dur", "agent"):
            fields[name] = pc.replace_with_mask(fields[name], istio, pc.struct_field(found, name))

    def parse_time(self, raw: pa.Array) -> pa.Array:
        return parse_times(raw, self.log_tz)

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        flags = pc.struct_field(parts, "flags")
        # Envoy's RESPONSE_FLAGS (e.g. UT upstream timeout, UF connection failure) as error.
        error = pc.if_else(pc.equal(flags, _ENVOY_NO_FLAGS), pa.scalar(None, pa.string()), flags)
        method = pc.struct_field(parts, "method")
        # A TCP proxy connection ("- - -"): a tunnel, read as CONNECT like other proxies'.
        method = pc.if_else(pc.equal(method, _ENVOY_TCP_METHOD), pa.scalar("CONNECT"), method)
        return core_table(
            time=time,
            method=method,
            url=pc.struct_field(parts, "target"),
            status=per_distinct(pc.struct_field(parts, "status"), to_int_status),
            duration_ms=to_float(pc.struct_field(parts, "dur")),
            error=error,
            user_agent=_agent(pc.struct_field(parts, "agent")),
            line=line,
        )


def _agent(raw: pa.Array) -> pa.Array:
    """The logged user agent; "-" and empty text are none."""
    return pc.if_else(
        pc.or_(pc.equal(raw, "-"), pc.equal(raw, "")), pa.scalar(None, pa.string()), raw
    )
