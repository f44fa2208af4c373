"""The charts of the opt-outs sections."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import MaxNLocator

from analyzer.report import charts
from analyzer.report.charts import Chart, truncate
from analyzer.report.text import masked
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind, OptoutVerdict

KIND_COLORS: dict[str, str] = {OptoutKind.OPT_OUT: "#C0392B", OptoutKind.OPT_IN: "#27AE60"}
KIND_LABELS: dict[str, str] = {OptoutKind.OPT_OUT: "opt-outs", OptoutKind.OPT_IN: "opt-ins"}
#: Senders and services drawn on their own in the blocked-sends chart; the rest are summed.
TOP_SCOPES = 6
#: The label of the scopes summed together.
OTHER = "other"
#: The colours of the scopes, in rank order, then of ``other``.
SCOPE_COLORS = ("#2E86C1", "#E07B39", "#27AE60", "#8E44AD", "#F1C40F", "#5D6D7E", "#A6ACAF")
#: Day labels shown at most on an axis.
MAX_DAY_TICKS = 14


def per_day(times: pd.Series, groups: pd.Series) -> pd.DataFrame:
    """Rows counted per UTC day (``YYYY-MM-DD``, every day from the first to the last)
    and group, one column per group."""
    days = pd.to_datetime(times, utc=True).dt.strftime("%Y-%m-%d")
    counts = pd.crosstab(days.to_numpy(), groups.astype(str).to_numpy())
    if counts.empty:
        return counts
    every = pd.date_range(counts.index.min(), counts.index.max(), freq="D").strftime("%Y-%m-%d")
    return counts.reindex(every, fill_value=0)


def _day_axis(ax: Axes, days: list[str]) -> np.ndarray:
    x = np.arange(len(days))
    step = max(1, len(days) // MAX_DAY_TICKS)
    ax.set_xticks(x[::step], days[::step])
    ax.set_xlabel("day (UTC)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return x


def optouts_per_day(events: pd.DataFrame) -> Chart:
    """Keyword opt-outs and opt-ins per day, side by side."""
    name, title = "optouts_per_day", "Opt-out and opt-in keywords per day (UTC)"
    kinds = [OptoutKind.OPT_OUT.value, OptoutKind.OPT_IN.value]
    wanted = events[events["kind"].astype(str).isin(kinds)]
    counts = per_day(wanted["date_created"], wanted["kind"])
    with charts.house_style():
        fig, ax = charts.new_figure((8.0, 3.2))
        if counts.empty:
            charts.show_empty(ax, "No opt-out or opt-in keywords")
            return charts.render(fig, name, title)
        x = _day_axis(ax, counts.index.tolist())
        width = 0.4
        for offset, kind in zip((-width / 2, width / 2), kinds, strict=True):
            values = counts[kind].to_numpy() if kind in counts else np.zeros(len(x))
            ax.bar(x + offset, values, width, label=KIND_LABELS[kind], color=KIND_COLORS[kind])
        ax.set_ylabel("keyword messages")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return charts.render(fig, name, title)


def blocked_sends(sends: pd.DataFrame) -> pd.DataFrame:
    """The sends Twilio refused because the recipient had opted out."""
    return sends[sends["verdict"].astype(str) == OptoutVerdict.BLOCKED]


def blocked_per_day(sends: pd.DataFrame, top: int = TOP_SCOPES) -> Chart:
    """Blocked sends per day, stacked by sender or Messaging Service (the ``top`` with the
    most; the rest summed as ``other``)."""
    name = "blocked_per_day"
    title = f"Sends blocked by an opt-out ({OPTED_OUT_ERROR}) per day, by sender or service"
    blocked = blocked_sends(sends)
    scopes = blocked["scope"].astype(object).fillna("(none)").astype(str)
    ranked = scopes.value_counts(sort=True).index[:top]
    counts = per_day(blocked["date_created"], scopes.where(scopes.isin(ranked), OTHER))
    with charts.house_style():
        fig, ax = charts.new_figure((8.0, 3.6))
        if counts.empty:
            charts.show_empty(ax, "No blocked sends")
            return charts.render(fig, name, title)
        x = _day_axis(ax, counts.index.tolist())
        bottom = np.zeros(len(x))
        shown = [scope for scope in [*ranked, OTHER] if scope in counts]
        palette = (*SCOPE_COLORS[: len(ranked)], SCOPE_COLORS[-1])
        for scope, color in zip(shown, palette, strict=False):
            values = counts[scope].to_numpy(dtype=float)
            ax.bar(x, values, bottom=bottom, label=truncate(str(scope)), color=color, linewidth=0)
            bottom += values
        ax.set_ylabel("blocked sends")
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0))
        return charts.render(fig, name, title)


def top_blocked_recipients(sends: pd.DataFrame, redact: bool) -> Chart:
    """The recipients with the most blocked sends (numbers masked when ``redact``)."""
    recipients = masked(blocked_sends(sends)["to"].astype(object), redact)
    return charts.top_counts(
        pd.Series(recipients, dtype=object),
        None,
        name="top_blocked_recipients",
        title="Recipients with the most blocked sends" + (" (numbers masked)" if redact else ""),
        what=f"sends blocked with {OPTED_OUT_ERROR}",
        empty="No blocked sends",
    )
