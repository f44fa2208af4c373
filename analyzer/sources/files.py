"""Import message logs exported from Twilio: Console CSV, Bulk Export files, saved API pages,
and Parquet files of messages.

Every record keeps where it came from in ``source`` (``console-csv:<file name>``,
``bulk-export:<file name>``, ``api-json:<file name>``, ``parquet:<file name>``). Rows
that cannot be read (no sid, an unreadable date) are reported with file and line (or
record number) and skipped, or stop the import when ``strict``; an unreadable optional
value (a number: price, segments, media, error code) is kept as empty and counted. A
file none of whose rows can be read is in another format and is refused. JSON keys may
be snake_case (the REST API, Bulk Export) or camelCase (twilio-node, the Twilio CLI).
CSV files may be UTF-8 or Windows-1252 and separated by commas, semicolons or tabs.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.json as pj
import pyarrow.parquet as pq

from analyzer.errors import InputError, SchemaError
from analyzer.schema import MESSAGE_SCHEMA, TIMESTAMP, coerce_messages
from analyzer.store import WriteResult, dataset_lock, write_messages

Format = Literal["auto", "console-csv", "bulk-export", "api-json", "parquet"]
FORMATS: tuple[str, ...] = ("auto", "console-csv", "bulk-export", "api-json", "parquet")
#: How to read ``NN/NN/YYYY`` dates; "auto" decides per file from the values.
DateOrder = Literal["auto", "month-first", "day-first"]
DATE_ORDERS: tuple[str, ...] = ("auto", "month-first", "day-first")
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
#: Fields a record can do without: an unreadable value is kept as empty (and counted),
#: not a reason to drop the record. A missing sid or an unreadable date (which places
#: the record in time and decides which version of it is newer) still is.
_OPTIONAL = (*_INTEGERS, "price")
#: Field separators of CSV files (the Console writes commas; spreadsheets in locales
#: with a decimal comma write semicolons; tab-separated text).
_DELIMITERS = (",", ";", "\t")
# A number written with a decimal comma (-0,0079), in a file separated by semicolons.
_DECIMAL_COMMA = r"^(\s*[-+]?\d*),(\d+\s*)$"
# The two leading numbers of a NN/NN/YYYY date, whichever order they are in.
_SLASH_DATE = r"^\s*(?P<first>\d{1,2})/(?P<second>\d{1,2})/\d{4}(?:\D|$)"
_ORDER_OPTION = "--date-order month-first or --date-order day-first (date_order= in Python)"


def _date_formats(order: str) -> tuple[str, ...]:
    """Forms seen or plausible for the undocumented Console SentDate (spreadsheets
    re-save it in their locale's order); all read as UTC unless they carry an offset."""
    day_month = "%d/%m/%Y" if order == "day-first" else "%m/%d/%Y"
    return (
        f"{day_month} %H:%M:%S",
        f"{day_month} %H:%M",
        f"{day_month} %I:%M:%S %p",
        f"{day_month} %I:%M %p",
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
    #: Imported records without a sent date (never sent: failed before sending,
    #: queued, scheduled, canceled).
    no_sent_date: int = 0
    #: Imported records without date_created, stored in the ``date=undated`` partition.
    undated: int = 0
    #: Optional values (numbers) that could not be read: their records are imported
    #: with those fields empty. Not counted in ``malformed``.
    unreadable: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class ImportResult:
    """What an import read, skipped and wrote."""

    files: list[FileReport] = field(default_factory=list)
    rows: int = 0
    imported: int = 0
    malformed: int = 0
    samples: list[MalformedRow] = field(default_factory=list)
    #: Optional values kept as empty (see FileReport.unreadable), and the first of them.
    unreadable: int = 0
    unreadable_samples: list[MalformedRow] = field(default_factory=list)
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
    #: Numbers may be written with a decimal comma (a file separated by semicolons).
    decimal_comma: bool = False


@dataclass
class _Cleaned:
    """One file's records in the message schema, and what could not be read."""

    table: pa.Table
    malformed: int
    samples: list[MalformedRow]
    unreadable: int
    unreadable_samples: list[MalformedRow]


def import_files(
    paths: Sequence[str | Path],
    dataset: str | Path,
    format: Format = "auto",  # noqa: A002
    strict: bool = False,
    date_order: DateOrder = "auto",
) -> ImportResult:
    """Import message logs from files into the dataset (upsert by sid).

    ``format`` is one of "auto", "console-csv", "bulk-export" (gzipped JSON lines),
    "api-json" (saved Messages list pages, single Message objects, arrays of
    Messages) or "parquet" (a Parquet file with the message schema). ``date_order``
    says how ``NN/NN/YYYY`` dates are read: "auto" decides per file from the values
    and raises InputError when a file could be read either way. Malformed rows are
    skipped and reported; an unreadable optional value (a number) is kept as empty
    and counted. A file none of whose rows can be read raises InputError (it is in
    another format). With ``strict`` any malformed row or unreadable value raises
    InputError and nothing is written. Records without a date are kept (see
    analyzer.store) and counted per file.
    """
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of: " + ", ".join(FORMATS))
    _check_date_order(date_order)
    if not paths:
        raise InputError("no input files given")
    result = ImportResult()
    tables = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        report, cleaned = _read_file(path, format, date_order)
        result.files.append(report)
        result.rows += report.rows
        result.imported += report.imported
        result.malformed += report.malformed
        result.unreadable += report.unreadable
        result.samples.extend(cleaned.samples[: max(0, MAX_SAMPLES - len(result.samples))])
        room = max(0, MAX_SAMPLES - len(result.unreadable_samples))
        result.unreadable_samples.extend(cleaned.unreadable_samples[:room])
        tables.append(cleaned.table)
    if strict and result.malformed:
        first = result.samples[0]
        raise InputError(f"{result.malformed} malformed row(s); first: {first}")
    if strict and result.unreadable:
        first = result.unreadable_samples[0]
        raise InputError(f"{result.unreadable} unreadable value(s); first: {first}")
    combined = pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()
    with dataset_lock(dataset):
        result.write = write_messages(dataset, combined, lock=False)
    return result


def read_files(
    paths: Iterable[str | Path],
    format: Format = "auto",  # noqa: A002
    date_order: DateOrder = "auto",
) -> pa.Table:
    """Read files into one message-schema table without writing anything (skips bad rows,
    keeps unreadable optional values as empty; a file in another format raises InputError)."""
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of: " + ", ".join(FORMATS))
    _check_date_order(date_order)
    tables = [_read_file(Path(path), format, date_order)[1].table for path in paths]
    return pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()


def _read_file(path: Path, format: str, date_order: str) -> tuple[FileReport, _Cleaned]:  # noqa: A002
    """Read and check one file; InputError when none of its rows could be read."""
    kind = detect_format(path) if format == "auto" else format
    parsed = _PARSERS[kind](path)
    cleaned = _clean(parsed, path.name, f"{kind}:{path.name}", date_order=date_order)
    table = cleaned.table
    report = FileReport(
        str(path),
        kind,
        rows=len(parsed.records) + len(parsed.malformed),
        imported=table.num_rows,
        malformed=cleaned.malformed,
        no_sent_date=table["date_sent"].null_count,
        undated=table["date_created"].null_count,
        unreadable=cleaned.unreadable,
        notes=parsed.notes,
    )
    if report.rows and not report.imported:
        # Not one row: the file is in another format (an empty file is just empty).
        first = cleaned.samples[0]
        where = f"line {first.line}" if first.line is not None else f"record {first.record}"
        others = ", ".join(f for f in FORMATS if f not in ("auto", kind))
        raise InputError(
            f"{path}: none of its {report.rows:,} rows could be read as {kind} (first: "
            f"{where}: {first.reason}); is it another format? Pass --format {others}"
        )
    return report, cleaned


def _check_date_order(date_order: str) -> None:
    if date_order not in DATE_ORDERS:
        raise InputError(
            f"unknown date order {date_order!r}; use one of: " + ", ".join(DATE_ORDERS)
        )


def detect_format(path: Path) -> str:
    """Guess a file's format from its first bytes and name."""
    head = _open_bytes(path, limit=65_536)
    if head.startswith(b"PAR1"):
        return "parquet"
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
    header = text.split(b"\n", 1)[0].decode("utf-8", "replace")
    delimiter = _sniff_delimiter(header)
    if delimiter in header and "sid" in header.lower():
        return "console-csv"
    raise InputError(
        f"cannot tell the format of {path}; pass --format console-csv, bulk-export, api-json "
        "or parquet"
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
    data, notes = _as_utf8(_open_bytes(path).removeprefix(b"\xef\xbb\xbf"))
    delimiter = _sniff_delimiter(data[:65_536].decode("utf-8", "replace").split("\n", 1)[0])
    if delimiter != ",":
        shown = "tabs" if delimiter == "\t" else f"{delimiter!r}"
        comma = " (decimal commas read as points)" if delimiter == ";" else ""
        notes.append(f"fields separated by {shown}{comma}")
    header = _peek_header(data, delimiter)
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
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=on_invalid
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
    from_sent = "date_created" not in renamed
    if from_sent:
        renamed["date_created"] = renamed["date_sent"]
        notes.append(
            "no DateCreated column: date_created is taken from SentDate (rows without a "
            "SentDate are kept without date_created, in the date=undated partition)"
        )
    lines, records = _csv_lines(table, bad_rows)
    malformed = [
        MalformedRow(path.name, line, f"expected {len(header)} fields: {text[:80]!r}", rec)
        for (rec, text), line in zip(bad_rows, _bad_lines(table, bad_rows), strict=True)
    ]
    raw = pa.table(renamed) if renamed else pa.table({})
    return _Parsed(
        raw,
        lines,
        records,
        malformed,
        notes,
        created_from_sent=from_sent,
        decimal_comma=delimiter == ";",
    )


def _as_utf8(data: bytes) -> tuple[bytes, list[str]]:
    """The text as UTF-8; bytes that are not valid UTF-8 are read as Windows-1252 (what
    spreadsheets on Windows save as "CSV"), and a note says so."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1").translate(_CP1252)
        return text.encode("utf-8"), ["not valid UTF-8: read as Windows-1252 (cp1252)"]
    return data, []


def _cp1252_char(byte: int) -> str:
    try:
        return bytes([byte]).decode("cp1252")
    except UnicodeDecodeError:  # five bytes cp1252 leaves undefined: as Latin-1 reads them
        return chr(byte)


# Latin-1 text (each byte its own code point) to what those bytes mean in cp1252.
_CP1252 = {byte: _cp1252_char(byte) for byte in range(0x80, 0xA0)}


def _sniff_delimiter(header: str) -> str:
    """The separator of a CSV header line: the one that splits it into the most known
    column names (a comma when none does)."""
    best, known = ",", 0
    for delimiter in _DELIMITERS:
        names = next(csv.reader([header.strip("\r")], delimiter=delimiter), [])
        count = sum(_header_key(name) in CSV_COLUMNS for name in names)
        if count > known:
            best, known = delimiter, count
    return best


def _peek_header(data: bytes, delimiter: str = ",") -> list[str]:
    first = data[:65_536].decode("utf-8", "replace")
    row = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
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
        table = pj.read_json(
            io.BytesIO(data),
            read_options=pj.ReadOptions(use_threads=False),
            # Text stays text: left to inference, "2010-04-01" would become a date.
            parse_options=pj.ParseOptions(
                explicit_schema=_JSON_TEXT, unexpected_field_behavior="infer"
            ),
        )
        lines = _jsonl_line_numbers(data)
        if len(lines) != table.num_rows:
            raise pa.ArrowInvalid("line count mismatch")
        wanted: dict[str, pa.ChunkedArray] = {}
        for name in table.column_names:
            target = _field_name(name)
            if target is None:
                continue
            column = _as_string(table[name])
            wanted[target] = _coalesce(wanted[target], column) if target in wanted else column
        return _Parsed(pa.table(wanted), lines, np.arange(1, table.num_rows + 1), [])
    except pa.ArrowInvalid:
        return _parse_jsonl_slowly(path, data)


_FIELDS = set(MESSAGE_SCHEMA.names) - {"source"}
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def _field_name(key: str) -> str | None:
    """The schema field a JSON key names: ``date_created``, ``dateCreated`` or
    ``DateCreated``; None for other keys."""
    if key in _FIELDS:
        return key
    snake = _CAMEL.sub(r"\1_\2", key).lower()
    return snake if snake in _FIELDS else None


def _spellings(name: str) -> list[str]:
    """A field's JSON key as snake_case, camelCase and PascalCase."""
    camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)
    return list(dict.fromkeys([name, camel, camel[:1].upper() + camel[1:]]))


_JSON_TEXT = pa.schema(
    [
        (spelling, pa.string())
        for f in MESSAGE_SCHEMA
        if pa.types.is_string(f.type) and f.name != "source"
        for spelling in _spellings(f.name)
    ]
)


def _coalesce(first: pa.ChunkedArray, second: pa.ChunkedArray) -> pa.ChunkedArray:
    """The first column's values, else the second's (for a field named two ways)."""
    if first.type != second.type:
        first, second = first.cast(pa.string()), second.cast(pa.string())
    return pc.coalesce(first, second)


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
    keys: dict[str, list[str]] = {}
    for key in sorted({k for r in rows for k in r}):
        target = _field_name(key)
        if target is not None:
            keys.setdefault(target, []).append(key)
    columns = {}
    for target, names in sorted(keys.items()):
        names.sort(key=lambda k: k != target)  # the snake_case key first
        values = [next((r[k] for k in names if r.get(k) is not None), None) for r in rows]
        columns[target] = pa.array([None if v is None else str(v) for v in values], pa.string())
    if not columns:
        columns["sid"] = pa.nulls(len(rows), pa.string())
    return pa.table(columns)


# -- saved API list pages ------------------------------------------------------------------


def _parse_api_json(path: Path) -> _Parsed:
    """Saved API output: list pages, single Messages or arrays of either, one JSON value
    or several (e.g. one page per line)."""
    data = _open_bytes(path).removeprefix(b"\xef\xbb\xbf")
    values, malformed = _json_values(data.decode("utf-8", "replace"), path.name)
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    unknown: list[MalformedRow] = []
    number = 0

    def take(record: Any) -> None:
        nonlocal number
        number += 1
        if isinstance(record, dict):
            rows.append(record)
            kept.append(number)
        else:
            malformed.append(MalformedRow(path.name, None, "not a JSON object", number))

    for value, line in values:
        if isinstance(value, list):
            for item in value:
                for record in item["messages"] if _is_page(item) else [item]:
                    take(record)
        elif _is_page(value):
            for record in value["messages"]:
                take(record)
        elif isinstance(value, dict) and any(_field_name(k) == "sid" for k in value):
            take(value)
        else:
            reason = "not a Messages list page (no 'messages' list) nor a Message (no 'sid')"
            unknown.append(MalformedRow(path.name, line, reason))
    if unknown and len(unknown) == len(values):
        raise InputError(f"{path.name}: {unknown[0].reason}")
    return _Parsed(
        _records_to_strings(rows), None, np.array(kept, dtype=np.int64), malformed + unknown
    )


def _is_page(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("messages"), list)


_SPACE = re.compile(r"\s*")
_NEXT_VALUE = re.compile(r"\n(?=[\[{])")


def _json_values(text: str, file_name: str) -> tuple[list[tuple[Any, int]], list[MalformedRow]]:
    """The JSON values in a text (one, or several one after another) with their first
    lines; a value that cannot be read is reported and skipped up to the next line
    that starts with ``{`` or ``[``."""
    try:
        return [(json.loads(text), 1)], []
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    values: list[tuple[Any, int]] = []
    bad: list[MalformedRow] = []
    pos = counted = 0
    line = 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            break
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            bad.append(MalformedRow(file_name, line, f"not JSON ({exc.msg})"))
            following = _NEXT_VALUE.search(text, pos)
            if following is None:
                break
            pos = following.start() + 1
            continue
        values.append((value, line))
    if not values:
        reason = bad[0].reason if bad else "not JSON (empty)"
        raise InputError(f"{file_name}: {reason}")
    return values, bad


# -- Parquet files of messages -----------------------------------------------------------------


def _parse_parquet(path: Path) -> _Parsed:
    """A Parquet file with the message schema (any column order; optional columns may be
    missing; ``source`` is replaced by the file's name, as for the other formats)."""
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path} as Parquet: {_first_line(exc)}") from None
    try:
        typed = coerce_messages(table, fill_missing=True)
    except SchemaError as exc:
        raise SchemaError(f"{path}: {exc}") from None
    records = np.arange(1, typed.num_rows + 1)
    return _Parsed(typed.drop_columns(["source"]), None, records, [])


_PARSERS = {
    "console-csv": _parse_console_csv,
    "bulk-export": _parse_bulk_export,
    "api-json": _parse_api_json,
    "parquet": _parse_parquet,
}


# -- per-row validation ----------------------------------------------------------------------


def parse_dates(
    values: pa.ChunkedArray | pa.Array, order: Literal["month-first", "day-first"] = "month-first"
) -> pa.Array:
    """Parse date strings in any accepted form to UTC timestamps; null where unreadable.

    Accepted: ISO 8601 (naive means UTC), RFC 2822, ``MM/DD/YYYY HH:MM[:SS][ AM|PM]``
    (``DD/MM/YYYY …`` with ``order="day-first"``), optionally followed by
    ``UTC``/``GMT``/``Z``.
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
    for fmt in _date_formats(order):
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


def _slash_fields(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """The two leading numbers of each ``NN/NN/YYYY`` date (0 for other values)."""
    if not pa.types.is_string(column.type):
        return np.zeros(len(column), np.int64), np.zeros(len(column), np.int64)
    parts = pc.extract_regex(column.combine_chunks(), _SLASH_DATE)

    def number(name: str) -> np.ndarray:
        values = pc.fill_null(pc.cast(pc.struct_field(parts, name), pa.int64()), 0)
        return np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.int64)

    return number("first"), number("second")


def _ambiguous(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """Dates that read as two different days in the two orders."""
    return (first >= 1) & (second >= 1) & (first <= 12) & (second <= 12) & (first != second)


def _date_order(parsed: _Parsed, file_name: str, requested: str) -> str:
    """How to read the file's NN/NN/YYYY dates: month-first, day-first, or "mixed" when
    both orders occur (each date is then read the one way it can be)."""
    if requested != "auto":
        return requested
    raw = parsed.table
    names = [n for n in _DATES if n in raw.column_names]
    if parsed.created_from_sent:
        names = [n for n in names if n != "date_created"]
    fields = {name: _slash_fields(raw[name]) for name in names}

    def example(select: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[str, str] | None:
        """The first value (in file order) that ``select(first, second)`` picks, and where."""
        found = [
            (int(np.flatnonzero(mask)[0]), name)
            for name, (first, second) in fields.items()
            if (mask := select(first, second)).any()
        ]
        if not found:
            return None
        row, name = min(found)
        where = (
            f"line {parsed.lines[row]}"
            if parsed.lines is not None
            else f"record {parsed.records[row]}"
        )
        return str(raw[name][row].as_py()), where

    day_first = example(lambda a, b: (a > 12) & (a <= 31) & (b >= 1) & (b <= 12))
    month_first = example(lambda a, b: (b > 12) & (b <= 31) & (a >= 1) & (a <= 12))
    if day_first and month_first:
        parsed.notes.append(
            f"dates in both orders, day-first ({day_first[0]!r}, {day_first[1]}) and "
            f"month-first ({month_first[0]!r}, {month_first[1]}): a date with a number "
            "above 12 is read the only way it can be, the others whose day and month "
            "differ are reported malformed"
        )
        return "mixed"
    if day_first:
        parsed.notes.append(f"dates read day-first (DD/MM/YYYY), as in {day_first[0]!r}")
        return "day-first"
    if month_first:
        return "month-first"
    ambiguous = example(_ambiguous)
    if ambiguous:
        raise InputError(
            f"{file_name}: cannot tell whether dates such as {ambiguous[0]!r} ({ambiguous[1]}) "
            f"are month-first or day-first (no day above 12 in the file); use {_ORDER_OPTION}"
        )
    return "month-first"


def _read_dates(
    column: pa.ChunkedArray, order: str, name: str
) -> tuple[pa.Array, np.ndarray, tuple[np.ndarray, str] | None]:
    """Timestamps of a date column, which rows are unreadable, and (when the file mixes
    orders) which rows are ambiguous and why."""
    ambiguous = None
    if order == "mixed":
        first, second = _slash_fields(column)
        unknown = _ambiguous(first, second)
        read = pc.if_else(
            pa.array(first > 12), parse_dates(column, "day-first"), parse_dates(column)
        )
        dates = pc.if_else(pa.array(unknown), pa.nulls(len(column), TIMESTAMP), read)
        ambiguous = (unknown, f"day and month order unknown in {name} (the file mixes both)")
    else:
        dates = parse_dates(column, "day-first" if order == "day-first" else "month-first")
    unreadable = np.asarray(
        pc.and_(pc.is_valid(column), pc.is_null(dates)).to_numpy(zero_copy_only=False),
        dtype=bool,
    )
    if ambiguous is not None:
        unreadable &= ~ambiguous[0]
    return dates, unreadable, ambiguous


def _parse_numbers(
    values: pa.ChunkedArray, *, integer: bool, decimal_comma: bool = False
) -> tuple[pa.Array, np.ndarray]:
    """Numbers of a column (null where unreadable) and which values were unreadable.

    With ``decimal_comma``, ``-0,0079`` reads as -0.0079."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numeric = pd.Series(values.to_pandas(), dtype="float64")
    else:
        strings = pc.cast(values, pa.string())
        if decimal_comma:
            strings = pc.replace_substring_regex(strings, _DECIMAL_COMMA, r"\1.\2")
        text = pd.Series(strings.to_pandas(), dtype=object).str.strip()
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


def _clean(parsed: _Parsed, file_name: str, source: str, *, date_order: str = "auto") -> _Cleaned:
    """Convert columns to the message schema.

    Rows without a sid or with an unreadable date are dropped (malformed); unreadable
    optional values (numbers) are kept as empty. Returns the records, how many rows were
    malformed and values unreadable, and the first of each (in file order).
    """
    raw = parsed.table
    n = raw.num_rows
    order = _date_order(parsed, file_name, date_order)
    bad = np.zeros(n, dtype=bool)
    problems: list[tuple[np.ndarray, str, pa.ChunkedArray]] = []
    optional: list[tuple[np.ndarray, str, pa.ChunkedArray]] = []
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
            parsed_dates, mask, ambiguous = _read_dates(column, order, f.name)
            if not (f.name == "date_created" and parsed.created_from_sent):
                problems.append((mask, f"unreadable {f.name}", column))
                if ambiguous is not None:
                    problems.append((ambiguous[0], ambiguous[1], column))
            columns[f.name] = parsed_dates
        elif f.name in _OPTIONAL:
            values, mask = _parse_numbers(
                column, integer=f.name in _INTEGERS, decimal_comma=parsed.decimal_comma
            )
            optional.append((mask, f"not a number in {f.name}", column))
            if f.name == "error_code":  # Bulk Export writes 0 for "no error"
                values = pc.if_else(pc.equal(values, 0), pa.scalar(None, pa.int64()), values)
            columns[f.name] = values
        else:
            text = pc.cast(column, pa.string())
            if f.name in _LOWERCASE:
                text = pc.utf8_lower(pc.utf8_trim_whitespace(text))
            columns[f.name] = text
    # A record without a date is kept (the store holds it apart); one without a sid
    # cannot be stored.
    problems.append(
        (
            np.asarray(pc.is_null(columns["sid"]).to_numpy(zero_copy_only=False), dtype=bool),
            "no sid",
            pa.chunked_array([pa.nulls(n, pa.string())]),
        )
    )
    for mask, _, _ in problems:
        bad |= mask
    # A malformed row's unreadable numbers are among its reasons, not counted apart.
    problems += [(mask & bad, label, column) for mask, label, column in optional]
    optional = [(mask & ~bad, label, column) for mask, label, column in optional]

    def row_sample(row: int, found: list[tuple[np.ndarray, str, pa.ChunkedArray]]) -> list[str]:
        why = []
        for mask, label, column in found:
            if mask[row]:
                sample = column[row].as_py()
                why.append(f"{label} ({sample!r})" if sample is not None else label)
        return why

    def where(row: int, reason: str) -> MalformedRow:
        line = int(parsed.lines[row]) if parsed.lines is not None else None
        return MalformedRow(file_name, line, reason, int(parsed.records[row]))

    samples = list(parsed.malformed[:MAX_SAMPLES])
    for row in np.flatnonzero(bad)[:MAX_SAMPLES]:
        samples.append(where(int(row), "; ".join(row_sample(int(row), problems))))
    samples.sort(key=lambda m: (m.record or 0, m.line or 0))
    unreadable = np.zeros(n, dtype=bool)
    for mask, _, _ in optional:
        unreadable |= mask
    kept: list[MalformedRow] = []
    for row in np.flatnonzero(unreadable)[:MAX_SAMPLES]:
        kept += [where(int(row), f"{why}, kept as empty") for why in row_sample(int(row), optional)]
    table = coerce_messages(pa.table(columns).filter(pa.array(~bad)))
    return _Cleaned(
        table=table,
        malformed=len(parsed.malformed) + int(bad.sum()),
        samples=samples[:MAX_SAMPLES],
        unreadable=sum(int(mask.sum()) for mask, _, _ in optional),
        unreadable_samples=kept[:MAX_SAMPLES],
    )
