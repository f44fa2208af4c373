"""``clusters.csv``: every cluster, worst first, one row each, for spreadsheets."""

from __future__ import annotations

import io

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from analyzer.redact import mask_numbers_in_text, mask_phones, scrub_secrets_array
from analyzer.report.load import LIST_COLUMNS, ReportData
from analyzer.report.text import join_lists

_SCALARS = (
    "span_seconds",
    "posts",
    "records_in_window",
    "covered",
    "skew_seconds",
    "match_mode",
    "log_kind",
)
#: Timestamps inside list columns: whole seconds for Twilio's records, ms for log times.
_LIST_TIME_UNITS = {"created": "s", "matched_times": "ms"}


def formula_safe(array: pa.Array) -> pa.Array:
    """Prefix cells a spreadsheet would run as a formula (=, +, -, @) with a quote."""
    return pc.replace_substring_regex(array, r"^([=+\-@\t\r])", r"'\1")


def clusters_csv(data: ReportData, redact: bool, secrets: list[str]) -> bytes:
    """The CSV bytes; numbers masked when ``redact``, ``secrets`` scrubbed from every text
    column (column by column with RE2, far faster than a regex over the whole text)."""
    table = data.table
    columns: dict[str, pa.Array] = {}

    def add(name: str, array: pa.Array | pa.ChunkedArray) -> None:
        columns[name] = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array

    add("cluster_id", table["cluster_id"])
    add("verdict", table["verdict"])
    to = table["to"].combine_chunks()
    add("to", mask_phones(to) if redact else to)
    for name in data.key_columns:
        column = table[name]
        add(name, column if pa.types.is_string(column.type) else column.cast(pa.string()))
    add("n_records", table["n_records"])
    add("extra_messages", pa.array(data.frame["extra"].to_numpy()))
    for name in ("first_created", "last_created"):
        if name in table.column_names:
            seconds = table[name].cast(pa.timestamp("s", tz="UTC"), safe=False)
            add(name, pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ"))
    for name in _SCALARS:
        if name in table.column_names:
            add(name, table[name])
    add("gap_pattern", pa.array(data.frame["pattern"].astype(str).to_numpy(), pa.string()))
    for name in LIST_COLUMNS:
        if name in table.column_names:
            add(name, join_lists(table[name], times=_LIST_TIME_UNITS.get(name)))
    for name in ("hint", "verdict_reason"):
        if name in table.column_names:
            add(name, formula_safe(table[name].combine_chunks().cast(pa.string())))
    if "body" in table.column_names:
        body = table["body"].combine_chunks()
        add("body", formula_safe(mask_numbers_in_text(body) if redact else body))
    for name, array in columns.items():
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            columns[name] = scrub_secrets_array(array, secrets)
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buffer)
    return buffer.getvalue()
