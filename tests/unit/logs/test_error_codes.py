"""Twilio error codes of refused requests, in every log format that carries them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from analyzer.errors import UserError
from analyzer.logs import parse_field_map, read_server_logs
from tests.unit.logs.samples import (
    ACC,
    SEND_PATH,
    nth_combined_line,
    nth_envoy_line,
    rows,
    sdk_block,
    write,
)


def _jsonl(status: int, **extra: object) -> str:
    record = {"timestamp": "2026-11-29T14:03:01Z", "method": "POST", "url": SEND_PATH}
    return json.dumps({**record, "status": status, **extra})


def test_jsonl_error_code_field_and_its_fallback(tmp_path: Path) -> None:
    lines = [_jsonl(201) for _ in range(250)] + [
        _jsonl(400, error_code=21211),
        _jsonl(400, error_code="21610"),
        _jsonl(429, twilio_error_code=20429),
        _jsonl(400, error_code=21408, twilio_error_code=99999),
        _jsonl(400, error_code="n/a"),
        _jsonl(400, error_code=None),
    ]
    path = write(tmp_path / "app.jsonl", lines)
    got = rows(read_server_logs([path]), "status", "twilio_error_code")
    assert got[:250] == [{"status": 201, "twilio_error_code": None}] * 250
    assert got[250:] == [
        {"status": 400, "twilio_error_code": 21211},
        {"status": 400, "twilio_error_code": 21610},
        {"status": 429, "twilio_error_code": 20429},
        # error_code wins over the fallback field
        {"status": 400, "twilio_error_code": 21408},
        {"status": 400, "twilio_error_code": None},
        {"status": 400, "twilio_error_code": None},
    ]


def test_jsonl_error_code_field_is_remapped(tmp_path: Path) -> None:
    lines = [
        _jsonl(400, code=21211, error_code=1, twilio_error_code=2),
        _jsonl(400, error_code=21610),
    ]
    path = write(tmp_path / "app.jsonl", lines)
    fields = parse_field_map(["twilio_error_code=code"])
    assert fields == {"twilio_error_code": "code"}
    res = read_server_logs([path], format="jsonl", fields=fields)
    # Remapped: only the named field is read, never the fallback.
    assert rows(res, "twilio_error_code") == [
        {"twilio_error_code": 21211},
        {"twilio_error_code": None},
    ]
    with pytest.raises(UserError, match="unknown jsonl field"):
        parse_field_map(["error_kode=code"])


def test_sdk_error_code_header(tmp_path: Path) -> None:
    refused = sdk_block(2, status=400)
    refused[-1] = refused[-1].replace(
        "'Twilio-Request-Id'", "'X-Twilio-Error-Code': '21211', 'Twilio-Request-Id'"
    )
    throttled = sdk_block(3, status=429)
    throttled[-1] = throttled[-1].replace("'Content-Type'", "'x-twilio-error-code': '20429', 'C'")
    lines = sdk_block(1) + refused + throttled + sdk_block(4, status=None)
    res = read_server_logs([write(tmp_path / "sdk.log", lines)])
    assert res.files[0].format == "twilio-sdk"
    assert rows(res, "status", "twilio_error_code", "is_send") == [
        {"status": 201, "twilio_error_code": None, "is_send": True},
        {"status": 400, "twilio_error_code": 21211, "is_send": True},
        {"status": 429, "twilio_error_code": 20429, "is_send": True},
        {"status": None, "twilio_error_code": None, "is_send": True},
    ]


def test_sdk_pre_2022_error_body_code(tmp_path: Path) -> None:
    pre = "[2026-11-29T14:03:01.500+00:00] twilio.http_client INFO "
    error = json.dumps(
        {"code": 21610, "message": "Attempt to send to unsubscribed recipient", "status": 400}
    )
    created = json.dumps({"sid": "SM" + "d" * 32, "error_code": 30007, "status": "queued"})
    lines = [
        pre + f"POST Request: https://api.twilio.com{SEND_PATH}",
        pre + "PAYLOAD: {'To': '+15551230002', 'Body': 'x'}",
        pre + f"POST Response: 400 {error}",
        pre + f"POST Request: https://api.twilio.com{SEND_PATH}",
        pre + "PAYLOAD: {'To': '+15551230003', 'Body': 'x'}",
        pre + f"POST Response: 201 {created}",
    ]
    res = read_server_logs([write(tmp_path / "old.log", lines)])
    assert rows(res, "status", "to", "twilio_error_code") == [
        {"status": 400, "to": "+15551230002", "twilio_error_code": 21610},
        # a created record's error_code is the record's, not the request's
        {"status": 201, "to": "+15551230003", "twilio_error_code": None},
    ]


@pytest.mark.parametrize("line", [nth_combined_line, nth_envoy_line])
def test_access_logs_carry_no_error_code(tmp_path: Path, line: Callable[[int], str]) -> None:
    path = write(tmp_path / "access.log", [line(i) for i in range(5)])
    res = read_server_logs([path])
    assert res.requests.num_rows == 5
    assert res.requests["twilio_error_code"].null_count == 5
    assert res.requests["account_sid"].to_pylist() == [ACC] * 5
