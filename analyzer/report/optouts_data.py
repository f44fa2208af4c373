"""Reading the results of ``analyzer optouts`` (``optouts_summary.json`` and the files
beside it) for a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.report.reading import read_results_csv, read_results_parquet, read_summary
from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_COLUMNS,
    OPTOUT_EVENTS_FILE,
    OPTOUT_SENDS_FILE,
    OPTOUTS_SUMMARY_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
)

#: The columns of the opt-out CSV files that hold counts; every other column is text
#: (numbers such as ``+4477…`` stay text when read back).
COUNT_COLUMNS = frozenset({"blocked_sends"})
#: The columns of the opt-out Parquet files read as text whatever their type.
TEXT_COLUMNS = frozenset({"error_code"})


@dataclass
class OptoutsData:
    """The results of an opt-out analysis as the report reads them."""

    summary: OptoutsSummary
    #: ``optout_events.parquet``: one row per inbound keyword message.
    events: pd.DataFrame
    #: ``optout_sends.parquet``: one row per send to a recipient while opted out.
    sends: pd.DataFrame
    #: ``near_misses.csv``: inbound messages that look like a keyword but are not one.
    near_misses: pd.DataFrame
    #: ``inferred_opt_outs.csv``: recipients blocked with 21610 without a keyword first.
    inferred: pd.DataFrame
    #: ``suppression.csv``: recipients opted out at the end, per scope.
    suppression: pd.DataFrame


def load_optouts(results: Path) -> OptoutsData | None:
    """The opt-out results in ``results``; None without ``optouts_summary.json``."""
    summary = read_summary(OptoutsSummary, results / OPTOUTS_SUMMARY_FILE, "an opt-outs summary")
    if summary is None:
        return None
    return OptoutsData(
        summary=summary,
        events=read_parquet(results, OPTOUT_EVENTS_FILE),
        sends=read_parquet(results, OPTOUT_SENDS_FILE),
        near_misses=read_csv(results, NEAR_MISSES_FILE),
        inferred=read_csv(results, INFERRED_OPTOUTS_FILE),
        suppression=read_csv(results, SUPPRESSION_FILE),
    )


def read_csv(results: Path, name: str) -> pd.DataFrame:
    """One of the opt-out CSV files, text as text; an empty table with its columns if
    missing."""
    columns = OPTOUT_COLUMNS[name]
    text = [column for column in columns if column not in COUNT_COLUMNS]
    return read_results_csv(results / name, columns, text)


def read_parquet(results: Path, name: str) -> pd.DataFrame:
    """One of the opt-out Parquet files (error codes as text); an empty table with its
    columns if missing."""
    frame = read_results_parquet(results / name, OPTOUT_COLUMNS[name], _codes_as_text)
    for column in ("date_created", "opted_out_at"):
        if column in frame:
            frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def _codes_as_text(table: pa.Table) -> pa.Table:
    for column in TEXT_COLUMNS & set(table.column_names):
        index = table.column_names.index(column)
        table = table.set_column(index, column, _as_text(table[column]))
    return table


def _as_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """Codes as text: ``21610``, not ``21610.0``."""
    if pa.types.is_floating(column.type):
        column = pc.cast(column, pa.int64())
    return pc.cast(column, pa.string())
