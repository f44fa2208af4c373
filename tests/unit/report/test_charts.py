"""The report's charts: matplotlib's object API, no state left behind, every input."""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analyzer.report import build_report, charts
from tests.unit.report.helpers import PNG_MAGIC, live_figures


def test_charts_leave_no_state_behind(with_logs: Path, tmp_path: Path) -> None:
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    with charts.house_style():
        assert matplotlib.rcParams["axes.spines.top"] is False  # the style is applied
    figures = live_figures()
    build_report(with_logs, tmp_path)
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert after == before
    assert live_figures() == figures
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()


def test_rcparams_restored_after_an_error() -> None:
    before = matplotlib.rcParams["font.size"]
    with pytest.raises(RuntimeError), charts.house_style():
        raise RuntimeError("boom")
    assert matplotlib.rcParams["font.size"] == before


@pytest.mark.parametrize("n", [0, 1, 5000])
def test_each_chart_renders_empty_and_large_inputs(n: int) -> None:
    rng = np.random.default_rng(n)
    times = pd.Series(
        pd.Timestamp("2026-11-29", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s")
    )
    verdict = pd.Series(rng.choice(["app_side", "twilio_side", "unverified"], n))
    sizes = rng.integers(2, 14, n)
    made = [
        charts.clusters_over_time(times, verdict),
        charts.gap_distribution(rng.exponential(30, n)),
        charts.cluster_sizes(sizes),
        charts.top_counts(
            pd.Series([f"MG{'x' * 40}{i % 13}" for i in range(n)], dtype=object),
            sizes - 1,
            name="top",
            title="t",
            what="extra messages",
        ),
        charts.verdict_breakdown(verdict, sizes - 1),
    ]
    for chart in made:
        assert chart.png.startswith(PNG_MAGIC)
        assert chart.data_uri.startswith("data:image/png;base64,")


def test_truncate_keeps_labels_short() -> None:
    assert charts.truncate("x" * 50) == "x" * 27 + "…"
    assert charts.truncate("short") == "short"
