"""Charts of the report as PNG images, drawn with matplotlib's object API.

Every function aggregates first (nothing is plotted per record), draws one
``matplotlib.figure.Figure`` on the Agg canvas inside :func:`house_style`, and returns a
:class:`Chart` holding the PNG bytes; the figure is cleared and dropped before returning,
and pyplot is never used, so no global figure state or rcParams leak into a notebook.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pandas as pd
from matplotlib import rcsetup
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, NullFormatter

from analyzer.results import SENSITIVITY_COLUMNS
from analyzer.vocabulary import GAP_PATTERNS, LISTED_VERDICTS, Verdict

#: Order in which verdicts are listed and stacked.
VERDICTS = LISTED_VERDICTS
VERDICT_COLORS: dict[str, str] = {
    Verdict.APP_SIDE: "#E07B39",
    Verdict.TWILIO_SIDE: "#C0392B",
    Verdict.WEBHOOK_SIDE: "#1E8449",
    Verdict.CARRIER_SIDE: "#8E44AD",
    Verdict.INCONCLUSIVE: "#5DADE2",
    Verdict.UNVERIFIED: "#A6ACAF",
}
VERDICT_LABELS: dict[str, str] = {
    Verdict.APP_SIDE: "app_side (application sent it again)",
    Verdict.TWILIO_SIDE: "twilio_side (one request, several records)",
    Verdict.WEBHOOK_SIDE: "webhook_side (a reply sent twice)",
    Verdict.CARRIER_SIDE: str(Verdict.CARRIER_SIDE),
    Verdict.INCONCLUSIVE: "inconclusive (logs cannot tell)",
    Verdict.UNVERIFIED: "unverified (no log evidence)",
}
#: The gaps a gap chart marks (common client timeouts, a queue's 1 h visibility
#: timeout): the gap patterns that have a mark.
MARKED_GAPS: tuple[tuple[float, str], ...] = tuple(
    (p.mark, p.label) for p in GAP_PATTERNS if p.mark is not None
)
MAX_LABEL = 28
TOP_N = 10

#: The house style: applied only inside :func:`house_style`.
STYLE: dict[str, Any] = {
    "figure.figsize": (8.0, 3.6),
    "figure.dpi": 100,
    "savefig.dpi": 110,
    "font.size": 9,
    "axes.titlesize": 11,
    "axes.titleweight": "bold",
    "figure.titlesize": 11,
    "figure.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,
    "grid.alpha": 0.3,
    "grid.linewidth": 0.6,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "axes.prop_cycle": rcsetup.cycler(color=["#2E86C1", "#E07B39", "#27AE60", "#8E44AD"]),
}


@dataclass(frozen=True)
class Chart:
    """One rendered chart: a file stem, the title it shows and its PNG bytes."""

    name: str
    title: str
    png: bytes

    @property
    def data_uri(self) -> str:
        """The PNG as a ``data:`` URI for an ``<img src>``."""
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@contextmanager
def house_style() -> Iterator[None]:
    """Apply the house style; rcParams are restored on exit, even after an error.

    >>> with house_style():
    ...     chart = cluster_sizes(np.array([2, 2, 3]))
    """
    with matplotlib.rc_context(cast(Any, STYLE)):
        yield


def blank_figure(size: tuple[float, float] | None = None) -> Figure:
    """A figure on the Agg canvas with no axes (call inside :func:`house_style`)."""
    fig = Figure(figsize=size, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def new_figure(size: tuple[float, float] | None = None) -> tuple[Figure, Axes]:
    """A figure with one axes (call inside :func:`house_style`)."""
    fig = blank_figure(size)
    return fig, fig.add_subplot()


def render(fig: Figure, name: str, title: str) -> Chart:
    """The figure under ``title`` as a :class:`Chart`; the figure is cleared."""
    _title(fig, title)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", metadata={"Software": None})
    finally:
        fig.clear()
    return Chart(name=name, title=title, png=buffer.getvalue())


def _title(fig: Figure, title: str) -> None:
    # A figure title, left-aligned, is never clipped by long tick labels as an axes title is.
    fig.suptitle(title, x=0.01, ha="left")


def show_empty(ax: Axes, message: str) -> None:
    """Replace the axes by ``message`` (a chart with nothing to show)."""
    ax.set_axis_off()
    ax.text(
        0.5,
        0.5,
        message,
        ha="center",
        va="center",
        fontsize=11,
        color="#555555",
        transform=ax.transAxes,
    )


def truncate(label: str, width: int = MAX_LABEL) -> str:
    """Shorten a label to ``width`` characters with an ellipsis.

    >>> truncate("MG455d88d4d588e22059af15afe581f809", 12)
    'MG455d88d4d…'
    """
    return label if len(label) <= width else label[: width - 1] + "…"


def clusters_over_time(first_created: pd.Series, verdict: pd.Series) -> Chart:
    """Duplicate clusters per hour (per day beyond 3 days), stacked by verdict."""
    times = pd.to_datetime(first_created, utc=True)
    span_days = (times.max() - times.min()).total_seconds() / 86400 if len(times) else 0.0
    unit, freq, width = ("day", "D", 0.9) if span_days > 3 else ("hour", "h", 0.9 / 24)
    title = f"Duplicate clusters per {unit} (UTC), by verdict"
    with house_style():
        fig, ax = new_figure()
        if len(times) == 0:
            show_empty(ax, "No duplicate clusters")
            return render(fig, "clusters_over_time", title)
        counts = (
            pd.DataFrame({"bin": times.dt.floor(freq).dt.tz_localize(None), "verdict": verdict})
            .groupby(["bin", "verdict"], observed=True)
            .size()
            .unstack(fill_value=0)
        )
        x = mdates.date2num(counts.index.to_numpy())
        bottom = np.zeros(len(counts))
        for name in [v for v in VERDICTS if v in counts.columns] + [
            c for c in counts.columns if c not in VERDICTS
        ]:
            values = counts[name].to_numpy()
            ax.bar(
                x,
                values,
                width=width,
                bottom=bottom,
                align="edge",
                label=name,
                color=VERDICT_COLORS.get(name, "#7F8C8D"),
                linewidth=0,
            )
            bottom += values
        locator = mdates.AutoDateLocator(maxticks=10)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"clusters per {unit}")
        ax.set_xlabel(f"time of the first record ({unit} bins, UTC)")
        ax.legend(
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=len(counts.columns),
            borderaxespad=0.2,
        )
        return render(fig, "clusters_over_time", title)


def gap_distribution(gaps: np.ndarray, window: float | None = None) -> Chart:
    """Histogram of the gaps between consecutive records of a cluster, on a log scale,
    with the marked gap patterns (common client timeouts and 1 h) drawn in."""
    title = "Time between consecutive records of a cluster"
    gaps = np.asarray(gaps, dtype=float)
    gaps = gaps[np.isfinite(gaps)]
    with house_style():
        fig, ax = new_figure()
        if gaps.size == 0:
            show_empty(ax, "No duplicate clusters")
            return render(fig, "gap_distribution", title)
        # 0-second gaps (same second) cannot sit on a log axis: they go in the first bin.
        low = 0.5
        high = max(float(gaps.max()) * 1.2, (window or 0) * 1.2, 120.0)
        edges = np.geomspace(low, high, 61)
        counts, _ = np.histogram(np.clip(gaps, low, high), bins=edges)
        ax.stairs(counts, edges, fill=True, color="#2E86C1", alpha=0.85)
        ax.set_xscale("log")
        ax.set_xlim(low, high)
        for seconds, label in MARKED_GAPS:
            if seconds <= high:
                ax.axvline(seconds, color="#555555", linestyle="--", linewidth=0.8)
                ax.text(
                    seconds,
                    0.98,
                    f" {label}",
                    transform=ax.get_xaxis_transform(),
                    rotation=90,
                    va="top",
                    ha="right",
                    fontsize=7,
                    color="#555555",
                )
        ticks = [
            t
            for t in (1, 2, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 21600, 86400)
            if low <= t <= high
        ]
        ax.set_xticks(ticks, [_seconds_label(t) for t in ticks])
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("gap between records (seconds, log scale; < 1 s in the first bin)")
        ax.set_ylabel("gaps")
        return render(fig, "gap_distribution", title)


def _seconds_label(value: float) -> str:
    if value >= 3600:
        return f"{value / 3600:g} h"
    if value >= 60:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def cluster_sizes(n_records: np.ndarray, cap: int = 10) -> Chart:
    """How many clusters have 2, 3, … records (``cap`` and more in one bar)."""
    title = "Records per duplicate cluster"
    n = np.asarray(n_records, dtype=np.int64)
    with house_style():
        fig, ax = new_figure((6.0, 3.2))
        if n.size == 0:
            show_empty(ax, "No duplicate clusters")
            return render(fig, "cluster_sizes", title)
        sizes = np.arange(2, cap + 1)
        counts = np.bincount(np.clip(n, 0, cap), minlength=cap + 1)[2:]
        if counts.sum() == 0:
            show_empty(ax, "No duplicate clusters")
            return render(fig, "cluster_sizes", title)
        shown = np.zeros(counts.size, dtype=bool)
        shown[: int(np.flatnonzero(counts).max()) + 1] = True
        labels = [str(s) if s < cap else f"{cap}+" for s in sizes[shown]]
        bars = ax.bar(labels, counts[shown], color="#2E86C1")
        ax.bar_label(bars, labels=[f"{c:,}" for c in counts[shown]], fontsize=7, padding=2)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("records in the cluster")
        ax.set_ylabel("clusters")
        return render(fig, "cluster_sizes", title)


def top_counts(
    labels: pd.Series,
    weights: Sequence[float] | np.ndarray | None,
    *,
    name: str,
    title: str,
    what: str,
    top: int = TOP_N,
    empty: str = "No duplicate clusters",
) -> Chart:
    """Horizontal bars of the ``top`` labels by summed weight (e.g. extra messages per
    recipient); labels are truncated to stay readable, ``empty`` shown without data."""
    with house_style():
        fig, ax = new_figure((7.0, 3.4))
        w = np.ones(len(labels)) if weights is None else np.asarray(weights, dtype=float)
        frame = pd.DataFrame({"label": labels.fillna("(none)").astype(str).to_numpy(), "w": w})
        totals = frame.groupby("label", sort=False)["w"].sum()
        totals = totals[totals > 0].sort_values(ascending=False, kind="stable").head(top)
        if totals.empty:
            show_empty(ax, empty)
            return render(fig, name, title)
        ys = np.arange(len(totals))
        bars = ax.barh(ys, totals.to_numpy(), color="#E07B39")
        ax.set_yticks(ys, [truncate(str(v)) for v in totals.index])
        ax.invert_yaxis()
        ax.bar_label(bars, labels=[f"{v:,.0f}" for v in totals.to_numpy()], fontsize=7, padding=2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(what)
        return render(fig, name, title)


def verdict_breakdown(verdict: pd.Series, extra: np.ndarray) -> Chart:
    """Clusters and extra messages per verdict."""
    title = "Who caused the duplicates: extra messages by verdict"
    with house_style():
        fig, ax = new_figure((7.0, 2.8))
        if len(verdict) == 0:
            show_empty(ax, "No duplicate clusters")
            return render(fig, "verdicts", title)
        frame = pd.DataFrame(
            {"verdict": verdict.astype(str).to_numpy(), "extra": np.asarray(extra)}
        )
        agg = frame.groupby("verdict").agg(clusters=("extra", "size"), extra=("extra", "sum"))
        order = [v for v in VERDICTS if v in agg.index] + [
            v for v in agg.index if v not in VERDICTS
        ]
        agg = agg.loc[order]
        ys = np.arange(len(agg))
        bars = ax.barh(
            ys, agg["extra"].to_numpy(), color=[VERDICT_COLORS.get(v, "#7F8C8D") for v in agg.index]
        )
        ax.set_yticks(ys, [truncate(VERDICT_LABELS.get(v, v), 44) for v in agg.index])
        ax.invert_yaxis()
        ax.bar_label(
            bars,
            labels=[
                f"{e:,} extra in {c:,} clusters"
                for e, c in zip(agg["extra"], agg["clusters"], strict=True)
            ],
            fontsize=7,
            padding=3,
        )
        ax.set_xlim(0, max(1.0, float(agg["extra"].max())) * 1.45)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(axis="y", visible=False)
        ax.set_xlabel("extra messages (records beyond the first of each cluster)")
        return render(fig, "verdicts", title)


def window_sensitivity(table: pd.DataFrame) -> Chart:
    """Extra messages and clusters found at each detection window (log scale), with the
    selected window marked."""
    title = "Window sensitivity: what a longer window would add"
    with house_style():
        fig, ax = new_figure((7.0, 3.2))
        if table.empty:
            show_empty(ax, "No sensitivity table")
            return render(fig, "window_sensitivity", title)
        window, clusters, extra, _records, selected = SENSITIVITY_COLUMNS
        t = table.sort_values(window)
        x = t[window].to_numpy(dtype=float)
        ax.plot(x, t[extra].to_numpy(), marker="o", label="extra messages")
        ax.plot(x, t[clusters].to_numpy(), marker="s", label="duplicate clusters")
        if selected in t.columns:
            chosen = t[t[selected].astype(str).str.lower().isin(["true", "1"])]
            for seconds in chosen[window].to_numpy(dtype=float):
                ax.axvline(seconds, color="#C0392B", linestyle=":", linewidth=1)
                ax.text(
                    seconds,
                    0.02,
                    " selected",
                    transform=ax.get_xaxis_transform(),
                    color="#C0392B",
                    fontsize=7,
                    rotation=90,
                    va="bottom",
                    ha="right",
                )
        ax.set_xscale("log")
        ax.set_xticks(x, [_seconds_label(v) for v in x], rotation=0)
        ax.minorticks_off()
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("detection window (seconds between records, log scale)")
        ax.set_ylabel("count")
        ax.legend(loc="upper left")
        return render(fig, "window_sensitivity", title)


def history_rate(days: Sequence[str], rates: Sequence[float]) -> Chart:
    """Duplicate rate per day (``rates`` are fractions; NaN leaves a gap)."""
    title = "Duplicate rate per day"
    with house_style():
        fig, ax = new_figure((8, 3))
        if not days:
            show_empty(ax, "No days analysed yet")
            return render(fig, "history_rate", title)
        ax.plot(pd.to_datetime(list(days)), [float(r) * 100 for r in rates], marker="o")
        ax.set_ylabel("extra messages (% of outbound)")
        ax.set_xlabel("day (UTC)")
        ax.set_ylim(bottom=0)
        fig.autofmt_xdate()
        return render(fig, "history_rate", title)


def history_verdicts(days: Sequence[str], clusters: Sequence[dict[str, int]]) -> Chart:
    """Duplicate clusters per day (``days`` are YYYY-MM-DD), stacked by verdict."""
    title = "Duplicate clusters per day, by verdict"
    with house_style():
        fig, ax = new_figure((8, 3))
        if not days:
            show_empty(ax, "No days analysed yet")
            return render(fig, "history_verdicts", title)
        frame = pd.DataFrame(list(clusters)).fillna(0)
        labels = [day[5:] for day in days]
        bottom = np.zeros(len(days))
        for verdict in frame.columns:
            values = frame[verdict].to_numpy(dtype=float)
            ax.bar(labels, values, bottom=bottom, label=verdict)
            bottom += values
        ax.set_ylabel("duplicate clusters")
        ax.set_xlabel("day (UTC, MM-DD)")
        if len(labels) > 14:
            ax.set_xticks(range(0, len(labels), max(1, len(labels) // 14)))
        ax.legend(loc="upper left")
        return render(fig, "history_verdicts", title)
