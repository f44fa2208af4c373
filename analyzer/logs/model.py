"""The canonical request table, what is known about each file read, and the parts every
format's parser shares: the per-chunk table with its hidden columns, and the parser
interface."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.files import LineChunk
from analyzer.schema import TIMESTAMP
from analyzer.vocabulary import LogFormat

REQUEST_SCHEMA = pa.schema(
    [
        pa.field("time", TIMESTAMP),
        # Twilio's Date response header (Twilio's clock, one-second resolution), if logged.
        pa.field("twilio_time", TIMESTAMP),
        # Set for a request known only to lie between ``time`` and ``time_max``: a block of
        # a log without times and without Twilio's answer, placed by its neighbours.
        pa.field("time_max", TIMESTAMP),
        pa.field("method", pa.string()),
        # Dictionary-encoded: a log calls few endpoints of few accounts.
        pa.field("path", pa.dictionary(pa.int32(), pa.string())),
        pa.field("account_sid", pa.dictionary(pa.int32(), pa.string())),
        pa.field("status", pa.int32()),
        pa.field("duration_ms", pa.float64()),
        pa.field("to", pa.string()),
        pa.field("message_sid", pa.string()),
        pa.field("request_id", pa.string()),
        pa.field("is_send", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
        # Twilio's error code of a refused request (X-Twilio-Error-Code, the error body's
        # code, or the application's own field), if logged.
        pa.field("twilio_error_code", pa.int64()),
        # What requests Twilio makes to the application carry (webhooks, status callbacks):
        # the User-Agent ("TwilioProxy/1.1"), the sender (From) and MessageStatus, if logged.
        pa.field("user_agent", pa.string()),
        pa.field("from", pa.string()),
        pa.field("message_status", pa.string()),
        # One value per file: dictionary-encoded to keep multi-million-row tables small.
        pa.field("source_file", pa.dictionary(pa.int32(), pa.string())),
        pa.field("line", pa.int64(), nullable=False),
    ]
)

#: Malformed lines sampled per file, and the characters kept of each.
MAX_SAMPLES = 5
SAMPLE_CHARS = 200
#: The reason given for a request whose line carries no time (and was not placed).
UNTIMED_REASON = "no timestamp in the log line prefix"


@dataclass
class MalformedSample:
    """One malformed line (or SDK block): 1-based line number, reason, truncated text."""

    line: int
    reason: str
    text: str


@dataclass
class FileStats:
    """What was read from one log file."""

    path: str
    format: LogFormat | None
    bytes: int = 0
    lines: int = 0
    requests: int = 0
    sends: int = 0
    malformed: int = 0
    #: Well-formed records that are not HTTP requests (e.g. other JSON log events).
    skipped: int = 0
    #: Proxy tunnel lines (CONNECT, Envoy's "- - -"): request rows with method CONNECT and
    #: no path, whose kind of call is unknown (never sends).
    tunnels: int = 0
    samples: list[MalformedSample] = field(default_factory=list)
    first_time: datetime | None = None
    last_time: datetime | None = None
    #: Where the request times come from: "line" (the log lines), "twilio_date" (Twilio's
    #: Date header, for SDK blocks whose lines carry no time, or jsonl records without a
    #: timestamp), "mixed" (both), or None (no request with a time).
    time_source: str | None = None
    #: Seconds subtracted from this file's line times because they were local time (the
    #: median of time - twilio_time, rounded to 15 min); 0.0 when nothing was corrected.
    offset_corrected_seconds: float = 0.0
    #: Plain-language problems with this file (local time corrected, tunnels, unreadable,
    #: empty), for the CLI and the report.
    warnings: list[str] = field(default_factory=list)


#: What a log reader keeps of each request row, whether or not it keeps the row itself:
#: enough for whole-log figures (coverage, POSTs by outcome, clock) when a RowFilter
#: kept only some rows. ``tunnel``: a CONNECT line; ``kept``: the row is in the requests.
TIMELINE_SCHEMA = pa.schema(
    [
        pa.field("time", TIMESTAMP),
        pa.field("time_max", TIMESTAMP),
        pa.field("is_send", pa.bool_(), nullable=False),
        pa.field("tunnel", pa.bool_(), nullable=False),
        pa.field("status", pa.int32()),
        pa.field("kept", pa.bool_(), nullable=False),
    ]
)

#: Which rows of a parsed chunk (CORE_SCHEMA, times as logged) to keep in the request
#: table; called on the chunks in file order, so it may count what it has seen.
RowFilter = Callable[[pa.Table], np.ndarray]


def tunnels(requests: pa.Table) -> pa.Array | pa.ChunkedArray:
    """Which request rows are proxy tunnels (method CONNECT)."""
    return pc.fill_null(pc.equal(requests["method"], "CONNECT"), False)


def timeline_of(requests: pa.Table) -> pa.Table:
    """The timeline (TIMELINE_SCHEMA) of a request table that holds every row."""
    kept = pa.array(np.ones(requests.num_rows, dtype=bool))
    columns = [requests[name] for name in ("time", "time_max", "is_send")]
    columns += [tunnels(requests), requests["status"], kept]
    return pa.Table.from_arrays(columns, schema=TIMELINE_SCHEMA)


@dataclass
class LogParseResult:
    """The canonical request table of all files, plus per-file statistics.

    ``timeline`` has a row for every request read, in the order of ``requests``; where
    a RowFilter left rows out of ``requests``, only the timeline still counts them.
    """

    requests: pa.Table
    files: list[FileStats]
    timeline: pa.Table | None = None

    def __post_init__(self) -> None:
        if self.timeline is None:
            self.timeline = timeline_of(self.requests)

    @property
    def complete(self) -> bool:
        """Whether ``requests`` holds every request read (no RowFilter left one out)."""
        assert self.timeline is not None
        return self.timeline.num_rows == self.requests.num_rows

    @property
    def lines(self) -> int:
        """Lines read over all files."""
        return sum(f.lines for f in self.files)

    @property
    def malformed(self) -> int:
        """Malformed lines or blocks over all files."""
        return sum(f.malformed for f in self.files)

    @property
    def sends(self) -> int:
        """Message-creating POSTs over all files."""
        return sum(f.sends for f in self.files)

    @property
    def warnings(self) -> list[str]:
        """Every file's warnings, file by file."""
        return [w for f in self.files for w in f.warnings]


