"""Properties every format has: truncated and garbage lines, send paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from analyzer.logs import REQUEST_SCHEMA, read_server_logs
from tests.unit.logs.samples import (
    ACC,
    HYPO,
    SEND_PATH,
    envoy_line,
    nth_combined_line,
    nth_envoy_line,
    rows,
    sdk_block,
    write,
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
        "combined": nth_combined_line,
        "envoy": nth_envoy_line,
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
