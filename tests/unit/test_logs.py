"""Tests for analyzer.logs: the server/proxy/SDK HTTP log parsers."""

from __future__ import annotations

import gzip
import json
import logging
import random
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from email.utils import formatdate
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import InputError, UserError
from analyzer.logs import (
    REQUEST_SCHEMA,
    LogParseResult,
    detect_format,
    parse_times,
    read_server_logs,
)

ACC = "AC" + "0123456789abcdef" * 2
SEND_PATH = f"/2010-04-01/Accounts/{ACC}/Messages.json"
HYPO = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def write(path: Path, lines: Sequence[str], *, gz: bool = False, end: str = "\n") -> Path:
    data = (end.join(lines) + end).encode("utf-8", "surrogatepass")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def rows(result: LogParseResult, *cols: str) -> list[dict[str, Any]]:
    table = result.requests
    names = list(cols) if cols else [n for n in table.column_names if n != "source_file"]
    return table.select(names).to_pylist()


def row_keys(table: pa.Table) -> list[tuple[Any, ...]]:
    names = [n for n in table.column_names if n not in ("source_file",)]
    return [tuple(r.values()) for r in table.select(names).to_pylist()]


# --------------------------------------------------------------------------- jsonl


def test_jsonl_known_lines_exact(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "timestamp": "2026-11-29T14:03:01.123Z",
                "method": "POST",
                "url": f"https://api.twilio.com{SEND_PATH}",
                "status": 201,
                "to": "+15551230001",
                "message_sid": "SM" + "1" * 32,
                "duration_ms": 120,
                "request_id": "RQ" + "a" * 32,
                "extra": {"nested": [1, 2]},
            }
        ),
        "",
        # naive: local time in log_tz (Berlin, UTC+1 in November); comma decimals
        json.dumps(
            {
                "timestamp": "2026-11-29 15:03:02,5",
                "method": "get",
                "url": f"/2010-04-01/Accounts/{ACC}/Messages.json?PageSize=50",
                "status": "200",
            }
        ),
        "not json at all",
        json.dumps({"level": "info", "msg": "worker started"}),
        json.dumps(
            {
                "timestamp": "2026-11-29T14:03:03+01:00",
                "method": "POST",
                "url": SEND_PATH,
                "status": None,
                "error": "ReadTimeout",
                "duration_ms": 10000.5,
            }
        ),
        json.dumps({"timestamp": 1795960984, "method": "POST", "url": SEND_PATH, "status": 429}),
        json.dumps(
            {
                "timestamp": 1795960985250,
                "method": "POST",
                "url": f"/2010-04-01/Accounts/{ACC}.json",
            }
        ),
        json.dumps({"method": "POST", "url": SEND_PATH}),
        json.dumps({"timestamp": "yesterday", "method": "POST", "url": SEND_PATH}),
    ]
    path = write(tmp_path / "app.jsonl", lines)
    res = read_server_logs([path], log_tz="Europe/Berlin")
    assert res.requests.schema == REQUEST_SCHEMA
    got = rows(res)
    expected_common = {
        "twilio_time": None,
        "time_max": None,
        "account_sid": ACC,
        "to": None,
        "message_sid": None,
        "request_id": None,
        "error": None,
        "duration_ms": None,
    }
    assert got == [
        {
            **expected_common,
            "time": utc(2026, 11, 29, 14, 3, 1, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 120.0,
            "to": "+15551230001",
            "message_sid": "SM" + "1" * 32,
            "request_id": "RQ" + "a" * 32,
            "is_send": True,
            "line": 1,
        },
        {
            **expected_common,
            "time": utc(2026, 11, 29, 14, 3, 2, 500000),
            "method": "GET",
            "path": SEND_PATH,
            "status": 200,
            "is_send": False,
            "line": 3,
        },
        {
            **expected_common,
            "time": utc(2026, 11, 29, 13, 3, 3),
            "method": "POST",
            "path": SEND_PATH,
            "status": None,
            "duration_ms": 10000.5,
            "error": "ReadTimeout",
            "is_send": True,
            "line": 6,
        },
        {
            **expected_common,
            "time": utc(2026, 11, 29, 14, 3, 4),
            "method": "POST",
            "path": SEND_PATH,
            "status": 429,
            "is_send": True,
            "line": 7,
        },
        {
            **expected_common,
            "time": utc(2026, 11, 29, 14, 3, 5, 250000),
            "method": "POST",
            "path": f"/2010-04-01/Accounts/{ACC}.json",
            "status": None,
            "is_send": False,
            "line": 8,
        },
    ]
    st_ = res.files[0]
    assert (st_.format, st_.lines, st_.requests, st_.sends) == ("jsonl", 10, 5, 3)
    assert (st_.malformed, st_.skipped) == (3, 1)
    assert [(s.line, s.reason) for s in st_.samples] == [
        (4, "invalid JSON object"),
        (9, "missing timestamp"),
        (10, "unparseable timestamp"),
    ]
    assert st_.first_time == utc(2026, 11, 29, 13, 3, 3)
    assert st_.last_time == utc(2026, 11, 29, 14, 3, 5, 250000)


def test_jsonl_remapped_fields(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "@ts": "2026-11-29T14:03:01Z",
                "http.method": "POST",
                "path": SEND_PATH,
                "code": 201,
                "recipient": "+1555",
                "sid": "SMx",
                "elapsed": 12.5,
                "rq": "RQ1",
                "err": None,
            }
        ),
        # the default names are now ignored
        json.dumps({"timestamp": "2026-11-29T14:03:01Z", "method": "POST", "url": SEND_PATH}),
    ]
    path = write(tmp_path / "app.log", lines)
    fields = {
        "timestamp": "@ts",
        "method": "http.method",
        "url": "path",
        "status": "code",
        "to": "recipient",
        "message_sid": "sid",
        "duration_ms": "elapsed",
        "request_id": "rq",
        "error": "err",
    }
    res = read_server_logs([path], format="jsonl", fields=fields)
    assert rows(
        res,
        "time",
        "method",
        "path",
        "status",
        "to",
        "message_sid",
        "duration_ms",
        "request_id",
        "is_send",
        "line",
    ) == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "to": "+1555",
            "message_sid": "SMx",
            "duration_ms": 12.5,
            "request_id": "RQ1",
            "is_send": True,
            "line": 1,
        }
    ]
    assert res.files[0].skipped == 1
    with pytest.raises(UserError, match="unknown jsonl field"):
        read_server_logs([path], format="jsonl", fields={"stamp": "x"})


