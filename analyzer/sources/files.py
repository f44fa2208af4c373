"""Import message logs exported from Twilio: Console CSV, Bulk Export files, saved API pages.

Every record keeps where it came from in ``source`` (``console-csv:<file name>``,
``bulk-export:<file name>``, ``api-json:<file name>``). Rows that cannot be read are
reported with file and line (or record number) and skipped, or stop the import
when ``strict``.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj

from analyzer.errors import InputError
from analyzer.schema import MESSAGE_SCHEMA, TIMESTAMP, coerce_messages
from analyzer.store import WriteResult, dataset_lock, write_messages

Format = Literal["auto", "console-csv", "bulk-export", "api-json"]
FORMATS: tuple[str, ...] = ("auto", "console-csv", "bulk-export", "api-json")
MAX_SAMPLES = 20

# Console CSV headers (compared without case, spaces and underscores) -> schema fields.
CSV_COLUMNS: dict[str, str] = {
    "sid": "sid",
    "messagesid": "sid",
    "accountsid": "account_sid",
    "messagingservicesid": "messaging_service_sid",
    "from": "from",
    "to": "to",
    "body": "body",
    "status": "status",
    "direction": "direction",
    "errorcode": "error_code",
    "errormessage": "error_message",
    "numsegments": "num_segments",
    "nummedia": "num_media",
    "price": "price",
    "priceunit": "price_unit",
    "apiversion": "api_version",
    "sentdate": "date_sent",
    "datesent": "date_sent",
    "datecreated": "date_created",
    "createddate": "date_created",
    "dateupdated": "date_updated",
    "updateddate": "date_updated",
}
_LOWERCASE = ("status", "direction")
_INTEGERS = ("error_code", "num_segments", "num_media")
_DATES = ("date_created", "date_sent", "date_updated")
# Forms seen or plausible for the undocumented Console SentDate; all read as UTC unless
# they carry an offset.
_DATE_FORMATS = (
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %I:%M:%S %p",
    "%m/%d/%Y %I:%M %p",
    "%a, %d %b %Y %H:%M:%S %z",
    "%d %b %Y %H:%M:%S %z",
)


@dataclass(frozen=True)
class MalformedRow:
    """A row that was skipped (or stopped a strict import)."""

    file: str
    line: int | None
    reason: str
    record: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line is not None else f"record {self.record}"
        return f"{self.file}: {where}: {self.reason}"


@dataclass
class FileReport:
    """What one input file held."""

    path: str
    format: str
    rows: int = 0
    imported: int = 0
    malformed: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import read, skipped and wrote."""

    files: list[FileReport] = field(default_factory=list)
    rows: int = 0
    imported: int = 0
    malformed: int = 0
    samples: list[MalformedRow] = field(default_factory=list)
    write: WriteResult = field(default_factory=WriteResult)

    @property
    def notes(self) -> list[str]:
        """Per-file remarks (e.g. where date_created came from)."""
        return [f"{Path(f.path).name}: {note}" for f in self.files for note in f.notes]


@dataclass
class _Parsed:
    """Raw columns of one file, the line (or record number) of each row, and rejects."""

    table: pa.Table
    lines: np.ndarray | None
    records: np.ndarray
    malformed: list[MalformedRow]
    notes: list[str] = field(default_factory=list)
    created_from_sent: bool = False


