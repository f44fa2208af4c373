"""Importing files into a dataset: each file's format (given or detected), its parser,
cleaning, the per-file report and the write."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import pyarrow as pa

from analyzer.errors import InputError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.files.api_json import parse_api_json
from analyzer.sources.files.bulk_export import parse_bulk_export
from analyzer.sources.files.cleaning import clean
from analyzer.sources.files.console_csv import parse_console_csv, sniff_delimiter
from analyzer.sources.files.model import (
    DATE_ORDERS,
    FORMATS,
    MAX_SAMPLES,
    CleanedFile,
    DateOrder,
    FileReport,
    Format,
    ImportResult,
    ParsedFile,
)
from analyzer.sources.files.parquet_file import parse_parquet
from analyzer.sources.files.reading import open_bytes
from analyzer.store import dataset_lock, write_messages

_PARSERS: dict[str, Callable[[Path], ParsedFile]] = {
    "console-csv": parse_console_csv,
    "bulk-export": parse_bulk_export,
    "api-json": parse_api_json,
    "parquet": parse_parquet,
}


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
    _check_options(format, date_order)
    if not paths:
        raise InputError("no input files given")
    result = ImportResult()
    tables = []
    for raw_path in paths:
        path = Path(raw_path)
        if not path.is_file():
            raise InputError(f"no such file: {path}")
        report, cleaned = _read_file(path, format, date_order)
        _add_file(result, report, cleaned)
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


def _add_file(result: ImportResult, report: FileReport, cleaned: CleanedFile) -> None:
    """Count one file into the import's totals and samples."""
    result.files.append(report)
    result.rows += report.rows
    result.imported += report.imported
    result.malformed += report.malformed
    result.unreadable += report.unreadable
    result.samples.extend(cleaned.samples[: max(0, MAX_SAMPLES - len(result.samples))])
    room = max(0, MAX_SAMPLES - len(result.unreadable_samples))
    result.unreadable_samples.extend(cleaned.unreadable_samples[:room])


def read_files(
    paths: Iterable[str | Path],
    format: Format = "auto",  # noqa: A002
    date_order: DateOrder = "auto",
) -> pa.Table:
    """Read files into one message-schema table without writing anything (skips bad rows,
    keeps unreadable optional values as empty; a file in another format raises InputError)."""
    _check_options(format, date_order)
    tables = [_read_file(Path(path), format, date_order)[1].table for path in paths]
    return pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()


def _read_file(path: Path, format: str, date_order: str) -> tuple[FileReport, CleanedFile]:  # noqa: A002
    """Read and check one file; InputError when none of its rows could be read."""
    kind = detect_format(path) if format == "auto" else format
    parsed = _PARSERS[kind](path)
    cleaned = clean(parsed, path.name, f"{kind}:{path.name}", date_order=date_order)
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


def _check_options(format: str, date_order: str) -> None:  # noqa: A002
    if format not in FORMATS:
        raise InputError(f"unknown format {format!r}; use one of: " + ", ".join(FORMATS))
    if date_order not in DATE_ORDERS:
        raise InputError(
            f"unknown date order {date_order!r}; use one of: " + ", ".join(DATE_ORDERS)
        )


def detect_format(path: Path) -> str:
    """Guess a file's format from its first bytes and name."""
    head = open_bytes(path, limit=65_536)
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
    delimiter = sniff_delimiter(header)
    if delimiter in header and "sid" in header.lower():
        return "console-csv"
    raise InputError(
        f"cannot tell the format of {path}; pass --format console-csv, bulk-export, api-json "
        "or parquet"
    )
