"""The charts of the delivery failures section."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator, PercentFormatter

from analyzer.report import charts
from analyzer.report.charts import Chart, truncate
from analyzer.report.failures_data import FailuresData
from analyzer.vocabulary import FailureCategory

CATEGORY_COLORS: dict[str, str] = {
    FailureCategory.REQUEST: "#2E86C1",
    FailureCategory.COMPLIANCE: "#C0392B",
    FailureCategory.RATE: "#E07B39",
    FailureCategory.CONTENT: "#F1C40F",
    FailureCategory.RECIPIENT: "#27AE60",
    FailureCategory.OPTED_OUT: "#8E44AD",
    FailureCategory.CARRIER: "#5D6D7E",
    FailureCategory.FRAUD: "#922B21",
    FailureCategory.UNKNOWN: "#A6ACAF",
}
#: Senders with fewer outbound messages are left out of the failure-rate ranking.
MIN_SENDER_VOLUME = 20
_NO_FAILURES = "No failed or undelivered messages"


def failure_charts(data: FailuresData) -> dict[str, Chart]:
    """The failures charts by name: over time, top codes, top senders by failure rate."""
    return {
        "failures_over_time": failures_over_time(data.by_day),
        "top_error_codes": top_codes(data.codes),
        "sender_failure_rates": sender_failure_rates(data.by_sender),
    }


def failures_over_time(by_day: pd.DataFrame) -> Chart:
    """The failure rate per day above the failures per day, stacked by category."""
    name, title = "failures_over_time", "Delivery failures per day (UTC), by category"
    with charts.house_style():
        fig = charts.blank_figure((8.0, 4.8))
        rate_ax, count_ax = fig.subplots(2, 1, sharex=True, height_ratios=(1, 2))
        if by_day.empty:
            rate_ax.set_axis_off()
            charts.show_empty(count_ax, "No days with outbound messages")
            return charts.render(fig, name, title)
        days = by_day["day"].astype(str).tolist()
        x = np.arange(len(days))
        outbound = by_day["outbound_messages"].to_numpy(dtype=float)
        failures = by_day["failures"].to_numpy(dtype=float)
        rate = np.divide(failures, outbound, out=np.full_like(failures, np.nan), where=outbound > 0)
        rate_ax.plot(x, rate, marker="o", color="#C0392B")
        rate_ax.yaxis.set_major_formatter(PercentFormatter(1.0))
        rate_ax.set_ylim(bottom=0)
        rate_ax.set_ylabel("of outbound")
        bottom = np.zeros(len(days))
        for category in FailureCategory:
            if category.value not in by_day.columns:
                continue
            values = by_day[category.value].fillna(0).to_numpy(dtype=float)
            if values.any():
                count_ax.bar(
                    x,
                    values,
                    bottom=bottom,
                    label=category.value,
                    color=CATEGORY_COLORS[category],
                    linewidth=0,
                )
                bottom += values
        count_ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        count_ax.set_ylabel("failures")
        count_ax.set_xlabel("day (UTC)")
        step = max(1, len(days) // 14)
        count_ax.set_xticks(x[::step], days[::step])
        if bottom.any():
            count_ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return charts.render(fig, name, title)


def top_codes(codes: pd.DataFrame) -> Chart:
    """The error codes with the most failures."""
    labels = codes["error_code"].astype(str) + " " + codes["title"].fillna("").astype(str)
    return charts.top_counts(
        labels.str.strip(),
        codes["failures"].to_numpy(dtype=float),
        name="top_error_codes",
        title="Error codes with the most failures",
        what="failed or undelivered messages",
        empty=_NO_FAILURES,
    )


def sender_failure_rates(by_sender: pd.DataFrame, top: int = charts.TOP_N) -> Chart:
    """The senders with the highest failure rate among those with enough volume."""
    name = "sender_failure_rates"
    title = f"Senders with the highest failure rate (at least {MIN_SENDER_VOLUME} messages)"
    ranked = worst_senders(by_sender, top)
    with charts.house_style():
        fig, ax = charts.new_figure((7.0, 3.4))
        if ranked.empty:
            charts.show_empty(ax, f"No sender with {MIN_SENDER_VOLUME} or more messages")
            return charts.render(fig, name, title)
        ys = np.arange(len(ranked))
        rates = ranked["failure_rate"].to_numpy(dtype=float)
        bars = ax.barh(ys, rates, color="#C0392B")
        ax.set_yticks(ys, [truncate(str(v)) for v in ranked["from"]])
        ax.invert_yaxis()
        labels = [
            f"{rate:.1%} ({int(f):,} of {int(n):,})"
            for rate, f, n in zip(
                rates, ranked["failures"], ranked["outbound_messages"], strict=True
            )
        ]
        ax.bar_label(bars, labels=labels, fontsize=7, padding=2)
        ax.set_xlim(0, max(0.01, float(rates.max())) * 1.4)
        ax.xaxis.set_major_formatter(PercentFormatter(1.0))
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("failed or undelivered, of the sender's outbound messages")
        return charts.render(fig, name, title)


def worst_senders(by_sender: pd.DataFrame, top: int) -> pd.DataFrame:
    """The ``top`` senders with at least :data:`MIN_SENDER_VOLUME` outbound messages and
    a failure, highest failure rate first (most failures on a tie)."""
    enough = by_sender[
        (by_sender["outbound_messages"] >= MIN_SENDER_VOLUME) & (by_sender["failures"] > 0)
    ]
    ordered = enough.sort_values(
        ["failure_rate", "failures"], ascending=[False, False], kind="stable"
    )
    return ordered.head(top).reset_index(drop=True)