def import_files(
    paths: Sequence[str | Path],
    dataset: str | Path,
    format: Format = "auto",  # noqa: A002
    strict: bool = False,
) -> ImportResult:
    """Import message logs from files into the dataset (upsert by sid).

    ``format`` is one of "auto", "console-csv", "bulk-export" (gzipped JSON lines)
    or "api-json" (saved Messages list pages). Malformed rows are skipped and
    reported; with ``strict`` any malformed row raises InputError and nothing is written.
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of: " + ", ".join(FORMATS))
    if not paths:
        raise InputError("no input files given")
    result = ImportResult()
    tables = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        kind = detect_format(path) if format == "auto" else format
        parsed = _PARSERS[kind](path)
        table, bad, bad_count = _clean(parsed, path.name, f"{kind}:{path.name}")
        report = FileReport(
            str(path),
            kind,
            rows=len(parsed.records) + len(parsed.malformed),
            imported=table.num_rows,
            malformed=bad_count,
            notes=parsed.notes,
        )
        result.files.append(report)
        result.rows += report.rows
        result.imported += report.imported
        result.malformed += report.malformed
        result.samples.extend(bad[: max(0, MAX_SAMPLES - len(result.samples))])
        tables.append(table)
    if strict and result.malformed:
        first = result.samples[0]
        raise InputError(f"{result.malformed} malformed row(s); first: {first}")
    combined = pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()
    with dataset_lock(dataset):
        result.write = write_messages(dataset, combined, lock=False)
    return result


def read_files(paths: Iterable[str | Path], format: Format = "auto") -> pa.Table:  # noqa: A002
    """Read files into one message-schema table without writing anything (skips bad rows)."""
    tables = []
    for raw_path in paths:
        path = Path(raw_path)
        kind = detect_format(path) if format == "auto" else format
        table, _, _ = _clean(_PARSERS[kind](path), path.name, f"{kind}:{path.name}")
        tables.append(table)
    return pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()


def detect_format(path: Path) -> str:
    """Guess a file's format from its name and first bytes."""
    head = _open_bytes(path, limit=65_536)
    if path.suffix.lower() == ".csv":
        return "console-csv"
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if text.startswith(b"["):
        return "api-json"
    if text.startswith(b"{"):
        first_line = text.split(b"\n", 1)[0]
        try:
            obj = json.loads(first_line)
        except ValueError:
            return "api-json"  # a pretty-printed page
        return "api-json" if isinstance(obj, dict) and "messages" in obj else "bulk-export"
    header = text.split(b"\n", 1)[0].decode("utf-8", "replace").lower()
    if "," in header and "sid" in header:
        return "console-csv"
    raise InputError(
        f"cannot tell the format of {path}; pass --format console-csv, bulk-export or api-json"
    )


def _open_bytes(path: Path, limit: int | None = None) -> bytes:
    try:
        with open(path, "rb") as handle:
            magic = handle.read(2)
            handle.seek(0)
            if magic == b"\x1f\x8b":
                with gzip.open(handle) as unzipped:
                    return unzipped.read(limit) if limit else unzipped.read()
            return handle.read(limit) if limit else handle.read()
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None


# -- Console CSV ------------------------------------------------------------------------


def _header_key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())