def _json_record(draw: st.DrawFn, i: int) -> tuple[str, dict[str, Any]]:
    """One valid jsonl line (in varied JSON shapes) and the row it must give."""
    # around the spring DST switch in Berlin (no ambiguous local times in this range)
    base = utc(2026, 3, 29, 0, 0, 0) + timedelta(
        seconds=draw(st.integers(0, 86_400 * 3)), milliseconds=draw(st.integers(0, 999))
    )
    form = draw(st.sampled_from(["Z", "offset", "naive", "epoch", "epoch_ms"]))
    tz = ZoneInfo("Europe/Berlin")
    if form == "Z":
        ts: Any = base.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    elif form == "offset":
        ts = base.astimezone(ZoneInfo("America/New_York")).isoformat(timespec="milliseconds")
    elif form == "naive":
        local = base.astimezone(tz).replace(tzinfo=None)
        ts = local.isoformat(sep=" ", timespec="milliseconds")
    elif form == "epoch":
        ts = base.timestamp()
    else:
        ts = int(base.timestamp() * 1000)
    method = draw(st.sampled_from(["POST", "GET", "post", "DELETE"]))
    path = draw(
        st.sampled_from(
            [
                SEND_PATH,
                f"/2010-04-01/Accounts/{ACC}/Messages/SM1.json",
                "/2010-04-01/Accounts.json",
                "/health",
            ]
        )
    )
    url = draw(st.sampled_from(["", "https://api.twilio.com", "http://127.0.0.1:8080"])) + path
    query = draw(st.sampled_from(["", "?PageSize=20", "#frag"]))
    status = draw(st.one_of(st.none(), st.sampled_from([200, 201, 400, 429, 500])))
    status_json: Any = status
    if status is not None and draw(st.booleans()):
        status_json = str(status)
    to = draw(st.one_of(st.none(), st.from_regex(r"\+1555[0-9]{7}", fullmatch=True)))
    dur = draw(st.one_of(st.none(), st.integers(0, 30000), st.floats(0, 30000, allow_nan=False)))
    rec = {
        "timestamp": ts,
        "method": method,
        "url": url + query,
        "status": status_json,
        "to": to,
        "message_sid": f"SM{i:032x}",
        "duration_ms": dur,
    }
    keys = list(rec)
    random.Random(i).shuffle(keys)
    line = json.dumps({k: rec[k] for k in keys})
    row = {
        "time": base,
        "twilio_time": None,
        "time_max": None,
        "method": method.upper(),
        "path": path,
        "account_sid": ACC if path.startswith(f"/2010-04-01/Accounts/{ACC}") else None,
        "status": status,
        "duration_ms": None if dur is None else float(dur),
        "to": to,
        "message_sid": f"SM{i:032x}",
        "request_id": None,
        "is_send": method.upper() == "POST" and path == SEND_PATH,
        "error": None,
    }
    return line, row


@st.composite
def jsonl_logs(draw: st.DrawFn) -> tuple[list[str], list[dict[str, Any]]]:
    """A jsonl log with valid lines, garbage lines and blank lines, plus expected rows."""
    n = draw(st.integers(1, 40))
    lines: list[str] = []
    expected: list[dict[str, Any]] = []
    for i in range(n):
        kind = draw(st.sampled_from(["ok"] * 6 + ["garbage", "blank", "other", "truncated"]))
        if kind == "ok":
            line, row = _json_record(draw, i)
            lines.append(line)
            expected.append({**row, "line": len(lines)})
        elif kind == "garbage":
            text = draw(st.text(st.characters(exclude_characters="\n\r"), max_size=60))
            lines.append(text if text.strip() else "x" + text)
        elif kind == "truncated":
            line, _ = _json_record(draw, i)
            lines.append(line[: draw(st.integers(1, len(line) - 1))])
        elif kind == "blank":
            lines.append(draw(st.sampled_from(["", "   ", "\t"])))
        else:
            lines.append(json.dumps({"msg": draw(st.text(max_size=10))}))
    return lines, expected


@HYPO
@given(log=jsonl_logs(), chunk=st.sampled_from([1, 3, 7, 200_000]))
def test_jsonl_property_valid_lines_exact_garbage_counted(
    tmp_path_factory: pytest.TempPathFactory,
    log: tuple[list[str], list[dict[str, Any]]],
    chunk: int,
) -> None:
    lines, expected = log
    path = write(tmp_path_factory.mktemp("j") / "a.jsonl", lines)
    res = read_server_logs([path], format="jsonl", log_tz="Europe/Berlin", chunk_lines=chunk)
    got = rows(res)
    # Truncated JSON never parses; so valid lines are exactly the generated ones.
    assert got == expected
    st_ = res.files[0]
    non_blank = sum(1 for line in lines if line.strip(" \t"))
    assert st_.requests + st_.malformed + st_.skipped == non_blank
    assert len(st_.samples) == min(5, st_.malformed)
    assert all(len(s.text) <= 200 for s in st_.samples)


# --------------------------------------------------------------------------- twilio-sdk

PREFIX = "2026-11-29 14:03:{sec:02d},{ms:03d} INFO twilio.http_client: "


def sdk_block(
    sec: int,
    *,
    method: str = "POST",
    path: str = SEND_PATH,
    status: int | None = 201,
    rid: str = "RQ" + "b" * 32,
    prefix: str = PREFIX,
    query: str = "",
    date: str | None = None,
) -> list[str]:
    """A 2022+ twilio-python block, as its logger writes it (``date``: Twilio's Date header,
    which twilio-python 7.8.2+ logs first among the response headers)."""
    p0 = prefix.format(sec=sec, ms=0)
    p1 = prefix.format(sec=sec, ms=250)
    url = f"https://api.twilio.com{path}"
    out = [p0 + "-- BEGIN Twilio API Request --"]
    if query:
        out += [p0 + f"{method} Request: {url}?{query}", p0 + f"Query Params: {{'{query}'}}"]
    else:
        out.append(p0 + f"{method} Request: {url}")
    out += [
        p0 + "Headers:",
        p0 + "Content-Type : application/x-www-form-urlencoded",
        p0 + "User-Agent : twilio-python/9.13.0 (Linux x86_64) Python/3.11.7",
        p0 + "-- END Twilio API Request --",
    ]
    if status is not None:
        date_header = "" if date is None else f"'Date': '{date}', "
        out += [
            p1 + f"Response Status Code: {status}",
            p1 + f"Response Headers: {{{date_header}'Content-Type': 'application/json', "
            f"'Twilio-Request-Id': '{rid}', 'Twilio-Request-Duration': '0.040'}}",
        ]
    return out


