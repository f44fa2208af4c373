"""Tests of the twilio-sdk format: the twilio-python http_client logger."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.logs import REQUEST_SCHEMA, detect_format, read_server_logs
from tests.unit.logs.samples import (
    ACC,
    BARE,
    CELERY,
    HYPO,
    PREFIX,
    SEND_PATH,
    http_date,
    rows,
    sdk_block,
    utc,
    write,
)


def test_sdk_blocks_exact(tmp_path: Path) -> None:
    lines = (
        ["2026-11-29 14:02:59,000 INFO app: starting"]
        + sdk_block(1)
        + ["2026-11-29 14:03:01,100 INFO app: unrelated line with Request: words"]
        + sdk_block(5, status=None)  # timed out: the SDK logs no response
        + sdk_block(20, rid="RQ" + "c" * 32)
        + sdk_block(30, method="GET", query="PageSize=50", status=200)
    )
    path = write(tmp_path / "app.log", lines)
    res = read_server_logs([path], log_tz="Europe/Berlin")
    assert res.files[0].format == "twilio-sdk"
    assert rows(
        res,
        "time",
        "method",
        "path",
        "account_sid",
        "status",
        "duration_ms",
        "request_id",
        "is_send",
        "line",
    ) == [
        {
            "time": utc(2026, 11, 29, 13, 3, 1),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 201,
            "duration_ms": 250.0,
            "request_id": "RQ" + "b" * 32,
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 13, 3, 5),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": None,
            "duration_ms": None,
            "request_id": None,
            "is_send": True,
            "line": 11,
        },
        {
            "time": utc(2026, 11, 29, 13, 3, 20),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 201,
            "duration_ms": 250.0,
            "request_id": "RQ" + "c" * 32,
            "is_send": True,
            "line": 17,
        },
        {
            "time": utc(2026, 11, 29, 13, 3, 30),
            "method": "GET",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 200,
            "duration_ms": 250.0,
            "request_id": "RQ" + "b" * 32,
            "is_send": False,
            "line": 25,
        },
    ]
    assert res.files[0].malformed == 0
    assert res.files[0].sends == 3


def test_sdk_pre_2022_payload_and_response_body(tmp_path: Path) -> None:
    sid = "SM" + "d" * 32
    pre = "[2026-11-29T14:03:01.500+00:00] twilio.http_client INFO "
    body = json.dumps(
        {
            "account_sid": ACC,
            "sid": sid,
            "to": "+15551239999",
            "messaging_service_sid": "MG" + "0" * 32,
            "status": "queued",
        }
    )
    lines = [
        pre + f"POST Request: https://api.twilio.com{SEND_PATH}",
        pre + "PAYLOAD: {'To': '+15551230002', 'From': '+15550000000', 'Body': \"it's: 'To'\"}",
        pre.replace("01.500", "01.900") + f"POST Response: 201 {body}",
        pre + f"GET Request: https://api.twilio.com{SEND_PATH}?PageSize=2",
        pre + "PARAMS: {'PageSize': 2}",
        pre.replace("01.500", "02.000") + 'GET Response: 200 {"messages": []}',
        pre + f"POST Request: https://api.twilio.com{SEND_PATH}",
        pre + "PAYLOAD: {'From': '+15550000000', 'Body': 'x'}",
        pre.replace("01.500", "03.000") + f"POST Response: 201 {body}",
    ]
    path = write(tmp_path / "old.log", lines)
    res = read_server_logs([path])
    assert res.files[0].format == "twilio-sdk"
    assert rows(
        res, "time", "method", "status", "to", "message_sid", "duration_ms", "is_send", "line"
    ) == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 500000),
            "method": "POST",
            "status": 201,
            "to": "+15551230002",
            "message_sid": sid,
            "duration_ms": 400.0,
            "is_send": True,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 500000),
            "method": "GET",
            "status": 200,
            "to": None,
            "message_sid": None,
            "duration_ms": 500.0,
            "is_send": False,
            "line": 4,
        },
        # no To in the payload: taken from the response body
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 500000),
            "method": "POST",
            "status": 201,
            "to": "+15551239999",
            "message_sid": sid,
            "duration_ms": 1500.0,
            "is_send": True,
            "line": 7,
        },
    ]


def test_sdk_without_prefix_gives_null_time_and_reason(tmp_path: Path) -> None:
    lines = sdk_block(1, prefix="")
    path = write(tmp_path / "bare.log", lines)
    res = read_server_logs([path])
    assert rows(res, "time", "method", "status", "is_send", "line") == [
        {"time": None, "method": "POST", "status": 201, "is_send": True, "line": 1}
    ]
    st_ = res.files[0]
    assert st_.malformed == 1
    assert st_.samples[0].line == 1
    assert st_.samples[0].reason == "no timestamp in the log line prefix"


def test_sdk_threads_interleaved_by_prefix(tmp_path: Path) -> None:
    a = sdk_block(
        1,
        prefix="2026-11-29 14:03:{sec:02d},{ms:03d} [worker-1] INFO twilio: ",
        rid="RQ" + "1" * 32,
    )
    b = sdk_block(
        2,
        prefix="2026-11-29 14:03:{sec:02d},{ms:03d} [worker-2] INFO twilio: ",
        rid="RQ" + "2" * 32,
        status=500,
    )
    lines = [x for pair in zip(a, b, strict=True) for x in pair]  # strictly alternating
    path = write(tmp_path / "threads.log", lines)
    res = read_server_logs([path])
    assert rows(res, "time", "status", "request_id", "line") == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1),
            "status": 201,
            "request_id": "RQ" + "1" * 32,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 2),
            "status": 500,
            "request_id": "RQ" + "2" * 32,
            "line": 2,
        },
    ]
    assert res.files[0].malformed == 0


def test_sdk_lost_begin_and_request_lines_are_counted(tmp_path: Path) -> None:
    first = sdk_block(1)
    second = sdk_block(2, status=500)[2:]  # BEGIN and request line lost
    path = write(tmp_path / "lost.log", first + second)
    res = read_server_logs([path])
    assert rows(res, "status", "line") == [{"status": 201, "line": 1}]
    st_ = res.files[0]
    # the orphan END, status and headers lines repeat kinds of block 1
    assert st_.malformed == 3
    assert {s.reason for s in st_.samples} == {"SDK log line repeated within one request block"}


@st.composite
def sdk_logs(draw: st.DrawFn) -> tuple[list[list[str]], list[dict[str, Any]]]:
    blocks: list[list[str]] = []
    expected: list[dict[str, Any]] = []
    for i in range(draw(st.integers(1, 12))):
        status = draw(st.sampled_from([None, 201, 400, 500]))
        method = draw(st.sampled_from(["POST", "GET"]))
        block = sdk_block(i, method=method, status=status, rid=f"RQ{i:032x}")
        blocks.append(block)
        expected.append(
            {
                "time": utc(2026, 11, 29, 14, 3, i),
                "method": method,
                "status": status,
                "request_id": None if status is None else f"RQ{i:032x}",
                "is_send": method == "POST",
            }
        )
        if draw(st.booleans()):
            blocks.append(
                [
                    f"2026-11-29 14:03:{i:02d},500 INFO app: other "
                    + draw(st.text(st.characters(exclude_characters="\n\r"), max_size=30))
                ]
            )
    return blocks, expected


@HYPO
@given(log=sdk_logs(), data=st.data(), chunk=st.sampled_from([1, 4, 200_000]))
def test_sdk_property_truncation_keeps_intact_blocks(
    tmp_path_factory: pytest.TempPathFactory,
    log: tuple[list[list[str]], list[dict[str, Any]]],
    data: st.DataObject,
    chunk: int,
) -> None:
    blocks, expected = log
    sdk_blocks = [b for b in blocks if len(b) > 1]
    damaged = data.draw(st.sets(st.integers(0, len(sdk_blocks) - 1), max_size=3))
    lines: list[str] = []
    intact_rows = []
    for j, block in enumerate(sdk_blocks):
        if j in damaged:
            k = data.draw(st.integers(0, len(block) - 1))
            cut = data.draw(st.integers(0, len(block[k])))
            block = block[:k] + [block[k][:cut]] + block[k + 1 :]
        else:
            intact_rows.append(expected[j])
        lines.extend(block)
    path = write(tmp_path_factory.mktemp("s") / "t.log", lines)
    res = read_server_logs([path], format="twilio-sdk", chunk_lines=chunk)
    got = rows(res, "time", "method", "status", "request_id", "is_send")
    for row in intact_rows:
        assert row in got
    # each damaged block yields at most one row, and every undamaged block exactly one
    assert len(intact_rows) <= len(got) <= len(sdk_blocks)


def test_sdk_date_header_fills_twilio_time(tmp_path: Path) -> None:
    aiohttp_block = sdk_block(40, rid="RQ" + "e" * 32)[:-1] + [
        PREFIX.format(sec=40, ms=250)
        + "Response Headers: <CIMultiDictProxy('Date': 'Sun, 29 Nov 2026 14:03:41 GMT', "
        "'Content-Type': 'application/json', 'Twilio-Request-Id': 'RQ" + "e" * 32 + "')>"
    ]
    later_block = sdk_block(50)[:-1] + [
        PREFIX.format(sec=50, ms=250)
        + "Response Headers: {'Content-Type': 'application/json', 'Date': 'Sun, 29 Nov 2026 "
        "14:03:50 GMT', 'Twilio-Request-Id': 'RQ" + "f" * 32 + "', 'X-Home-Region': 'us1'}"
    ]
    lines = (
        sdk_block(1, date=http_date(utc(2026, 11, 29, 14, 3, 2)))
        + sdk_block(5, status=None)  # timed out: no response, no Date
        + sdk_block(20, date="not a date")
        + aiohttp_block
        + later_block  # Date not first
        + sdk_block(55, date="Sun, 29 Nov 2026 14:03:56 GMT+1")  # not a header's Date
    )
    path = write(tmp_path / "app.log", lines)
    res = read_server_logs([path])
    assert res.requests.schema == REQUEST_SCHEMA
    assert REQUEST_SCHEMA.field("twilio_time").type == pa.timestamp("us", tz="UTC")
    assert rows(res, "time", "twilio_time", "request_id", "line") == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1),
            "twilio_time": utc(2026, 11, 29, 14, 3, 2),
            "request_id": "RQ" + "b" * 32,
            "line": 1,
        },
        {"time": utc(2026, 11, 29, 14, 3, 5), "twilio_time": None, "request_id": None, "line": 9},
        {
            "time": utc(2026, 11, 29, 14, 3, 20),
            "twilio_time": None,
            "request_id": "RQ" + "b" * 32,
            "line": 15,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 40),
            "twilio_time": utc(2026, 11, 29, 14, 3, 41),
            "request_id": "RQ" + "e" * 32,
            "line": 23,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 50),
            "twilio_time": utc(2026, 11, 29, 14, 3, 50),
            "request_id": "RQ" + "f" * 32,
            "line": 31,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 55),
            "twilio_time": None,
            "request_id": "RQ" + "b" * 32,
            "line": 39,
        },
    ]
    st_ = res.files[0]
    assert (st_.malformed, st_.time_source, st_.offset_corrected_seconds) == (0, "line", 0.0)
    assert st_.warnings == [] and res.warnings == []


def test_sdk_basicconfig_blocks_timed_by_date_header(tmp_path: Path) -> None:
    # logging.basicConfig(): "INFO:twilio.http_client:..." and no time at all
    lines = []
    for i in range(3):
        lines += sdk_block(0, prefix=BARE, date=http_date(utc(2026, 4, 8, 9, 4, 8 + i)))
    lines += sdk_block(0, prefix=BARE, status=None)  # no response: neither time nor Date
    path = write(tmp_path / "basic.log", lines)
    assert detect_format(path) == "twilio-sdk"
    res = read_server_logs([path])
    assert rows(res, "time", "twilio_time", "duration_ms", "status", "is_send", "line") == [
        {
            "time": utc(2026, 4, 8, 9, 4, 8 + i),
            "twilio_time": utc(2026, 4, 8, 9, 4, 8 + i),
            "duration_ms": None,
            "status": 201,
            "is_send": True,
            "line": 1 + 8 * i,
        }
        for i in range(3)
    ] + [
        {
            "time": None,
            "twilio_time": None,
            "duration_ms": None,
            "status": None,
            "is_send": True,
            "line": 25,
        }
    ]
    st_ = res.files[0]
    assert (st_.requests, st_.malformed, st_.time_source) == (4, 1, "twilio_date")
    assert [(s.line, s.reason) for s in st_.samples] == [
        (25, "no timestamp in the log line prefix")
    ]
    assert st_.first_time == utc(2026, 4, 8, 9, 4, 8)
    assert st_.last_time == utc(2026, 4, 8, 9, 4, 10)
    assert st_.offset_corrected_seconds == 0.0 and st_.warnings == []


def test_sdk_mixed_time_sources_correct_only_line_times(tmp_path: Path) -> None:
    # Three Celery blocks (local time, 3 h ahead) and two bare ones timed by Twilio's Date:
    # the correction shifts the line times only.
    lines = []
    for sec in (1, 2, 3):
        lines += sdk_block(sec, prefix=CELERY, date=http_date(utc(2025, 11, 20, 13, 10, sec)))
    for sec in (4, 5):
        lines += sdk_block(0, prefix=BARE, date=http_date(utc(2025, 11, 20, 13, 10, sec)))
    res = read_server_logs([write(tmp_path / "mixed.log", lines)])
    assert [r["time"] for r in rows(res, "time")] == [
        utc(2025, 11, 20, 13, 10, sec) for sec in (1, 2, 3, 4, 5)
    ]
    st_ = res.files[0]
    assert (st_.time_source, st_.offset_corrected_seconds, st_.malformed) == ("mixed", 10800.0, 0)


def test_sdk_no_time_anywhere_is_malformed_and_warned(tmp_path: Path) -> None:
    path = write(tmp_path / "bare.log", sdk_block(1, prefix=BARE) + sdk_block(2, prefix=BARE))
    res = read_server_logs([path])
    st_ = res.files[0]
    assert [r["time"] for r in rows(res, "time")] == [None, None]
    assert (st_.malformed, st_.time_source, st_.first_time) == (2, None, None)
    assert {s.reason for s in st_.samples} == {"no timestamp in the log line prefix"}
    assert st_.warnings == [
        f"no request in {path} has a time: its lines carry none and no Twilio Date header was "
        "logged; add the time to the log format (e.g. %(asctime)s)"
    ]


def test_request_id_from_dict_repr_and_header_lines(tmp_path: Path) -> None:
    rid = ["RQ" + c * 32 for c in "1234"]
    p = PREFIX.format(sec=1, ms=0)
    lines = (
        sdk_block(1, rid=rid[0])  # requests' dict repr: 'Twilio-Request-Id': 'RQ…'
        # a response header logged on its own line, in the SDK's "Key : value" form
        + sdk_block(2, status=None)
        + [p + "Response Status Code: 201", p + f"Twilio-Request-Id : {rid[1]}"]
        # lower-case keys (HTTP/2) in the dict repr
        + sdk_block(3, status=None)
        + [
            p + "Response Status Code: 201",
            p + f"Response Headers: {{'twilio-request-id': '{rid[2]}'}}",
        ]
        # an application line quoting the header is no SDK line
        + [p.replace("twilio.http_client", "app") + f"got Twilio-Request-Id: {rid[3]}"]
    )
    res = read_server_logs([write(tmp_path / "rid.log", lines)])
    assert rows(res, "request_id", "status", "line") == [
        {"request_id": rid[0], "status": 201, "line": 1},
        {"request_id": rid[1], "status": 201, "line": 9},
        {"request_id": rid[2], "status": 201, "line": 17},
    ]
    assert res.files[0].malformed == 0


def test_sdk_untimed_block_is_placed_between_its_neighbours(tmp_path: Path) -> None:
    # basicConfig log: an attempt that timed out has no answer, hence no Date; the
    # blocks around it bound when it was made.
    lines = sdk_block(0, prefix=BARE, date=http_date(utc(2026, 4, 8, 9, 4, 8)))
    lines += sdk_block(0, prefix=BARE, status=None)
    lines += sdk_block(0, prefix=BARE, date=http_date(utc(2026, 4, 8, 9, 4, 11)))
    res = read_server_logs([write(tmp_path / "basic.log", lines)])
    got = rows(res, "time", "time_max", "status", "line")
    assert got[1] == {
        "time": utc(2026, 4, 8, 9, 4, 8),
        "time_max": utc(2026, 4, 8, 9, 4, 12),
        "status": None,
        "line": 9,
    }
    assert [r["time_max"] for r in (got[0], got[2])] == [None, None]
    st_ = res.files[0]
    assert (st_.requests, st_.malformed, st_.samples) == (3, 0, [])
    assert st_.time_source == "twilio_date"
