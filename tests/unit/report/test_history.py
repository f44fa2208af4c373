"""Nightly's history page, rendered with the report's renderer and charts."""

from __future__ import annotations

import shutil
from pathlib import Path

from analyzer.report.history import history, write_history
from analyzer.results import ReportSummary
from tests.unit.report.helpers import PNG_MAGIC, assert_self_contained, inline_pngs


def test_history_lists_days_newest_first_and_marks_empty_ones(
    report_logs: Path, tmp_path: Path
) -> None:
    reports = tmp_path / "reports"
    shutil.copytree(report_logs, reports / "2026-11-29")
    (reports / "2026-11-30").mkdir()
    (reports / "2026-11-30" / "summary.json").write_text(ReportSummary().to_text())
    (reports / "not-a-day").mkdir()
    days = history(reports)
    assert [d.day for d in days] == ["2026-11-29", "2026-11-30"]
    assert [d.empty for d in days] == [False, True]
    page = write_history(reports).read_text(encoding="utf-8")
    assert_self_contained(page)
    pngs = inline_pngs(page)
    assert len(pngs) == 2 and all(p.startswith(PNG_MAGIC) for p in pngs)
    rows = [line for line in page.splitlines() if 'href="2026-11-' in line]
    assert ['href="2026-11-30/index.html"' in rows[0], 'class="empty"' in rows[0]] == [True, True]
    assert "no messages" in rows[0] and "–" in rows[0]
    assert 'class="empty"' not in rows[1] and "app_side" in page
    assert "1 day(s) without any message" in page