def http_date(t: datetime) -> str:
    """Twilio's Date header (RFC 7231, GMT, whole seconds)."""
    return formatdate(int(t.timestamp()), usegmt=True)


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


# --------------------------------------------------------------------------- combined / envoy


def test_combined_exact(tmp_path: Path) -> None:
    lines = [
        f'10.0.0.1 - - [29/Nov/2026:14:03:01 +0100] "POST {SEND_PATH} HTTP/1.1" 201 812 "-" '
        '"twilio-python/9.13.0 (Linux x86_64) Python/3.11.7"',
        f'10.0.0.1 - alice [29/Nov/2026:08:03:02 -0500] "POST https://api.twilio.com{SEND_PATH}'
        ' HTTP/1.1" 500 0 "-" "ua with \\"quotes\\""',
        '10.0.0.1 - - [29/Nov/2026:14:03:03 +0000] "CONNECT api.twilio.com:443 HTTP/1.1" 200 '
        '4211 "-" "python-requests/2.32"',
        f'10.0.0.1 - - [29/Nov/2026:14:03:04 +0000] "GET {SEND_PATH}?PageSize=50 HTTP/1.1" 200 '
        '90 "-" "curl" 0.123 extra-field',
        f'10.0.0.1 - - [29/Nov/2026:14:03:05 +0000] "POST {SEND_PATH} HTTP/1.1" 201 812 "-" "cu',
        '10.0.0.1 - - [31/Foo/2026:14:03:06 +0000] "GET / HTTP/1.1" 200 1 "-" "x"',
    ]
    path = write(tmp_path / "access.log", lines, end="\r\n")
    res = read_server_logs([path])
    st_ = res.files[0]
    assert st_.format == "combined"
    assert rows(res, "time", "method", "path", "account_sid", "status", "is_send", "line") == [
        {
            "time": utc(2026, 11, 29, 13, 3, 1),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 201,
            "is_send": True,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 13, 3, 2),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 500,
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 3),
            "method": "CONNECT",
            "path": None,
            "account_sid": None,
            "status": 200,
            "is_send": False,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 4),
            "method": "GET",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 200,
            "is_send": False,
            "line": 4,
        },
    ]
    assert (st_.malformed, st_.tunnels, st_.sends) == (2, 1, 2)
    assert [(s.line, s.reason) for s in st_.samples] == [
        (5, "line does not match the format"),
        (6, "unparseable time"),
    ]


def envoy_line(t: str, method: str, path: str, status: int, flags: str, dur: str) -> str:
    return (
        f'[{t}] "{method} {path} HTTP/1.1" {status} {flags} 210 812 {dur} 140 "10.1.2.3" '
        f'"twilio-python/9.13.0" "a1b2c3d4-0001" "api.twilio.com" "54.172.60.1:443"'
    )


def test_envoy_exact(tmp_path: Path) -> None:
    lines = [
        envoy_line("2026-11-29T14:03:01.123Z", "POST", SEND_PATH, 201, "-", "143"),
        envoy_line("2026-11-29T14:03:11.123Z", "POST", SEND_PATH, 504, "UT", "15001"),
        envoy_line("2026-11-29T14:03:12.000Z", "POST", SEND_PATH, 0, "DC", "-"),
        envoy_line("2026-11-29T14:03:13.000Z", "GET", "/2010-04-01/Accounts.json", 200, "-", "5"),
        envoy_line("2026-11-29T14:03:14.000Z", "POST", SEND_PATH, 201, "-", "1")[:-10],
    ]
    path = write(tmp_path / "envoy.log", lines)
    res = read_server_logs([path], format="envoy")
    assert rows(
        res, "time", "method", "path", "status", "duration_ms", "error", "is_send", "line"
    ) == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 143.0,
            "error": None,
            "is_send": True,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 11, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 504,
            "duration_ms": 15001.0,
            "error": "UT",
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 12),
            "method": "POST",
            "path": SEND_PATH,
            "status": None,
            "duration_ms": None,
            "error": "DC",
            "is_send": True,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 13),
            "method": "GET",
            "path": "/2010-04-01/Accounts.json",
            "status": 200,
            "duration_ms": 5.0,
            "error": None,
            "is_send": False,
            "line": 4,
        },
    ]
    assert res.files[0].malformed == 1


def _combined_line(i: int) -> str:
    return (
        f"10.0.0.{i % 250} - - [29/Nov/2026:14:{i // 60 % 60:02d}:{i % 60:02d} +0100] "
        f'"POST {SEND_PATH} HTTP/1.1" {200 + i % 3} {i} "-" "agent {i}"'
    )


def _envoy_line(i: int) -> str:
    return envoy_line(
        f"2026-11-29T14:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "POST",
        SEND_PATH,
        201,
        "-",
        str(i),
    )


@HYPO
@given(
    fmt=st.sampled_from(["combined", "envoy", "jsonl"]),
    n=st.integers(1, 30),
    data=st.data(),
    chunk=st.sampled_from([1, 5, 200_000]),
)
def test_line_formats_property_truncation(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, n: int, data: st.DataObject, chunk: int
) -> None:
    make = {
        "combined": _combined_line,
        "envoy": _envoy_line,
        "jsonl": lambda i: json.dumps(
            {
                "timestamp": f"2026-11-29T14:00:{i % 60:02d}Z",
                "method": "POST",
                "url": SEND_PATH,
                "status": 201,
            }
        ),
    }[fmt]
    full = [make(i) for i in range(n)]
    damaged = data.draw(st.sets(st.integers(0, n - 1)))
    lines = [
        line[: data.draw(st.integers(0, len(line) - 1))] if i in damaged else line
        for i, line in enumerate(full)
    ]
    tmp = tmp_path_factory.mktemp("t")
    res = read_server_logs([write(tmp / "x.log", lines)], format=fmt, chunk_lines=chunk)
    intact = [line for i, line in enumerate(full) if i not in damaged]
    ref = read_server_logs([write(tmp / "ref.log", full)], format=fmt)
    ref_rows = {r["line"]: r for r in rows(ref)}
    got = {r["line"]: r for r in rows(res)}
    for i in range(n):
        if i not in damaged:
            assert got[i + 1] == ref_rows[i + 1]
    st_ = res.files[0]
    non_blank = sum(1 for line in lines if line.strip(" \t"))
    assert st_.requests + st_.malformed + st_.skipped == non_blank
    assert st_.requests >= len(intact)


