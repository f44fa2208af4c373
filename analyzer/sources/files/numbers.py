"""Numbers written as text in exported files (prices, counts, error codes)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# A number written with a decimal comma (-0,0079), in a file separated by semicolons.
_DECIMAL_COMMA = r"^(\s*[-+]?\d*),(\d+\s*)$"


def parse_numbers(
    values: pa.ChunkedArray, *, integer: bool, decimal_comma: bool = False
) -> tuple[pa.Array, np.ndarray]:
    """Numbers of a column (null where unreadable) and which values were unreadable.

    With ``decimal_comma``, ``-0,0079`` reads as -0.0079."""
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        numeric = pd.Series(values.to_pandas(), dtype="float64")
    else:
        strings = pc.cast(values, pa.string())
        if decimal_comma:
            strings = pc.replace_substring_regex(strings, _DECIMAL_COMMA, r"\1.\2")
        text = pd.Series(strings.to_pandas(), dtype=object).str.strip()
        text = text.where(text != "", None)
        numeric = pd.to_numeric(text, errors="coerce").astype("float64")
    present = np.asarray(pc.is_valid(values).to_numpy(zero_copy_only=False), dtype=bool)
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        blank = np.asarray(
            pc.fill_null(
                pc.equal(pc.utf8_trim_whitespace(pc.cast(values, pa.string())), ""), True
            ).to_numpy(zero_copy_only=False),
            dtype=bool,
        )
        present &= ~blank
    bad = present & numeric.isna().to_numpy()
    if integer:
        whole = numeric.isna() | (np.floor(numeric) == numeric)
        bad |= ~whole.to_numpy()
        numeric = numeric.where(whole)
        return pa.array(numeric.to_numpy(), pa.float64(), from_pandas=True).cast(pa.int64()), bad
    return pa.array(numeric.to_numpy(), pa.float64(), from_pandas=True), bad
