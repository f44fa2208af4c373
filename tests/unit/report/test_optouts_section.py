"""The opt-outs sections, on a results folder written by hand from the contract."""

from __future__ import annotations

import shutil
from html import unescape
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest

from analyzer.redact import mask_phones
from analyzer.report import build_report
from analyzer.report.sections.optout_charts import (
    blocked_per_day,
    optouts_per_day,
    top_blocked_recipients,
)
from analyzer.report.sections.optouts import SEND_ROWS
from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_SENDS_FILE,
    OPTOUTS_SUMMARY_FILE,
    REPORT_CSV_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
    ReportSummary,
)
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind, OptoutVerdict
from tests.unit.report.failures_results import SECTIONS as FAILURES_SECTIONS
from tests.unit.report.failures_results import write_failures_results
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
from tests.unit.report.optouts_results import (
    ALICE,
    BOB,
    CAROL,
    DAVE,
    ERIN,
    GRACE,
    HEIDI,
    IVAN,
    NEAR_MISS_BODIES,
    NUMBER_IN_BODY,
    SENDER,
    SENDS,
    SENT_AFTER_SIDS,
    SERVICE,
    at,
    write_optouts_results,
)

SECTIONS = [
    "Opt-outs",
    "Sends after opt-out",
    "Inferred opt-outs",
    "Opt-out near misses",
    "Suppression list",
]
CHARTS = ("optouts_per_day", "blocked_per_day", "top_blocked_recipients")
RECIPIENTS = (ALICE, BOB, CAROL, DAVE, ERIN, GRACE, HEIDI, IVAN)
LEAD = (
    "4 keyword opt-outs and 1 re-opt-in among 40 inbound messages; 3 recipients opted out "
    "at the end of the period. Of 8 sends to opted-out recipients, 6 were blocked by "
    f"Twilio ({OPTED_OUT_ERROR}: wasted work, not charged) and 2 went out after the "
    "opt-out (a compliance risk to investigate)."
)
WARNING = (
    f"2 messages went out to recipients who had opted out (no {OPTED_OUT_ERROR} error): "
    "a compliance risk to investigate."
)


@pytest.fixture(scope="module")
def optouts_only(tmp_path_factory: pytest.TempPathFactory) -> Path:
    results = tmp_path_factory.mktemp("optouts_results")
    write_optouts_results(results)
    return results


