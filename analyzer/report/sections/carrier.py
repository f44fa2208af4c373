"""The carrier investigation section (``carrier.parquet``, written by ``investigate``)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analyzer.redact import mask_numbers_in_text
from analyzer.report.document import Paragraph, Section, Table
from analyzer.report.sections.base import ReportContext
from analyzer.report.text import masked, time_text

_HINT_COLUMNS = ("hint", "carrier_hint", "carrier")


def sections(context: ReportContext) -> list[Section]:
    """The reports of a message received twice, if an investigation wrote them."""
    carrier = context.data.carrier
    if carrier is None:
        return []
    found = context.summary.carrier
    reports = 0 if found is None else found.reports
    by_verdict = {} if found is None else found.by_verdict
    counts = ", ".join(f"{n:,} {v}" for v, n in by_verdict.items())
    intro = f"{reports:,} reports of a message received twice" + (
        f": {counts}." if counts else "."
    )
    return [
        Section(
            "Carrier investigation",
            [Paragraph((intro,)), carrier_table(carrier, context.summary.redacted)],
        )
    ]


def carrier_table(carrier: pd.DataFrame, redact: bool, *, notes: bool = True) -> Table:
    """The carrier investigation table.

    ``redact`` masks recipients and the numbers inside notes; ``notes=False`` leaves the
    complaints' notes out (free text, kept out of a redacted ticket like bodies are).
    """
    frame = carrier.reset_index(drop=True)
    count = len(frame)

    def column(name: str) -> list[Any]:
        if name not in frame.columns:
            return [None] * count
        values = frame[name].astype(object)
        return values.where(values.map(_present), None).tolist()

    header = [
        "recipient",
        "reported at (UTC)",
        "verdict",
        "SIDs",
        "first record (UTC)",
        "last record (UTC)",
        "reason",
    ]
    columns = [
        masked(frame["to"] if "to" in frame else pd.Series([None] * count), redact),
        [time_text(v) for v in column("reported_at")],
        column("verdict"),
        [" ".join(map(str, list(v))) if v is not None else None for v in column("sids")],
        [time_text(v) for v in column("first_created")],
        [time_text(v) for v in column("last_created")],
        column("reason"),
    ]
    if notes:
        header.append("note")
        note = pa.array(column("note"), type=pa.string())
        columns.append((mask_numbers_in_text(note) if redact else note).to_pylist())
    hint = next((name for name in _HINT_COLUMNS if name in frame.columns), None)
    if hint:
        header.append(hint.replace("_", " "))
        columns.append(column(hint))
    rows = [["" if v is None else v for v in row] for row in zip(*columns, strict=True)]
    return Table(header, rows)


def _present(value: Any) -> bool:
    return isinstance(value, list | np.ndarray) or not pd.isna(value)
