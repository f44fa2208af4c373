"""Parsers for the application's HTTP logs of its calls to Twilio.

Four formats are read into one canonical request table (``REQUEST_SCHEMA``):

- ``jsonl``: JSON-lines application logs (field names remappable);
- ``twilio-sdk``: the twilio-python ``twilio.http_client`` logger at INFO, the 2022+
  ``-- BEGIN Twilio API Request --`` blocks and the older ``POST Request:`` /
  ``PAYLOAD:`` / ``POST Response: 201 {...}`` lines, behind any formatter prefix;
- ``combined``: nginx/Apache combined access logs of an egress proxy (also with a
  ``vhost[:port]`` field or an X-Forwarded-For chain before the client address);
- ``envoy``: Envoy's default access log format, and Istio's (response code details,
  termination details and trailing fields).

Files are streamed in chunks (plain or gzip), each chunk parsed with vectorized
pyarrow/pandas operations. Malformed lines are counted and sampled, never fatal.

Twilio's ``Date`` response header (Twilio's clock, to the second), which twilio-python
7.8.2+ logs in ``Response Headers: {...}``, fills ``twilio_time``. It also gives the time of
SDK blocks whose lines carry none (``logging.basicConfig()``), and, once a whole file is
read, reveals a log written in local time without a zone (the median of
``time - twilio_time`` is whole quarter hours away from zero): the file's line times are
then corrected and a warning says so.

Proxy tunnels (``CONNECT host:443`` lines, Envoy's ``"- - -"`` TCP proxy lines) are request
rows with method ``CONNECT`` and no path: never sends, counted in ``FileStats.tunnels``.
"""

from __future__ import annotations

import contextlib
import functools
import glob
import gzip
import json
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from analyzer.errors import InputError, UserError

TIMESTAMP = pa.timestamp("us", tz="UTC")

REQUEST_SCHEMA = pa.schema(
    [
        pa.field("time", TIMESTAMP),
        # Twilio's Date response header (Twilio's clock, one-second resolution), if logged.
        pa.field("twilio_time", TIMESTAMP),
        # Set for a request known only to lie between ``time`` and ``time_max``: a block of
        # a log without times and without Twilio's answer, placed by its neighbours.
        pa.field("time_max", TIMESTAMP),
        pa.field("method", pa.string()),
        pa.field("path", pa.string()),
        pa.field("account_sid", pa.string()),
        pa.field("status", pa.int32()),
        pa.field("duration_ms", pa.float64()),
        pa.field("to", pa.string()),
        pa.field("message_sid", pa.string()),
        pa.field("request_id", pa.string()),
        pa.field("is_send", pa.bool_(), nullable=False),
        pa.field("error", pa.string()),
        # One value per file: dictionary-encoded to keep multi-million-row tables small.
        pa.field("source_file", pa.dictionary(pa.int32(), pa.string())),
        pa.field("line", pa.int64(), nullable=False),
    ]
)

FORMATS: tuple[str, ...] = ("jsonl", "twilio-sdk", "combined", "envoy")

#: jsonl field names, keyed by the names accepted in ``fields=``.
DEFAULT_JSONL_FIELDS: dict[str, str] = {
    "timestamp": "timestamp",
    "method": "method",
    "url": "url",
    "status": "status",
    "to": "to",
    "message_sid": "message_sid",
    "duration_ms": "duration_ms",
    "request_id": "request_id",
    "error": "error",
    # Twilio's Date response header: RFC 2822 / RFC 7231 text, ISO 8601 or epoch seconds.
    "twilio_date": "twilio_date",
}

MAX_SAMPLES = 5
SAMPLE_CHARS = 200
_DETECT_LINES = 200
_MAX_LINE_BYTES = 16 * 1024 * 1024
_SDK_CARRY_WINDOW = 10_000
_JSON_BLOCK = 4 * 1024 * 1024
#: Local-time detection: pairs of line time and Twilio Date needed, the smallest offset
#: read as a zone (smaller ones are clock skew), and the unit zones come in.
_OFFSET_MIN_PAIRS = 3
_OFFSET_MIN_SECONDS = 600.0
_OFFSET_STEP_SECONDS = 900.0

# RE2 extracts capture groups far faster from short, anchored, unambiguous ("one-pass")
# patterns: each format has a full pattern to validate lines (DFA match only) and a
# short one to extract the fields.
# Messages.json, Messages (no extension: Twilio's own Arduino example), .xml, and the
# legacy SMS/Messages resource all create a message.
_SEND_PATH_RE = r"^/2010-04-01/Accounts/[^/]+/(?:SMS/)?Messages(?:\.json|\.xml)?$"
# Account SIDs hold no dot: "AC….json" gives the SID without the extension.
_ACCOUNT_RE = r"^/2010-04-01/Accounts/(?P<a>[^/.]*)"
_ISO_TIME_RE = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?))?"
)
_ZONE_SUFFIX_RE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH_RE = r"^-?\d+(?:\.\d+)?$"

# Before "[time]": an optional vhost[:port] (Apache/nginx vhost_combined), the client
# address or an X-Forwarded-For chain ("10.0.0.2, 10.0.0.1"), ident and user.
_COMBINED_RE = (
    r"^(?:[^ ]+ )?(?:[^ ]+, )*[^ ]+ [^ ]+ [^ ]+ \[[^\]]*\] "
    r'"[A-Za-z]+ [^ "]+(?: [^"]*)?" '
    r"[0-9]{3} (?:[0-9]+|-) "
    r'"(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"(?: .*)?$'
)
_COMBINED_EXTRACT = (
    r'^[^\[]*\[(?P<time>[^\]]*)\] "(?P<method>[A-Za-z]+) (?P<target>[^ "]+)'
    r'(?: [^"]*)?" (?P<status>[0-9]{3}) '
)
_CLF_TIME_EXTRACT = (
    r"^(?P<d>[0-9]{2})/(?P<mon>[A-Za-z]{3})/(?P<y>[0-9]{4}):"
    r"(?P<hms>[0-9]{2}:[0-9]{2}:[0-9]{2}) (?P<z>[+-][0-9]{4})$"
)
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_ENVOY_RE = (
    r'^\[[^\]]*\] "[A-Za-z-]+ [^ ]+ [^"]*" '
    r"[0-9]+ [^ ]+ "
    # Istio 1.8+: response code details, connection termination details and the upstream
    # transport failure reason; before 1.8: the mixer status and that reason.
    r'(?:[^ "]+ [^ "]+ "[^"]*" |"[^"]*" "[^"]*" )?'
    r"(?:[0-9]+|-) (?:[0-9]+|-) (?:[0-9]+|-) [^ ]+ "
    # Istio (and custom formats) append fields: upstream cluster, addresses, SNI, route.
    r'"[^"]*" "[^"]*" "[^"]*" "[^"]*" "[^"]*"(?: .*)?$'
)
_ENVOY_EXTRACT = (
    r'^\[(?P<time>[^\]]*)\] "(?P<method>[A-Za-z-]+) (?P<target>[^ ]+) [^"]*" (?P<status>[0-9]+) '
)
_ENVOY_EXTRACT_MORE = (
    r'^\[[^\]]*\] "[^"]*" [0-9]+ (?P<flags>[^ ]+) (?:[0-9]+|-) (?:[0-9]+|-) (?P<dur>[0-9]+|-) '
)
# Istio's shapes, for the lines the default one does not fit (still one-pass).
_ENVOY_EXTRACT_ISTIO = (
    r'^\[[^\]]*\] "[^"]*" [0-9]+ (?P<flags>[^ ]+) (?:[^ "]+ [^ "]+ )?(?:"[^"]*" )+'
    r"(?:[0-9]+|-) (?:[0-9]+|-) (?P<dur>[0-9]+|-) "
)
#: Envoy's method for a TCP proxy connection ("- - -"): a tunnel, like CONNECT.
_ENVOY_TCP_METHOD = "-"
# The SDK's own log messages, after whatever prefix the formatter adds (group `pre`).
#: Each kind of SDK line: a literal it contains, and the message that ends the line
#: (after the formatter's prefix).
_SDK_KINDS: dict[str, tuple[str, str]] = {
    "B": ("-- BEGIN Twilio", r"-- BEGIN Twilio API Request --\s*$"),
    "E": ("-- END Twilio", r"-- END Twilio API Request --\s*$"),
    "S": ("Response Status Code: ", r"Response Status Code: (?P<status>[0-9]+)\s*$"),
    "H": ("Response Headers: ", r"Response Headers: (?P<extra>.*)$"),
    # A response header logged on its own line, in the SDK's "Key : value" form. Only the
    # request id: no client sends it, whereas a "Date : ..." line may be a request header
    # (the client's clock), so Twilio's Date is only read from the response headers.
    "I": ("Twilio-Request-Id : ", r"Twilio-Request-Id : (?P<extra>[A-Za-z0-9]+)\s*$"),
    "P": ("PAYLOAD: ", r"PAYLOAD: (?P<extra>.*)$"),
    "Q": (" Request: ", r"\b(?P<method>[A-Z]+) Request: (?P<url>[^ ]+)\s*$"),
    "R": (
        " Response: ",
        r"\b(?P<method>[A-Z]+) Response: (?P<status>[0-9]+)(?: (?P<extra>.*))?$",
    ),
}
_SDK_TIMED_KINDS = ("B", "Q", "S", "R")
# One unanchored pass finds each line's marker: RE2 runs a DFA over the line and its
# capture engine over the (short) marker only.
_SDK_MARKER_RE = "(?P<k>" + "|".join(re.escape(lit) for lit, _ in _SDK_KINDS.values()) + ")"
_SDK_MARKERS = pa.array([lit for lit, _ in _SDK_KINDS.values()])
_SDK_BEGIN = "-- BEGIN Twilio API Request --"
_SDK_OLD_REQUEST = re.compile(r"\b(?:GET|POST|PUT|PATCH|DELETE) Request: \S+://")


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
    format: str | None
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


