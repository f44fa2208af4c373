"""Writing a simulation's file set, in bounded chunks, put in place all together."""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.atomic import AtomicFileSet, atomic_file_set, atomic_path, write_parquet
from analyzer.errors import UserError
from analyzer.results import CONFIG_DIR
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.simulate.account_config import AccountConfig, account_config
from analyzer.simulate.app_log import (
    APP_LOG_FILES,
    AppLog,
    app_log_chunk,
    describe_app_log,
    plan_app_log,
)
from analyzer.simulate.config import SCENARIOS, SimulationConfig, log_formats
from analyzer.simulate.failures import describe_failures
from analyzer.simulate.messages import message_chunk
from analyzer.simulate.optout_truth import describe_optouts
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.plan import Plan, build_plan
from analyzer.simulate.request_table import SDK_RECORD_COLUMNS, request_chunk, request_table
from analyzer.simulate.text import write_text
from analyzer.simulate.truth import METADATA_FILE, complaints, describe, listed_files, truth_chunk
from analyzer.simulate.writers import LOG_FORMATS, PARSER_FORMATS, log_file_name, render
from analyzer.simulate.writers.twilio_sdk import TWILIO_SDK_LEGACY
from analyzer.store import write_messages
from analyzer.vocabulary import LogFormat

#: Rows per written chunk (Parquet row group, JSON-lines batch).
CHUNK_ROWS = 1_000_000

Progress = Callable[[int, int], None]


@dataclass
class _Progress:
    """Tells the caller how many of the records and log lines are written."""

    report: Progress | None
    total: int
    done: int = 0

    def add(self, count: int) -> None:
        """Count ``count`` more written, and tell the caller."""
        self.done += count
        if self.report is not None:
            self.report(self.done, self.total)


@dataclass
class SimulationResult:
    """Paths written and what was planted."""

    messages_path: Path
    requests_path: Path
    truth_path: Path
    complaints_path: Path
    metadata_path: Path
    records: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    log_lines: int = 0
    complaints: int = 0
    #: Every request log written, by format (jsonl included).
    request_logs: dict[str, Path] = field(default_factory=dict)
    #: The account's configuration files (CONFIG_DIR beside the messages).
    config_paths: list[Path] = field(default_factory=list)
    #: The application's ingress log (Twilio's requests to it), by format.
    app_logs: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """Every file written."""
        extra = [p for fmt, p in self.request_logs.items() if fmt != LogFormat.JSONL]
        return [
            self.messages_path,
            self.requests_path,
            *extra,
            *self.app_logs.values(),
            self.truth_path,
            self.complaints_path,
            self.metadata_path,
        ]


