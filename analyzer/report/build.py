"""``build_report``: read a results folder once, build the document once, write every
output from it."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from analyzer.atomic import ensure_output_dir, write_text, write_with
from analyzer.redact import scrub_secrets, secret_values
from analyzer.report.csv import clusters_csv
from analyzer.report.document import Document
from analyzer.report.html import render_html
from analyzer.report.load import ReportData, load_results
from analyzer.report.markdown import render_markdown
from analyzer.report.sections import OVERVIEWS, SECTIONS, ReportContext
from analyzer.report.summary import summarise
from analyzer.report.ticket import render_ticket
from analyzer.results import (
    CHARTS_DIR,
    REPORT_CSV_FILE,
    REPORT_HTML_FILE,
    REPORT_MD_FILE,
    SUMMARY_FILE,
    TICKET_FILE,
    ReportSummary,
)

TITLE = "Duplicate SMS report"
#: The title of a report on a folder that holds delivery failures and no duplicates.
FAILURES_TITLE = "Delivery failures report"
#: The title of a report on a folder that holds opt-outs and neither of the above.
OPTOUTS_TITLE = "Opt-outs report"
#: The title of a report on a folder that holds only an inbound check.
INBOUND_TITLE = "Inbound reachability report"


@dataclass
class ReportResult:
    """What ``build_report`` wrote and the summary it computed."""

    out_dir: Path
    index_html: Path
    files: list[Path] = field(default_factory=list)
    summary: ReportSummary = field(default_factory=ReportSummary)
    ticket: Path | None = None


def build_document(data: ReportData, summary: ReportSummary, redact: bool) -> Document:
    """The report as one document: the overview and every section."""
    context = ReportContext(data, summary, redact)
    intro = [block for overview in OVERVIEWS for block in overview(context)]
    document = Document(report_title(data), intro=intro)
    for section in SECTIONS:
        document.sections += section(context)
    return document


def report_title(data: ReportData) -> str:
    """The title: that of the first analysis the folder holds."""
    if data.duplicates:
        return TITLE
    if data.failures is not None:
        return FAILURES_TITLE
    return OPTOUTS_TITLE if data.optouts is not None else INBOUND_TITLE


def build_report(
    results: str | Path,
    out_dir: str | Path,
    *,
    redact: bool = False,
    ticket: bool = False,
    redact_ticket: bool = True,
) -> ReportResult:
    """Write an HTML, Markdown, CSV and JSON report (and optionally a support ticket) on
    the results of ``analyzer detect``, ``failures``, ``optouts`` and/or ``inbound`` in
    ``results``, each file atomically (no clusters.csv without a detection).

    ``redact`` masks recipient numbers (and numbers inside bodies) in index.html,
    report.md, clusters.csv and the charts; the ticket masks them and leaves bodies out
    unless ``redact_ticket`` is False. No credential reaches any output. Raises
    InputError if ``results`` holds none of their outputs.

    >>> result = build_report("results", "report", ticket=True)   # doctest: +SKIP
    >>> result.index_html
    PosixPath('report/index.html')
    """
    data = load_results(Path(results))
    out = ensure_output_dir(out_dir)
    secrets = secret_values()
    summary = summarise(data, redact)
    document = build_document(data, summary, redact)
    written: list[Path] = []

    def put(text: str, name: str, scrub: Callable[[str], str]) -> Path:
        path = out / name
        write_text(scrub(text), path)
        written.append(path)
        return path

    def clean(text: str) -> str:
        return scrub_secrets(text, secrets)

    index = put(render_html(document), REPORT_HTML_FILE, scrub_html(secrets))
    put(render_markdown(document), REPORT_MD_FILE, clean)
    chart_dir = out / CHARTS_DIR
    chart_dir.mkdir(exist_ok=True)
    for chart in document.charts():
        target = chart_dir / f"{chart.name}.png"
        write_with(_bytes_writer(chart.png), target)
        written.append(target)
    scrubbed = ReportSummary.from_json(json.loads(clean(json.dumps(summary.to_json()))))
    put(scrubbed.to_text(), SUMMARY_FILE, lambda text: text)
    if data.duplicates:
        csv_path = out / REPORT_CSV_FILE
        write_with(_bytes_writer(clusters_csv(data, redact, secrets)), csv_path)
        written.append(csv_path)
    ticket_path = None
    if ticket:
        ticket_path = put(render_ticket(data, summary, redact_ticket), TICKET_FILE, clean)
    return ReportResult(
        out_dir=out, index_html=index, files=written, summary=summary, ticket=ticket_path
    )


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


_DATA_URI = re.compile(r"(data:image/png;base64,[A-Za-z0-9+/=]+)")


def scrub_html(secrets: list[str]) -> Callable[[str], str]:
    """Scrub a page's text but not its inlined images (base64 is not text)."""

    def scrub(text: str) -> str:
        pieces = _DATA_URI.split(text)
        return "".join(p if i % 2 else scrub_secrets(p, secrets) for i, p in enumerate(pieces))

    return scrub
