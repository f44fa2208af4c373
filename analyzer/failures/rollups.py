"""Failures added up by day, code, sender, Messaging Service and destination country,
and the codes whose daily count jumped above their recent baseline."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.results import FailureJump
from analyzer.vocabulary import FailureCategory

#: A jump: at least this many failures with one code on a day …
JUMP_MIN_COUNT = 10
#: … and this many times the mean of the days before (at least one a day) …
JUMP_FACTOR = 4.0
#: … over up to a week of days before, at least three of them.
BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3
_EPOCH = date(1970, 1, 1)


@dataclass
class Rollups:
    """The rollup tables, one row per group (the CSV files of the results)."""

    by_day: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_code_day: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_sender: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_service: pd.DataFrame = field(default_factory=pd.DataFrame)
    by_country: pd.DataFrame = field(default_factory=pd.DataFrame)


def day_text(days: pd.Series | np.ndarray) -> pd.Series:
    """Days since the epoch as YYYY-MM-DD."""
    return pd.Series(pd.to_datetime(np.asarray(days, dtype="int64"), unit="D").strftime("%Y-%m-%d"))


def counts_by_value(values: pa.ChunkedArray | pa.Array) -> dict[str, int]:
    """How often each value occurs, most frequent first (ties by value), as text keys."""
    counted = pc.value_counts(values)
    pairs = zip(
        counted.field("values").to_pylist(), counted.field("counts").to_pylist(), strict=True
    )
    return dict(sorted(((str(k), int(n)) for k, n in pairs), key=lambda kv: (-kv[1], kv[0])))


def code_day_counts(failures: pa.Table) -> pd.DataFrame:
    """Failures per day (since the epoch) and error code ("none" without one)."""
    codes = pc.fill_null(failures["error_code"].cast(pa.string()), "none")
    table = pa.table(
        {"day": failures["day"], "error_code": codes, "category": failures["category"]}
    )
    counted = table.group_by(["day", "error_code", "category"], use_threads=False).aggregate(
        [("day", "count")]
    )
    frame = counted.to_pandas().rename(columns={"day_count": "failures"})
    return frame.sort_values(["day", "failures", "error_code"], ascending=[True, False, True])


def find_jumps(by_code_day: pd.DataFrame, day_from: int | None) -> list[FailureJump]:
    """The (code, day) pairs of the reported days whose count is far above the code's
    mean over the days before."""
    if by_code_day.empty:
        return []
    counts = by_code_day.pivot_table(
        index="day", columns="error_code", values="failures", aggfunc="sum", fill_value=0
    )
    days = np.arange(counts.index.min(), counts.index.max() + 1)
    counts = counts.reindex(days, fill_value=0)
    # Days before the first day read are unknown (NaN), not zero: no jump without a baseline.
    before = counts.shift(1).rolling(BASELINE_DAYS, min_periods=MIN_BASELINE_DAYS).mean()
    jumped = (counts >= JUMP_MIN_COUNT) & (counts >= JUMP_FACTOR * before.clip(lower=1.0))
    if day_from is not None:
        jumped.loc[jumped.index < day_from] = False
    category = dict(zip(by_code_day["error_code"], by_code_day["category"], strict=True))
    day_at, code_at = np.nonzero(jumped.to_numpy())
    values, baselines = counts.to_numpy(), before.to_numpy()
    codes, day_numbers = [str(c) for c in counts.columns], [int(d) for d in counts.index]
    return [
        FailureJump(
            error_code=codes[j],
            category=str(category[codes[j]]),
            day=(_EPOCH + timedelta(days=day_numbers[i])).isoformat(),
            count=int(values[i, j]),
            baseline=round(float(baselines[i, j]), 2),
        )
        for i, j in zip(day_at, code_at, strict=True)
    ]


def rollups(
    grouped: pa.Table, failures: pa.Table, by_code_day: pd.DataFrame, day_from: int | None
) -> Rollups:
    """The rollup tables of the reported period."""
    counts = grouped.to_pandas()
    codes = by_code_day if day_from is None else by_code_day[by_code_day["day"] >= day_from]
    codes = codes.assign(day=day_text(codes["day"]).to_numpy())
    return Rollups(
        by_day=_by_day(counts, failures),
        by_code_day=codes[["day", "error_code", "category", "failures"]].reset_index(drop=True),
        by_sender=_rates(counts, "from"),
        by_service=_rates(counts, "messaging_service_sid"),
        by_country=_rates(counts, "calling_code"),
    )


def _by_day(counts: pd.DataFrame, failures: pa.Table) -> pd.DataFrame:
    """Outbound messages and failures per day, with one column per category."""
    totals = counts.groupby("day")[["outbound_messages", "failures"]].sum()
    categories = [str(c) for c in FailureCategory]
    if failures.num_rows:
        table = failures.select(["day", "category"]).to_pandas()
        per = pd.crosstab(table["day"], table["category"]).reindex(columns=categories, fill_value=0)
    else:
        per = pd.DataFrame(columns=categories, dtype="int64")
    frame = totals.join(per, how="left").fillna(0).astype("int64").reset_index()
    frame["day"] = day_text(frame["day"]).to_numpy()
    return frame[["day", "outbound_messages", "failures", *categories]]


def _rates(counts: pd.DataFrame, by: str) -> pd.DataFrame:
    """Outbound messages, failures and the failure rate per value of ``by``."""
    columns = [by, "outbound_messages", "failures", "failure_rate"]
    if counts.empty:
        return pd.DataFrame(columns=columns)
    frame = counts.groupby(by, dropna=False)[["outbound_messages", "failures"]].sum()
    frame = frame.reset_index()
    frame["failure_rate"] = (frame["failures"] / frame["outbound_messages"]).round(6)
    frame = frame.sort_values(["failures", "outbound_messages"], ascending=False)
    return frame[columns].reset_index(drop=True)
