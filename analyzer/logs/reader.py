"""Reading log files into the canonical request table: per file, detect its format, parse
it chunk by chunk, then apply the steps that need the whole file."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError, UserError
from analyzer.logs.files import expand_paths, head_lines, iter_line_chunks, open_log, prefetch
from analyzer.logs.jsonl import jsonl_fields
from analyzer.logs.model import (
    MAX_SAMPLES,
    REQUEST_SCHEMA,
    FileStats,
    LogParseResult,
    MalformedSample,
    ParsedChunk,
    Parser,
    empty_core,
    empty_requests,
)
from analyzer.logs.registry import DETECT_LINES, FORMATS, detect_from_lines, make_parser
from analyzer.logs.timing import correct_local_time, place_untimed, time_source
from analyzer.vocabulary import LogFormat

_TRUNCATED_REASON = "the compressed file ends here, before its end marker"


def read_server_logs(
    paths: Sequence[str | Path] | str | Path,
    format: str = "auto",
    log_tz: str = "UTC",
    fields: Mapping[str, str] | None = None,
    chunk_lines: int = 200_000,
    progress: Callable[[int], None] | None = None,
) -> LogParseResult:
    """Parse application/proxy HTTP logs into the canonical request table.

    ``paths`` may hold globs and ``.gz`` files. ``format`` is one of FORMATS or
    ``"auto"`` (detected per file). Times without a zone are taken in ``log_tz``.
    ``fields`` remaps jsonl field names (keys of DEFAULT_JSONL_FIELDS).
    ``progress`` is called with the number of lines of each chunk read.
    """
    if format != "auto" and format not in FORMATS:
        raise UserError(
            f"unknown log format {format!r}; expected auto or one of {', '.join(FORMATS)}"
        )
    if chunk_lines < 1:
        raise UserError("chunk_lines must be at least 1")
    _check_tz(log_tz)
    field_map = jsonl_fields(fields)
    fmt = None if format == "auto" else LogFormat(format)
    tables: list[pa.Table] = []
    stats: list[FileStats] = []
    for path in expand_paths(paths):
        table, file_stats = _read_file(path, fmt, log_tz, field_map, chunk_lines, progress)
        tables.append(table)
        stats.append(file_stats)
    requests = pa.concat_tables(tables) if tables else empty_requests()
    return LogParseResult(requests=requests, files=stats)


def detect_format(path: str | Path) -> LogFormat | None:
    """Return the log format of a file, None for a file without non-empty lines.

    Raises UserError naming the file when no format fits.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"log file not found: {p}")
    with open_log(p) as f:
        sample = head_lines(f, DETECT_LINES)
    if not sample:
        return None
    fmt = detect_from_lines(sample)
    if fmt is None:
        raise UserError(
            f"cannot detect the log format of {p} (expected one of {', '.join(FORMATS)}); "
            "pass the format explicitly"
        )
    return fmt