def empty_requests() -> pa.Table:
    """Return an empty table with the request schema."""
    return REQUEST_SCHEMA.empty_table()


#: Hidden column of the per-chunk tables: True where ``time`` was taken from Twilio's Date
#: header (already in Twilio's clock: never shifted by the local-time correction).
FROM_TWILIO = "_time_from_twilio"
#: Hidden column: the line that logged the answer (SDK blocks), to place untimed blocks.
ANSWERED_LINE = "_answered_line"
#: The per-chunk table every parser gives: the request columns but ``source_file``, and the
#: hidden ones.
CORE_SCHEMA = pa.schema(
    [f for f in REQUEST_SCHEMA if f.name != "source_file"]
    + [
        pa.field(FROM_TWILIO, pa.bool_(), nullable=False),
        pa.field(ANSWERED_LINE, pa.int64()),
    ]
)


def empty_core() -> pa.Table:
    """An empty per-chunk table."""
    return CORE_SCHEMA.empty_table()


@dataclass
class ParsedChunk:
    """What a parser made of a chunk of lines: its rows (CORE_SCHEMA) and what it could
    not read."""

    table: pa.Table
    malformed: int = 0
    skipped: int = 0
    samples: list[MalformedSample] = field(default_factory=list)


def malformed_samples(
    texts: pa.Array, line_numbers: np.ndarray, mask: np.ndarray, reason: Callable[[int], str]
) -> list[MalformedSample]:
    """The first MAX_SAMPLES malformed entries selected by mask; reason(i) explains entry i."""
    idx = np.flatnonzero(mask)[:MAX_SAMPLES]
    out = []
    for i in idx:
        text = texts[int(i)].as_py() or ""
        out.append(MalformedSample(int(line_numbers[i]), reason(int(i)), text[:SAMPLE_CHARS]))
    return out


class Parser:
    """Reads one file of one format, chunk by chunk.

    prepare() is stateless and runs on worker threads, several chunks at once (a parser
    that learns from the first chunk, as JsonlParser learns its field types, makes the
    others wait for it); feed() runs in order, in the caller's thread; finish() gives
    what is left once the file is read.
    """

    def __init__(self, log_tz: str, fields: Mapping[str, str]) -> None:
        self.log_tz = log_tz
        self.fields = dict(fields)

    def prepare(self, chunk: LineChunk) -> Any:
        """The stateless first half of parsing a chunk of lines."""
        raise NotImplementedError

    def feed(self, prepared: Any) -> ParsedChunk:
        """The rows of a chunk, from what prepare() gave (by default: prepare() did all)."""
        assert isinstance(prepared, ParsedChunk)
        return prepared

    def finish(self) -> ParsedChunk:
        """The rows still held back once every chunk was fed."""
        return ParsedChunk(empty_core())
