"""What an import reads and reports: formats, skipped rows, per-file and overall results,
and one file's columns between parsing and cleaning."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from analyzer.store import WriteResult

Format = Literal["auto", "console-csv", "bulk-export", "api-json", "parquet"]
FORMATS: tuple[str, ...] = ("auto", "console-csv", "bulk-export", "api-json", "parquet")
#: How to read ``NN/NN/YYYY`` dates; "auto" decides per file from the values.
DateOrder = Literal["auto", "month-first", "day-first"]
DATE_ORDERS: tuple[str, ...] = ("auto", "month-first", "day-first")
MAX_SAMPLES = 20


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
class ParsedFile:
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
class CleanedFile:
    """One file's records in the message schema, and what could not be read."""

    table: pa.Table
    malformed: int
    samples: list[MalformedRow]
    unreadable: int
    unreadable_samples: list[MalformedRow]