@HYPO
@given(
    fmt=st.sampled_from(["combined", "envoy", "jsonl", "twilio-sdk"]),
    garbage=st.lists(st.text(max_size=80), max_size=20),
    raw=st.binary(max_size=200),
)
def test_garbage_never_crashes(
    tmp_path_factory: pytest.TempPathFactory, fmt: str, garbage: list[str], raw: bytes
) -> None:
    path = tmp_path_factory.mktemp("g") / "g.log"
    path.write_bytes("\n".join(garbage).encode("utf-8", "surrogatepass") + b"\n" + raw)
    res = read_server_logs([path], format=fmt, chunk_lines=3)
    st_ = res.files[0]
    assert st_.requests == res.requests.num_rows
    assert st_.malformed >= 0 and len(st_.samples) <= 5
    assert res.requests.schema == REQUEST_SCHEMA


def test_chunking_does_not_change_results(tmp_path: Path) -> None:
    # large enough to cross several 64 KiB read blocks (the smallest) with chunk_lines=250
    sdk = [line for i in range(400) for line in sdk_block(i % 60, rid=f"RQ{i:032x}")]
    combined = [_combined_line(i) for i in range(3000)]
    for name, lines in (("sdk.log", sdk), ("combined.log", combined)):
        path = write(tmp_path / name, lines)
        small = read_server_logs([path], chunk_lines=250)
        big = read_server_logs([path])
        assert small.requests.equals(big.requests)
        assert small.files[0].lines == big.files[0].lines == len(lines)
        assert big.requests.num_rows in (400, 3000)


# --------------------------------------------------------------------------- files, detection


def test_gz_globs_and_multiple_files(tmp_path: Path) -> None:
    write(tmp_path / "a-1.log.gz", [_combined_line(1), _combined_line(2)], gz=True)
    write(tmp_path / "a-2.log", [_combined_line(3)])
    write(
        tmp_path / "b.jsonl",
        [json.dumps({"timestamp": "2026-11-29T14:00:00Z", "method": "POST", "url": SEND_PATH})],
    )
    res = read_server_logs([str(tmp_path / "a-*.log*"), tmp_path / "b.jsonl"])
    assert [f.format for f in res.files] == ["combined", "combined", "jsonl"]
    assert [f.path for f in res.files] == [
        str(tmp_path / n) for n in ("a-1.log.gz", "a-2.log", "b.jsonl")
    ]
    assert rows(res, "source_file", "line") == [
        {"source_file": str(tmp_path / "a-1.log.gz"), "line": 1},
        {"source_file": str(tmp_path / "a-1.log.gz"), "line": 2},
        {"source_file": str(tmp_path / "a-2.log"), "line": 1},
        {"source_file": str(tmp_path / "b.jsonl"), "line": 1},
    ]
    assert res.sends == 4 and res.lines == 4


def test_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_server_logs([tmp_path / "missing.log"])
    with pytest.raises(InputError, match="no log file matches"):
        read_server_logs([str(tmp_path / "*.nothing")])
    with pytest.raises(UserError, match="unknown log format"):
        read_server_logs([tmp_path], format="xml")
    with pytest.raises(UserError, match="time zone"):
        read_server_logs([tmp_path], log_tz="Mars/Olympus")
    odd = write(tmp_path / "odd.txt", ["hello", "world"])
    with pytest.raises(UserError, match=r"cannot detect the log format of .*odd\.txt"):
        read_server_logs([odd])
    empty = write(tmp_path / "empty.log", [], end="")
    res = read_server_logs([empty])
    assert res.files[0].format is None and res.requests.num_rows == 0


def test_detect_format(tmp_path: Path) -> None:
    cases = {
        "jsonl": [json.dumps({"timestamp": "x", "msg": "y"})],
        "twilio-sdk": ["2026-11-29 INFO app: boot"] * 50 + sdk_block(1),
        "combined": [_combined_line(1)],
        "envoy": [_envoy_line(1)],
    }
    for fmt, lines in cases.items():
        assert detect_format(write(tmp_path / f"{fmt}.log", ["", *lines])) == fmt
    old = write(tmp_path / "old.log", [f"x POST Request: https://api.twilio.com{SEND_PATH}"])
    assert detect_format(old) == "twilio-sdk"


def test_parse_times_zones_and_epochs() -> None:
    values = pa.array(
        [
            "2026-03-29T02:30:00",
            "2026-10-25 02:30:00",
            "2026-11-29T14:03:01Z",
            "2026-11-29T14:03:01.5-05:00",
            "1795960984",
            "",
            None,
            "nope",
            "2026-11-29 14:03:01,25 +0100",
        ]
    )
    got = parse_times(values, "Europe/Berlin").to_pylist()
    assert got == [
        utc(2026, 3, 29, 1, 0),  # non-existent local time: moved forward to 03:00 CEST
        utc(2026, 10, 25, 0, 30),  # ambiguous: the earlier (summer time) instant
        utc(2026, 11, 29, 14, 3, 1),
        utc(2026, 11, 29, 19, 3, 1, 500000),
        utc(2026, 11, 29, 14, 3, 4),
        None,
        None,
        None,
        utc(2026, 11, 29, 13, 3, 1, 250000),
    ]


# --------------------------------------------------------------------------- real SDK


