"""Reading the results of ``analyzer inbound`` (``inbound_summary.json`` and the files
beside it) for a report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from analyzer.inbound import CALLBACK_COLUMNS, NUMBER_COLUMNS
from analyzer.report.reading import read_results_parquet, read_summary
from analyzer.results import (
    INBOUND_SUMMARY_FILE,
    NUMBERS_CHECK_FILE,
    STATUS_CALLBACKS_FILE,
    UNHANDLED_INBOUND_FILE,
    InboundSummary,
)

#: The columns of ``unhandled_inbound.parquet`` the report shows.
UNHANDLED_COLUMNS = ("sid", "from", "to", "date_created")


@dataclass
class InboundData:
    """The results of an inbound check as the report reads them."""

    summary: InboundSummary
    #: ``numbers_check.parquet``: one row per number with its webhook and verdict.
    numbers: pd.DataFrame
    #: ``unhandled_inbound.parquet``: inbound messages no webhook request answered.
    unhandled: pd.DataFrame
    #: ``status_callbacks.parquet``: the outbound messages whose callbacks went wrong.
    callbacks: pd.DataFrame


def load_inbound(results: Path) -> InboundData | None:
    """The inbound results in ``results``; None without ``inbound_summary.json``."""
    summary = read_summary(InboundSummary, results / INBOUND_SUMMARY_FILE, "an inbound summary")
    if summary is None:
        return None
    unhandled = read_results_parquet(results / UNHANDLED_INBOUND_FILE, UNHANDLED_COLUMNS)
    unhandled["date_created"] = pd.to_datetime(unhandled["date_created"], utc=True)
    callbacks = read_results_parquet(results / STATUS_CALLBACKS_FILE, CALLBACK_COLUMNS)
    callbacks["time"] = pd.to_datetime(callbacks["time"], utc=True)
    return InboundData(
        summary=summary,
        numbers=read_results_parquet(results / NUMBERS_CHECK_FILE, NUMBER_COLUMNS),
        unhandled=unhandled,
        callbacks=callbacks,
    )