@dataclass
class LogParseResult:
    """The canonical request table of all files, plus per-file statistics."""

    requests: pa.Table
    files: list[FileStats]

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


# --------------------------------------------------------------------------- public API


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
    field_map = _field_map(fields)
    files = _expand_paths(paths)
    tables: list[pa.Table] = []
    stats: list[FileStats] = []
    for path in files:
        table, st = _read_file(path, format, log_tz, field_map, chunk_lines, progress)
        tables.append(table)
        stats.append(st)
    requests = pa.concat_tables(tables) if tables else empty_requests()
    return LogParseResult(requests=requests, files=stats)


def parse_field_map(items: Sequence[str]) -> dict[str, str]:
    """Parse ``NAME=FIELD`` pairs (``--log-field to=recipient``) into a mapping for
    ``read_server_logs(fields=...)``; raises UserError on a malformed pair."""
    fields: dict[str, str] = {}
    for item in items:
        name, sep, source = str(item).partition("=")
        if not sep or not name.strip() or not source.strip():
            raise UserError(f"--log-field expects NAME=FIELD, got {item!r}")
        fields[name.strip()] = source.strip()
    _field_map(fields)  # names it does not know are refused here, with the known ones
    return fields


def detect_format(path: str | Path) -> str | None:
    """Return the log format of a file, None for a file without non-empty lines.

    Raises UserError naming the file when no format fits.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(f"log file not found: {p}")
    with _open(p) as f:
        sample = _head_lines(f, _DETECT_LINES)
    if not sample:
        return None
    fmt = _detect_from_lines(sample)
    if fmt is None:
        raise UserError(
            f"cannot detect the log format of {p} (expected one of {', '.join(FORMATS)}); "
            "pass the format explicitly"
        )
    return fmt


# --------------------------------------------------------------------------- files


def _check_tz(log_tz: str) -> None:
    try:
        ZoneInfo(log_tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise UserError(f"unknown time zone {log_tz!r} (expected an IANA name)") from exc


def _field_map(fields: Mapping[str, str] | None) -> dict[str, str]:
    out = dict(DEFAULT_JSONL_FIELDS)
    if fields:
        unknown = sorted(set(fields) - set(DEFAULT_JSONL_FIELDS))
        if unknown:
            raise UserError(
                f"unknown jsonl field(s) {', '.join(unknown)}; "
                f"known: {', '.join(DEFAULT_JSONL_FIELDS)}"
            )
        out.update({k: str(v) for k, v in fields.items()})
    return out


def _expand_paths(paths: Sequence[str | Path] | str | Path) -> list[Path]:
    if isinstance(paths, str | Path):
        paths = [paths]
    out: list[Path] = []
    for raw in paths:
        text = str(raw)
        if glob.has_magic(text):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                raise InputError(f"no log file matches {text}")
            out.extend(matches)
        else:
            p = Path(text)
            if p.is_dir():
                raise InputError(f"log path is a directory, not a file: {p}")
            if not p.is_file():
                raise InputError(f"log file not found: {p}")
            out.append(p)
    seen: set[Path] = set()
    unique = []
    for p in out:
        if p not in seen:
            seen.add(p)
            unique.append(p)
    return unique


def _open(path: Path) -> IO[bytes]:
    try:
        f = path.open("rb")
        magic = f.read(2)
        f.seek(0)
    except OSError as exc:
        raise InputError(f"cannot read log file {path}: {exc.strerror}") from exc
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    return f


def _head_lines(f: IO[bytes], n: int) -> list[str]:
    out: list[str] = []
    for _ in range(50 * n):  # bounded even for a file of blank lines
        raw = f.readline(_MAX_LINE_BYTES)
        if not raw:
            break
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if line.strip():
            out.append(line)
            if len(out) >= n:
                break
    return out


def _detect_from_lines(lines: list[str]) -> str | None:
    n = len(lines)
    json_ok = 0
    for line in lines:
        s = line.strip()
        if s.startswith("{"):
            with contextlib.suppress(ValueError):
                json_ok += isinstance(json.loads(s), dict)
    if json_ok * 2 >= n:
        return "jsonl"
    if any(_SDK_BEGIN in line for line in lines) or any(
        _SDK_OLD_REQUEST.search(line) for line in lines
    ):
        return "twilio-sdk"
    combined = re.compile(_COMBINED_RE)
    envoy = re.compile(_ENVOY_RE)
    n_comb = sum(1 for line in lines if combined.match(line))
    n_envoy = sum(1 for line in lines if envoy.match(line))
    best = max(n_comb, n_envoy)
    if best * 2 >= n and best > 0:
        return "combined" if n_comb >= n_envoy else "envoy"
    return None


def _read_file(
    path: Path,
    fmt: str,
    log_tz: str,
    field_map: dict[str, str],
    chunk_lines: int,
    progress: Callable[[int], None] | None = None,
) -> tuple[pa.Table, FileStats]:
    detected = detect_format(path) if fmt == "auto" else fmt
    st = FileStats(path=str(path), format=detected, bytes=path.stat().st_size)
    if detected is None:
        st.warnings.append(f"{path} is empty")
        return empty_requests(), st
    parser = _make_parser(detected, log_tz, field_map)
    parts: list[pa.Table] = []
    with _open(path) as f:
        try:
            chunks = _iter_line_chunks(f, chunk_lines)
            for n_lines, prepared in _prefetch(chunks, parser.prepare):
                st.lines += n_lines
                parts.append(_collect(parser.feed(prepared), st))
                if progress is not None:
                    progress(n_lines)
        except EOFError:
            # A .gz cut short (a log being rotated, a copy that stopped): what was
            # read stands; the lost end counts as one malformed line.
            st.malformed += 1
            if len(st.samples) < MAX_SAMPLES:
                st.samples.append(MalformedSample(st.lines + 1, _TRUNCATED_REASON, ""))
            st.warnings.append(
                f"{path} ends early (a truncated compressed file): read its first "
                f"{st.lines:,} lines"
            )
        except (OSError, gzip.BadGzipFile) as exc:
            raise InputError(f"cannot read log file {path}: {exc}") from exc
        parts.append(_collect(parser.finish(), st))
    table = pa.concat_tables(parts) if parts else _empty_core()
    lines_np = table["line"].to_numpy()
    if len(lines_np) > 1 and (np.diff(lines_np) < 0).any():
        table = table.take(pc.sort_indices(table, [("line", "ascending")]))
    # Whole-file steps: only now are all of the file's rows at hand.
    table = _correct_local_time(table, st, log_tz)
    table = _place_untimed(table, st)
    st.time_source = _time_source(table)
    out = _with_source(table, str(path))
    st.requests = out.num_rows
    st.sends = int(pc.sum(out["is_send"]).as_py() or 0)
    st.tunnels += int(pc.sum(pc.equal(out["method"], "CONNECT")).as_py() or 0)
    if out.num_rows:
        mm = pc.min_max(out["time"])
        st.first_time = mm["min"].as_py()
        st.last_time = mm["max"].as_py()
    st.warnings.extend(_file_warnings(st, out))
    return out, st


#: An untimed request placed within a longer interval than this stays malformed.
_MAX_PLACED_SPAN_US = 600 * 1_000_000
_UNTIMED_REASON = "no timestamp in the log line prefix"
_TRUNCATED_REASON = "the compressed file ends here, before its end marker"


def _place_untimed(table: pa.Table, st: FileStats) -> pa.Table:
    """Give requests without a time (SDK blocks of a log without times that got no answer)
    the interval their neighbours allow: ``time`` to ``time_max``.

    A block that began before this one (a line time) or whose answer was logged before it
    (Twilio's Date, truncated) bounds it from below; a block that began after it bounds
    it from above (its Date plus the second it was truncated by). Counted malformed no more.
    """
    untimed = _np_bool(pc.is_null(table["time"]))
    if not untimed.any() or untimed.all():
        return table
    us = np.asarray(pc.fill_null(table["time"].cast(pa.int64()), 0).to_numpy(), dtype=np.int64)
    line = np.asarray(table["line"].to_numpy(), dtype=np.int64)
    dated = _np_bool(table[_FROM_TWILIO])
    answered = np.asarray(
        pc.fill_null(table[_ANSWERED_LINE], -1).to_numpy(zero_copy_only=False), dtype=np.int64
    )
    timed = ~untimed
    # Lower bounds: when a block began (line time), or its answer came (Date, logged first).
    low_key = np.where(dated, answered, line)
    low_ok = timed & (low_key >= 0)
    order = np.argsort(low_key[low_ok], kind="stable")
    keys, best = low_key[low_ok][order], np.maximum.accumulate(us[low_ok][order])
    before = np.searchsorted(keys, line[untimed], side="left") - 1
    lower = np.full(len(before), np.iinfo(np.int64).min, dtype=np.int64)
    lower[before >= 0] = best[before[before >= 0]]
    # Upper bounds: blocks that began later, at the latest a second after their Date.
    high = us + np.where(dated, 1_000_000, 0)
    order = np.argsort(line[timed], kind="stable")
    keys = line[timed][order]
    least = np.minimum.accumulate(high[timed][order][::-1])[::-1]
    after = np.searchsorted(keys, line[untimed], side="right")
    upper = np.full(len(after), np.iinfo(np.int64).max, dtype=np.int64)
    upper[after < len(keys)] = least[after[after < len(keys)]]
    placed = (lower > np.iinfo(np.int64).min) & (upper < np.iinfo(np.int64).max)
    placed &= (upper >= lower) & (upper - lower <= _MAX_PLACED_SPAN_US)
    if not placed.any():
        return table
    rows = np.flatnonzero(untimed)[placed]
    start = us.copy()
    start[rows] = lower[placed]
    end = np.zeros(len(us), dtype=np.int64)
    end[rows] = upper[placed]
    mask = np.ones(len(us), dtype=bool)
    mask[rows] = False
    time = pa.array(start, pa.int64(), mask=untimed & mask).cast(pa.timestamp("us")).cast(TIMESTAMP)
    time_max = pa.array(end, pa.int64(), mask=mask).cast(pa.timestamp("us")).cast(TIMESTAMP)
    table = table.set_column(table.schema.get_field_index("time"), "time", time)
    table = table.set_column(table.schema.get_field_index("time_max"), "time_max", time_max)
    placed_lines = set(line[rows].tolist())
    st.malformed -= len(rows)
    st.samples = [
        x for x in st.samples if not (x.reason == _UNTIMED_REASON and x.line in placed_lines)
    ]
    return table


def _time_source(table: pa.Table) -> str | None:
    """Where the file's request times come from: "line", "twilio_date", "mixed" or None."""
    timed = _np_bool(pc.and_(pc.is_valid(table["time"]), pc.is_null(table["time_max"])))
    from_twilio = _np_bool(table[_FROM_TWILIO])
    n_twilio = int((timed & from_twilio).sum())
    n_line = int(timed.sum()) - n_twilio
    if n_line and n_twilio:
        return "mixed"
    if n_twilio:
        return "twilio_date"
    return "line" if n_line else None


def _correct_local_time(table: pa.Table, st: FileStats, log_tz: str) -> pa.Table:
    """Shift a file's line times by whole quarter hours when Twilio's Date header shows
    they are local time read in the wrong zone (records it in ``st``)."""
    if table.num_rows - table["twilio_time"].null_count < _OFFSET_MIN_PAIRS:
        return table
    line_timed = pc.and_(pc.is_valid(table["time"]), pc.invert(table[_FROM_TWILIO]))
    both = _np_bool(pc.and_(line_timed, pc.is_valid(table["twilio_time"])))
    if int(both.sum()) < _OFFSET_MIN_PAIRS:
        return table
    take = pa.array(both)
    t_us = np.asarray(table["time"].filter(take).cast(pa.int64()).to_numpy(), dtype=np.int64)
    tw_us = np.asarray(
        table["twilio_time"].filter(take).cast(pa.int64()).to_numpy(), dtype=np.int64
    )
    diff_s = (t_us - tw_us) / 1e6
    offset = float(np.median(diff_s))
    if abs(offset) < _OFFSET_MIN_SECONDS:
        return table  # clock skew: the cross-reference measures and handles it
    step = float(np.round(offset / _OFFSET_STEP_SECONDS) * _OFFSET_STEP_SECONDS)
    shift_us = int(round(step * 1e6))
    shift = np.where(_np_bool(line_timed), shift_us, 0)
    time_us = pc.subtract(table["time"].cast(pa.int64()), pa.array(shift, pa.int64()))
    fixed = time_us.cast(pa.timestamp("us")).cast(TIMESTAMP)
    table = table.set_column(table.schema.get_field_index("time"), "time", fixed)
    st.offset_corrected_seconds = step
    span = _duration_text(step)
    if log_tz == "UTC":
        st.warnings.append(
            f"times in {st.path} look like local time {span} "
            f"{'ahead of' if step > 0 else 'behind'} UTC (measured against Twilio's Date "
            "header): corrected; pass --log-tz to state the zone"
        )
    else:
        st.warnings.append(
            f"times in {st.path}, read in {log_tz}, are {span} "
            f"{'ahead of' if step > 0 else 'behind'} Twilio's Date header: corrected; "
            "check --log-tz"
        )
    off = int((np.abs(diff_s - step) >= _OFFSET_MIN_SECONDS).sum())
    if off:
        st.warnings.append(
            f"{off} of {len(diff_s)} requests in {st.path} still differ from Twilio's Date "
            "header by 10 minutes or more after that correction (a change of zone or of "
            "daylight saving time within the file?)"
        )
    return table


def _duration_text(seconds: float) -> str:
    minutes = int(round(abs(seconds) / 60))
    h, m = divmod(minutes, 60)
    return " ".join([f"{h} h"] * bool(h) + [f"{m} min"] * bool(m)) or "0 min"


def _file_warnings(st: FileStats, table: pa.Table) -> list[str]:
    out = []
    if st.lines == 0:
        out.append(f"{st.path} is empty")
    elif st.requests == 0 and (st.malformed > 0 or st.format == "twilio-sdk"):
        # The SDK parser ignores lines that are not its own: a file with none of its
        # blocks is as unreadable as one whose lines are all malformed.
        out.append(f"no line of {st.path} could be read as {st.format}")
    elif st.requests and table["time"].null_count == st.requests:
        out.append(
            f"no request in {st.path} has a time: its lines carry none and no Twilio Date "
            "header was logged; add the time to the log format (e.g. %(asctime)s)"
        )
    if st.tunnels:
        what = "lines in {} are TCP tunnels" if st.tunnels > 1 else "line in {} is a TCP tunnel"
        out.append(
            f"{st.tunnels} {what.format(st.path)} (CONNECT): this proxy cannot see the paths "
            "of HTTPS calls, so it cannot tell message sends from other calls"
        )
    return out


def _prefetch(
    chunks: Iterator[tuple[pa.StringArray, int]], prepare: Callable[[pa.StringArray, int], Any]
) -> Iterator[tuple[int, Any]]:
    """Yield (line count, prepare(lines, first line)) computed one chunk ahead in a thread.

    Reading, decompressing and the stateless first half of parsing (Arrow kernels that
    release the GIL) overlap with the second half in the caller's thread.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for lines, first_line in chunks:
                if stop.is_set():
                    return
                q.put((len(lines), prepare(lines, first_line)))
            q.put(done)
        except BaseException as exc:  # handed over to the consumer
            q.put(_Failure(exc))

    thread = threading.Thread(target=run, name="log-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, _Failure):
                raise item.exc
            yield item
    finally:
        stop.set()
        while thread.is_alive():
            with contextlib.suppress(queue.Empty):
                q.get(timeout=0.05)
        thread.join()


@dataclass
class _Failure:
    exc: BaseException


def _iter_line_chunks(f: IO[bytes], chunk_lines: int) -> Iterator[tuple[pa.StringArray, int]]:
    """Yield (lines, first line number) with at most chunk_lines lines each."""
    block_size = max(64 * 1024, min(16 * 1024 * 1024, chunk_lines * 256))
    carry = b""
    lineno = 1
    skipping = False  # inside an over-long line whose head was already emitted
    while True:
        block = f.read(block_size)
        if not block:
            if skipping or not carry:
                return
            data, carry = carry, b""
        else:
            if skipping:
                cut = block.find(b"\n")
                if cut < 0:
                    continue
                skipping = False
                block = block[cut + 1 :]
            data = carry + block
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) > _MAX_LINE_BYTES:
                    # A "line" too long to hold: keep its head as one (malformed) line.
                    data, carry, skipping = data[:_MAX_LINE_BYTES], b"", True
                else:
                    carry = data
                    continue
            else:
                data, carry = data[:cut], data[cut + 1 :]
        lines = _split_lines(data)
        for start in range(0, len(lines), chunk_lines):
            part = lines.slice(start, chunk_lines)
            yield part, lineno + start
        lineno += len(lines)


def _split_lines(data: bytes) -> pa.StringArray:
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    # Each line keeps its "\n" in the shared buffer (no copy); rtrim drops it below.
    offsets = np.concatenate(([0], nl + 1, [len(buf)])).astype(np.int32)
    lines = pa.Array.from_buffers(
        pa.string(), len(nl) + 1, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    try:
        lines.validate(full=True)
    except pa.ArrowInvalid:
        # Invalid UTF-8 somewhere: decode with replacement characters instead.
        text = data.decode("utf-8", "replace")
        lines = pc.split_pattern(pa.array([text], pa.large_string()), "\n").flatten()
        lines = lines.cast(pa.string())
    return pc.utf8_rtrim(lines, characters="\r\n")


def _collect(parsed: _Parsed, st: FileStats) -> pa.Table:
    st.malformed += parsed.malformed
    st.skipped += parsed.skipped
    room = MAX_SAMPLES - len(st.samples)
    if room > 0:
        st.samples.extend(parsed.samples[:room])
    return parsed.table


def _with_source(table: pa.Table, source: str) -> pa.Table:
    n = table.num_rows
    src = pa.DictionaryArray.from_arrays(
        pa.array(np.zeros(n, dtype=np.int32)), pa.array([source], pa.string())
    )
    cols = [table[name] for name in REQUEST_SCHEMA.names if name not in ("source_file", "line")]
    cols += [src, table["line"]]
    return pa.Table.from_arrays(cols, schema=REQUEST_SCHEMA)


# --------------------------------------------------------------------------- common helpers


#: Hidden column of the per-chunk tables: True where ``time`` was taken from Twilio's Date
#: header (already in Twilio's clock: never shifted by the local-time correction).
_FROM_TWILIO = "_time_from_twilio"
#: Hidden column: the line that logged the answer (SDK blocks), to place untimed blocks.
_ANSWERED_LINE = "_answered_line"
_CORE_SCHEMA = pa.schema(
    [f for f in REQUEST_SCHEMA if f.name != "source_file"]
    + [
        pa.field(_FROM_TWILIO, pa.bool_(), nullable=False),
        pa.field(_ANSWERED_LINE, pa.int64()),
    ]
)


def _empty_core() -> pa.Table:
    return _CORE_SCHEMA.empty_table()


@dataclass
class _Parsed:
    table: pa.Table
    malformed: int = 0
    skipped: int = 0
    samples: list[MalformedSample] = field(default_factory=list)


def _samples(
    texts: pa.Array, line_numbers: np.ndarray, mask: np.ndarray, reason: Callable[[int], str]
) -> list[MalformedSample]:
    """The first MAX_SAMPLES malformed entries selected by mask; reason(i) explains entry i."""
    idx = np.flatnonzero(mask)[:MAX_SAMPLES]
    out = []
    for i in idx:
        text = texts[int(i)].as_py() or ""
        out.append(MalformedSample(int(line_numbers[i]), reason(int(i)), text[:SAMPLE_CHARS]))
    return out


def _np_bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _blank_mask(lines: pa.StringArray) -> np.ndarray:
    # JSON's own whitespace, so that pyarrow's JSON reader skips exactly these lines.
    return _np_bool(pc.match_substring_regex(lines, r"^[ \t]*$"))


def _nullify_empty(arr: pa.Array) -> pa.Array:
    arr = pc.utf8_trim_whitespace(arr)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def parse_times(values: pa.Array, log_tz: str = "UTC") -> pa.TimestampArray:
    """Parse ISO 8601 strings (or epoch seconds/ms) into UTC timestamps; bad ones → null.

    Strings without a zone are local times in ``log_tz``.
    """
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return _epoch_to_utc(values)
    s = pc.utf8_trim_whitespace(values.cast(pa.string()))
    # Python logging writes "14:03:01,123"; a comma has no other use in a timestamp.
    s = pc.replace_substring(s, ",", ".")
    # Fast paths: all values zoned, or all naive.
    with contextlib.suppress(pa.ArrowInvalid):
        return pc.cast(s, TIMESTAMP)
    with contextlib.suppress(pa.ArrowInvalid):
        return pc.assume_timezone(
            pc.cast(s, pa.timestamp("us")), log_tz, ambiguous="earliest", nonexistent="latest"
        ).cast(TIMESTAMP)
    s = pc.replace_substring_regex(s, r"\s+(Z|[+-]\d{2}(?::?\d{2})?)$", r"\1")
    s = pc.if_else(pc.equal(s, ""), pa.scalar(None, pa.string()), s)
    n = len(s)
    present = _np_bool(pc.is_valid(s))
    epoch = _np_bool(pc.match_substring_regex(s, _EPOCH_RE))
    zoned = _np_bool(pc.match_substring_regex(s, _ZONE_SUFFIX_RE)) & ~epoch
    naive = present & ~zoned & ~epoch
    result = np.full(n, np.datetime64("NaT"), dtype="datetime64[us]")
    if zoned.any():
        result[zoned] = _iso_to_utc(s.filter(pa.array(zoned)), None)
    if naive.any():
        result[naive] = _iso_to_utc(s.filter(pa.array(naive)), log_tz)
    if epoch.any():
        ep = _epoch_to_utc(pc.cast(s.filter(pa.array(epoch)), pa.float64()))
        result[epoch] = ep.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    return pa.array(result, type=pa.timestamp("us"), from_pandas=True).cast(TIMESTAMP)


# RFC 7231 ("Wed, 08 Apr 2026 09:04:08 GMT") and RFC 2822 ("Fri, 24 May 2019 17:44:46
# +0000") dates; HTTP dates are always GMT, so a missing zone is GMT too.
_HTTP_DATE_EXTRACT = (
    r"(?i)^(?:[A-Za-z]{3},\s*)?(?P<d>[0-9]{1,2}) (?P<mon>[A-Za-z]{3}) (?P<y>[0-9]{4}) "
    r"(?P<hms>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?: (?P<z>GMT|UTC|UT|Z|[+-][0-9]{4}))?$"
)
_HTTP_DATE_FIXED = (
    r"^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$"
)
_MONTH_NUMBERS = pa.array([f"{i:02d}" for i in range(1, 13)])
# Twilio's Date header in the logged response headers: requests' dict repr or aiohttp's
# CIMultiDictProxy repr, both "'Date': '...'" (HTTP/2 would write "date").
_DATE_HEADER_RE = r"(?i)['\"]date['\"]\s*:\s*['\"](?P<v>[^'\"]+)['\"]"


def parse_twilio_dates(values: pa.Array) -> pa.TimestampArray:
    """Parse Twilio Date header values into UTC timestamps; anything else → null.

    Accepts RFC 7231 / RFC 2822 text (a missing zone is GMT), and ISO 8601 text or epoch
    seconds (a zoneless ISO time is UTC: the header is Twilio's clock).
    """
    n = len(values)
    if values.null_count == n:
        return pa.nulls(n, TIMESTAMP)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            return parse_times(values, "UTC")
        values = values.cast(pa.string())
    s = _nullify_empty(values)
    # Fast path for the header as Twilio sends it: fixed width, sliced without a regex.
    fixed = pc.fill_null(pc.match_substring_regex(s, _HTTP_DATE_FIXED), False)
    if pc.all(pc.or_(fixed, pc.is_null(s))).as_py():
        return _http_date_fixed(s)
    p = pc.extract_regex(s, _HTTP_DATE_EXTRACT)
    f = functools.partial(pc.struct_field, p)
    month = pc.index_in(pc.utf8_capitalize(f("mon")), value_set=pa.array(_MONTHS))
    mm = pc.take(_MONTH_NUMBERS, month)
    hms = f("hms")
    hms = pc.if_else(
        pc.equal(pc.utf8_length(hms), 5), pc.binary_join_element_wise(hms, ":00", ""), hms
    )
    zone = pc.if_else(
        pc.match_substring_regex(pc.fill_null(f("z"), "GMT"), "^[+-]"), f("z"), pa.scalar("+0000")
    )
    iso = pc.binary_join_element_wise(
        f("y"), "-", mm, "-", pc.utf8_lpad(f("d"), 2, "0"), "T", hms, zone, ""
    )
    try:
        out = pc.cast(iso, TIMESTAMP)
    except pa.ArrowInvalid:  # e.g. 31 Feb: such values become null one by one
        out = parse_times(iso, "UTC")
    # Text that is no RFC date: ISO 8601 or epoch seconds.
    rest = pc.and_(pc.is_valid(s), pc.is_null(iso))
    return _where(out, rest, lambda _: parse_times(s.filter(rest), "UTC"))


def _http_date_fixed(s: pa.Array) -> pa.TimestampArray:
    """UTC timestamps of "Wed, 08 Apr 2026 09:04:08 GMT" values (all of that shape or null)."""

    def part(start: int, stop: int) -> pa.Array:
        return pc.utf8_slice_codeunits(s, start, stop)

    month = pc.index_in(part(8, 11), value_set=pa.array(_MONTHS))
    mm = pc.take(_MONTH_NUMBERS, month)
    iso = pc.binary_join_element_wise(
        part(12, 16), "-", mm, "-", part(5, 7), "T", part(17, 25), "Z", ""
    )
    try:
        return pc.cast(iso, TIMESTAMP)
    except pa.ArrowInvalid:  # e.g. 31 Feb: such values become null one by one
        return parse_times(iso, "UTC")


def _epoch_to_utc(values: pa.Array) -> pa.Array:
    num = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    # Epochs above 1e11 can only be milliseconds (1e11 s is in the year 5138).
    num = np.where(np.abs(num) > 1e11, num / 1000.0, num)
    ok = np.isfinite(num) & (np.abs(num) < 1e11)
    us = np.where(ok, np.round(num * 1e6), 0).astype("int64")
    return pa.array(us, pa.int64(), mask=~ok).cast(pa.timestamp("us")).cast(TIMESTAMP)


def _iso_to_utc(s: pa.Array, log_tz: str | None) -> np.ndarray:
    """Naive UTC datetime64[us] values of ISO strings (zoned if log_tz is None)."""
    try:
        if log_tz is None:
            ts = pc.cast(s, TIMESTAMP)
        else:
            ts = pc.assume_timezone(
                pc.cast(s, pa.timestamp("us")), log_tz, ambiguous="earliest", nonexistent="latest"
            )
        return np.asarray(ts.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ser = pd.Series(s.to_pylist(), dtype=object)
    if log_tz is None:
        parsed = pd.to_datetime(ser, format="ISO8601", utc=True, errors="coerce")
    else:
        naive = pd.to_datetime(ser, format="ISO8601", errors="coerce")
        if getattr(naive.dt, "tz", None) is not None:  # pragma: no cover - mixed input
            naive = naive.dt.tz_localize(None)
        parsed = naive.dt.tz_localize(
            log_tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
        ).dt.tz_convert("UTC")
    vals = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return np.asarray(vals)


def _numbers(values: pa.Array, valid_text: str) -> pa.Array:
    """Values as float64; text that does not match ``valid_text`` becomes null."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return pc.cast(values, pa.float64())
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    try:
        return pc.cast(text, pa.float64())
    except pa.ArrowInvalid:
        ok = pc.match_substring_regex(text, valid_text)
        return pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())


def _to_int_status(values: pa.Array) -> pa.Array:
    """HTTP status codes as int32; anything outside 100..599 → null."""
    num = _numbers(values, r"^[0-9]+(?:\.0*)?$")
    whole = pc.equal(pc.floor(num), num)
    ok = pc.and_(pc.and_(pc.greater_equal(num, 100), pc.less(num, 600)), whole)
    return pc.cast(pc.if_else(ok, num, pa.scalar(None, pa.float64())), pa.int32())


def _to_float(values: pa.Array) -> pa.Array:
    num = _numbers(values, r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$")
    finite = pc.is_finite(num)
    return pc.if_else(finite, num, pa.scalar(None, pa.float64()))


def _where(arr: pa.Array, mask: pa.Array, fn: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """arr with fn applied to the masked values only (fn is costly, the mask often empty)."""
    mask = pc.fill_null(mask, False)
    if not pc.any(mask).as_py():
        return arr
    return pc.replace_with_mask(arr, mask, fn(arr.filter(mask)))


def _url_to_path(url: pa.Array, method: pa.Array) -> pa.Array:
    scheme = r"^[A-Za-z][A-Za-z0-9+.\-]*://"
    absolute = pc.match_substring(url, "://")

    def strip_host(u: pa.Array) -> pa.Array:
        p = pc.replace_substring_regex(u, scheme + r"[^/?#]*", "")
        return pc.if_else(pc.equal(p, ""), pa.scalar("/"), p)

    p = _where(url, absolute, strip_host)
    p = _where(
        p,
        pc.match_substring_regex(p, "[?#]"),
        lambda u: pc.replace_substring_regex(u, r"[?#].*$", ""),
    )
    # A CONNECT tunnel shows host:port, never a path; "-" is a missing value.
    bad = pc.or_(pc.equal(method, "CONNECT"), pc.or_(pc.equal(p, "-"), pc.equal(p, "")))
    return pc.if_else(bad, pa.scalar(None, pa.string()), p)


def _core_table(
    *,
    time: pa.Array,
    method: pa.Array,
    url: pa.Array,
    line: np.ndarray,
    status: pa.Array | None = None,
    duration_ms: pa.Array | None = None,
    to: pa.Array | None = None,
    message_sid: pa.Array | None = None,
    request_id: pa.Array | None = None,
    error: pa.Array | None = None,
    twilio_time: pa.Array | None = None,
    from_twilio: np.ndarray | None = None,
    answered_line: pa.Array | None = None,
) -> pa.Table:
    """Assemble canonical columns (all but source_file) from raw parsed columns."""
    n = len(line)

    def opt(a: pa.Array | None, typ: pa.DataType) -> pa.Array:
        return pa.nulls(n, typ) if a is None else a.cast(typ)

    method = pc.utf8_upper(method.cast(pa.string()))
    path = _url_to_path(url.cast(pa.string()), method)
    acct = pc.struct_field(pc.extract_regex(path, _ACCOUNT_RE), "a")
    acct = pc.if_else(pc.equal(acct, ""), pa.scalar(None, pa.string()), acct)
    is_send = pc.fill_null(
        pc.and_(pc.equal(method, "POST"), pc.match_substring_regex(path, _SEND_PATH_RE)), False
    )
    cols = [
        time.cast(TIMESTAMP),
        opt(twilio_time, TIMESTAMP),
        pa.nulls(n, TIMESTAMP),
        method,
        path,
        acct,
        opt(status, pa.int32()),
        opt(duration_ms, pa.float64()),
        opt(to, pa.string()),
        opt(message_sid, pa.string()),
        opt(request_id, pa.string()),
        is_send,
        opt(error, pa.string()),
        pa.array(line, pa.int64()),
        pa.array(np.zeros(n, dtype=bool) if from_twilio is None else from_twilio, pa.bool_()),
        opt(answered_line, pa.int64()),
    ]
    return pa.Table.from_arrays(cols, schema=_CORE_SCHEMA)


class _Parser:
    """prepare() is stateless and may run in the reader thread; feed() runs in order."""

    def prepare(self, lines: pa.StringArray, first_line: int) -> Any:
        raise NotImplementedError

    def feed(self, prepared: Any) -> _Parsed:
        raise NotImplementedError

    def finish(self) -> _Parsed:
        return _Parsed(_empty_core())


def _make_parser(fmt: str, log_tz: str, field_map: dict[str, str]) -> _Parser:
    if fmt == "jsonl":
        return _JsonlParser(field_map, log_tz)
    if fmt == "twilio-sdk":
        return _SdkParser(log_tz)
    if fmt == "combined":
        return _CombinedParser(log_tz)
    return _EnvoyParser(log_tz)


# --------------------------------------------------------------------------- jsonl


_JSON_SCALAR_TYPES = {bool: pa.bool_(), int: pa.int64(), float: pa.float64(), str: pa.string()}


class _JsonlParser(_Parser):
    """JSON lines: pyarrow's JSON reader per chunk, bisecting down to json.loads on errors."""

    _SLOW_BELOW = 512

    def __init__(self, field_map: dict[str, str], log_tz: str) -> None:
        self.field_map = field_map
        self.log_tz = log_tz
        self.sources = list(dict.fromkeys(field_map.values()))
        self.schema: pa.Schema | None = None

    def _infer_schema(self, sample: list[str]) -> pa.Schema:
        """Arrow types of the source fields, from the first JSON values seen."""
        types: dict[str, pa.DataType] = {}
        for text in sample:
            try:
                obj = json.loads(text)
            except ValueError:
                continue
            if not isinstance(obj, dict):
                continue
            for name in self.sources:
                if name in obj and name not in types and obj[name] is not None:
                    typ = _JSON_SCALAR_TYPES.get(type(obj[name]))
                    if typ is not None:
                        types[name] = typ
        # A duration logged as 120 in the first lines may read 120.5 later.
        dur = self.field_map["duration_ms"]
        if types.get(dur) == pa.int64():
            types[dur] = pa.float64()
        return pa.schema([pa.field(n, types.get(n, pa.string())) for n in self.sources])

    def prepare(self, lines: pa.StringArray, first_line: int) -> Any:
        blank = _blank_mask(lines)
        keep = np.flatnonzero(~blank)
        body = lines.take(pa.array(keep)) if len(keep) < len(lines) else lines
        line_no = keep + first_line
        if len(body) == 0:
            return None
        if self.schema is None:  # only ever touched from the reader thread
            self.schema = self._infer_schema(body.slice(0, _DETECT_LINES).to_pylist())
        cols, invalid = self._parse(body)
        return body, line_no, cols, invalid

    def feed(self, prepared: Any) -> _Parsed:
        if prepared is None:
            return _Parsed(_empty_core())
        return self._finish_rows(*prepared)

    def _parse(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        # Lines that cannot be a JSON object (mostly truncated ones) go straight to the
        # line-by-line path, so one of them does not make a whole chunk fall back.
        trimmed = pc.utf8_trim_whitespace(body)
        plausible = _np_bool(
            pc.fill_null(pc.and_(pc.starts_with(trimmed, "{"), pc.ends_with(trimmed, "}")), False)
        )
        if plausible.all():
            return self._parse_split(body)
        good, bad = np.flatnonzero(plausible), np.flatnonzero(~plausible)
        if not len(good):
            return self._parse_slow(body)
        # A line that does not start with "{" and end with "}" is no JSON object: it is
        # malformed and carries no values.
        good_cols, good_invalid = self._parse_split(body.take(pa.array(good)))
        order = pa.array(np.argsort(np.concatenate([good, bad]), kind="stable"))
        cols = {
            name: pa.concat_arrays([array, pa.nulls(len(bad), array.type)]).take(order)
            for name, array in good_cols.items()
        }
        invalid = np.concatenate([good_invalid, np.ones(len(bad), dtype=bool)])
        return cols, invalid[order.to_numpy()]

    def _parse_split(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        try:
            return self._parse_fast(body), np.zeros(len(body), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            pass
        if len(body) <= self._SLOW_BELOW:
            return self._parse_slow(body)
        half = len(body) // 2
        a_cols, a_bad = self._parse_split(body.slice(0, half))
        b_cols, b_bad = self._parse_split(body.slice(half))
        cols = {}
        for k in a_cols:
            a, b = a_cols[k], b_cols[k]
            if a.type != b.type:
                a, b = a.cast(pa.string()), b.cast(pa.string())
            cols[k] = pa.concat_arrays([a, b])
        return cols, np.concatenate([a_bad, b_bad])

    def _parse_fast(self, body: pa.StringArray) -> dict[str, pa.Array]:
        assert self.schema is not None
        joined = pc.binary_join(
            pa.ListArray.from_arrays(pa.array([0, len(body)], pa.int32()), body), "\n"
        )[0]
        buf = joined.as_buffer()
        table = pj.read_json(
            pa.BufferReader(buf),
            read_options=pj.ReadOptions(block_size=_JSON_BLOCK),
            parse_options=pj.ParseOptions(
                explicit_schema=self.schema, unexpected_field_behavior="ignore"
            ),
        )
        if table.num_rows != len(body):
            # Several objects on one line: rows would not line up with lines.
            raise pa.ArrowInvalid("row count differs from line count")
        out = {}
        for name in self.sources:
            col = table[name].combine_chunks()
            if pa.types.is_boolean(col.type):
                col = pc.if_else(col, "true", "false")
            out[name] = col
        return out

    def _parse_slow(self, body: pa.StringArray) -> tuple[dict[str, pa.Array], np.ndarray]:
        values: dict[str, list[str | None]] = {name: [] for name in self.sources}
        invalid = np.zeros(len(body), dtype=bool)
        for i, text in enumerate(body.to_pylist()):
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                obj = None
            if not isinstance(obj, dict):
                invalid[i] = True
                obj = {}
            for name in self.sources:
                values[name].append(_json_scalar_text(obj.get(name)))
        return {k: pa.array(v, pa.string()) for k, v in values.items()}, invalid

    def _finish_rows(
        self,
        body: pa.StringArray,
        line_no: np.ndarray,
        cols: dict[str, pa.Array],
        invalid: np.ndarray,
    ) -> _Parsed:
        fm = self.field_map

        def text(name: str) -> pa.Array:
            return _nullify_empty(cols[fm[name]].cast(pa.string()))

        method = text("method")
        url = text("url")
        ts_col = cols[fm["timestamp"]]
        ts_raw = _nullify_empty(ts_col) if pa.types.is_string(ts_col.type) else ts_col
        time = parse_times(ts_raw, self.log_tz)
        twilio_time = parse_twilio_dates(cols[fm["twilio_date"]])
        has_ts = _np_bool(pc.is_valid(ts_raw))
        # A record without a timestamp but with Twilio's Date is timed by Twilio's clock.
        from_twilio = ~has_ts & _np_bool(pc.is_valid(twilio_time))
        if from_twilio.any():
            time = pc.if_else(pa.array(from_twilio), twilio_time, time)
        has_method = _np_bool(pc.is_valid(method))
        has_url = _np_bool(pc.is_valid(url))
        good_time = _np_bool(pc.is_valid(time))
        valid_method = _np_bool(pc.match_substring_regex(method, r"^[A-Za-z]+$"))
        skipped = ~invalid & ~has_method & ~has_url

        def reason(i: int) -> str:
            if invalid[i]:
                return "invalid JSON object"
            if not (has_method[i] and valid_method[i]):
                return "missing or invalid method"
            if not has_url[i]:
                return "missing url"
            return "missing timestamp" if not has_ts[i] else "unparseable timestamp"

        ok = ~invalid & has_method & valid_method & has_url & good_time
        bad = ~ok & ~skipped
        take = pa.array(ok)
        table = _core_table(
            time=time.filter(take),
            method=method.filter(take),
            url=url.filter(take),
            line=line_no[ok],
            status=_to_int_status(cols[fm["status"]].filter(take)),
            duration_ms=_to_float(cols[fm["duration_ms"]].filter(take)),
            to=text("to").filter(take),
            message_sid=text("message_sid").filter(take),
            request_id=text("request_id").filter(take),
            error=text("error").filter(take),
            twilio_time=twilio_time.filter(take),
            from_twilio=from_twilio[ok],
        )
        return _Parsed(
            table,
            malformed=int(bad.sum()),
            skipped=int(skipped.sum()),
            samples=_samples(body, line_no, bad, reason),
        )


def _json_scalar_text(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        # Match Arrow's float→string cast, which drops ".0".
        return str(int(value))
    return json.dumps(value)


# --------------------------------------------------------------------------- combined / envoy


class _RegexLineParser(_Parser):
    """One request per line: a full-line pattern validates, a short one extracts."""

    pattern = ""
    #: Extraction patterns, each with at most 4 groups (RE2's fast one-pass limit).
    extracts: tuple[str, ...] = ()

    def __init__(self, log_tz: str) -> None:
        self.log_tz = log_tz

    def prepare(self, lines: pa.StringArray, first_line: int) -> Any:
        blank = _blank_mask(lines)
        keep = np.flatnonzero(~blank)
        body = lines.take(pa.array(keep)) if len(keep) < len(lines) else lines
        line_no = keep + first_line
        if len(body) == 0:
            return None
        matched = _np_bool(pc.match_substring_regex(body, self.pattern))
        valid = body.filter(pa.array(matched))
        fields: dict[str, pa.Array] = {}
        for pattern in self.extracts:
            m = pc.extract_regex(valid, pattern)
            fields.update({f.name: pc.struct_field(m, f.name) for f in m.type})
        self.refine(valid, fields)
        parts = pa.StructArray.from_arrays(list(fields.values()), list(fields))
        return body, line_no, matched, parts

    def feed(self, prepared: Any) -> _Parsed:
        if prepared is None:
            return _Parsed(_empty_core())
        body, line_no, matched, parts = prepared
        time = self.parse_time(pc.struct_field(parts, "time"))
        good_time = _np_bool(pc.is_valid(time))
        ok = matched.copy()
        ok[matched] = good_time
        bad = ~ok

        def reason(i: int) -> str:
            return "unparseable time" if matched[i] else "line does not match the format"

        keep_rows = pa.array(good_time)
        table = self.build(parts.filter(keep_rows), time.filter(keep_rows), line_no[ok])
        return _Parsed(
            table, malformed=int(bad.sum()), samples=_samples(body, line_no, bad, reason)
        )

    def refine(self, valid: pa.StringArray, fields: dict[str, pa.Array]) -> None:
        """Fix up extracted fields in place (e.g. from a second pattern for some lines)."""

    def parse_time(self, raw: pa.Array) -> pa.Array:
        raise NotImplementedError

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        raise NotImplementedError


class _CombinedParser(_RegexLineParser):
    pattern = _COMBINED_RE
    extracts = (_COMBINED_EXTRACT,)

    def parse_time(self, raw: pa.Array) -> pa.Array:
        # [29/Nov/2026:14:03:01 +0100] rewritten as ISO 8601 for Arrow's fast parser.
        p = pc.extract_regex(raw, _CLF_TIME_EXTRACT)
        month = pc.index_in(pc.struct_field(p, "mon"), value_set=pa.array(_MONTHS))
        mm = pc.take(pa.array([f"{i:02d}" for i in range(1, 13)]), month)
        f = functools.partial(pc.struct_field, p)
        iso = pc.binary_join_element_wise(f("y"), "-", mm, "-", f("d"), "T", f("hms"), f("z"), "")
        try:
            return pc.cast(iso, TIMESTAMP)
        except pa.ArrowInvalid:  # e.g. 31/Feb: such values become null one by one
            return parse_times(iso, "UTC")

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        return _core_table(
            time=time,
            method=pc.struct_field(parts, "method"),
            url=pc.struct_field(parts, "target"),
            status=_to_int_status(pc.struct_field(parts, "status")),
            line=line,
        )


_ENVOY_NO_FLAGS = "-"


class _EnvoyParser(_RegexLineParser):
    pattern = _ENVOY_RE
    extracts = (_ENVOY_EXTRACT, _ENVOY_EXTRACT_MORE)

    def refine(self, valid: pa.StringArray, fields: dict[str, pa.Array]) -> None:
        # Istio's lines do not fit the default shape's flags/duration pattern.
        istio = pc.is_null(fields["flags"])
        if not pc.any(istio).as_py():
            return
        m = pc.extract_regex(valid.filter(istio), _ENVOY_EXTRACT_ISTIO)
        for name in ("flags", "dur"):
            fields[name] = pc.replace_with_mask(fields[name], istio, pc.struct_field(m, name))

    def parse_time(self, raw: pa.Array) -> pa.Array:
        return parse_times(raw, self.log_tz)

    def build(self, parts: pa.StructArray, time: pa.Array, line: np.ndarray) -> pa.Table:
        flags = pc.struct_field(parts, "flags")
        # Envoy's RESPONSE_FLAGS (e.g. UT upstream timeout, UF connection failure) as error.
        error = pc.if_else(pc.equal(flags, _ENVOY_NO_FLAGS), pa.scalar(None, pa.string()), flags)
        method = pc.struct_field(parts, "method")
        # A TCP proxy connection ("- - -"): a tunnel, read as CONNECT like other proxies'.
        method = pc.if_else(pc.equal(method, _ENVOY_TCP_METHOD), pa.scalar("CONNECT"), method)
        return _core_table(
            time=time,
            method=method,
            url=pc.struct_field(parts, "target"),
            status=_to_int_status(pc.struct_field(parts, "status")),
            duration_ms=_to_float(pc.struct_field(parts, "dur")),
            error=error,
            line=line,
        )


# --------------------------------------------------------------------------- twilio-sdk


_SDK_SCHEMA = pa.schema(
    [
        pa.field("line", pa.int64()),
        pa.field("kind", pa.int8()),
        pa.field("key", pa.string()),
        pa.field("text", pa.string()),
        pa.field("time", TIMESTAMP),
        pa.field("method", pa.string()),
        pa.field("url", pa.string()),
        pa.field("status", pa.string()),
        pa.field("extra", pa.string()),
    ]
)
_K = {code: np.int8(i) for i, code in enumerate(_SDK_KINDS)}
# Kinds that may appear once per block; a status line and an old-style response count as one.
_SDK_ONCE = {
    _K["Q"]: 0,
    _K["P"]: 1,
    _K["S"]: 2,
    _K["R"]: 2,
    _K["H"]: 3,
    _K["E"]: 4,
    _K["I"]: 5,
}
_SDK_SLOTS = 6
_TO_PAYLOAD_RE = r"['\"]To['\"]\s*:\s*['\"](?P<v>[^'\"]*)['\"]"
_TO_BODY_RE = r"\"to\"\s*:\s*\"(?P<v>[^\"]*)\""
_SID_BODY_RE = r"\"sid\"\s*:\s*\"(?P<v>[^\"]+)\""
_REQUEST_ID_RE = r"(?i)twilio-request-id['\"]?\s*:\s*['\"]?(?P<v>[A-Za-z0-9]+)"


# requests' dict repr as twilio-python logs it: Twilio sends Date first, and the request id
# follows its key. Fast paths (no regex capture over the whole text); the regexes above
# read whatever else.
_DATE_FIRST = "{'Date': '"
_DATE_WIDTH = len("Wed, 08 Apr 2026 09:04:08 GMT")
_REQUEST_ID_KEY = "'Twilio-Request-Id': '"


def _regex_rest(out: pa.Array, found: pa.Array, text: pa.Array, pattern: str) -> pa.Array:
    """out, with group "v" of pattern in text where nothing was found yet."""
    rest = pc.fill_null(pc.and_(pc.invert(found), pc.is_valid(text)), False)
    if not pc.any(rest).as_py():
        return out
    value = pc.struct_field(pc.extract_regex(text.filter(rest), pattern), "v")
    return pc.replace_with_mask(out, rest, _nullify_empty(value))


def _header_date(headers: pa.Array) -> pa.Array:
    """The Date header's text in logged response headers (null where absent)."""
    end = len(_DATE_FIRST) + _DATE_WIDTH
    cand = pc.utf8_slice_codeunits(headers, len(_DATE_FIRST), end)
    found = pc.fill_null(
        pc.and_(
            pc.and_(
                pc.starts_with(headers, _DATE_FIRST),
                pc.match_substring_regex(cand, _HTTP_DATE_FIXED),
            ),
            pc.equal(pc.utf8_slice_codeunits(headers, end, end + 1), "'"),
        ),
        False,
    )
    out = pc.if_else(found, cand, pa.scalar(None, pa.string()))
    return _regex_rest(out, found, headers, _DATE_HEADER_RE)


def _header_request_id(headers: pa.Array) -> pa.Array:
    """The Twilio-Request-Id header in logged response headers (null where absent)."""
    parts = pc.split_pattern(headers, _REQUEST_ID_KEY, max_splits=1)
    two = pc.equal(pc.list_value_length(parts), 2)
    after = pc.list_element(pc.if_else(two, parts, pa.scalar(None, parts.type)), 1)
    out = _nullify_empty(pc.struct_field(pc.extract_regex(after, r"^(?P<v>[A-Za-z0-9]+)'"), "v"))
    return _regex_rest(out, pc.is_valid(out), headers, _REQUEST_ID_RE)


class _SdkParser(_Parser):
    """twilio.http_client blocks, assembled per logging prefix ("thread key").

    Lines are classified by their message; a block starts at BEGIN (2022+) or at a
    ``METHOD Request:`` line not preceded by BEGIN (older SDKs). The prefix without its
    timestamp keys the block, so that threads whose formatter shows their name do not
    mix. Blocks still open at the end of a chunk are carried into the next one.
    """

    def __init__(self, log_tz: str) -> None:
        self.log_tz = log_tz
        self.carry: pa.Table | None = None
        self.single_key: bool | None = None

    def prepare(self, lines: pa.StringArray, first_line: int) -> Any:
        marker = pc.struct_field(pc.extract_regex(lines, _SDK_MARKER_RE), "k")
        kind_no = pc.index_in(marker, value_set=_SDK_MARKERS)
        idx = np.flatnonzero(_np_bool(pc.is_valid(kind_no)))
        kinds = np.asarray(kind_no.take(pa.array(idx)).to_numpy(zero_copy_only=False))
        t = self._classify(lines.take(pa.array(idx)), idx + first_line, kinds)
        return t, first_line + len(lines) - 1

    def feed(self, prepared: Any) -> _Parsed:
        t, last_line = prepared
        if self.carry is not None:
            t = pa.concat_tables([self.carry, t]).combine_chunks()
        self.carry = None
        return self._assemble(t, last_line)

    def finish(self) -> _Parsed:
        if self.carry is None:
            return _Parsed(_empty_core())
        t, self.carry = self.carry, None
        return self._assemble(t, None)

    def _classify(self, cand: pa.StringArray, line_no: np.ndarray, kinds: np.ndarray) -> pa.Table:
        parts: list[pa.Table] = []
        for i, (code, (_, pattern)) in enumerate(_SDK_KINDS.items()):
            mask = kinds == i
            if not mask.any():
                continue
            idx = np.flatnonzero(mask)
            mask[idx] = _np_bool(pc.match_substring_regex(cand.take(pa.array(idx)), pattern))
            if not mask.any():
                continue
            sub = cand.filter(pa.array(mask))
            n = len(sub)
            # Unanchored extraction: RE2 runs its capture engine on the message only.
            m = pc.extract_regex(sub, pattern) if "(?P<" in pattern else None
            names = {f.name for f in m.type} if m is not None else set()

            def col(
                name: str, m: pa.StructArray | None = m, names: set[str] = names, n: int = n
            ) -> pa.Array:
                return pc.struct_field(m, name) if name in names else pa.nulls(n, pa.string())

            pre = pc.replace_substring_regex(sub, re.sub(r"\(\?P<\w+>", "(?:", pattern), "")
            if code in _SDK_TIMED_KINDS:
                raw = pc.struct_field(pc.extract_regex(pre, f"(?P<t>{_ISO_TIME_RE})"), "t")
                time = parse_times(_nullify_empty(raw), self.log_tz)
            else:
                time = pa.nulls(n, TIMESTAMP)
            key = pc.utf8_trim_whitespace(pc.replace_substring_regex(pre, _ISO_TIME_RE, ""))
            cols = [
                pa.array(line_no[mask], pa.int64()),
                pa.array(np.full(n, i, dtype=np.int8)),
                key,
                sub,
                time,
                col("method"),
                col("url"),
                col("status"),
                col("extra"),
            ]
            parts.append(pa.Table.from_arrays(cols, schema=_SDK_SCHEMA))
        if not parts:
            return _SDK_SCHEMA.empty_table()
        t = pa.concat_tables(parts).combine_chunks()
        return t.take(pc.sort_indices(t["line"]))

    def _keys(self, t: pa.Table, kind: np.ndarray) -> np.ndarray:
        keys = pc.dictionary_encode(t["key"].combine_chunks())
        codes = np.asarray(keys.indices.to_numpy(zero_copy_only=False), dtype=np.int64)
        if self.single_key is None:
            starts = codes[kind == _K["B"]]
            if not len(starts):
                starts = codes[kind == _K["Q"]]
            if len(starts):
                # A formatter field that changes on every line (e.g. relativeCreated) would
                # tear blocks apart: then all lines are read as one sequence.
                self.single_key = float(np.isin(codes, np.unique(starts)).mean()) < 0.9
        return np.zeros(len(codes), dtype=np.int64) if self.single_key else codes

    def _assemble(self, t: pa.Table, last_line: int | None) -> _Parsed:
        n = t.num_rows
        if n == 0:
            return _Parsed(_empty_core())
        kind = np.asarray(t["kind"].to_numpy(), dtype=np.int8)
        line = np.asarray(t["line"].to_numpy(), dtype=np.int64)
        key = self._keys(t, kind)
        # Rows grouped by key, in line order within each key.
        order = np.lexsort((line, key))
        k_s, kind_s = key[order], kind[order]
        same_key = np.concatenate(([False], k_s[1:] == k_s[:-1]))
        prev_begin = np.concatenate(([False], kind_s[:-1] == _K["B"])) & same_key
        start_s = (kind_s == _K["B"]) | ((kind_s == _K["Q"]) & ~prev_begin)
        cs = np.cumsum(start_s)
        seg_first = np.flatnonzero(~same_key)
        before_seg = np.repeat(cs[seg_first] - start_s[seg_first], np.diff(np.append(seg_first, n)))
        orphan_s = cs == before_seg
        gid_s = np.where(orphan_s, 0, cs)  # block number, 0 for lines outside any block

        gid = np.empty(n, dtype=np.int64)
        gid[order] = gid_s
        start = np.empty(n, dtype=bool)
        start[order] = start_s
        orphan = gid == 0

        carry = np.zeros(n, dtype=bool)
        if last_line is not None:
            # The last block of each key may go on in the next chunk when it began recently.
            last_of_key = np.flatnonzero(np.append(k_s[1:] != k_s[:-1], True))
            last_gid = gid_s[last_of_key]
            last_gid = last_gid[last_gid > 0]
            start_line = np.zeros(int(cs[-1]) + 1, dtype=np.int64)
            start_line[gid[start]] = line[start]
            pending = last_gid[start_line[last_gid] > last_line - _SDK_CARRY_WINDOW]
            carry = np.isin(gid, pending) & ~orphan
        self.carry = t.filter(pa.array(carry)) if carry.any() else None

        live = ~carry & ~orphan
        nblk = int(cs[-1]) + 1 if n else 1
        # First row of each kind per block; a repeated kind marks lines of a lost block.
        once = np.full(n, -1, dtype=np.int64)
        for kcode, slot in _SDK_ONCE.items():
            once[kind == kcode] = slot
        pos = {slot: np.full(nblk, -1, dtype=np.int64) for slot in range(_SDK_SLOTS)}
        dup = np.zeros(n, dtype=bool)
        for slot in range(_SDK_SLOTS):
            rows = np.flatnonzero(live & (once == slot))
            if not len(rows):
                continue
            g = gid[rows]
            first_idx = np.unique(g, return_index=True)[1]
            pos[slot][g[first_idx]] = rows[first_idx]
            extra = np.ones(len(rows), dtype=bool)
            extra[first_idx] = False
            dup[rows[extra]] = True
        dup &= ~start

        srows = np.flatnonzero(live & start)
        sg = gid[srows]
        q = pos[0][sg]
        has_req = q >= 0
        bad_block_lines = line[srows[~has_req]]
        srows, sg, q = srows[has_req], sg[has_req], q[has_req]
        p_, r_, h_, i_ = pos[1][sg], pos[2][sg], pos[3][sg], pos[5][sg]

        def take(column: str, rows: np.ndarray) -> pa.Array:
            col = t[column].combine_chunks()
            return col.take(pa.array(rows, pa.int64(), mask=rows < 0))

        headers = take("extra", h_)
        twilio_time = parse_twilio_dates(_header_date(headers))
        line_time = take("time", srows)
        resp_time = take("time", r_)
        # Lines without a time (logging.basicConfig()): the block is timed by Twilio's Date.
        from_twilio = _np_bool(pc.and_(pc.is_null(line_time), pc.is_valid(twilio_time)))
        time = pc.coalesce(line_time, twilio_time) if from_twilio.any() else line_time
        no_time = _np_bool(pc.is_null(time))
        status_raw = take("status", r_)
        resp_kind = np.where(r_ >= 0, kind[np.maximum(r_, 0)], -1)
        body = take("extra", np.where(resp_kind == _K["R"], r_, -1))
        payload = take("extra", p_)
        to = pc.coalesce(
            _nullify_empty(pc.struct_field(pc.extract_regex(payload, _TO_PAYLOAD_RE), "v")),
            _nullify_empty(pc.struct_field(pc.extract_regex(body, _TO_BODY_RE), "v")),
        )
        sid = _nullify_empty(pc.struct_field(pc.extract_regex(body, _SID_BODY_RE), "v"))
        rid = pc.coalesce(_header_request_id(headers), _nullify_empty(take("extra", i_)))
        dur = pc.divide(
            pc.cast(
                pc.subtract(resp_time.cast(pa.int64()), line_time.cast(pa.int64())), pa.float64()
            ),
            1000.0,
        )
        table = _core_table(
            time=time,
            method=take("method", q),
            url=take("url", q),
            status=_to_int_status(status_raw),
            duration_ms=dur,
            to=to,
            message_sid=sid,
            request_id=rid,
            line=line[srows],
            twilio_time=twilio_time,
            from_twilio=from_twilio,
            answered_line=pa.array(np.where(r_ >= 0, line[np.maximum(r_, 0)], 0), mask=r_ < 0),
        )

        # Malformed: lines outside blocks, repeated lines, blocks without a request line,
        # and blocks with neither a time nor a Twilio Date (kept as rows with a null time).
        bad_rows = np.concatenate([np.flatnonzero(orphan), np.flatnonzero(dup & live)])
        no_req_rows = np.flatnonzero(np.isin(line, bad_block_lines) & start)
        no_time_rows = srows[no_time]
        reasons = (
            ["SDK log line outside a request block"] * int(orphan.sum())
            + ["SDK log line repeated within one request block"] * int((dup & live).sum())
            + ["request block without a request line"] * len(no_req_rows)
            + [_UNTIMED_REASON] * len(no_time_rows)
        )
        all_rows = np.concatenate([bad_rows, no_req_rows, no_time_rows])
        first = np.argsort(line[all_rows], kind="stable")[:MAX_SAMPLES]
        texts = t["text"].combine_chunks()
        samples = [
            MalformedSample(
                int(line[all_rows[i]]),
                reasons[i],
                (texts[int(all_rows[i])].as_py() or "")[:SAMPLE_CHARS],
            )
            for i in first
        ]
        return _Parsed(table, malformed=len(all_rows), samples=samples)