def test_real_twilio_sdk_log_parsed(tmp_path: Path) -> None:
    from twilio.rest import Client

    from tests.fake_twilio import FakeTwilio

    log_path = tmp_path / "app.log"
    handler = logging.FileHandler(log_path, encoding="utf-8")
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s [%(threadName)s] %(name)s: %(message)s")
    )
    # The same calls through logging.basicConfig()'s format (no time at all), and through
    # a formatter printing UTC+5:30 wall-clock time without a zone (a Celery worker's).
    basic_path, local_path = tmp_path / "basic.log", tmp_path / "local.log"
    basic = logging.FileHandler(basic_path, encoding="utf-8")
    basic.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
    local = logging.FileHandler(local_path, encoding="utf-8")
    local_fmt = logging.Formatter("[%(asctime)s: %(levelname)s/ForkPoolWorker-7] %(message)s")
    local_fmt.converter = lambda secs: time.gmtime((secs or 0) + 5.5 * 3600)
    local.setFormatter(local_fmt)
    handlers = [handler, basic, local]
    logger = logging.getLogger("twilio.http_client")
    old_level, old_propagate = logger.level, logger.propagate
    logger.setLevel(logging.INFO)
    logger.propagate = False
    for h in handlers:
        logger.addHandler(h)
    before = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    try:
        with FakeTwilio() as server:
            client = Client(server.account_sid, server.auth_token, environment={})
            client.api.base_url = server.base_url
            sids = [
                client.messages.create(
                    to=f"+1555123000{i}", from_="+15550000000", body=f"hello {i}"
                ).sid
                for i in range(3)
            ]
            list(client.messages.list(limit=5))
            account = server.account_sid
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
        logger.setLevel(old_level)
        logger.propagate = old_propagate
    after = datetime.now(UTC) + timedelta(seconds=1)
    assert len(sids) == 3

    # asctime is local time without a zone: the machine's zone is the log's zone
    local_tz = datetime.now().astimezone().tzinfo
    tz_name = getattr(local_tz, "key", None) or "UTC"
    if tz_name == "UTC" and datetime.now().astimezone().utcoffset() != timedelta(0):
        pytest.skip("local zone has no IANA name")
    res = read_server_logs([log_path], log_tz=tz_name)
    st_ = res.files[0]
    assert st_.format == "twilio-sdk" and st_.malformed == 0
    got = rows(res, "time", "method", "path", "account_sid", "status", "request_id", "is_send")
    send_path = f"/2010-04-01/Accounts/{account}/Messages.json"
    posts = [r for r in got if r["method"] == "POST"]
    assert len(posts) == 3 == st_.sends
    assert all(r["path"] == send_path and r["status"] == 201 and r["is_send"] for r in posts)
    assert all(r["account_sid"] == account for r in got)
    assert all(r["request_id"] and r["request_id"].startswith("RQ") for r in got)
    assert all(before <= r["time"] <= after for r in got)
    assert [r["time"] for r in got] == sorted(r["time"] for r in got)
    gets = [r for r in got if r["method"] == "GET"]
    assert len(gets) == 1 and gets[0]["status"] == 200 and not gets[0]["is_send"]
    # The server's Date header (same machine: same clock, whole seconds) as twilio_time.
    twilio_times = [r["twilio_time"] for r in rows(res, "twilio_time")]
    assert len(twilio_times) == 4
    for r, tw in zip(got, twilio_times, strict=True):
        assert tw is not None and tw.microsecond == 0
        assert timedelta(seconds=-1) <= r["time"] - tw <= timedelta(seconds=1)
    assert (st_.time_source, st_.offset_corrected_seconds, st_.warnings) == ("line", 0.0, [])

    # basicConfig(): every block timed by Twilio's Date, exactly.
    res_basic = read_server_logs([basic_path])
    got_basic = rows(res_basic, "time", "twilio_time", "method", "status", "request_id")
    assert [r["time"] for r in got_basic] == twilio_times
    assert [r["twilio_time"] for r in got_basic] == twilio_times
    assert [r["request_id"] for r in got_basic] == [r["request_id"] for r in got]
    st_basic = res_basic.files[0]
    assert (st_basic.format, st_basic.time_source, st_basic.malformed) == (
        "twilio-sdk",
        "twilio_date",
        0,
    )
    # local time read as UTC: corrected by 5 h 30 min, to the very rows of the UTC log
    res_local = read_server_logs([local_path], log_tz="UTC")
    st_local = res_local.files[0]
    assert st_local.offset_corrected_seconds == 19800.0
    assert st_local.warnings[0].startswith(
        f"times in {local_path} look like local time 5 h 30 min ahead of UTC"
    )
    # asctime has milliseconds: the UTC log's times, truncated to the millisecond
    local_times = [r["time"] for r in rows(res_local, "time")]
    assert local_times == [
        r["time"].replace(microsecond=r["time"].microsecond // 1000 * 1000) for r in got
    ]


# --------------------------------------------------------------------------- Twilio's Date header

CELERY = "[2025-11-20 16:10:{sec:02d},{ms:03d}: INFO/ForkPoolWorker-7] "
BARE = "INFO:twilio.http_client:"


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


def test_parse_twilio_dates_forms() -> None:
    from analyzer.logs import parse_twilio_dates

    got = parse_twilio_dates(
        pa.array(
            [
                "Wed, 08 Apr 2026 09:04:08 GMT",  # RFC 7231 (the header)
                "Fri, 24 May 2019 17:44:46 +0000",  # RFC 2822 (Twilio's resource dates)
                "1 Jan 2026 01:02 -0130",  # no weekday, no seconds, an offset
                "wed, 08 apr 2026 09:04:08 gmt",
                "2026-04-08T09:04:08Z",
                "2026-04-08 09:04:08.5",  # zoneless ISO: Twilio's clock is UTC
                "Mon, 31 Feb 2026 00:00:00 GMT",
                "garbage",
                "",
                None,
            ]
        )
    ).to_pylist()
    assert got == [
        utc(2026, 4, 8, 9, 4, 8),
        utc(2019, 5, 24, 17, 44, 46),
        utc(2026, 1, 1, 2, 32),
        utc(2026, 4, 8, 9, 4, 8),
        utc(2026, 4, 8, 9, 4, 8),
        utc(2026, 4, 8, 9, 4, 8, 500000),
        None,
        None,
        None,
        None,
    ]
    # all values in the header's own fixed-width shape (the fast path)
    fixed = ["Wed, 08 Apr 2026 09:04:08 GMT", None, "Tue, 31 Feb 2026 00:00:00 GMT"]
    assert parse_twilio_dates(pa.array(fixed)).to_pylist() == [utc(2026, 4, 8, 9, 4, 8), None, None]
    assert parse_twilio_dates(pa.array([1795960984, None])).to_pylist() == [
        utc(2026, 11, 29, 14, 3, 4),
        None,
    ]


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


def _celery_log(
    tmp_path: Path, offset: timedelta, n: int = 4, *, jitter: Sequence[float] = ()
) -> tuple[Path, list[datetime]]:
    """A Celery worker log whose naive line times are UTC + offset; the true UTC times."""
    lines: list[str] = []
    true: list[datetime] = []
    for i in range(n):
        t = utc(2025, 11, 20, 13, 10, 10 + 3 * i, 921000)
        local = t + offset
        prefix = f"[{local:%Y-%m-%d %H:%M:%S},921: INFO/ForkPoolWorker-7] "
        extra = timedelta(seconds=jitter[i] if i < len(jitter) else 0)
        block = sdk_block(0, prefix=prefix, date=http_date(t + extra))
        lines += block
        true.append(t)
    return write(tmp_path / "celery.log", lines), true


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(hours=3), "3 h ahead of"),
        (timedelta(hours=5, minutes=30), "5 h 30 min ahead of"),
        (timedelta(hours=-5), "5 h behind"),
        (timedelta(minutes=45), "45 min ahead of"),
    ],
)
def test_local_time_log_corrected_by_twilio_date(
    tmp_path: Path, offset: timedelta, text: str
) -> None:
    # one block's Date is off by a few seconds: the median ignores it
    path, true = _celery_log(tmp_path, offset, n=5, jitter=[0, 0, 0, 0, 7])
    res = read_server_logs([path], chunk_lines=3)
    assert [r["time"] for r in rows(res, "time")] == true
    st_ = res.files[0]
    assert st_.offset_corrected_seconds == offset.total_seconds()
    assert st_.warnings == [
        f"times in {path} look like local time {text} UTC (measured against Twilio's Date "
        "header): corrected; pass --log-tz to state the zone"
    ]
    assert res.warnings == st_.warnings
    assert (st_.first_time, st_.last_time) == (true[0], true[-1])
    assert st_.time_source == "line"


