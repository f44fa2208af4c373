"""Reading the results of ``analyzer failures`` (``failures_summary.json`` and the files
beside it) for a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer.errors import InputError
from analyzer.failures.codes import CATEGORY_ACTIONS
from analyzer.report.reading import read_results_csv, read_summary
from analyzer.results import (
    FAILURE_TABLES,
    FAILURES_BY_CODE_DAY_FILE,
    FAILURES_BY_COUNTRY_FILE,
    FAILURES_BY_DAY_FILE,
    FAILURES_BY_SENDER_FILE,
    FAILURES_BY_SERVICE_FILE,
    FAILURES_FILE,
    FAILURES_SUMMARY_FILE,
    SUPPRESS_FILE,
    FailuresSummary,
)

#: The code of a failure without an error code, as ``by_error_code`` spells it.
NO_CODE = "none"
#: The columns of :attr:`FailuresData.codes`.
CODE_COLUMNS = ["error_code", "category", "title", "action", "failures"]


@dataclass
class FailuresData:
    """The results of a delivery-failure analysis as the report reads them."""

    summary: FailuresSummary
    #: One row per error code (``none`` for failures without one): category, title,
    #: the category's action and the failures, most failures first.
    codes: pd.DataFrame
    by_day: pd.DataFrame
    by_code_day: pd.DataFrame
    by_sender: pd.DataFrame
    by_service: pd.DataFrame
    by_country: pd.DataFrame
    #: ``recipients_to_suppress.csv``.
    suppress: pd.DataFrame

    def category_actions(self) -> dict[str, str]:
        """The recommended action of each category: ours, else the one the results give."""
        found = self.codes.dropna(subset=["action"]).drop_duplicates("category")
        given = zip(found["category"].astype(str), found["action"].astype(str), strict=True)
        return dict(given) | {str(name): action for name, action in CATEGORY_ACTIONS.items()}


def load_failures(results: Path) -> FailuresData | None:
    """The failures results in ``results``; None without ``failures_summary.json``."""
    summary = read_summary(FailuresSummary, results / FAILURES_SUMMARY_FILE, "a failures summary")
    if summary is None:
        return None
    return FailuresData(
        summary=summary,
        codes=read_codes(results / FAILURES_FILE),
        by_day=read_rollup(results, FAILURES_BY_DAY_FILE),
        by_code_day=read_rollup(results, FAILURES_BY_CODE_DAY_FILE),
        by_sender=read_rollup(results, FAILURES_BY_SENDER_FILE),
        by_service=read_rollup(results, FAILURES_BY_SERVICE_FILE),
        by_country=read_rollup(results, FAILURES_BY_COUNTRY_FILE),
        suppress=read_rollup(results, SUPPRESS_FILE),
    )


def read_rollup(results: Path, name: str) -> pd.DataFrame:
    """One of the CSV files of the contract; an empty table with its columns if missing."""
    columns, text = FAILURE_TABLES[name]
    return read_results_csv(results / name, columns, text)


def read_codes(path: Path) -> pd.DataFrame:
    """The failures of ``failures.parquet`` counted by error code, most first."""
    if not path.is_file():
        return pd.DataFrame(columns=CODE_COLUMNS)
    wanted = ["error_code", "category", "title", "action"]
    try:
        table = pq.read_table(path, columns=wanted)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {path}: {str(exc).splitlines()[0]}") from None
    codes = pc.cast(table["error_code"], pa.string()).fill_null(NO_CODE)
    table = table.set_column(0, "error_code", codes)
    counted = table.group_by(wanted, use_threads=False).aggregate([([], "count_all")])
    frame = counted.to_pandas().rename(columns={"count_all": "failures"})
    frame = frame.sort_values(["failures", "error_code"], ascending=[False, True], kind="stable")
    return frame[CODE_COLUMNS].reset_index(drop=True)
