"""Benchmark: sliced concurrent export vs the SDK's plain ``messages.stream()``.

Runs the fake Twilio server in a child process (so its JSON encoding does not share
our GIL) with 200k records and 100 ms latency per page, then measures:

1. plain ``client.messages.stream(page_size=1000)`` into an Arrow table (one connection,
   pages one after another, a MessageInstance per record);
2. ``export_messages`` (time slices listed concurrently, raw JSON pages) into a dataset;
3. the per-page cost of reading raw JSON into Arrow vs building MessageInstances,
   on a server without latency.

    python -m benchmarks.bench_export [--records 200000] [--latency 0.1] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from twilio.http.response import Response
from twilio.rest import Client
from twilio.rest.api.v2010.account.message import MessagePage

from analyzer.schema import coerce_messages
from analyzer.sources.twilio_api import Credentials, export_messages, page_to_table
from analyzer.store import read_messages
from tests.fakes.twilio import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    MESSAGE_FIELDS,
    FakeTwilio,
    generate_messages,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
DAYS = 2
#: MessageInstance attributes of the message fields (``from`` is ``from_``).
FIELDS = ["from_" if name == "from" else name for name in MESSAGE_FIELDS]


def _serve(records: int, latency: float, ready: Any, stop: Any) -> None:
    table = generate_messages(
        records, START, START + timedelta(days=DAYS), seed=42, unsent_fraction=0.0, max_send_delay=0
    )
    with FakeTwilio(table, latency=latency) as server:
        ready.put((server.base_url, server.messages().num_rows))
        stop.wait()


class Server:
    """The fake Twilio in a child process."""

    def __init__(self, records: int, latency: float) -> None:
        ctx = mp.get_context("fork")
        self.ready, self.stop = ctx.Queue(), ctx.Event()
        self.proc = ctx.Process(
            target=_serve, args=(records, latency, self.ready, self.stop), daemon=True
        )

    def __enter__(self) -> tuple[str, int]:
        self.proc.start()
        return self.ready.get(timeout=300)

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.proc.join(10)


def _client(base_url: str) -> Client:
    client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
    client.api.base_url = base_url
    return client


def _instances_to_table(instances: list[Any]) -> pa.Table:
    columns = {name.rstrip("_"): [getattr(m, name) for m in instances] for name in FIELDS}
    for name in ("status", "direction"):
        columns[name] = [None if v is None else str(v) for v in columns[name]]
    columns["source"] = ["api"] * len(instances)
    return coerce_messages(pa.table(columns))


def bench_stream(base_url: str) -> tuple[float, int]:
    client = _client(base_url)
    began = time.perf_counter()
    instances = list(
        client.messages.stream(
            date_sent_after=START,
            date_sent_before=START + timedelta(days=DAYS, seconds=-1),
            page_size=1000,
        )
    )
    table = _instances_to_table(instances)
    return time.perf_counter() - began, table.num_rows


def bench_export(base_url: str, concurrency: int) -> tuple[float, int, int]:
    folder = Path(tempfile.mkdtemp())
    try:
        began = time.perf_counter()
        result = export_messages(
            folder / "ds",
            START.date(),
            (START + timedelta(days=DAYS - 1)).date(),
            credentials=Credentials(ACCOUNT_SID, AUTH_TOKEN),
            api_base_url=base_url,
            concurrency=concurrency,
            now=START + timedelta(days=30),
        )
        elapsed = time.perf_counter() - began
        assert read_messages(folder / "ds").num_rows == result.records
        return elapsed, result.records, result.pages
    finally:
        shutil.rmtree(folder)


def bench_parsing(base_url: str) -> tuple[float, float, int]:
    """Seconds to read every page sequentially: raw JSON -> Arrow, and SDK -> MessageInstance."""
    client = _client(base_url)
    url = f"{base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    bodies: list[bytes] = []
    next_url: str | None = url
    params: dict[str, object] | None = {"PageSize": 1000}
    while next_url:
        text = client.request("GET", next_url, params=params).text
        bodies.append(text.encode())
        _, nxt = page_to_table(bodies[-1])
        next_url, params = (base_url + nxt if nxt else None), None

    began = time.perf_counter()
    raw_rows = sum(page_to_table(body)[0].num_rows for body in bodies)
    raw = time.perf_counter() - began

    version = client.api.v2010
    began = time.perf_counter()
    sdk_rows = 0
    for body in bodies:
        page = MessagePage(version, Response(200, body.decode()), {"account_sid": ACCOUNT_SID})
        sdk_rows += _instances_to_table(list(page)).num_rows
    sdk = time.perf_counter() - began
    assert raw_rows == sdk_rows
    return raw, sdk, raw_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    print(
        f"fake Twilio: {args.records:,} records over {DAYS} days, "
        f"{args.latency * 1000:.0f} ms per page, page size 1000"
    )
    with Server(args.records, args.latency) as (base_url, held):
        stream_s, stream_n = bench_stream(base_url)
        print(
            f"  SDK messages.stream():        {stream_s:7.2f} s  {stream_n:>8,} records  "
            f"{stream_n / stream_s:>9,.0f} rec/s"
        )
        results = {}
        for concurrency in sorted({4, args.concurrency, 16}):
            export_s, export_n, pages = bench_export(base_url, concurrency)
            results[concurrency] = export_s
            print(
                f"  export_messages (conc. {concurrency:>2}):  {export_s:7.2f} s  "
                f"{export_n:>8,} records  {export_n / export_s:>9,.0f} rec/s  {pages} pages"
            )
            assert export_n == stream_n, (export_n, stream_n)
        print(
            f"  speed-up at concurrency {args.concurrency}: "
            f"{stream_s / results[args.concurrency]:.1f}x"
        )
    with Server(args.records, 0.0) as (base_url, _):
        raw_s, sdk_s, rows = bench_parsing(base_url)
    print(f"page parsing without latency ({rows:,} records):")
    print(f"  raw JSON -> Arrow:            {raw_s:7.2f} s  {rows / raw_s:>9,.0f} rec/s")
    print(f"  SDK MessageInstance -> Arrow: {sdk_s:7.2f} s  {rows / sdk_s:>9,.0f} rec/s")
    print(f"  raw JSON is {sdk_s / raw_s:.1f}x faster")


if __name__ == "__main__":
    main()
