"""Tests of the jsonl format: JSON-lines application logs."""

from __future__ import annotations

import json
import random
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.errors import UserError
from analyzer.logs import REQUEST_SCHEMA, LogParseResult, read_server_logs
from tests.unit.logs.samples import ACC, HYPO, SEND_PATH, http_date, rows, utc, write

#: Valid lines in several shapes, a blank line, and lines to skip or count as malformed.
KNOWN_LINES = [
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


def read_known_lines(tmp_path: Path) -> LogParseResult:
    """KNOWN_LINES read as a jsonl log of a Berlin server."""
    return read_server_logs([write(tmp_path / "app.jsonl", KNOWN_LINES)], log_tz="Europe/Berlin")


def test_jsonl_known_lines_exact(tmp_path: Path) -> None:
    res = read_known_lines(tmp_path)
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
        "twilio_error_code": None,
        "duration_ms": None,
        "user_agent": None,
        "from": None,
        "message_status": None,
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


def test_jsonl_known_lines_counted(tmp_path: Path) -> None:
    res = read_known_lines(tmp_path)
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
    code = draw(st.one_of(st.none(), st.sampled_from([21211, 20429, 30007])))
    code_json: Any = code
    if code is not None and draw(st.booleans()):
        code_json = str(code)
    code_field = draw(st.sampled_from(["error_code", "twilio_error_code"]))
    # Requests the application receives are often logged by path, with what Twilio sent.
    url_field = draw(st.sampled_from(["url", "path"]))
    agent = draw(st.sampled_from([None, "TwilioProxy/1.1", "kube-probe/1.29"]))
    sender = draw(st.one_of(st.none(), st.from_regex(r"\+4479[0-9]{8}", fullmatch=True)))
    message_status = draw(st.sampled_from([None, "sent", "delivered", "undelivered"]))
    rec = {
        "timestamp": ts,
        "method": method,
        url_field: url + query,
        "user_agent": agent,
        "from": sender,
        "message_status": message_status,
        "status": status_json,
        "to": to,
        "message_sid": f"SM{i:032x}",
        "duration_ms": dur,
        code_field: code_json,
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
        "twilio_error_code": code,
        "user_agent": agent,
        "from": sender,
        "message_status": message_status,
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
