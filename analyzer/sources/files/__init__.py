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

from analyzer.sources.files.dates import parse_dates
from analyzer.sources.files.importer import detect_format, import_files, read_files
from analyzer.sources.files.model import (
    DATE_ORDERS,
    FORMATS,
    MAX_SAMPLES,
    DateOrder,
    FileReport,
    Format,
    ImportResult,
    MalformedRow,
)

__all__ = [
    "DATE_ORDERS",
    "FORMATS",
    "MAX_SAMPLES",
    "DateOrder",
    "FileReport",
    "Format",
    "ImportResult",
    "MalformedRow",
    "detect_format",
    "import_files",
    "parse_dates",
    "read_files",
]