def _parse_console_csv(path: Path) -> _Parsed:
    data = _open_bytes(path).removeprefix(b"\xef\xbb\xbf")
    header = _peek_header(data)
    mapped = {name: CSV_COLUMNS.get(_header_key(name)) for name in header}
    if "sid" not in mapped.values():
        raise InputError(f"{path.name}: no Sid column; header is: {', '.join(header) or '(empty)'}")
    if "date_sent" not in mapped.values() and "date_created" not in mapped.values():
        raise InputError(f"{path.name}: no SentDate or DateCreated column")
    bad_rows: list[tuple[int, str]] = []

    def on_invalid(row: Any) -> str:
        bad_rows.append((int(row.number), str(row.text)))
        return "skip"

    try:
        table = pcsv.read_csv(
            io.BytesIO(data),
            read_options=pcsv.ReadOptions(use_threads=False),
            parse_options=pcsv.ParseOptions(
                newlines_in_values=True, invalid_row_handler=on_invalid
            ),
            convert_options=pcsv.ConvertOptions(
                column_types={name: pa.string() for name in header},
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raise InputError(f"{path.name}: cannot read as CSV ({_first_line(exc)})") from None
    renamed = {}
    for name in header:
        target = mapped[name]
        if target is not None and target not in renamed:
            renamed[target] = pc.if_else(pc.equal(table[name], ""), None, table[name])
    notes = []
    from_sent = "date_created" not in renamed
    if from_sent:
        renamed["date_created"] = renamed["date_sent"]
        notes.append("no DateCreated column: date_created is taken from SentDate")
    lines, records = _csv_lines(table, bad_rows)
    malformed = [
        MalformedRow(path.name, line, f"expected {len(header)} fields: {text[:80]!r}", rec)
        for (rec, text), line in zip(bad_rows, _bad_lines(table, bad_rows), strict=True)
    ]
    raw = pa.table(renamed) if renamed else pa.table({})
    return _Parsed(raw, lines, records, malformed, notes, created_from_sent=from_sent)


def _peek_header(data: bytes) -> list[str]:
    first = data[:65_536].decode("utf-8", "replace")
    row = next(csv.reader(io.StringIO(first)), [])
    return list(row)


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _record_newlines(table: pa.Table) -> np.ndarray:
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        counts = pc.fill_null(pc.count_substring(column, "\n"), 0)
        total += np.asarray(counts.to_numpy(), dtype=np.int64)
    return total


def _all_spans(table: pa.Table, bad_rows: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    """Line span of every record after the header, and which of them were parsed."""
    count = table.num_rows + len(bad_rows)
    numbers = np.arange(2, count + 2)  # pyarrow numbers records from 1 with the header
    bad_numbers = np.array([n for n, _ in bad_rows], dtype=np.int64)
    parsed = ~np.isin(numbers, bad_numbers)
    spans = np.ones(count, dtype=np.int64)
    spans[parsed] += _record_newlines(table)
    if bad_rows:
        spans[bad_numbers - 2] += np.array([t.count("\n") for _, t in bad_rows], dtype=np.int64)
    return spans, parsed


def _csv_lines(table: pa.Table, bad_rows: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    spans, parsed = _all_spans(table, bad_rows)
    first_lines = 2 + np.concatenate([[0], np.cumsum(spans)[:-1]])
    records = np.arange(1, len(spans) + 1)
    return first_lines[parsed], records[parsed]


def _bad_lines(table: pa.Table, bad_rows: list[tuple[int, str]]) -> list[int]:
    if not bad_rows:
        return []
    spans, _ = _all_spans(table, bad_rows)
    first_lines = 2 + np.concatenate([[0], np.cumsum(spans)[:-1]])
    return [int(first_lines[n - 2]) for n, _ in bad_rows]


# -- Bulk Export (JSON lines, usually gzipped) --------------------------------------------


def _parse_bulk_export(path: Path) -> _Parsed:
    data = _open_bytes(path)
    try:
        table = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False))
        lines = _jsonl_line_numbers(data)
        if len(lines) != table.num_rows:
            raise pa.ArrowInvalid("line count mismatch")
        wanted = {n: _as_string(table[n]) for n in table.column_names if n in _FIELDS}
        return _Parsed(pa.table(wanted), lines, np.arange(1, table.num_rows + 1), [])
    except pa.ArrowInvalid:
        return _parse_jsonl_slowly(path, data)


_FIELDS = set(MESSAGE_SCHEMA.names) - {"source"}


def _as_string(column: pa.ChunkedArray) -> pa.ChunkedArray:
    if pa.types.is_string(column.type) or pa.types.is_null(column.type):
        return column.cast(pa.string())
    if pa.types.is_timestamp(column.type):
        return column
    if pa.types.is_floating(column.type) or pa.types.is_integer(column.type):
        return column
    return column.cast(pa.string())


def _jsonl_line_numbers(data: bytes) -> np.ndarray:
    buffer = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buffer == ord("\n"))
    starts = np.concatenate([[0], ends + 1])
    stops = np.concatenate([ends, [len(buffer)]])
    # a line holds a record unless it is blank (only whitespace)
    nonblank = np.zeros(len(buffer) + 1, dtype=np.int64)
    nonblank[1:] = np.cumsum(~np.isin(buffer, np.frombuffer(b" \t\r\n", dtype=np.uint8)))
    has_content = nonblank[stops] - nonblank[starts] > 0
    return np.flatnonzero(has_content) + 1


def _parse_jsonl_slowly(path: Path, data: bytes) -> _Parsed:
    rows: list[dict[str, Any]] = []
    lines: list[int] = []
    malformed: list[MalformedRow] = []
    for number, line in enumerate(data.decode("utf-8", "replace").split("\n"), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            malformed.append(MalformedRow(path.name, number, f"not JSON ({exc.msg})"))
            continue
        if not isinstance(obj, dict):
            malformed.append(MalformedRow(path.name, number, "not a JSON object"))
            continue
        rows.append(obj)
        lines.append(number)
    return _Parsed(
        _records_to_strings(rows),
        np.array(lines, dtype=np.int64),
        np.arange(1, len(rows) + 1),
        malformed,
    )


def _records_to_strings(rows: list[dict[str, Any]]) -> pa.Table:
    names = sorted({k for r in rows for k in r} & _FIELDS)
    return pa.table(
        {
            name: pa.array(
                [None if r.get(name) is None else str(r[name]) for r in rows], pa.string()
            )
            for name in names
        }
    )


# -- saved API list pages ------------------------------------------------------------------


def _parse_api_json(path: Path) -> _Parsed:
    data = _open_bytes(path)
    try:
        payload = json.loads(data)
    except ValueError as exc:
        raise InputError(f"{path.name}: not JSON ({exc})") from None
    pages = payload if isinstance(payload, list) else [payload]
    rows: list[dict[str, Any]] = []
    malformed: list[MalformedRow] = []
    number = 0
    for page in pages:
        if not isinstance(page, dict) or not isinstance(page.get("messages"), list):
            raise InputError(f"{path.name}: not a Messages list page (no 'messages' list)")
        for record in page["messages"]:
            number += 1
            if isinstance(record, dict):
                rows.append(record)
            else:
                malformed.append(MalformedRow(path.name, None, "not a JSON object", number))
    records = np.array([i + 1 for i in range(number)], dtype=np.int64)
    bad = {m.record for m in malformed}
    records = records[~np.isin(records, np.array(sorted(r for r in bad if r), dtype=np.int64))]
    return _Parsed(_records_to_strings(rows), None, records, malformed)


_PARSERS = {
    "console-csv": _parse_console_csv,
    "bulk-export": _parse_bulk_export,
    "api-json": _parse_api_json,
}


# -- per-row validation ----------------------------------------------------------------------


def parse_dates(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Parse date strings in any accepted form to UTC timestamps; null where unreadable.

    Accepted: ISO 8601 (naive means UTC), RFC 2822, ``MM/DD/YYYY HH:MM[:SS][ AM|PM]``,
    optionally followed by ``UTC``/``GMT``/``Z``.
    """
    if pa.types.is_timestamp(values.type):
        return (
            pc.cast(values, TIMESTAMP)
            if values.type.tz
            else pc.assume_timezone(values, "UTC").cast(TIMESTAMP)
        )
    series = pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype=object)
    text = series.str.strip().str.replace(r"\s*(UTC|GMT)$", "", regex=True)
    result = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    for fmt in _DATE_FORMATS:
        missing = result.isna() & text.notna()
        if not missing.any():
            break
        if "%z" in fmt:
            attempt = pd.to_datetime(text[missing], format=fmt, errors="coerce", utc=True)
        else:
            attempt = pd.to_datetime(text[missing], format=fmt, errors="coerce").dt.tz_localize(
                "UTC"
            )
        result = result.where(~missing, attempt)
    return pa.Array.from_pandas(result.dt.as_unit("us")).cast(TIMESTAMP)


def _parse_numbers(values: pa.ChunkedArray, *, integer: bool) -> tuple[pa.Array, np.ndarray]:
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numeric = pd.Series(values.to_pandas(), dtype="float64")
    else:
        text = pd.Series(pc.cast(values, pa.string()).to_pandas(), dtype=object).str.strip()
        text = text.where(text != "", None)
        numeric = pd.to_numeric(text, errors="coerce").astype("float64")
    present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        blank = np.asarray(
            pc.fill_null(
                pc.equal(pc.utf8_trim_whitespace(pc.cast(values, pa.string())), ""), True
            ).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        present &= ~blank
    bad = present & numeric.isna().to_numpy()
    if integer:
        whole = numeric.isna() | (np.floor(numeric) == numeric)
        bad |= ~whole.to_numpy()
        numeric = numeric.where(whole)
        return pa.array(numeric.to_numpy(), pa.float64(), from_pandas=True).cast(pa.int64()), bad
    return pa.array(numeric.to_numpy(), pa.float64(), from_pandas=True), bad


def _clean(
    parsed: _Parsed, file_name: str, source: str
) -> tuple[pa.Table, list[MalformedRow], int]:
    """Convert columns to the message schema, dropping rows with unreadable values.

    Returns the records, the first malformed rows (in file order) and how many there were.
    """
    raw = parsed.table
    n = raw.num_rows
    bad = np.zeros(n, dtype=bool)
    problems: list[tuple[np.ndarray, str, pa.ChunkedArray]] = []
    columns: dict[str, pa.Array | pa.ChunkedArray] = {}
    for f in MESSAGE_SCHEMA:
        if f.name == "source":
            columns["source"] = pa.array([source] * n, pa.string())
            continue
        if f.name not in raw.column_names:
            columns[f.name] = pa.nulls(n, f.type)
            continue
        column = raw[f.name]
        if f.name in _DATES:
            parsed_dates = parse_dates(column)
            mask = np.asarray(
                pc.and_(pc.is_valid(column), pc.is_null(parsed_dates)).to_numpy(
                    zero_copy_only=False
                ),
                dtype=bool,
            )
            if not (f.name == "date_created" and parsed.created_from_sent):
                problems.append((mask, f"unreadable {f.name}", column))
            columns[f.name] = parsed_dates
        elif f.name in _INTEGERS or f.name == "price":
            values, mask = _parse_numbers(column, integer=f.name != "price")
            problems.append((mask, f"not a number in {f.name}", column))
            columns[f.name] = values
        else:
            text = pc.cast(column, pa.string())
            if f.name in _LOWERCASE:
                text = pc.utf8_lower(pc.utf8_trim_whitespace(text))
            columns[f.name] = text
    for key, label in (("sid", "no sid"), ("date_created", "no date")):
        value = columns[key]
        if key == "date_created" and "date_created" in raw.column_names:
            missing = pc.is_null(raw["date_created"])
        else:
            missing = pc.is_null(value)
        problems.append(
            (
                np.asarray(missing.to_numpy(zero_copy_only=False), dtype=bool),
                label,
                pa.chunked_array([pa.nulls(n, pa.string())]),
            )
        )
    for mask, _, _ in problems:
        bad |= mask
    samples = list(parsed.malformed[:MAX_SAMPLES])
    for row in np.flatnonzero(bad)[:MAX_SAMPLES]:
        why = []
        for mask, label, column in problems:
            if mask[row]:
                sample = column[int(row)].as_py()
                why.append(f"{label} ({sample!r})" if sample is not None else label)
        samples.append(
            MalformedRow(
                file_name,
                int(parsed.lines[row]) if parsed.lines is not None else None,
                "; ".join(why),
                int(parsed.records[row]),
            )
        )
    samples.sort(key=lambda m: (m.record or 0, m.line or 0))
    count = len(parsed.malformed) + int(bad.sum())
    keep = pa.array(~bad)
    table = coerce_messages(pa.table(columns).filter(keep))
    return table, samples[:MAX_SAMPLES], count
