"""Reading logs with a RowFilter: the rows kept are the whole read's, times corrected and
placed as in the whole file, and the timeline still counts every row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from analyzer.logs import TIMELINE_SCHEMA, LogParseResult, read_server_logs, timeline_of
from tests.unit.logs.samples import BARE, http_date, sdk_block, utc, write

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


class EveryOther:
    """Keeps every other row of the file (counting across chunks), and records the
    chunks it saw."""

    def __init__(self) -> None:
        self.seen = 0
        self.chunks = 0

    def __call__(self, chunk: pa.Table) -> np.ndarray:
        rows = np.arange(self.seen, self.seen + chunk.num_rows)
        self.seen += chunk.num_rows
        self.chunks += 1
        return rows % 2 == 0


def _local_time_log(tmp_path: Path) -> Path:
    """A Celery log written 3 h ahead of UTC, its first blocks without a Date header."""
    lines: list[str] = []
    for i in range(9):
        t = utc(2025, 11, 20, 13, 10, 10 + i)
        prefix = f"[{t + timedelta(hours=3):%Y-%m-%d %H:%M:%S},000: INFO/ForkPoolWorker-1] "
        lines += sdk_block(0, prefix=prefix, date=None if i < 3 else http_date(t))
    return write(tmp_path / "celery.log", lines)


def _untimed_log(tmp_path: Path) -> Path:
    """A basicConfig log: no line times, one attempt without an answer to place."""
    lines: list[str] = []
    for i in range(6):
        date = None if i == 3 else http_date(utc(2026, 4, 8, 9, 4, 8 + i))
        lines += sdk_block(0, prefix=BARE, date=date, status=None if i == 3 else 201)
    return write(tmp_path / "basic.log", lines)


def _logs(tmp_path: Path, small: bool = False) -> list[Path]:
    """Every format of the sample (only its first lines when ``small``), and logs whose
    times are corrected and placed over the whole file."""
    sample = sorted(SAMPLE.glob("server_requests*")) + sorted(SAMPLE.glob("app_requests*"))
    if small:
        sample = [
            write(tmp_path / f"head-{p.name}", p.read_text().splitlines()[:300]) for p in sample
        ]
    return [*sample, _local_time_log(tmp_path), _untimed_log(tmp_path)]


@pytest.mark.parametrize("chunk_lines", [7, 200_000])
def test_kept_rows_are_the_whole_reads_rows(tmp_path: Path, chunk_lines: int) -> None:
    for path in _logs(tmp_path, small=chunk_lines < 100):
        whole = read_server_logs([path], chunk_lines=chunk_lines)
        keep = EveryOther()
        part = read_server_logs([path], chunk_lines=chunk_lines, keep=keep)
        n = whole.requests.num_rows
        assert keep.seen == n and (chunk_lines > 7 or n < 10 or keep.chunks > 1), path
        mask = pa.array(np.arange(n) % 2 == 0)
        assert part.requests.equals(whole.requests.filter(mask)), path
        assert part.timeline.drop_columns(["kept"]).equals(
            whole.timeline.drop_columns(["kept"])
        ), path
        assert part.timeline["kept"].to_pylist() == mask.to_pylist()
        assert part.complete is (n < 2) and whole.complete
        assert [vars(f) for f in part.files] == [vars(f) for f in whole.files], path


def test_the_timeline_of_a_whole_read(tmp_path: Path) -> None:
    paths = _logs(tmp_path)
    whole = read_server_logs(paths)
    assert whole.timeline.schema == TIMELINE_SCHEMA
    assert whole.timeline.equals(timeline_of(whole.requests))
    rebuilt = LogParseResult(requests=whole.requests, files=whole.files)
    assert rebuilt.timeline is not None and rebuilt.timeline.equals(whole.timeline)
    placed = read_server_logs([_untimed_log(tmp_path)])
    assert placed.timeline["time_max"].null_count == placed.timeline.num_rows - 1
    corrected = read_server_logs([_local_time_log(tmp_path)])
    assert corrected.files[0].offset_corrected_seconds == 10800.0
    assert corrected.timeline["time"].to_pylist()[0] == utc(2025, 11, 20, 13, 10, 10)


def test_a_filter_that_keeps_nothing_still_counts_every_request(tmp_path: Path) -> None:
    path = SAMPLE / "server_requests.jsonl"
    whole = read_server_logs([path])
    none = read_server_logs([path], keep=lambda chunk: np.zeros(chunk.num_rows, dtype=bool))
    assert none.requests.num_rows == 0 and not none.complete
    assert none.timeline.num_rows == whole.requests.num_rows
    assert none.sends == whole.sends and none.lines == whole.lines
