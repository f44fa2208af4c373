"""summary.json round-trips: the detection's and the report's, typed and back."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from analyzer.results import (
    CarrierSummary,
    CrossrefSummary,
    DuplicatesSummary,
    LogFileSummary,
    ReportSummary,
    Span,
)


def test_duplicates_summary_round_trips() -> None:
    summary = DuplicatesSummary(
        messages=10,
        outbound_messages=9,
        duplicate_clusters=2,
        extra_messages=3,
        window_seconds=60.0,
        period_start=datetime(2026, 11, 29, tzinfo=UTC),
        period_end=datetime(2026, 11, 29, 23, 59, 58, 500000, tzinfo=UTC),
        crossref=CrossrefSummary(
            by_verdict={"app_side": 2},
            match_mode="sid",
            skew_seconds=0.5,
            delay_band_seconds=[-1.0, 0.5],
            log_coverage=[{"start": "2026-11-29T00:00:00Z", "end": "2026-11-29T01:00:00Z"}],
            logs=[LogFileSummary(path="a.jsonl", format="jsonl", lines=3, samples=[])],
        ),
        source="messages.parquet",
    )
    assert DuplicatesSummary.from_json(summary.to_json()) == summary
    assert DuplicatesSummary.from_json(DuplicatesSummary().to_json()) == DuplicatesSummary()


def test_report_summary_round_trips() -> None:
    summary = ReportSummary(
        messages=10,
        outbound_messages=9,
        extra_messages=3,
        extra_share_of_outbound=0.333333,
        by_verdict={"app_side": 2},
        gap_patterns={"timeout_20s": 1},
        period_start=datetime(2026, 11, 29, tzinfo=UTC),
        period_end=datetime(2026, 11, 30, tzinfo=UTC),
        log_coverage=[Span("2026-11-29T00:00:00Z", "2026-11-29T01:00:00.250Z")],
        uncovered_periods=[Span("2026-11-29T01:00:00.250Z", "2026-11-30T00:00:00Z")],
        carrier=CarrierSummary(reports=2, by_verdict={"carrier_side": 2}),
        headline="3 extra – all app_side",
    )
    assert ReportSummary.from_json(summary.to_json()) == summary
    assert ReportSummary.from_json(ReportSummary().to_json()) == ReportSummary()
    assert summary.duplicate_rate == 3 / 9


def test_detect_summary_file_reads_back_to_the_same_json(with_logs: Path) -> None:
    text = (with_logs / "summary.json").read_text(encoding="utf-8")
    summary = DuplicatesSummary.read(with_logs / "summary.json")
    assert summary.crossref is not None and summary.crossref.logs
    assert json.dumps(summary.to_json(), indent=2) + "\n" == text


def test_report_summary_file_reads_back_to_the_same_json(report_logs: Path) -> None:
    text = (report_logs / "summary.json").read_text(encoding="utf-8")
    summary = ReportSummary.read(report_logs / "summary.json")
    assert summary.logs_given and summary.uncovered_periods
    assert summary.to_text() == text
