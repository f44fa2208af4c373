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
    ANSWERED_LINE,
    FROM_TWILIO,
    MAX_SAMPLES,
    REQUEST_SCHEMA,
    TIMELINE_SCHEMA,
    FileStats,
    LogParseResult,
    MalformedSample,
    ParsedChunk,
    Parser,
    RowFilter,
    empty_requests,
    tunnels,
)
from analyzer.logs.registry import DETECT_LINES, FORMATS, detect_from_lines, make_parser
from analyzer.logs.timing import correct_local_time, place_untimed, time_source
from analyzer.schema import TIMESTAMP
from analyzer.vocabulary import LogFormat

_TRUNCATED_REASON = "the compressed file ends here, before its end marker"


def read_server_logs(
    paths: Sequence[str | Path] | str | Path,
    format: str = "auto",
    log_tz: str = "UTC",
    fields: Mapping[str, str] | None = None,
    chunk_lines: int = 200_000,
    progress: Callable[[int], None] | None = None,
    keep: RowFilter | None = None,
) -> LogParseResult:
    """Parse application/proxy HTTP logs into the canonical request table.

    ``paths`` may hold globs and ``.gz`` files. ``format`` is one of FORMATS or
    ``"auto"`` (detected per file). Times without a zone are taken in ``log_tz``.
    ``fields`` remaps jsonl field names (keys of DEFAULT_JSONL_FIELDS).
    ``progress`` is called with the number of lines of each chunk read. ``keep`` chooses
    the rows of each parsed chunk kept in the table (default: all); the timeline still
    has every row.
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
    timelines: list[pa.Table] = []
    stats: list[FileStats] = []
    for path in expand_paths(paths):
        table, timeline, file_stats = _read_file(
            path, fmt, log_tz, field_map, chunk_lines, progress, keep
        )
        tables.append(table)
        timelines.append(timeline)
        stats.append(file_stats)
    requests = pa.concat_tables(tables) if tables else empty_requests()
    whole = pa.concat_tables(timelines) if timelines else TIMELINE_SCHEMA.empty_table()
    return LogParseResult(requests=requests, files=stats, timeline=whole)


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
    keep: RowFilter | None = None,
) -> tuple[pa.Table, pa.Table, FileStats]:
    """The request rows of one file (``fmt`` None: detected) that ``keep`` keeps, the
    file's timeline, and what was read."""
    detected = detect_format(path) if fmt is None else fmt
    stats = FileStats(path=str(path), format=detected, bytes=path.stat().st_size)
    if detected is None:
        stats.warnings.append(f"{path} is empty")
        return empty_requests(), TIMELINE_SCHEMA.empty_table(), stats
    parser = make_parser(detected, log_tz, field_map)
    with open_log(path) as f:
        rows, timeline = _parse_chunks(f, path, parser, stats, chunk_lines, progress, keep)
    line_numbers = timeline["line"].to_numpy()
    if len(line_numbers) > 1 and (np.diff(line_numbers) < 0).any():
        timeline = timeline.take(pc.sort_indices(timeline, [("line", "ascending")]))
        rows = rows.take(pc.sort_indices(rows, [("line", "ascending")]))
    # Whole-file steps: only now are all of the file's times at hand. They need only the
    # timeline, which has every row, even those ``keep`` left out.
    timeline = correct_local_time(timeline, stats, log_tz)
    timeline = place_untimed(timeline, stats)
    stats.time_source = time_source(timeline)
    placed = timeline["time_max"].cast(TIMESTAMP)
    timeline = timeline.set_column(timeline.schema.get_field_index("time_max"), "time_max", placed)
    kept = timeline.filter(timeline["kept"]) if keep is not None else timeline
    for name in ("time", "time_max"):
        rows = rows.set_column(rows.schema.get_field_index(name), name, kept[name])
    out = _with_source(rows, str(path))
    timeline = timeline.select(TIMELINE_SCHEMA.names).cast(TIMELINE_SCHEMA)
    _count_requests(stats, timeline)
    stats.warnings.extend(_file_warnings(stats, timeline))
    return out, timeline, stats


def _parse_chunks(
    f: IO[bytes],
    path: Path,
    parser: Parser,
    stats: FileStats,
    chunk_lines: int,
    progress: Callable[[int], None] | None,
    keep: RowFilter | None,
) -> tuple[pa.Table, pa.Table]:
    """The rows of an open file that ``keep`` keeps (all without it) and the timeline of
    every row, counting lines and malformed ones in ``stats``."""
    rows: list[pa.Table] = []
    timeline = _Timeline()
    try:
        chunks = iter_line_chunks(f, chunk_lines)
        for n_lines, prepared in prefetch(chunks, parser.prepare):
            stats.lines += n_lines
            rows.append(timeline.add(_collect(parser.feed(prepared), stats), keep))
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
    rows.append(timeline.add(_collect(parser.finish(), stats), keep))
    return pa.concat_tables(rows), timeline.table()


#: The columns of a chunk that the whole-file steps need, and those often all null.
_TIMING_COLUMNS = ["time", "twilio_time", "time_max", "line", FROM_TWILIO, ANSWERED_LINE]
_SPARSE_COLUMNS = ("twilio_time", "time_max", ANSWERED_LINE)
#: Chunks of timeline gathered into one table at a time: many small arrays that outlive
#: the chunks around them would keep the memory of those chunks from being reused.
_TIMELINE_BATCH = 32


class _Timeline:
    """A file's timeline, gathered chunk by chunk with the columns the whole-file steps
    need."""

    def __init__(self) -> None:
        self.done: list[pa.Table] = []
        self.batch: list[pa.Table] = []

    def add(self, chunk: pa.Table, keep: RowFilter | None) -> pa.Table:
        """Add a parsed chunk's timeline; the rows of the chunk that ``keep`` keeps."""
        mask = np.ones(chunk.num_rows, dtype=bool) if keep is None else np.asarray(keep(chunk))
        part = chunk.select(_TIMING_COLUMNS)
        for name in _SPARSE_COLUMNS:
            if part[name].null_count == part.num_rows:  # no memory for nothing
                index = part.schema.get_field_index(name)
                part = part.set_column(index, name, pa.nulls(part.num_rows, pa.null()))
        part = part.append_column("is_send", chunk["is_send"])
        part = part.append_column("tunnel", tunnels(chunk))
        part = part.append_column("status", chunk["status"])
        self.batch.append(part.append_column("kept", pa.array(mask, pa.bool_())))
        if len(self.batch) >= _TIMELINE_BATCH:
            self.done.append(_concat(self.batch).combine_chunks())
            self.batch = []
        return chunk if keep is None else chunk.filter(pa.array(mask))

    def table(self) -> pa.Table:
        """The timeline of every chunk added."""
        return _concat([*self.done, *self.batch])


def _concat(tables: list[pa.Table]) -> pa.Table:
    """Tables whose columns may be all-null (type null) in some, as one table."""
    return pa.concat_tables(tables, promote_options="default")


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


def _count_requests(stats: FileStats, timeline: pa.Table) -> None:
    """Record the file's requests, sends, tunnels and time span in ``stats``."""
    stats.requests = timeline.num_rows
    stats.sends = int(pc.sum(timeline["is_send"]).as_py() or 0)
    stats.tunnels += int(pc.sum(timeline["tunnel"]).as_py() or 0)
    if timeline.num_rows:
        span = pc.min_max(timeline["time"])
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