def test_local_time_correction_uses_the_whole_file(tmp_path: Path) -> None:
    # The first blocks have no Date header (and sit in their own chunks): they are shifted too.
    lines: list[str] = []
    for i in range(6):
        t = utc(2025, 11, 20, 13, 10, 10 + i)
        prefix = f"[{t + timedelta(hours=3):%Y-%m-%d %H:%M:%S},000: INFO/ForkPoolWorker-1] "
        lines += sdk_block(0, prefix=prefix, date=None if i < 3 else http_date(t))
    path = write(tmp_path / "celery.log", lines)
    small = read_server_logs([path], chunk_lines=4)
    big = read_server_logs([path])
    assert small.requests.equals(big.requests)
    assert [r["time"] for r in rows(small, "time")] == [
        utc(2025, 11, 20, 13, 10, 10 + i) for i in range(6)
    ]
    assert small.files[0].offset_corrected_seconds == 10800.0


@pytest.mark.parametrize(
    ("offset", "n", "log_tz"),
    [
        (timedelta(seconds=90), 4, "UTC"),  # clock skew: left to the cross-reference
        (timedelta(minutes=9), 4, "UTC"),  # under 10 min: still skew
        (timedelta(hours=3), 2, "UTC"),  # too few pairs to tell
        (timedelta(hours=3), 4, "Europe/Moscow"),  # the right zone was given
    ],
)
def test_local_time_not_corrected(tmp_path: Path, offset: timedelta, n: int, log_tz: str) -> None:
    path, true = _celery_log(tmp_path, offset, n=n)
    res = read_server_logs([path], log_tz=log_tz)
    expected = true if log_tz != "UTC" else [t + offset for t in true]
    assert [r["time"] for r in rows(res, "time")] == expected
    assert res.files[0].offset_corrected_seconds == 0.0
    assert res.warnings == []


def test_local_time_wrong_zone_given_and_residuals_reported(tmp_path: Path) -> None:
    path, true = _celery_log(tmp_path, timedelta(hours=3), n=4)
    res = read_server_logs([path], log_tz="Europe/Berlin")  # UTC+1 in November
    assert [r["time"] for r in rows(res, "time")] == true
    assert res.files[0].offset_corrected_seconds == 7200.0
    assert res.warnings == [
        f"times in {path}, read in Europe/Berlin, are 2 h ahead of Twilio's Date header: "
        "corrected; check --log-tz"
    ]
    # A daylight saving change within the file: three blocks at +3 h, two at +2 h.
    lines: list[str] = []
    for i, hours in enumerate([3, 3, 3, 2, 2]):
        t = utc(2025, 10, 26, 0, 10, i)
        prefix = f"[{t + timedelta(hours=hours):%Y-%m-%d %H:%M:%S},000: INFO/W] "
        lines += sdk_block(0, prefix=prefix, date=http_date(t))
    dst = write(tmp_path / "dst.log", lines)
    res = read_server_logs([dst])
    assert res.files[0].offset_corrected_seconds == 10800.0
    assert res.warnings[1] == (
        f"2 of 5 requests in {dst} still differ from Twilio's Date header by 10 minutes or "
        "more after that correction (a change of zone or of daylight saving time within the "
        "file?)"
    )


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


def test_jsonl_twilio_date_field(tmp_path: Path) -> None:
    def rec(**kw: Any) -> str:
        return json.dumps({"method": "POST", "url": SEND_PATH, **kw})

    lines = [
        rec(timestamp="2026-11-29T14:03:01.200Z", twilio_date="Sun, 29 Nov 2026 14:03:01 GMT"),
        rec(timestamp="2026-11-29T14:03:02Z", twilio_date="Sun, 29 Nov 2026 14:03:02 +0000"),
        rec(timestamp="2026-11-29T14:03:03Z", twilio_date="2026-11-29T14:03:04Z"),
        rec(timestamp="2026-11-29T14:03:05Z", twilio_date="bad"),  # optional: not malformed
        rec(twilio_date="Sun, 29 Nov 2026 14:03:06 GMT"),  # no timestamp: Twilio's clock
        rec(timestamp="2026-11-29T14:03:07Z"),
    ]
    path = write(tmp_path / "app.jsonl", lines)
    res = read_server_logs([path])
    assert rows(res, "time", "twilio_time", "line") == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 200000),
            "twilio_time": utc(2026, 11, 29, 14, 3, 1),
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 2),
            "twilio_time": utc(2026, 11, 29, 14, 3, 2),
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 3),
            "twilio_time": utc(2026, 11, 29, 14, 3, 4),
            "line": 3,
        },
        {"time": utc(2026, 11, 29, 14, 3, 5), "twilio_time": None, "line": 4},
        {
            "time": utc(2026, 11, 29, 14, 3, 6),
            "twilio_time": utc(2026, 11, 29, 14, 3, 6),
            "line": 5,
        },
        {"time": utc(2026, 11, 29, 14, 3, 7), "twilio_time": None, "line": 6},
    ]
    st_ = res.files[0]
    assert (st_.malformed, st_.time_source, st_.offset_corrected_seconds) == (0, "mixed", 0.0)
    # remapped, as epoch seconds
    other = write(
        tmp_path / "other.jsonl",
        [rec(timestamp="2026-11-29T14:03:04Z", hdr_date=1795960984)],
    )
    res = read_server_logs([other], fields={"twilio_date": "hdr_date"})
    assert rows(res, "twilio_time") == [{"twilio_time": utc(2026, 11, 29, 14, 3, 4)}]


