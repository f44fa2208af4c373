"""Tests of reading files: globs, gzip, chunks, detection, input errors, warnings."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from analyzer.errors import InputError, UserError
from analyzer.logs import detect_format, read_server_logs
from tests.unit.logs.samples import (
    SEND_PATH,
    nth_combined_line,
    nth_envoy_line,
    rows,
    sdk_block,
    write,
)


def test_chunking_does_not_change_results(tmp_path: Path) -> None:
    # large enough to cross several 64 KiB read blocks (the smallest) with chunk_lines=250
    sdk = [line for i in range(400) for line in sdk_block(i % 60, rid=f"RQ{i:032x}")]
    combined = [nth_combined_line(i) for i in range(3000)]
    for name, lines in (("sdk.log", sdk), ("combined.log", combined)):
        path = write(tmp_path / name, lines)
        small = read_server_logs([path], chunk_lines=250)
        big = read_server_logs([path])
        assert small.requests.equals(big.requests)
        assert small.files[0].lines == big.files[0].lines == len(lines)
        assert big.requests.num_rows in (400, 3000)


def test_gz_globs_and_multiple_files(tmp_path: Path) -> None:
    write(tmp_path / "a-1.log.gz", [nth_combined_line(1), nth_combined_line(2)], gz=True)
    write(tmp_path / "a-2.log", [nth_combined_line(3)])
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
        "combined": [nth_combined_line(1)],
        "envoy": [nth_envoy_line(1)],
    }
    for fmt, lines in cases.items():
        assert detect_format(write(tmp_path / f"{fmt}.log", ["", *lines])) == fmt
    old = write(tmp_path / "old.log", [f"x POST Request: https://api.twilio.com{SEND_PATH}"])
    assert detect_format(old) == "twilio-sdk"


def test_unreadable_and_empty_files_are_warned(tmp_path: Path) -> None:
    combined = write(tmp_path / "access.log", [nth_combined_line(i) for i in range(3)])
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
    partly = write(tmp_path / "partly.log", [nth_combined_line(1), "garbage"])
    res = read_server_logs([partly])
    assert (res.files[0].malformed, res.warnings) == (1, [])


def test_truncated_gz_keeps_what_was_read(tmp_path: Path) -> None:
    lines = [nth_combined_line(i) for i in range(5000)]
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
