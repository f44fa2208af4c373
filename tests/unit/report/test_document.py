"""HTML and Markdown render one document: the same sections, columns and words."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

from analyzer.report.build import build_document
from analyzer.report.document import BulletList, Notice, Paragraph, Table
from analyzer.report.html import render_html
from analyzer.report.load import load_results
from analyzer.report.markdown import escape, inlines, render_markdown
from analyzer.report.sections.duplicates import CLUSTER_HEADER
from analyzer.report.summary import summarise
from tests.unit.report.helpers import html_of, markdown_of


def page_text(page: str) -> str:
    """The visible text of a page, one space between words."""
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", page, flags=re.S)
    return " ".join(unescape(text).split())


def test_html_and_markdown_show_the_same_sections_and_columns(report_logs: Path) -> None:
    page, markdown = html_of(report_logs), markdown_of(report_logs)
    assert re.findall(r"<h2>(.*?)</h2>", page) == re.findall(r"^## (.*)$", markdown, re.M)
    html_headers = [
        [unescape(h) for h in re.findall(r"<th>(.*?)</th>", head)]
        for head in re.findall(r"<thead>(.*?)</thead>", page)
    ]
    md_headers = [
        [cell.strip() for cell in line.strip("|").split(" | ")]
        for line, rule in zip(markdown.splitlines(), markdown.splitlines()[1:], strict=False)
        if rule.startswith("|---")
    ]
    assert html_headers == md_headers
    assert CLUSTER_HEADER in md_headers and len(CLUSTER_HEADER) == 13


def test_every_text_block_reads_the_same_in_both(with_logs: Path) -> None:
    data = load_results(with_logs)
    summary = summarise(data, redact=False)
    summary.warnings = ["a warning | with a pipe"]
    document = build_document(data, summary, redact=False)
    page, markdown = page_text(render_html(document)), render_markdown(document)
    checked = 0
    for block in document.blocks():
        if isinstance(block, Paragraph):
            texts = ["".join(p if isinstance(p, str) else p.text for p in block.parts)]
            assert inlines(block.parts) in markdown
        elif isinstance(block, Notice):
            texts = [f"⚠ {block.text}"]
            assert f"> ⚠ {escape(block.text)}" in markdown
        elif isinstance(block, BulletList):
            texts = block.items
            assert all(f"- {escape(item)}" in markdown for item in block.items)
        else:
            continue
        for text in texts:
            assert " ".join(text.split()) in page
            checked += 1
    assert checked >= 10
    assert sum(isinstance(b, Table) for b in document.blocks()) >= 5
