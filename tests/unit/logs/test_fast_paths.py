"""Tests of the parsers' fast paths (issue 16): each reads what the general path reads."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
from hypothesis import given
from hypothesis import strategies as st

from analyzer.logs import read_server_logs
from analyzer.logs.dates import MONTHS, clf_times
from analyzer.logs.sdk_lines import sdk_line_rows
from analyzer.logs.wire import CombinedParser, EnvoyParser
from tests.unit.logs.samples import HYPO, SEND_PATH, nth_combined_line, nth_envoy_line, rows, write

_COMBINED = CombinedParser("UTC", {})


@st.composite
def clf_texts(draw: st.DrawFn) -> str:
    """CLF times, most well-formed, some impossible (31 Feb, 25 h) or mangled."""
    day = draw(st.integers(0, 32))
    month = draw(st.sampled_from([*MONTHS, "nov", "Foo"]))
    year = draw(st.sampled_from([1, 1600, 1900, 1970, 2024, 2026, 2100, 9999]))
    hms = [draw(st.integers(0, 61)) for _ in range(3)]
    zone = draw(st.sampled_from(["+0100", "-0530", "+0000", "+2359", "-2500", "+0160", "0100x"]))
    text = f"{day:02d}/{month}/{year:04d}:{hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d} {zone}"
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text) - 1))
        text = text[:at] + draw(st.characters(min_codepoint=32, max_codepoint=126)) + text[at + 1 :]
    return text


@HYPO
@given(texts=st.lists(st.one_of(st.none(), clf_texts()), min_size=1, max_size=60))
def test_clf_times_read_from_bytes_as_the_regex_path_reads_them(texts: list[str | None]) -> None:
    raw = pa.array(texts, pa.string())
    assert clf_times(raw, _COMBINED.parse_time_text).equals(_COMBINED.parse_time_text(raw))


def test_split_fields_equal_the_regex_fields_on_odd_lines() -> None:
    # Lines that match the formats but that splitting at delimiters would misread: the
    # fast path must leave them to the regexes.
    combined = [
        nth_combined_line(1),
        'a[b - - [29/Nov/2026:14:03:01 +0100] "GET /x HTTP/1.1" 200 5 "-" "curl"',
        '1.2.3.4 - u]"x [29/Nov/2026:14:03:01 +0100] "GET /x" 200 5 "-" "curl"',
        '1.2.3.4 - - [29/Nov/2026:14:03:01 +0100] "GET /a"b HTTP/1.1" 200 5 "-" "curl"',
        '1.2.3.4 - - [29/Nov/2026:14:03:01 +0100] "GET  /x HTTP/1.1" 200 5 "-" "c"',
    ]
    envoy = [
        nth_envoy_line(1),
        '[2026-11-29T14:03:01.000Z] "GET /a"b HTTP/1.1" 200 - 1 2 3 4 "-" "ua" "i" "h" "u"',
        '[2026-11-29T14:03:01.000Z] "GET /a" 200 - 1 2 3 4 "-" "ua" "i" "h" "u"',
        '[2026-11-29T14:03:01.000Z] "POST /a HTTP/1.1" 200 UT URX "-" 1 2 3 4 "-" "ua" "i" "h" "u"',
    ]
    for parser, lines in ((_COMBINED, combined), (EnvoyParser("UTC", {}), envoy)):
        valid = pa.array(lines)
        fast, slow = parser.extract(valid), parser.extract_regex(valid)
        assert {k: fast[k].to_pylist() for k in slow} == {k: v.to_pylist() for k, v in slow.items()}


def test_jsonl_field_first_seen_late_and_odd_bytes(tmp_path: Path) -> None:
    def rec(i: int, **extra: object) -> str:
        ts = f"2026-11-29T14:{i // 60 % 60:02d}:{i % 60:02d}Z"
        return json.dumps({"timestamp": ts, "method": "POST", "url": SEND_PATH, **extra})

    # error_code shows only at line 900, after the lines that gave the types; a line of
    # invalid UTF-8 and CRLF line ends in the same file.
    lines = [rec(i) for i in range(1200)]
    lines[899] = rec(899, error_code=21211, user_agent="TwilioProxy/1.1")
    lines[1000] = '{"timestamp": "2026-11-29T15:00:00Z", "method": "GET", "url": "/\udcff"}'
    path = write(tmp_path / "a.jsonl", lines, end="\r\n")
    res = read_server_logs([path], format="jsonl")
    got = rows(res, "line", "twilio_error_code", "user_agent", "path")
    assert len(got) == 1200 and res.malformed == 0
    assert got[899] == {
        "line": 900,
        "twilio_error_code": 21211,
        "user_agent": "TwilioProxy/1.1",
        "path": SEND_PATH,
    }
    # Invalid UTF-8 is read with replacement characters, one per bad byte.
    assert got[1000]["path"] == "/\ufffd\ufffd\ufffd"
    assert sum(r["twilio_error_code"] is not None for r in got) == 1


def test_sdk_lines_read_alike_with_a_plain_and_an_iso_logging_time() -> None:
    # "2026-11-29 14:03:01,123 " prefixes take the fast path, "2026-11-29T14:03:01.123 "
    # ones the regexes: the rows must agree but for the text.
    messages = [
        "-- BEGIN Twilio API Request --",
        f"POST Request: https://api.twilio.com{SEND_PATH}",
        "PAYLOAD: {'To': '+15551230001'}",
        "-- END Twilio API Request --",
        "Response Status Code: 201",
        "Twilio-Request-Id : RQ0123",
        "Response Headers: {'Date': 'Sun, 29 Nov 2026 14:03:01 GMT'}",
        'POST Response: 201 {"sid": "SM1"}',
        "GET Response: 404",
        "Response Status Code: 20x",
    ]

    def read(time: str) -> list[dict[str, object]]:
        lines = pa.array([f"{time} INFO [worker-1] twilio.http_client: {m}" for m in messages])
        table = sdk_line_rows(lines, 1, "Europe/Berlin").drop_columns(["text"])
        return table.to_pylist()

    plain, iso = read("2026-11-29 14:03:01,123"), read("2026-11-29T14:03:01.123")
    assert plain == iso
    assert len(plain) == len(messages) - 1  # "20x" is no status line