def simulate(
    out_dir: str | Path,
    config: SimulationConfig,
    progress: Progress | None = None,
    dataset: str | Path | None = None,
) -> SimulationResult:
    """Simulate the configured days and write messages, request logs, the application's
    ingress log, truth, complaints and metadata into ``out_dir`` (created if missing).
    Deterministic for a seed.

    With ``dataset``, the messages are also stored in that message dataset (as
    ``analyzer export`` would), for ``nightly --no-export`` or ``detect --start/--end``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory")
    rng = np.random.default_rng(config.seed)
    plan, numbers, sids = build_plan(config, rng)
    account = account_config(config, plan, numbers, sids)
    app = plan_app_log(config, plan, numbers, account) if config.app_log else None
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror}") from exc
    result = SimulationResult(
        messages_path=out / "messages.parquet",
        requests_path=out / log_file_name(LogFormat.JSONL),
        truth_path=out / "truth.parquet",
        complaints_path=out / "complaints.csv",
        metadata_path=out / METADATA_FILE,
        records=plan.counts,
        groups={s: plan.groups[s] for s in SCENARIOS},
        log_lines=int(plan.line_ms.size),
    )
    total = plan.n + plan.line_ms.size + (0 if app is None else app.size)
    step = _Progress(progress, total)
    # An interrupted run into a folder that holds an older set leaves it whole.
    with atomic_file_set(obsolete=[*listed_files(out), *_listed_app_logs(out)]) as files:
        _write_records(plan, numbers, sids, result, files, step)
        _write_logs(config, plan, numbers, sids, result, files, step)
        if app is not None:
            _write_app_logs(app, plan, numbers, config.seed, result, files, step)
        _write_account_config(account, result, files)
        _write_complaints_and_description(
            config, plan, numbers, sids, rng, result, files, account, app
        )
    if dataset is not None:
        messages = pq.ParquetFile(result.messages_path)
        for group in range(messages.num_row_groups):
            write_messages(dataset, messages.read_row_group(group))
        folder = Path(dataset) / CONFIG_DIR
        folder.mkdir(exist_ok=True)
        for name, table in account.tables.items():
            write_parquet(table, folder / name)
    return result


def _write_account_config(
    account: AccountConfig, result: SimulationResult, files: AtomicFileSet
) -> None:
    """Write the account's configuration into CONFIG_DIR beside the messages."""
    folder = result.messages_path.parent / CONFIG_DIR
    try:
        folder.mkdir(exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {folder}: {exc.strerror}") from exc
    result.config_paths = [folder / name for name in account.tables]
    for path, table in zip(result.config_paths, account.tables.values(), strict=True):
        pq.write_table(table, files.path(path), compression="zstd")


def _write_records(
    plan: Plan,
    numbers: PhoneNumbers,
    sids: list[str],
    result: SimulationResult,
    files: AtomicFileSet,
    progress: _Progress,
) -> None:
    """Write the messages and the truth, chunk by chunk."""
    progress.add(0)
    messages_tmp, truth_tmp = files.path(result.messages_path), files.path(result.truth_path)
    messages_writer = pq.ParquetWriter(messages_tmp, MESSAGE_SCHEMA, compression="zstd")
    truth_writer: pq.ParquetWriter | None = None
    try:
        for begin in range(0, plan.n, CHUNK_ROWS):
            rows = np.arange(begin, min(begin + CHUNK_ROWS, plan.n))
            messages_writer.write_table(
                message_chunk(plan, numbers, sids, rows), row_group_size=CHUNK_ROWS
            )
            truth = truth_chunk(plan, rows)
            if truth_writer is None:
                truth_writer = pq.ParquetWriter(truth_tmp, truth.schema, compression="zstd")
            truth_writer.write_table(truth, row_group_size=CHUNK_ROWS)
            del truth
            pa.default_memory_pool().release_unused()
            progress.add(rows.size)
    finally:
        messages_writer.close()
        if truth_writer is not None:
            truth_writer.close()


def _write_logs(
    config: SimulationConfig,
    plan: Plan,
    numbers: PhoneNumbers,
    sids: list[str],
    result: SimulationResult,
    files: AtomicFileSet,
    progress: _Progress,
) -> None:
    """Write every configured request log, all from the same chunks of planned lines."""
    formats = log_formats(config)
    out = result.messages_path.parent
    result.request_logs = {fmt: out / log_file_name(fmt) for fmt in formats}
    with ExitStack() as stack:
        handles: dict[str, BinaryIO] = {}
        for fmt, path in result.request_logs.items():
            handles[fmt] = stack.enter_context(files.path(path).open("wb"))
        # Log lines are wide and built from many pieces: smaller batches bound memory
        # (SDK blocks are about ten lines per request).
        step = max(1, CHUNK_ROWS // (4 if len(formats) == 1 else 16))
        with_records = TWILIO_SDK_LEGACY in formats
        for begin in range(0, plan.line_ms.size, step):
            lines = np.arange(begin, min(begin + step, plan.line_ms.size))
            chunk = request_chunk(
                plan, numbers, sids, config.seed, lines, with_records, config.request_id_is_sid
            )
            # Other logs never show what the SDK's payload did (their "from" among it).
            plain = chunk.drop_columns([c for c in SDK_RECORD_COLUMNS if c in chunk.column_names])
            for fmt, handle in handles.items():
                sdk = PARSER_FORMATS[fmt] == LogFormat.TWILIO_SDK
                write_text(handle, render(fmt, chunk if sdk else plain, config.seed))
            del chunk, plain
            pa.default_memory_pool().release_unused()
            progress.add(lines.size)


def _write_app_logs(
    app: AppLog,
    plan: Plan,
    numbers: PhoneNumbers,
    seed: int,
    result: SimulationResult,
    files: AtomicFileSet,
    progress: _Progress,
) -> None:
    """Write the application's ingress log in each of its formats, chunk by chunk."""
    out = result.messages_path.parent
    result.app_logs = {fmt: out / name for fmt, name in APP_LOG_FILES.items()}
    with ExitStack() as stack:
        handles = {
            fmt: stack.enter_context(files.path(path).open("wb"))
            for fmt, path in result.app_logs.items()
        }
        step = max(1, CHUNK_ROWS // 8)
        for begin in range(0, app.size, step):
            lines = np.arange(begin, min(begin + step, app.size))
            chunk = app_log_chunk(app, plan, numbers, seed, lines)
            for fmt, handle in handles.items():
                write_text(handle, render(fmt, chunk, seed))
            del chunk
            pa.default_memory_pool().release_unused()
            progress.add(lines.size)


def _listed_app_logs(folder: Path) -> list[Path]:
    """The ingress log files the simulation already in ``folder`` lists."""
    try:
        logs = json.loads((folder / METADATA_FILE).read_text())["files"].get("app_logs") or {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return []
    if not isinstance(logs, dict):
        return []
    return [folder / n for n in logs.values() if isinstance(n, str) and "/" not in n]


def _write_complaints_and_description(
    config: SimulationConfig,
    plan: Plan,
    numbers: PhoneNumbers,
    sids: list[str],
    rng: np.random.Generator,
    result: SimulationResult,
    files: AtomicFileSet,
    account: AccountConfig,
    app: AppLog | None,
) -> None:
    """Write the complaints and the run's description (simulation.json)."""
    frame: pd.DataFrame = complaints(plan, numbers, rng)
    result.complaints = len(frame)
    frame.to_csv(files.path(result.complaints_path), index=False, lineterminator="\n")
    inbound: dict[str, Any] = {"numbers": account.expected}
    if app is not None:
        inbound |= {"numbers_with_log": account.expected_with_log, **describe_app_log(app, plan)}
    counts = {
        "records": result.records,
        "groups": result.groups,
        "log_lines": result.log_lines,
        "complaints": result.complaints,
        **describe_failures(plan, numbers),
        "optouts": describe_optouts(plan, numbers, sids),
        "inbound": inbound,
    }
    written: dict[str, Any] = {
        "messages": result.messages_path.name,
        "server_requests": result.requests_path.name,
        "request_logs": {fmt: p.name for fmt, p in result.request_logs.items()},
        "truth": result.truth_path.name,
        "complaints": result.complaints_path.name,
        "config": [f"{CONFIG_DIR}/{p.name}" for p in result.config_paths],
    }
    if result.app_logs:
        written["app_logs"] = {fmt: p.name for fmt, p in result.app_logs.items()}
    description = describe(config, sids, counts, written)
    text = json.dumps(description, indent=2, ensure_ascii=False) + "\n"
    files.path(result.metadata_path).write_text(text)


def render_request_log(requests: pa.Table | pd.DataFrame, fmt: str, target: str | Path) -> None:
    """Write requests as a log in one of LOG_FORMATS, atomically.

    Columns: ``timestamp`` (ISO 8601 text or timestamps; or ``time``), ``method``, ``url``
    (or ``path``); optional ``status`` (null: no response), ``duration_ms``, ``to``,
    ``message_sid``, ``request_id``, ``error``, ``error_code`` (Twilio's, of a refused
    request), and what the pre-2022 SDK showed:
    ``from``, ``messaging_service_sid``, ``body``, ``media_url``, ``response_body``.
    For requests the application received (Twilio's webhooks and callbacks):
    ``user_agent``, ``from``, ``message_status`` (jsonl writes them when set; combined and
    envoy show the user agent) and ``remote_addr`` (the client combined shows).
    ``cut`` (0-1) damages a row like a torn write. Times are UTC, the application's clock.
    """
    if fmt not in LOG_FORMATS:
        raise UserError(f"unknown log format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}")
    target = Path(target)
    if not target.parent.is_dir():
        raise UserError(f"folder not found: {target.parent}")
    table = request_table(requests)
    step = max(1, CHUNK_ROWS // 16)
    with atomic_path(target) as tmp, tmp.open("wb") as handle:
        for begin in range(0, table.num_rows, step):
            write_text(handle, render(fmt, table.slice(begin, step), 0))
