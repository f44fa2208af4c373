"""The report names gap patterns from the shared table, and its gap chart marks them."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.report import build_report
from analyzer.report.charts import MARKED_GAPS
from analyzer.report.load import load_results
from analyzer.vocabulary import GAP_PATTERNS, MIXED_GAPS, OTHER_GAPS


def reference_pattern(gaps: list[float]) -> str:
    names = {next((p.name for p in GAP_PATTERNS if p.low <= g <= p.high), OTHER_GAPS) for g in gaps}
    if not names:
        return OTHER_GAPS
    return names.pop() if len(names) == 1 else MIXED_GAPS


EDGES = sorted({v for p in GAP_PATTERNS for v in (p.low, p.high, p.high + 0.5)} | {45.0, 3600.0})


def write_gaps(results: Path, lists: list[list[float]]) -> None:
    """Give the first clusters of a results folder these gaps."""
    table = pq.read_table(results / "clusters.parquet").slice(0, len(lists))
    column = table.column_names.index("gaps_seconds")
    table = table.set_column(column, "gaps_seconds", pa.array(lists, pa.list_(pa.float64())))
    pq.write_table(table, results / "clusters.parquet")


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.sampled_from(EDGES), min_size=1, max_size=4), min_size=1, max_size=8))
def test_report_patterns_match_reference(lists: list[list[float]]) -> None:
    table = pa.table(
        {
            "cluster_id": [f"c{i}" for i in range(len(lists))],
            "to": ["+14155550100"] * len(lists),
            "n_records": [len(g) + 1 for g in lists],
            "first_created": pa.array([0] * len(lists), pa.timestamp("s", tz="UTC")),
            "sids": [[f"SM{i}"] for i in range(len(lists))],
            "gaps_seconds": pa.array(lists, pa.list_(pa.float64())),
        }
    )
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        pq.write_table(table, folder / "clusters.parquet")
        frame = load_results(folder).frame.set_index("cluster_id")
    expected = [reference_pattern(g) for g in lists]
    assert frame.loc[[f"c{i}" for i in range(len(lists))], "pattern"].tolist() == expected


def test_20_s_and_55_min_gaps_are_named(with_logs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(with_logs, results)
    write_gaps(results, [[20.0], [3300.0]])
    result = build_report(results, tmp_path / "report")
    csv = pd.read_csv(tmp_path / "report" / "clusters.csv", dtype=str)
    assert {"timeout_20s", "redelivery_1h"} <= set(csv["gap_pattern"])
    assert result.summary.gap_patterns["timeout_20s"] >= 1


def test_gap_chart_marks_the_marked_patterns() -> None:
    assert tuple((p.mark, p.label) for p in GAP_PATTERNS if p.mark is not None) == MARKED_GAPS
    assert (20.0, "20 s") in MARKED_GAPS and (3600.0, "1 h") in MARKED_GAPS