def test_jsonl_local_time_corrected_by_twilio_date(tmp_path: Path) -> None:
    lines = [
        json.dumps(
            {
                "timestamp": f"2026-11-29 19:33:{s:02d}.100",  # India, UTC+5:30, no zone
                "method": "POST",
                "url": SEND_PATH,
                "twilio_date": http_date(utc(2026, 11, 29, 14, 3, s)),
            }
        )
        for s in range(4)
    ]
    path = write(tmp_path / "app.jsonl", lines)
    res = read_server_logs([path])
    assert [r["time"] for r in rows(res, "time")] == [
        utc(2026, 11, 29, 14, 3, s, 100000) for s in range(4)
    ]
    assert res.files[0].offset_corrected_seconds == 19800.0
    assert "5 h 30 min ahead of UTC" in res.warnings[0]


# --------------------------------------------------------------------------- more log shapes

ISTIO_EXAMPLE = (
    '[2022-04-26T13:23:57.254Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 2381 31 29 "-" '
    '"curl/7.68.0" "de3bf1b0-9a3f-4a2b-8c7e-0f0b2a1c3d4e" "httpbin:8000" "10.244.0.7:80" '
    "inbound|80|| 127.0.0.6:58069 10.244.0.7:80 10.244.0.1:54190 "
    "outbound_.8000_._.httpbin.default.svc.cluster.local default"
)


def istio_line(
    t: str, method: str, path: str, status: int, flags: str, details: str, dur: str
) -> str:
    return (
        f'[{t}] "{method} {path} HTTP/1.1" {status} {flags} {details} - "-" 512 850 {dur} 140 '
        '"-" "twilio-python/9.3.0 (Linux x86_64) Python/3.11.7" '
        '"0b1c2d3e-aaaa-bbbb-cccc-000000000001" "api.twilio.com" "54.172.60.1:443" '
        "outbound|443||api.twilio.com 10.244.0.9:40122 54.172.60.1:443 10.244.0.9:40120 "
        "api.twilio.com -"
    )


def test_envoy_istio_format(tmp_path: Path) -> None:
    lines = [
        ISTIO_EXAMPLE,
        istio_line("2026-11-29T14:03:01.123Z", "POST", SEND_PATH, 201, "-", "via_upstream", "143"),
        istio_line(
            "2026-11-29T14:03:11.123Z",
            "POST",
            SEND_PATH,
            504,
            "UT",
            "upstream_response_timeout",
            "15001",
        ),
        # Istio before 1.8: mixer status and transport failure reason, both quoted
        f'[2026-11-29T14:03:12.000Z] "POST {SEND_PATH} HTTP/1.1" 201 - "-" "-" 512 850 99 98 '
        '"-" "twilio-python/9.3.0" "0b1c2d3e" "api.twilio.com" "54.172.60.1:443" '
        "outbound|443||api.twilio.com 10.244.0.9:40122 54.172.60.1:443 10.244.0.9:40120 - -",
        # a TLS passthrough (TCP proxy) connection: no method, no path
        '[2026-11-29T14:03:13.000Z] "- - -" 0 - - - "-" 1532 6012 30021 - "-" "-" "-" "-" '
        '"54.172.60.1:443" PassthroughCluster 10.244.0.9:40124 54.172.60.1:443 '
        "10.244.0.9:40122 api.twilio.com -",
    ]
    path = write(tmp_path / "istio.log", lines)
    assert detect_format(path) == "envoy"
    res = read_server_logs([path])
    assert rows(
        res, "time", "method", "path", "status", "duration_ms", "error", "is_send", "line"
    ) == [
        {
            "time": utc(2022, 4, 26, 13, 23, 57, 254000),
            "method": "GET",
            "path": "/",
            "status": 200,
            "duration_ms": 31.0,
            "error": None,
            "is_send": False,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 143.0,
            "error": None,
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 11, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 504,
            "duration_ms": 15001.0,
            "error": "UT",
            "is_send": True,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 12),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 99.0,
            "error": None,
            "is_send": True,
            "line": 4,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 13),
            "method": "CONNECT",
            "path": None,
            "status": None,
            "duration_ms": 30021.0,
            "error": None,
            "is_send": False,
            "line": 5,
        },
    ]
    st_ = res.files[0]
    assert (st_.malformed, st_.sends, st_.tunnels) == (0, 3, 1)
    assert st_.warnings == [
        f"1 line in {path} is a TCP tunnel (CONNECT): this proxy cannot see the paths of HTTPS "
        "calls, so it cannot tell message sends from other calls"
    ]


def test_combined_vhost_and_forwarded_for_chain(tmp_path: Path) -> None:
    ua = '"-" "twilio-python/9.3.0 (Linux x86_64) Python/3.11.7"'
    lines = [
        # vhost_combined: host[:port] before the client address
        f'api.twilio.com:443 10.0.0.5 - - [29/Nov/2026:14:03:01 +0000] "POST {SEND_PATH} '
        f'HTTP/1.1" 201 850 {ua}',
        f'api.twilio.com 10.0.0.5 - bob [29/Nov/2026:14:03:02 +0000] "GET {SEND_PATH} '
        f'HTTP/1.1" 200 90 {ua}',
        # an X-Forwarded-For chain as the first field
        f'10.0.0.2, 10.0.0.1, 127.0.0.1 - - [29/Nov/2026:14:03:03 +0000] "POST {SEND_PATH} '
        f'HTTP/1.1" 201 850 {ua}',
        f'10.0.0.2, 10.0.0.1 - - [29/Nov/2026:15:03:04 +0100] "POST {SEND_PATH} HTTP/1.1" '
        f"500 0 {ua}",
    ]
    path = write(tmp_path / "vhost.log", lines)
    assert detect_format(path) == "combined"
    res = read_server_logs([path])
    assert rows(res, "time", "method", "path", "account_sid", "status", "is_send") == [
        {
            "time": utc(2026, 11, 29, 14, 3, s),
            "method": m,
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": code,
            "is_send": m == "POST",
        }
        for s, m, code in ((1, "POST", 201), (2, "GET", 200), (3, "POST", 201), (4, "POST", 500))
    ]
    assert (res.files[0].malformed, res.files[0].sends, res.warnings) == (0, 3, [])


