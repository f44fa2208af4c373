"""The delivery failures sections, on a results folder written by hand from the contract."""

from __future__ import annotations

import re
import shutil
from html import unescape
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analyzer.errors import InputError
from analyzer.failures.codes import CATEGORY_ACTIONS
from analyzer.redact import mask_phones
from analyzer.report import build_report
from analyzer.report.markdown import escape
from analyzer.report.sections.failure_charts import (
    failures_over_time,
    sender_failure_rates,
    top_codes,
)
from analyzer.results import (
    FAILURES_SUMMARY_FILE,
    REPORT_CSV_FILE,
    SUPPRESS_FILE,
    FailuresSummary,
    ReportSummary,
)
from analyzer.vocabulary import FailureCategory
from tests.unit.report.failures_results import (
    CODES,
    JUMP,
    SECTIONS,
    SUPPRESS_COUNT,
    recipient,
    write_failures_results,
)
from tests.unit.report.helpers import (
    PNG_MAGIC,
    assert_self_contained,
    headings,
    html_of,
    inline_pngs,
    live_figures,
    markdown_of,
    section_of,
)

CHARTS = ("failures_over_time", "top_error_codes", "sender_failure_rates")


@pytest.fixture(scope="module")
def failures_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("failures_results")
    write_failures_results(results)
    return results


