"""The jobs read only the request rows their analyses need, and read the logs again
whole when the cross-reference needs every row."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.analyses import AnalysisInput
from analyzer.duplicates.crossref import LogScope, cross_reference
from analyzer.duplicates.crossref.skew import SKEW_SAMPLE
from analyzer.duplicates.detect import find_duplicates
from analyzer.failures import refused_posts, rejected_requests
from analyzer.inbound import not_sends, received_requests
from analyzer.logs import read_server_logs
from analyzer.options import LogOptions
from analyzer.pipeline import run_detect
from analyzer.schema import coerce_messages

T0 = datetime(2026, 11, 29, tzinfo=UTC)
URL = "https://api.twilio.com/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
#: More POSTs than the plan samples, so that the scope has rows to leave out.
N = SKEW_SAMPLE + 3_000


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A day of records (one duplicate cluster at the end) and its JSON-lines log, with
    refused POSTs and requests that are not POSTs."""
    folder = tmp_path_factory.mktemp("day")
    at = [T0 + timedelta(milliseconds=100 * i) for i in range(N)]
    to = [f"+1555{i:07d}" for i in range(N - 2)] + ["+14440000001"] * 2
    sids = [f"SM{i:032x}" for i in range(N)]
    bodies = [f"message {i}" for i in range(N - 2)] + ["twice"] * 2
    created = [t.replace(microsecond=0) for t in at[:-1]] + [at[-2].replace(microsecond=0)]
    messages = pa.table(
        {
            "sid": sids,
            "to": to,
            "body": bodies,
            "direction": ["outbound-api"] * N,
            "status": ["delivered"] * N,
            "date_created": created,
        }
    )
    pq.write_table(coerce_messages(messages, fill_missing=True), folder / "messages.parquet")
    lines = []
    for i in range(N):
        stamp = (at[i] - timedelta(milliseconds=400)).isoformat().replace("+00:00", "Z")
        status, sid = (400, None) if i % 1000 == 7 else (201, sids[i])
        line = {"timestamp": stamp, "method": "POST", "url": URL, "status": status}
        lines.append(json.dumps(line | {"to": to[i], "message_sid": sid}))
        if i % 5000 == 0:
            lines.append(json.dumps({"timestamp": stamp, "method": "GET", "url": "/health"}))
    (folder / "app.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "messages.parquet", folder / "app.jsonl"


def _whole(source: Path, logs: list[Path]) -> pa.Table:
    """Every cluster judged from the whole logs."""
    messages = pq.read_table(source)
    clusters = find_duplicates(messages).clusters
    whole = read_server_logs(logs)
    formats = {f.path: f.format for f in whole.files}
    return cross_reference(clusters, whole.requests, messages, formats=formats).clusters


def test_detect_keeps_only_the_rows_the_clusters_need(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    source, log = day
    run = run_detect(source, tmp_path, server_logs=[log])
    assert run.logs is not None and run.crossref is not None
    assert not run.logs.complete
    # The plan's sample, the POSTs without a SID and the cluster's: not the other 2,000.
    assert run.logs.requests.num_rows < SKEW_SAMPLE + 400
    assert run.logs.timeline.num_rows == N + N // 5000 + 1
    assert run.crossref.clusters.equals(_whole(source, [log]))
    assert run.crossref.sends["accepted"] == N - N // 1000


def test_detect_reads_the_logs_again_when_a_log_is_matched_by_time(
    day: tuple[Path, Path], tmp_path: Path
) -> None:
    source, log = day
    # A proxy's lines name no recipient: any of its POSTs could have made any record.
    proxy = tmp_path / "proxy.log"
    proxy.write_text(
        '10.0.0.1 - - [29/Nov/2026:00:00:05 +0000] "POST /2010-04-01/Accounts/AC'
        + "0" * 32
        + '/Messages.json HTTP/1.1" 201 812 "-" "twilio-python/9.13.0"\n'
    )
    run = run_detect(source, tmp_path / "out", server_logs=[log, proxy])
    assert run.logs is not None and run.crossref is not None
    assert run.logs.complete
    assert run.crossref.clusters.equals(_whole(source, [log, proxy]))


def test_a_job_keeps_the_rows_its_other_analyses_read(day: tuple[Path, Path]) -> None:
    source, log = day
    messages = pq.read_table(source)
    clusters = find_duplicates(messages).clusters
    given = AnalysisInput(
        source, logs=LogOptions.of([log]), log_rows=(refused_posts, not_sends)
    )
    logs = given.parsed_logs(LogScope(clusters, messages))
    whole = read_server_logs([log])
    assert not logs.complete
    assert rejected_requests(logs.requests, posts=logs.sends) == rejected_requests(
        whole.requests
    )
    part, every = received_requests(logs.requests), received_requests(whole.requests)
    assert part is not None and every is not None
    assert part.requests.equals(every.requests) and len(part.requests) == N // 5000 + 1
    # Without the other analyses' rows, the same scope keeps fewer.
    alone = AnalysisInput(source, logs=LogOptions.of([log]), log_rows=())
    fewer = alone.parsed_logs(LogScope(clusters, messages)).requests.num_rows
    assert fewer < logs.requests.num_rows
