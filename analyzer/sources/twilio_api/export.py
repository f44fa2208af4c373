"""Exporting a range of messages: checks, planning, concurrent listing of the slices and
writing days as they complete."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from analyzer.errors import UserError
from analyzer.sources.twilio_api.credentials import (
    DEFAULT_BASE_URL,
    Credentials,
    check_api_base_url,
)
from analyzer.sources.twilio_api.day_buffer import DayBuffer
from analyzer.sources.twilio_api.fetcher import Counters, Fetcher, RetryPolicy
from analyzer.sources.twilio_api.folders import (
    check_output_folder,
    missing_folders,
    remove_created_folders,
)
from analyzer.sources.twilio_api.listing import fetch_slice, list_accounts
from analyzer.sources.twilio_api.result import ExportResult
from analyzer.sources.twilio_api.slicing import auto_slice, plan_slices, to_utc
from analyzer.store import dataset_lock

Slice = tuple[int, int]


def export_messages(
    dataset: str | Path,
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    credentials: Credentials,
    api_base_url: str | None = None,
    concurrency: int = 8,
    slice_hours: float | None = None,
    lag: timedelta = timedelta(minutes=15),
    include_subaccounts: bool = False,
    page_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    flush_grace: timedelta = timedelta(hours=1),
) -> ExportResult:
    """Export the messages whose date_sent lies in [start, end] into ``dataset``.

    ``start``/``end`` are inclusive UTC days or UTC timestamps; the end is clamped to
    ``now - lag`` because the newest records are not listed yet. Records are upserted
    by sid, so exporting a range again only brings in what changed. ``progress`` is
    called (serialised, from worker threads) with the running count of records fetched.
    ``slice_hours`` (default: chosen from the range and ``concurrency``) sets how the
    range is cut for concurrent listing; a day is written once every slice up to
    ``flush_grace`` past its end is done.

    The base URL and the dataset folder are checked before any request (UserError).
    Transient failures are retried (see RetryPolicy), each new backoff step logged at
    INFO on this package's logger. An export that fails removes the dataset folder (and
    parents) it created, as long as nothing but the lock file is in it.
    """
    _check_limits(page_size, concurrency)
    base_url = check_api_base_url(api_base_url or DEFAULT_BASE_URL, [credentials.secret])
    root = Path(dataset)
    check_output_folder(root, "dataset", parents=True)
    began = time.monotonic()
    first_dt, last_dt, slices = _plan(start, end, now, lag, slice_hours, concurrency)
    counters, stop = Counters(), threading.Event()
    fetcher = Fetcher(credentials, base_url, retry or RetryPolicy(), counters, stop)
    result = ExportResult(
        accounts=[credentials.account_sid],
        start=first_dt,
        end=last_dt if slices else None,
        slices=len(slices),
    )
    created = missing_folders(root)
    with dataset_lock(root, blocking=False):
        try:
            if include_subaccounts:
                result.accounts = list_accounts(fetcher)
            buffer = DayBuffer(root, result, int(flush_grace.total_seconds()))
            _run(fetcher, result.accounts, slices, page_size, concurrency, progress, buffer)
        except BaseException:
            # A failed first export leaves no empty dataset (with only its lock) behind.
            remove_created_folders(created)
            raise
        finally:
            _add_totals(result, counters, began)
    return result


def _check_limits(page_size: int, concurrency: int) -> None:
    if not 1 <= page_size <= 1000:
        raise UserError("page size must be between 1 and 1000")
    if concurrency < 1:
        raise UserError("concurrency must be at least 1")


def _add_totals(result: ExportResult, counters: Counters, began: float) -> None:
    """What the workers counted, and how long the export took (``began``: monotonic)."""
    result.fetched, result.pages = counters.fetched, counters.pages
    result.retries = counters.retries
    result.elapsed = time.monotonic() - began


def _plan(
    start: date | datetime | str,
    end: date | datetime | str,
    now: datetime | None,
    lag: timedelta,
    slice_hours: float | None,
    concurrency: int,
) -> tuple[datetime, datetime, list[Slice]]:
    """The range's first and last moments (the end clamped to ``now - lag``) and its slices."""
    first_dt = to_utc(start, end=False)
    last_dt = to_utc(end, end=True)
    if last_dt < first_dt:
        raise UserError(f"the end ({last_dt:%Y-%m-%d %H:%M:%S}) is before the start")
    limit = to_utc(now or datetime.now(UTC), end=False) - lag
    last_dt = min(last_dt, limit)
    first, last = int(first_dt.timestamp()), int(last_dt.timestamp())
    step = (
        max(1, round(slice_hours * 3600)) if slice_hours else auto_slice(first, last, concurrency)
    )
    return first_dt, last_dt, plan_slices(first, last, step)


def _run(
    fetcher: Fetcher,
    accounts: Sequence[str],
    slices: Sequence[Slice],
    page_size: int,
    concurrency: int,
    progress: Callable[[int], None] | None,
    buffer: DayBuffer,
) -> None:
    left = {i: len(accounts) for i in range(len(slices))}
    tasks: Iterator[tuple[int, str]] = (
        (i, account) for i in range(len(slices)) for account in accounts
    )
    running: dict[Future[pa.Table], int] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="twilio-export") as pool:
        try:
            # Submit lazily, oldest slices first, so days complete in order.
            for _ in range(concurrency * 2):
                _submit(pool, fetcher, tasks, slices, page_size, progress, running)
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    buffer.add(future.result())
                    left[index] -= 1
                    if left[index] == 0:
                        del left[index]
                    _submit(pool, fetcher, tasks, slices, page_size, progress, running)
                frontier = slices[min(left)][0] if left else float("inf")
                buffer.flush(frontier)
        except BaseException:
            fetcher.stop.set()
            for future in running:
                future.cancel()
            raise


def _submit(
    pool: ThreadPoolExecutor,
    fetcher: Fetcher,
    tasks: Iterator[tuple[int, str]],
    slices: Sequence[Slice],
    page_size: int,
    progress: Callable[[int], None] | None,
    running: dict[Future[pa.Table], int],
) -> None:
    task = next(tasks, None)
    if task is None:
        return
    index, account = task
    lo, hi = slices[index]
    future = pool.submit(fetch_slice, fetcher, account, lo, hi, page_size, progress)
    running[future] = index
