"""The inbound reachability section, on a results folder written by hand from the
contract (beside opt-out results, as nightly writes them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import unescape
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.inbound import CALLBACK_COLUMNS, NUMBER_COLUMNS
from analyzer.redact import mask_phones
from analyzer.report import build_report
from analyzer.report.sections.inbound import ACTION_TEXT, CALLBACK_TEXT, TITLE, UNHANDLED_ROWS
from analyzer.results import (
    INBOUND_SUMMARY_FILE,
    NUMBERS_CHECK_FILE,
    STATUS_CALLBACKS_FILE,
    UNHANDLED_INBOUND_FILE,
    InboundSummary,
    write_json,
)
from analyzer.vocabulary import InboundVerdict
from tests.unit.report.helpers import headings, html_of, markdown_of, section_of
from tests.unit.report.optouts_results import write_optouts_results
from tests.unit.report.test_optouts_section import SECTIONS as OPTOUT_SECTIONS

NOT_SMS_CAPABLE, NO_WEBHOOK, DEMO_WEBHOOK = (
    InboundVerdict.NOT_SMS_CAPABLE,
    InboundVerdict.NO_WEBHOOK,
    InboundVerdict.DEMO_WEBHOOK,
)
WEBHOOK_ERRORS, WEBHOOK_NOT_HIT = InboundVerdict.WEBHOOK_ERRORS, InboundVerdict.WEBHOOK_NOT_HIT
IDLE, OK, INCONCLUSIVE = InboundVerdict.IDLE, InboundVerdict.OK, InboundVerdict.INCONCLUSIVE
DEMO_URL = "https://demo.twilio.com/welcome/sms/reply"
APP_URL = "https://app.example.com/sms/inbound"
OLD_URL = "https://old.example.com/sms"
#: (phone_number, sid, sms_capable, webhook, inbound_messages, webhook_hits, alerts,
#: verdict, reason), in no particular order: the report sorts them.
NUMBERS = (
    ("+15550000007", "PN" + "07" * 16, True, APP_URL, 40, 40, 0, OK, ""),
    ("+15550000006", "PN" + "06" * 16, True, APP_URL, 0, 0, 0, IDLE, ""),
    ("+15550000005", "PN" + "05" * 16, True, OLD_URL, 25, 0, 0, WEBHOOK_NOT_HIT, ""),
    ("+15550000004", "PN" + "04" * 16, True, APP_URL, 12, 12, 3, WEBHOOK_ERRORS, ""),
    ("+15550000003", "PN" + "03" * 16, True, DEMO_URL, 4, 0, 0, DEMO_WEBHOOK, ""),
    ("+15550000002", "PN" + "02" * 16, True, "", 6, 0, 0, NO_WEBHOOK, ""),
    ("+15550000001", "PN" + "01" * 16, False, "", 0, 0, 0, NOT_SMS_CAPABLE, ""),
)  # fmt: skip
#: The unhandled inbound messages: more than the report shows.
UNHANDLED = 25
SENDERS = tuple(f"+4477009001{i:02d}" for i in range(UNHANDLED))
START = datetime(2026, 11, 28, 9, tzinfo=UTC)
WARNING = "server log covers only part of the period"


def write_inbound_results(out: Path, *, configured: bool = True) -> InboundSummary:
    """The files of ``analyzer inbound`` in ``out``; without configuration, the summary
    only, with its warning."""
    out.mkdir(parents=True, exist_ok=True)
    summary = InboundSummary(source="data/messages.parquet", period_start=START)
    if not configured:
        summary.warnings.append("no account configuration in data/config")
        write_json(summary.to_json(), out / INBOUND_SUMMARY_FILE)
        return summary
    numbers = {name: [row[i] for row in NUMBERS] for i, name in enumerate(NUMBER_COLUMNS)}
    pq.write_table(pa.table(numbers), out / NUMBERS_CHECK_FILE)
    unhandled = {
        "sid": [f"SM{i:032x}" for i in range(UNHANDLED)],
        "from": list(SENDERS),
        "to": ["+15550000005"] * UNHANDLED,
        "date_created": pa.array(
            [START + timedelta(minutes=i) for i in range(UNHANDLED)], pa.timestamp("us", "UTC")
        ),
    }
    pq.write_table(pa.table(unhandled), out / UNHANDLED_INBOUND_FILE)
    summary.numbers = len(NUMBERS)
    summary.inbound_messages = sum(row[4] for row in NUMBERS)
    summary.by_verdict = {row[7]: 1 for row in NUMBERS}
    summary.unhandled_inbound = UNHANDLED
    summary.webhook_alerts = 3
    summary.warnings.append(WARNING)
    problems = [
        ("SM" + "a1" * 16, "+15550009001", "delivered", None, "missing_final", None, None),
        ("SM" + "a2" * 16, "+15550009002", "failed", 30008, "refused", "failed", 500),
        ("SM" + "a3" * 16, "+15550009003", "undelivered", 30007, "disagrees", "delivered", 200),
    ]
    callbacks = {
        name: [row[i] for row in problems]
        for i, name in enumerate(("sid", "to", "status", "error_code", "problem"))
    }
    callbacks |= {
        "from": ["+15550000007"] * 3,
        "callback_status": [row[5] for row in problems],
        "http_status": pa.array([row[6] for row in problems], pa.float64()),
        "time": pa.array([START + timedelta(hours=h) for h in range(3)], pa.timestamp("us", "UTC")),
    }
    pq.write_table(
        pa.table({c: callbacks[c] for c in CALLBACK_COLUMNS}), out / STATUS_CALLBACKS_FILE
    )
    summary.callbacks_logged = 500
    summary.callback_messages = 240
    summary.callback_problems = {"disagrees": 1, "missing_final": 1, "refused": 1}
    write_json(summary.to_json(), out / INBOUND_SUMMARY_FILE)
    return summary


def report_of(results: Path, out: Path, *, redact: bool = False) -> tuple[str, str]:
    build_report(results, out, redact=redact)
    return unescape(html_of(out)), markdown_of(out)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("inbound_results")
    write_optouts_results(folder)
    write_inbound_results(folder)
    return folder


@pytest.fixture(scope="module")
def plain(results: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return report_of(results, tmp_path_factory.mktemp("inbound_report"))


@pytest.fixture(scope="module")
def redacted(results: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    return report_of(results, tmp_path_factory.mktemp("inbound_redacted"), redact=True)


def test_the_section_follows_the_optout_sections(plain: tuple[str, str]) -> None:
    page, markdown = plain
    assert headings(page)[0] == [*OPTOUT_SECTIONS, TITLE] == headings(markdown)[1]


def test_the_lead_counts_numbers_by_verdict_and_says_what_to_do(plain: tuple[str, str]) -> None:
    page, markdown = plain
    lead = (
        "7 numbers checked against 87 inbound messages (1 not_sms_capable, 1 no_webhook, "
        "1 demo_webhook, 1 webhook_errors, 1 webhook_not_hit, 1 idle, 1 ok): 5 numbers "
        "need attention."
    )
    section = section_of(markdown, TITLE)
    assert f"**{lead}**" in section
    assert f'<p class="lead">{lead}</p>' in page
    assert f"> ⚠ {WARNING}" in section
    assert f'<p class="warn">⚠ {WARNING}</p>' in page
    for verdict, action in ACTION_TEXT.items():
        if verdict == INCONCLUSIVE:  # no number is
            assert action not in section
            continue
        assert f"- {action}" in section
        assert f"<li>{action}</li>" in page
    assert "buy an SMS-capable number" in section
    assert "replace it" in section


def test_the_numbers_table_is_worst_verdict_first(plain: tuple[str, str]) -> None:
    page, markdown = plain
    section = section_of(markdown, TITLE)
    rows = [line for line in section.splitlines() if line.startswith("| +1555")]
    assert [row.split(" | ")[0].lstrip("| ") for row in rows] == [
        f"+155500000{i:02d}" for i in range(1, 8)
    ]
    assert rows[0].startswith("| +15550000001 | PN0101") and "| no | (none) |" in rows[0]
    assert rows[2].endswith("| 4 | 0 | 0 | **demo_webhook** |")
    assert f"`{DEMO_URL}`" in rows[2]
    assert rows[-1].endswith("| 40 | 40 | 0 | ok |")
    assert '<span class="mark">webhook_errors</span>' in page
    assert f"<code>{NUMBERS_CHECK_FILE}</code>" in page


def test_unhandled_inbound_shows_the_count_and_the_first_ones(plain: tuple[str, str]) -> None:
    page, markdown = plain
    section = section_of(markdown, TITLE)
    assert "25 inbound messages have no webhook request for them in the server log." in section
    assert f"`{UNHANDLED_INBOUND_FILE}` lists them all." in section
    assert f"The first {UNHANDLED_ROWS}:" in section
    assert "| 2026-11-28T09:00:00Z | +447700900100 | +15550000005 | SM" in section
    assert SENDERS[UNHANDLED_ROWS - 1] in section
    assert SENDERS[UNHANDLED_ROWS] not in section
    assert SENDERS[0] in page and SENDERS[UNHANDLED_ROWS] not in page


def test_redacted_reports_mask_every_number(redacted: tuple[str, str]) -> None:
    page, markdown = redacted
    section = section_of(markdown, TITLE)
    numbers = [row[0] for row in NUMBERS] + list(SENDERS[:UNHANDLED_ROWS])
    for number in numbers:
        assert number not in page and number not in markdown
    for number in mask_phones(numbers).to_pylist():
        assert number in section
        assert number in page


def test_without_configuration_the_section_says_the_warning(
    tmp_path: Path,
) -> None:
    results = tmp_path / "results"
    write_optouts_results(results)
    summary = write_inbound_results(results, configured=False)
    page, markdown = report_of(results, tmp_path / "report")
    section = section_of(markdown, TITLE)
    lead = "No number was checked: no exported number configuration."
    assert f"**{lead}**" in section
    assert f"> ⚠ {summary.warnings[0]}" in section
    assert f'<p class="warn">⚠ {summary.warnings[0]}</p>' in page
    assert "|" not in section and "- " not in section
    assert "server log" not in section


def test_no_section_without_the_summary_file(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_optouts_results(results)
    write_inbound_results(results)
    (results / INBOUND_SUMMARY_FILE).unlink()
    page, markdown = report_of(results, tmp_path / "report")
    assert TITLE not in page and TITLE not in markdown
    assert headings(markdown)[1] == OPTOUT_SECTIONS


def test_without_a_server_log_unhandled_messages_are_not_judged(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_optouts_results(results)
    summary = write_inbound_results(results)
    summary.unhandled_inbound = None
    (results / UNHANDLED_INBOUND_FILE).unlink()
    write_json(summary.to_json(), results / INBOUND_SUMMARY_FILE)
    _, markdown = report_of(results, tmp_path / "report")
    section = section_of(markdown, TITLE)
    assert "No server log given" in section
    assert "received (UTC)" not in section


def test_status_callback_problems_are_listed(plain: tuple[str, str]) -> None:
    page, markdown = plain
    section = section_of(markdown, TITLE)
    assert (
        "Status callbacks: 500 in the server log; 240 outbound messages checked for their "
        "final status: 1 missing_final, 1 refused, 1 disagrees."
    ) in section
    for problem, meaning in CALLBACK_TEXT.items():
        assert f"- {problem}: {meaning}." in section
    rows = [line for line in section.splitlines() if "| SMa" in line or "| **" in line]
    assert any(
        "**disagrees**" in row and "| undelivered | delivered | 200 |" in row for row in rows
    )
    assert any("**refused**" in row and "| failed | failed | 500 |" in row for row in rows)
    assert f"<code>{STATUS_CALLBACKS_FILE}</code>" in page


def test_an_inconclusive_number_says_why(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_optouts_results(results)
    write_inbound_results(results)
    why = "the server log does not cover the time of its inbound messages"
    rows = [*NUMBERS, ("+15550000009", "PN" + "09" * 16, True, APP_URL, 3, 0, 0, INCONCLUSIVE, why)]
    numbers = {name: [row[i] for row in rows] for i, name in enumerate(NUMBER_COLUMNS)}
    pq.write_table(pa.table(numbers), results / NUMBERS_CHECK_FILE)
    _, markdown = report_of(results, tmp_path / "report")
    section = section_of(markdown, TITLE)
    row = next(line for line in section.splitlines() if line.startswith("| +15550000009"))
    assert "| **inconclusive** | the server log does not cover" in row
    assert "| note |" in section


def test_a_folder_with_only_the_inbound_check_gets_its_own_report(tmp_path: Path) -> None:
    results = tmp_path / "results"
    write_inbound_results(results)
    page, markdown = report_of(results, tmp_path / "report")
    assert markdown.startswith("# Inbound reachability report\n")
    assert headings(markdown)[1] == [TITLE]
    assert "<title>Inbound reachability report" in page
