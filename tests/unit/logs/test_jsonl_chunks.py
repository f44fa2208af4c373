"""Tests of reading JSON lines chunk by chunk (issue 16): the first chunk, read on every
core, and the others give the rows a line-by-line reading gives."""

from __future__ import annotations

import json
from pathlib import Path

from analyzer.logs import read_server_logs
from tests.unit.logs.samples import SEND_PATH, write


def _record(i: int) -> str:
    record: dict[str, object] = {
        "timestamp": f"2026-11-29T10:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "method": "POST" if i % 3 else "get",
        "url": f"https://api.twilio.com{SEND_PATH}" if i % 5 else "/sms/status",
        "status": 201 if i % 7 else 503,
        "to": f"+1555{i:07d}",
        "duration_ms": i % 9 * 10.5,
        "pad": "x" * (i % 300),
    }
    if i % 997 == 0:
        record["error"] = "ReadTimeout"  # a field first seen after the types are learnt
    return json.dumps(record)


def test_chunks_read_alike_whatever_their_size(tmp_path: Path) -> None:
    # 600 KB: one chunk read on several threads, or many small ones read one by one.
    lines = [_record(i) for i in range(1, 3000)]
    path = write(tmp_path / "app.jsonl", lines)
    whole = read_server_logs([path], chunk_lines=200_000)
    for chunk_lines in (1000, 7):
        small = read_server_logs([path], chunk_lines=chunk_lines)
        # Values alike (the dictionaries of path and account differ chunk by chunk).
        assert small.requests.to_pylist() == whole.requests.to_pylist()
        assert small.files[0].lines == whole.files[0].lines == len(lines)
    assert whole.requests.num_rows == len(lines)
    assert whole.requests["error"].drop_null().to_pylist() == ["ReadTimeout"] * 3


def test_a_chunk_with_a_blank_or_doubled_line_keeps_its_line_numbers(tmp_path: Path) -> None:
    lines = [_record(i) for i in range(1, 400)]
    lines[100] = ""  # the reader would skip it...
    lines[200] = _record(1000) + " " + _record(1001)  # ...and count two rows here
    path = write(tmp_path / "app.jsonl", lines)
    result = read_server_logs([path])
    numbers = result.requests["line"].to_pylist()
    assert 101 not in numbers and numbers[:3] == [1, 2, 3] and numbers[-1] == 399
    assert result.files[0].malformed == 1 and result.files[0].samples[0].line == 201


def test_chunks_of_blank_lines_first(tmp_path: Path) -> None:
    # Chunks of blank lines, prepared at the same time as the next ones: these wait for
    # the types learnt from the first chunk with a record, and read what a file without
    # the blank lines reads.
    records = [_record(i) for i in range(1, 300)]
    blank = write(tmp_path / "blank-first.jsonl", [""] * 40 + records)
    plain = write(tmp_path / "plain.jsonl", records)
    for chunk_lines in (3, 200_000):
        got = read_server_logs([blank], chunk_lines=chunk_lines)
        want = read_server_logs([plain], chunk_lines=chunk_lines)
        assert got.files[0].lines == want.files[0].lines + 40
        lines = want.requests["line"].to_pylist()
        assert got.requests["line"].to_pylist() == [n + 40 for n in lines]
        assert got.requests.drop_columns(["line", "source_file"]).to_pylist() == (
            want.requests.drop_columns(["line", "source_file"]).to_pylist()
        )
