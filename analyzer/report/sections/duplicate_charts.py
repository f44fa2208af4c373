"""The charts of the duplicates section."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.report import charts
from analyzer.report.charts import Chart
from analyzer.report.load import ReportData
from analyzer.report.text import masked

_TOP_LISTS = (
    ("from_numbers", "top_senders", "Sender numbers of the extra messages"),
    ("messaging_service_sids", "top_services", "Messaging Services of the extra messages"),
)


def duplicate_charts(data: ReportData, redact: bool) -> list[Chart]:
    """Every chart of the duplicate clusters (none without clusters) and the window
    sensitivity chart."""
    frame, table = data.frame, data.table
    made: list[Chart] = []
    if len(frame):
        gaps = pc.list_flatten(table["gaps_seconds"]).to_numpy(zero_copy_only=False)
        recipients = pd.Series(masked(table["to"].combine_chunks(), redact), dtype=object)
        made += [
            charts.verdict_breakdown(frame["verdict"], frame["extra"].to_numpy()),
            charts.clusters_over_time(frame["first_created"], frame["verdict"]),
            charts.gap_distribution(gaps, data.detection.window_seconds or None),
            charts.cluster_sizes(frame["n_records"].to_numpy()),
            charts.top_counts(
                recipients,
                frame["extra"].to_numpy(),
                name="top_recipients",
                title="Recipients with the most extra messages"
                + (" (numbers masked)" if redact else ""),
                what="extra messages",
            ),
        ]
        for column, name, title in _TOP_LISTS:
            if column in table.column_names:
                labels = extra_record_values(table[column])
                made.append(
                    charts.top_counts(labels, None, name=name, title=title, what="extra messages")
                )
    if not data.sensitivity.empty:
        made.append(charts.window_sensitivity(data.sensitivity))
    return made


def extra_record_values(column: pa.ChunkedArray) -> pd.Series:
    """The values of a per-record list column for every record but each cluster's first."""
    lists = column.combine_chunks()
    if isinstance(lists, pa.ChunkedArray):
        lists = pa.concat_arrays(lists.chunks)
    values = pc.list_flatten(lists)
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keep = np.ones(len(values), dtype=bool)
    keep[starts[lengths > 0]] = False
    picked = values.filter(pa.array(keep))
    if pa.types.is_dictionary(picked.type):
        picked = picked.dictionary_decode()
    return pd.Series(picked.to_numpy(zero_copy_only=False), dtype=object).fillna("(none)")
