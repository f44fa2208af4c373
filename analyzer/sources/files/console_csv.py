"""Console CSV: the Messages log downloaded from the Twilio Console (or re-saved by a
spreadsheet), with the line each record starts on."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from analyzer.errors import InputError
from analyzer.sources.files.encoding import as_utf8
from analyzer.sources.files.model import MalformedRow, ParsedFile
from analyzer.sources.files.reading import first_line, open_bytes

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
#: Field separators of CSV files (the Console writes commas; spreadsheets in locales
#: with a decimal comma write semicolons; tab-separated text).
_DELIMITERS = (",", ";", "\t")

#: A CSV row pyarrow could not split into the header's fields: its record number
#: (counted from 1 with the header) and its text.
BadRow = tuple[int, str]


def header_key(name: str) -> str:
    """A column name as CSV_COLUMNS knows it: lower case, letters and digits only."""
    return "".join(ch for ch in name.lower() if ch.isalnum())


def parse_console_csv(path: Path) -> ParsedFile:
    """The columns of a Console CSV file that name schema fields, as text (empty is null),
    with the first line of each record and the rows that could not be split."""
    data, notes = as_utf8(open_bytes(path).removeprefix(b"\xef\xbb\xbf"))
    delimiter = sniff_delimiter(data[:65_536].decode("utf-8", "replace").split("\n", 1)[0])
    if delimiter != ",":
        shown = "tabs" if delimiter == "\t" else f"{delimiter!r}"
        comma = " (decimal commas read as points)" if delimiter == ";" else ""
        notes.append(f"fields separated by {shown}{comma}")
    header = _peek_header(data, delimiter)
    mapped = {name: CSV_COLUMNS.get(header_key(name)) for name in header}
    if "sid" not in mapped.values():
        raise InputError(f"{path.name}: no Sid column; header is: {', '.join(header) or '(empty)'}")
    if "date_sent" not in mapped.values() and "date_created" not in mapped.values():
        raise InputError(f"{path.name}: no SentDate or DateCreated column")
    table, bad_rows = _read_csv(path, data, delimiter, header)
    renamed = _schema_columns(table, header, mapped)
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
    return ParsedFile(
        raw,
        lines,
        records,
        malformed,
        notes,
        created_from_sent=from_sent,
        decimal_comma=delimiter == ";",
    )


def _read_csv(
    path: Path, data: bytes, delimiter: str, header: list[str]
) -> tuple[pa.Table, list[BadRow]]:
    """Every column as text, and the rows that do not have the header's number of fields."""
    bad_rows: list[BadRow] = []

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
        raise InputError(f"{path.name}: cannot read as CSV ({first_line(exc)})") from None
    return table, bad_rows


def _schema_columns(
    table: pa.Table, header: list[str], mapped: dict[str, str | None]
) -> dict[str, pa.ChunkedArray]:
    """The columns named after schema fields (the first of two with the same meaning),
    empty text as null."""
    renamed = {}
    for name in header:
        target = mapped[name]
        if target is not None and target not in renamed:
            renamed[target] = pc.if_else(pc.equal(table[name], ""), None, table[name])
    return renamed


def sniff_delimiter(header: str) -> str:
    """The separator of a CSV header line: the one that splits it into the most known
    column names (a comma when none does)."""
    best, known = ",", 0
    for delimiter in _DELIMITERS:
        names = next(csv.reader([header.strip("\r")], delimiter=delimiter), [])
        count = sum(header_key(name) in CSV_COLUMNS for name in names)
        if count > known:
            best, known = delimiter, count
    return best


def _peek_header(data: bytes, delimiter: str = ",") -> list[str]:
    first = data[:65_536].decode("utf-8", "replace")
    row = next(csv.reader(io.StringIO(first), delimiter=delimiter), [])
    return list(row)


def _record_newlines(table: pa.Table) -> np.ndarray:
    total = np.zeros(table.num_rows, dtype=np.int64)
    for column in table.columns:
        counts = pc.fill_null(pc.count_substring(column, "\n"), 0)
        total += np.asarray(counts.to_numpy(), dtype=np.int64)
    return total


def _all_spans(table: pa.Table, bad_rows: list[BadRow]) -> tuple[np.ndarray, np.ndarray]:
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


def _csv_lines(table: pa.Table, bad_rows: list[BadRow]) -> tuple[np.ndarray, np.ndarray]:
    spans, parsed = _all_spans(table, bad_rows)
    first_lines = 2 + np.concatenate([[0], np.cumsum(spans)[:-1]])
    records = np.arange(1, len(spans) + 1)
    return first_lines[parsed], records[parsed]


def _bad_lines(table: pa.Table, bad_rows: list[BadRow]) -> list[int]:
    if not bad_rows:
        return []
    spans, _ = _all_spans(table, bad_rows)
    first_lines = 2 + np.concatenate([[0], np.cumsum(spans)[:-1]])
    return [int(first_lines[n - 2]) for n, _ in bad_rows]