@pytest.fixture(scope="module")
def report(failures_only: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("failures_report")
    build_report(failures_only, out, ticket=True)
    return out


def test_a_folder_with_failures_only_gives_a_failures_report(report: Path) -> None:
    page, markdown = html_of(report), markdown_of(report)
    assert_self_contained(page)
    assert headings(page)[0] == SECTIONS == headings(markdown)[1]
    assert "<h1>Delivery failures report</h1>" in page
    assert markdown.startswith("# Delivery failures report\n")
    assert not (report / REPORT_CSV_FILE).exists()
    assert "Period 2026-11-28T00:00:00Z" in markdown
    lead = (
        "80 of 1,000 outbound messages did not arrive (8%): 33 failed (never handed to a "
        "carrier) and 47 undelivered (the carrier did not deliver them). Most are content "
        "failures (32, 40% of them)."
    )
    assert f"**{lead} What to do: {CATEGORY_ACTIONS[FailureCategory.CONTENT]}**" in markdown
    assert f'<p class="lead">{lead}' in unescape(page)


def test_categories_come_with_their_actions(report: Path) -> None:
    markdown, page = markdown_of(report), unescape(html_of(report))
    part = section_of(markdown, "Delivery failures")
    found = {c for _code, c, *_ in CODES}
    for category in found:
        total = sum(sum(counts) for _code, c, _t, _s, counts in CODES if c == category)
        row = f"| {category.value} | {total:,} |"
        assert row in part
        assert escape(CATEGORY_ACTIONS[category]) in part
        assert CATEGORY_ACTIONS[category] in page
    rows = re.findall(r"^\| (\w+) \| (\d+) \|", part, re.M)
    assert [int(n) for _name, n in rows] == sorted((int(n) for _name, n in rows), reverse=True)
    absent = set(FailureCategory) - found
    assert all(f"| {category.value} |" not in part for category in absent)


def test_top_codes_senders_services_and_countries(report: Path) -> None:
    markdown = markdown_of(report)
    codes = section_of(markdown, "Failures by error code")
    assert "| `30007` | filtered by the carrier or Twilio | content | 32 | 40.0% |" in codes
    assert "| `none` | no error code | unknown | 3 | 3.8% |" in codes
    origins = section_of(markdown, "Where failures come from")
    assert "| +15550001111 | 600 | 60 | 10.0% |" in origins
    assert "| +15550002222 | 380 | 17 | 4.5% |" in origins
    assert "+15550003333" not in origins  # 10 messages: too few to rank
    assert "| MG0123456789abcdef0123456789abcdef | 980 | 77 | 7.9% |" in origins
    assert "| +44 | 300 | 50 | 16.7% |" in origins


def test_jumps_are_warnings(report: Path) -> None:
    text = (
        f"Error 30007 (filtered by the carrier or Twilio, content) jumped on {JUMP.day}: "
        "30 failures against 2.0 a day before."
    )
    assert f"> ⚠ {text}" in markdown_of(report)
    assert f'<p class="warn">⚠ {text}</p>' in unescape(html_of(report))


def test_rejected_requests_never_became_records(report: Path, tmp_path: Path) -> None:
    part = section_of(markdown_of(report), "Rejected requests")
    assert "Twilio refused 20 of the 1,020 message POSTs" in part
    assert "These sends never became Message records" in part
    assert "| `400` | 15 |" in part and "| `21211` | 10 |" in part
    results = tmp_path / "results"
    write_failures_results(results, rejected=False)
    build_report(results, tmp_path / "report")
    assert "Rejected requests" not in markdown_of(tmp_path / "report")


def test_recipients_to_suppress_are_counted_and_masked_when_redacting(
    report: Path, failures_only: Path, tmp_path: Path
) -> None:
    part = section_of(markdown_of(report), "Recipients to suppress")
    assert f"{SUPPRESS_COUNT} recipients opted out or failed with a permanent error" in part
    assert f"`{SUPPRESS_FILE}`" in part
    assert f"| {recipient(0)} | yes | 1 | `21610` | 2026-11-29T12:00:00Z |" in part
    assert recipient(19) in part and recipient(20) not in part
    build_report(failures_only, tmp_path, redact=True)
    page, markdown = html_of(tmp_path), markdown_of(tmp_path)
    for i in range(SUPPRESS_COUNT):
        assert recipient(i) not in page and recipient(i) not in markdown
    shown = mask_phones([recipient(0)]).to_pylist()[0]
    assert f"| {shown} | yes |" in section_of(markdown, "Recipients to suppress")


def test_charts_are_written_and_inlined(report: Path) -> None:
    for name in CHARTS:
        assert (report / "charts" / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        assert f"(charts/{name}.png)" in markdown_of(report)
    pngs = inline_pngs(html_of(report))
    assert len(pngs) == len(CHARTS)
    assert all(png.startswith(PNG_MAGIC) for png in pngs)


def test_summary_json_holds_the_failures(report: Path, failures_only: Path) -> None:
    summary = ReportSummary.read(report / "summary.json")
    written = FailuresSummary.read(failures_only / FAILURES_SUMMARY_FILE)
    assert summary.failures == written
    assert summary.headline.startswith("80 of 1,000 outbound messages did not arrive")
    assert ReportSummary.from_json(summary.to_json()) == summary


def test_no_failures_and_no_rollups_still_report(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / FAILURES_SUMMARY_FILE).write_text('{"outbound_messages": 12}')
    build_report(results, tmp_path / "report")
    markdown = markdown_of(tmp_path / "report")
    assert "**No failed or undelivered messages among 12 outbound messages.**" in markdown
    assert "No recipient to suppress" in markdown
    assert "Rejected requests" not in markdown
    charts = tmp_path / "report" / "charts"
    assert (charts / "failures_over_time.png").is_file()
    assert not (charts / "top_error_codes.png").exists()  # no codes: no chart of them


def test_failures_follow_the_duplicates_sections(without_logs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(without_logs, results)
    write_failures_results(results)
    build_report(results, tmp_path / "report")
    page, markdown = html_of(tmp_path / "report"), markdown_of(tmp_path / "report")
    titles = headings(markdown)[1]
    assert headings(page)[0] == titles
    assert titles[: titles.index("Delivery failures")][0] == "Charts"
    assert titles[titles.index("Delivery failures") :] == SECTIONS
    assert markdown.startswith("# Duplicate SMS report\n")
    assert (tmp_path / "report" / REPORT_CSV_FILE).is_file()
    summary = ReportSummary.read(tmp_path / "report" / "summary.json")
    assert summary.failures is not None and summary.duplicate_clusters > 0


def test_a_folder_with_duplicates_only_has_no_failures_section(report_logs: Path) -> None:
    assert "Delivery failures" not in markdown_of(report_logs)
    assert ReportSummary.read(report_logs / "summary.json").failures is None


def test_a_folder_with_neither_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="clusters.parquet"):
        build_report(tmp_path, tmp_path / "out")


@pytest.mark.parametrize("days", [0, 1, 400])
def test_failure_charts_render_any_size_and_leave_no_state(days: int) -> None:
    rng = np.random.default_rng(days)
    by_day = pd.DataFrame(
        {
            "day": pd.date_range("2025-01-01", periods=days).strftime("%Y-%m-%d"),
            "outbound_messages": rng.integers(0, 1000, days),
        }
    )
    for category in FailureCategory:
        by_day[category.value] = rng.integers(0, 5, days)
    by_day["failures"] = by_day[[c.value for c in FailureCategory]].sum(axis=1)
    senders = pd.DataFrame(
        {
            "from": [f"+1555{i:07d}" for i in range(days)],
            "outbound_messages": rng.integers(0, 500, days),
            "failures": rng.integers(0, 20, days),
        }
    )
    senders["failure_rate"] = senders["failures"] / senders["outbound_messages"].clip(lower=1)
    codes = pd.DataFrame(
        {
            "error_code": [str(30000 + i) for i in range(days)],
            "title": ["a rather long title of an error code"] * days,
            "failures": rng.integers(1, 50, days),
        }
    )
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    figures = live_figures()
    made = [
        failures_over_time(by_day),
        top_codes(codes),
        sender_failure_rates(senders),
    ]
    assert all(chart.png.startswith(PNG_MAGIC) for chart in made)
    assert {k: v for k, v in matplotlib.rcParams.items() if k != "backend"} == before
    assert live_figures() == figures