SEND_PATHS = {
    f"/2010-04-01/Accounts/{ACC}/Messages.json": True,
    f"/2010-04-01/Accounts/{ACC}/Messages": True,  # Twilio's Arduino example
    f"/2010-04-01/Accounts/{ACC}/Messages.xml": True,
    f"/2010-04-01/Accounts/{ACC}/SMS/Messages.json": True,  # legacy resource
    f"/2010-04-01/Accounts/{ACC}/SMS/Messages": True,
    f"/2010-04-01/Accounts/{ACC}/Messages/SM{'1' * 32}.json": False,  # an update
    f"/2010-04-01/Accounts/{ACC}/Messages/SM{'1' * 32}/Media.json": False,
    f"/2010-04-01/Accounts/{ACC}/SMS/Messages/SM{'1' * 32}": False,
    f"/2010-04-01/Accounts/{ACC}/Calls.json": False,
    f"/2010-04-01/Accounts/{ACC}.json": False,
}


@pytest.mark.parametrize("fmt", ["jsonl", "twilio-sdk", "combined", "envoy"])
def test_send_paths_in_every_format(tmp_path: Path, fmt: str) -> None:
    lines: list[str] = []
    for i, p in enumerate(SEND_PATHS):
        if fmt == "jsonl":
            lines.append(
                json.dumps({"timestamp": f"2026-11-29T14:03:{i:02d}Z", "method": "POST", "url": p})
            )
        elif fmt == "twilio-sdk":
            lines += sdk_block(i, path=p)
        elif fmt == "combined":
            lines.append(
                f'10.0.0.1 - - [29/Nov/2026:14:03:{i:02d} +0000] "POST {p} HTTP/1.1" 201 1 "-" "x"'
            )
        else:
            lines.append(envoy_line(f"2026-11-29T14:03:{i:02d}.000Z", "POST", p, 201, "-", "5"))
    res = read_server_logs([write(tmp_path / "x.log", lines)], format=fmt)
    assert rows(res, "path", "account_sid", "is_send") == [
        {"path": p, "account_sid": ACC, "is_send": send} for p, send in SEND_PATHS.items()
    ]
    assert res.files[0].sends == sum(SEND_PATHS.values()) == 5


def test_tunnel_lines_are_rows_never_sends_nor_malformed(tmp_path: Path) -> None:
    connect = (
        '10.0.0.1 - - [29/Nov/2026:14:03:0{s} +0000] "CONNECT api.twilio.com:443 HTTP/1.1" 200 '
        '4211 "-" "python-requests/2.32"'
    )
    lines = [connect.format(s=1), connect.format(s=2), _combined_line(3)]
    path = write(tmp_path / "proxy.log", lines)
    res = read_server_logs([path])
    assert rows(res, "method", "path", "account_sid", "is_send") == [
        {"method": "CONNECT", "path": None, "account_sid": None, "is_send": False},
        {"method": "CONNECT", "path": None, "account_sid": None, "is_send": False},
        {"method": "POST", "path": SEND_PATH, "account_sid": ACC, "is_send": True},
    ]
    st_ = res.files[0]
    assert (st_.requests, st_.malformed, st_.tunnels, st_.sends) == (3, 0, 2, 1)
    assert st_.warnings == [
        f"2 lines in {path} are TCP tunnels (CONNECT): this proxy cannot see the paths of "
        "HTTPS calls, so it cannot tell message sends from other calls"
    ]


def test_unreadable_and_empty_files_are_warned(tmp_path: Path) -> None:
    combined = write(tmp_path / "access.log", [_combined_line(i) for i in range(3)])
    jsonl = write(
        tmp_path / "app.jsonl",
        [json.dumps({"timestamp": "2026-11-29T14:00:00Z", "method": "POST", "url": SEND_PATH})],
    )
    empty = write(tmp_path / "empty.log", [], end="")
    blank = write(tmp_path / "blank.log", ["", "  "])
    res = read_server_logs([combined], format="envoy")
    st_ = res.files[0]
    assert (st_.lines, st_.requests, st_.malformed) == (3, 0, 3)
    assert res.warnings == [f"no line of {combined} could be read as envoy"]
    # the SDK parser ignores foreign lines rather than counting them: still unreadable
    res = read_server_logs([jsonl], format="twilio-sdk")
    assert (res.files[0].malformed, res.warnings) == (
        0,
        [f"no line of {jsonl} could be read as twilio-sdk"],
    )
    res = read_server_logs([empty, blank, combined])
    assert [f.format for f in res.files] == [None, None, "combined"]
    assert res.warnings == [f"{empty} is empty", f"{blank} is empty"]
    assert read_server_logs([empty], format="jsonl").warnings == [f"{empty} is empty"]
    # a readable file with a few bad lines is not "unreadable"
    partly = write(tmp_path / "partly.log", [_combined_line(1), "garbage"])
    res = read_server_logs([partly])
    assert (res.files[0].malformed, res.warnings) == (1, [])


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


def test_truncated_gz_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [_combined_line(i) for i in range(5000)]
    whole = gzip.compress(("\n".join(lines) + "\n").encode())
    path = tmp_path / "proxy.log.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])  # a copy that stopped two thirds in
    res = read_server_logs([path], chunk_lines=500)
    st_ = res.files[0]
    assert 0 < st_.requests < 5000
    assert rows(res, "line")[: st_.requests] == [{"line": i + 1} for i in range(st_.requests)]
    assert st_.malformed >= 1
    assert any(s.reason.startswith("the compressed file ends here") for s in st_.samples)
    assert any("ends early" in w for w in res.warnings)