def _check_tz(log_tz: str) -> None:
    try:
        ZoneInfo(log_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown time zone {log_tz!r} (expected an IANA name)") from exc


def _read_file(
    path: Path,
    fmt: LogFormat | None,
    log_tz: str,
    field_map: dict[str, str],
    chunk_lines: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[pa.Table, FileStats]:
    """The request rows of one file (``fmt`` None: detected) and what was read."""
    detected = detect_format(path) if fmt is None else fmt
    stats = FileStats(path=str(path), format=detected, bytes=path.stat().st_size)
    if detected is None:
        stats.warnings.append(f"{path} is empty")
        return empty_requests(), stats
    parser = make_parser(detected, log_tz, field_map)
    with open_log(path) as f:
        table = _parse_chunks(f, path, parser, stats, chunk_lines, progress)
    line_numbers = table["line"].to_numpy()
    if len(line_numbers) > 1 and (np.diff(line_numbers) < 0).any():
        table = table.take(pc.sort_indices(table, [("line", "ascending")]))
    # Whole-file steps: only now are all of the file's rows at hand.
    table = correct_local_time(table, stats, log_tz)
    table = place_untimed(table, stats)
    stats.time_source = time_source(table)
    out = _with_source(table, str(path))
    _count_requests(stats, out)
    stats.warnings.extend(_file_warnings(stats, out))
    return out, stats


def _parse_chunks(
    f: IO[bytes],
    path: Path,
    parser: Parser,
    stats: FileStats,
    chunk_lines: int,
    progress: Callable[[int], None] | None,
) -> pa.Table:
    """The per-chunk rows of an open file, counting lines and malformed ones in ``stats``."""
    parts: list[pa.Table] = []
    try:
        chunks = iter_line_chunks(f, chunk_lines)
        for n_lines, prepared in prefetch(chunks, parser.prepare):
            stats.lines += n_lines
            parts.append(_collect(parser.feed(prepared), stats))
            if progress is not None:
                progress(n_lines)
    except EOFError:
        # A .gz cut short (a log being rotated, a copy that stopped): what was
        # read stands; the lost end counts as one malformed line.
        stats.malformed += 1
        if len(stats.samples) < MAX_SAMPLES:
            stats.samples.append(MalformedSample(stats.lines + 1, _TRUNCATED_REASON, ""))
        stats.warnings.append(
            f"{path} ends early (a truncated compressed file): read its first {stats.lines:,} lines"
        )
    except (OSError, gzip.BadGzipFile) as exc:
        raise InputError(f"cannot read log file {path}: {exc}") from exc
    parts.append(_collect(parser.finish(), stats))
    return pa.concat_tables(parts) if parts else empty_core()


def _collect(parsed: ParsedChunk, stats: FileStats) -> pa.Table:
    stats.malformed += parsed.malformed
    stats.skipped += parsed.skipped
    room = MAX_SAMPLES - len(stats.samples)
    if room > 0:
        stats.samples.extend(parsed.samples[:room])
    return parsed.table


def _with_source(table: pa.Table, source: str) -> pa.Table:
    n = table.num_rows
    src = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([source], pa.string())
    )
    cols = [table[name] for name in REQUEST_SCHEMA.names if name not in ("source_file", "line")]
    cols += [src, table["line"]]
    return pa.Table.from_arrays(cols, schema=REQUEST_SCHEMA)


def _count_requests(stats: FileStats, requests: pa.Table) -> None:
    """Record the file's requests, sends, tunnels and time span in ``stats``."""
    stats.requests = requests.num_rows
    stats.sends = int(pc.sum(requests["is_send"]).as_py() or 0)
    stats.tunnels += int(pc.sum(pc.equal(requests["method"], "CONNECT")).as_py() or 0)
    if requests.num_rows:
        span = pc.min_max(requests["time"])
        stats.first_time = span["min"].as_py()
        stats.last_time = span["max"].as_py()


def _file_warnings(stats: FileStats, table: pa.Table) -> list[str]:
    out = []
    if stats.lines == 0:
        out.append(f"{stats.path} is empty")
    elif stats.requests == 0 and (stats.malformed > 0 or stats.format == LogFormat.TWILIO_SDK):
        # The SDK parser ignores lines that are not its own: a file with none of its
        # blocks is as unreadable as one whose lines are all malformed.
        out.append(f"no line of {stats.path} could be read as {stats.format}")
    elif stats.requests and table["time"].null_count == stats.requests:
        out.append(
            f"no request in {stats.path} has a time: its lines carry none and no Twilio Date "
            "header was logged; add the time to the log format (e.g. %(asctime)s)"
        )
    if stats.tunnels:
        what = "lines in {} are TCP tunnels" if stats.tunnels > 1 else "line in {} is a TCP tunnel"
        out.append(
            f"{stats.tunnels} {what.format(stats.path)} (CONNECT): this proxy cannot see the "
            "paths of HTTPS calls, so it cannot tell message sends from other calls"
        )
    return out