@pytest.fixture(scope="module")
def report(optouts_only: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("optouts_report")
    build_report(optouts_only, out, ticket=True)
    return out


@pytest.fixture(scope="module")
def redacted(optouts_only: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("optouts_redacted")
    build_report(optouts_only, out, redact=True)
    return out


def masked(number: str) -> str:
    """A number as a redacted report shows it."""
    return str(mask_phones([number]).to_pylist()[0])


def test_a_folder_with_optouts_only_gives_an_optouts_report(report: Path) -> None:
    page, markdown = html_of(report), markdown_of(report)
    assert_self_contained(page)
    assert headings(page)[0] == SECTIONS == headings(markdown)[1]
    assert "<h1>Opt-outs report</h1>" in page
    assert markdown.startswith("# Opt-outs report\n")
    assert not (report / REPORT_CSV_FILE).exists()
    assert "Period 2026-11-28T00:00:00Z – 2026-11-29T23:59:59Z (UTC)" in markdown
    assert f"**{LEAD}**" in markdown
    assert f'<p class="lead">{LEAD}</p>' in unescape(page)


def test_sends_after_opt_out_are_a_warning(report: Path) -> None:
    assert f"> ⚠ {WARNING}" in section_of(markdown_of(report), "Opt-outs")
    assert f'<p class="warn">⚠ {WARNING}</p>' in unescape(html_of(report))


def test_no_warning_when_every_send_was_blocked(tmp_path: Path) -> None:
    blocked = tuple(row for row in SENDS if row[7] == OptoutVerdict.BLOCKED)
    write_optouts_results(tmp_path / "results", sends=blocked, warnings=("a warning",))
    build_report(tmp_path / "results", tmp_path / "report")
    markdown = markdown_of(tmp_path / "report")
    assert "went out to recipients who had opted out" not in markdown
    assert "Of 6 sends to opted-out recipients, 6 were blocked" in markdown
    assert "and none went out." in markdown
    assert "> ⚠ a warning" in markdown
    assert "**sent_after_opt_out**" not in markdown


def test_events_are_counted_by_kind_with_their_keywords(report: Path) -> None:
    part = section_of(markdown_of(report), "Opt-outs")
    assert "| opt-out (Twilio refuses later sends) | 4 | STOP 3, UNSUBSCRIBE 1 |" in part
    assert "| opt-in (sends may resume) | 1 | START 1 |" in part
    assert "| help (changes nothing) | 1 | HELP 1 |" in part


def test_sends_after_opt_out_are_listed_worst_first(report: Path) -> None:
    part = section_of(markdown_of(report), "Sends after opt-out")
    assert f"`{OPTOUT_SENDS_FILE}`" in part
    rows = [line for line in part.splitlines() if line.startswith("| SM")]
    assert [row.split(" | ")[0][2:] for row in rows[:2]] == list(SENT_AFTER_SIDS)
    assert all("**sent_after_opt_out**" in row for row in rows[:2])
    assert all(row.count("| blocked |") == 1 for row in rows[2:])
    assert len(rows) == len(SENDS)
    blocked = (
        f"| SM{'b4' * 16} | {BOB} | +15550009999 | +15550009999 | failed | `21610` | "
        "2026-11-28T10:00:00Z | blocked | 2026-11-28T12:00:00Z |"
    )
    assert blocked in part
    went = (
        f"| SM{'a1' * 16} | {ALICE} | {SENDER} | {SERVICE} | delivered |  | "
        "2026-11-28T09:00:00Z | **sent_after_opt_out** | 2026-11-29T18:00:00Z |"
    )
    assert went in part
    page = unescape(html_of(report))
    assert '<span class="mark">sent_after_opt_out</span>' in page


def test_sends_are_capped_with_the_worst_kept(tmp_path: Path) -> None:
    blocked = SENDS[0]
    many = tuple(
        (f"SM{i:032x}", *blocked[1:8], at(29, 0, i % 60)) for i in range(SEND_ROWS + 5)
    )
    write_optouts_results(tmp_path / "results", sends=(*many, SENDS[-1]))
    build_report(tmp_path / "results", tmp_path / "report")
    part = section_of(markdown_of(tmp_path / "report"), "Sends after opt-out")
    rows = [line for line in part.splitlines() if line.startswith("| SM")]
    assert len(rows) == SEND_ROWS
    assert rows[0].startswith(f"| {SENT_AFTER_SIDS[0]} |")
    assert f"The first {SEND_ROWS} of {SEND_ROWS + 6}, sent after the opt-out first:" in part


def test_inferred_opt_outs_near_misses_and_suppression(report: Path) -> None:
    markdown = markdown_of(report)
    inferred = section_of(markdown, "Inferred opt-outs")
    assert "1 recipient had sends blocked with 21610" in inferred
    assert f"`{INFERRED_OPTOUTS_FILE}`" in inferred
    assert f"| {GRACE} | {SERVICE} | 2026-11-28T07:00:00Z | 2 |" in inferred
    near = section_of(markdown, "Opt-out near misses")
    assert "3 inbound messages look like an opt-out" in near and f"`{NEAR_MISSES_FILE}`" in near
    for body in NEAR_MISS_BODIES:
        assert f" | {body} | " in near
    assert f"| 2026-11-29T10:00:00Z | {HEIDI} | {SENDER} | {SERVICE} | STOP. |" in near
    suppression = section_of(markdown, "Suppression list")
    assert "3 recipients opted out at the end of the period" in suppression
    assert f"`{SUPPRESSION_FILE}`" in suppression
    assert f"| {SERVICE} | 3 |" in suppression
    assert unescape(html_of(report)).count("stop texting me, call") == 1


def test_numbers_are_masked_when_redacting(redacted: Path) -> None:
    page, markdown = unescape(html_of(redacted)), markdown_of(redacted)
    for number in RECIPIENTS:
        assert number not in page and number not in markdown
    assert NUMBER_IN_BODY not in page and NUMBER_IN_BODY not in markdown
    assert "| stop texting me, call ••• |" in markdown
    assert f"| {masked(HEIDI)} | {SENDER} | {SERVICE} | STOP. |" in markdown
    assert f"| SM{'b4' * 16} | {masked(BOB)} |" in markdown
    assert f"| {masked(GRACE)} | {SERVICE} |" in markdown
    assert "Recipients with the most blocked sends (numbers masked)" in markdown


def test_charts_are_written_and_inlined(report: Path) -> None:
    for name in CHARTS:
        assert (report / "charts" / f"{name}.png").read_bytes().startswith(PNG_MAGIC)
        assert f"(charts/{name}.png)" in markdown_of(report)
    pngs = inline_pngs(html_of(report))
    assert len(pngs) == len(CHARTS)
    assert all(png.startswith(PNG_MAGIC) for png in pngs)


def test_summary_json_holds_the_optouts(report: Path, optouts_only: Path) -> None:
    summary = ReportSummary.read(report / "summary.json")
    assert summary.optouts == OptoutsSummary.read(optouts_only / OPTOUTS_SUMMARY_FILE)
    assert summary.failures is None
    assert summary.headline == LEAD
    assert ReportSummary.from_json(summary.to_json()) == summary


def test_only_a_summary_still_reports(tmp_path: Path) -> None:
    results = tmp_path / "results"
    results.mkdir()
    (results / OPTOUTS_SUMMARY_FILE).write_text('{"inbound_messages": 12}')
    build_report(results, tmp_path / "report")
    markdown = markdown_of(tmp_path / "report")
    assert headings(markdown)[1] == SECTIONS
    assert "**0 keyword opt-outs and 0 re-opt-ins among 12 inbound messages" in markdown
    assert "No sends to opted-out recipients." in markdown
    assert "No send to a recipient who had opted out." in markdown
    assert "No inferred opt-outs" in markdown and "No near misses" in markdown
    assert "Nobody is opted out at the end of the period" in markdown
    charts = tmp_path / "report" / "charts"
    assert (charts / "optouts_per_day.png").is_file()
    assert not (charts / "blocked_per_day.png").exists()  # nothing blocked: no chart of it


def test_optouts_follow_the_failures_sections(without_logs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(without_logs, results)
    write_failures_results(results)
    write_optouts_results(results)
    build_report(results, tmp_path / "report")
    page, markdown = html_of(tmp_path / "report"), markdown_of(tmp_path / "report")
    titles = headings(markdown)[1]
    assert headings(page)[0] == titles
    failures = titles.index(FAILURES_SECTIONS[0])
    assert titles[failures:] == FAILURES_SECTIONS + SECTIONS
    assert markdown.startswith("# Duplicate SMS report\n")
    summary = ReportSummary.read(tmp_path / "report" / "summary.json")
    assert summary.optouts is not None and summary.failures is not None
    assert summary.duplicate_clusters > 0 and not summary.headline.startswith("4 keyword")


def test_failures_and_optouts_without_duplicates(tmp_path: Path) -> None:
    write_failures_results(tmp_path / "results")
    write_optouts_results(tmp_path / "results")
    build_report(tmp_path / "results", tmp_path / "report")
    markdown = markdown_of(tmp_path / "report")
    assert markdown.startswith("# Delivery failures report\n")
    assert headings(markdown)[1] == FAILURES_SECTIONS + SECTIONS
    assert markdown.count("Period 2026-11-28") == 1


def test_a_folder_without_optouts_has_no_optouts_section(report_logs: Path, tmp_path: Path) -> None:
    assert not set(SECTIONS) & set(headings(markdown_of(report_logs))[1])
    assert ReportSummary.read(report_logs / "summary.json").optouts is None
    write_failures_results(tmp_path / "results")
    build_report(tmp_path / "results", tmp_path / "report")
    assert not set(SECTIONS) & set(headings(markdown_of(tmp_path / "report"))[1])


@pytest.mark.parametrize("days", [0, 1, 400])
def test_optout_charts_render_any_size_and_leave_no_state(days: int) -> None:
    rng = np.random.default_rng(days)
    times = pd.Series(
        pd.Timestamp("2025-01-01", tz="UTC")
        + pd.to_timedelta(rng.integers(0, max(days, 1) * 86400, days * 3), unit="s")
    )
    kinds = [OptoutKind.OPT_OUT.value, OptoutKind.OPT_IN.value, OptoutKind.HELP.value]
    events = pd.DataFrame({"kind": rng.choice(kinds, len(times)), "date_created": times})
    verdicts = [OptoutVerdict.BLOCKED.value, OptoutVerdict.SENT_AFTER_OPT_OUT.value]
    sends = pd.DataFrame(
        {
            "to": [f"+4477009{i % 97:05d}" for i in range(len(times))],
            "scope": [f"MG{i % 9:032x}" for i in range(len(times))],
            "verdict": rng.choice(verdicts, len(times)),
            "date_created": times,
        }
    )
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    figures = live_figures()
    made = [
        optouts_per_day(events),
        blocked_per_day(sends),
        top_blocked_recipients(sends, redact=True),
    ]
    assert all(chart.png.startswith(PNG_MAGIC) for chart in made)
    assert {k: v for k, v in matplotlib.rcParams.items() if k != "backend"} == before
    assert live_figures() == figures
