"""A :class:`~analyzer.report.document.Document` as Markdown, its charts as files in
``charts/`` beside it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from analyzer.report import document as doc
from analyzer.results import CHARTS_DIR


def escape(value: Any) -> str:
    """Text safe in a Markdown table cell or paragraph (one line, no stray pipes)."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def render_markdown(document: doc.Document) -> str:
    """The whole report."""
    parts = [f"# {escape(document.title)}"]
    parts += [render_block(block) for block in document.intro]
    for section in document.sections:
        parts.append(f"## {escape(section.title)}")
        parts += [render_block(block) for block in section.blocks]
    return "\n\n".join(parts) + "\n"


def render_block(block: doc.Block) -> str:
    """One block as Markdown."""
    if isinstance(block, doc.Paragraph):
        text = inlines(block.parts)
        return f"**{text}**" if block.kind == "lead" else text
    if isinstance(block, doc.Notice):
        return f"> ⚠ {escape(block.text)}"
    if isinstance(block, doc.BulletList):
        return "\n".join(f"- {escape(item)}" for item in block.items)
    if isinstance(block, doc.ChartBlock):
        chart = block.chart
        return f"![{escape(chart.title)}]({CHARTS_DIR}/{chart.name}.png)"
    return table(block)


def table(block: doc.Table) -> str:
    """A Markdown table."""
    return markdown_table(block.header, [[_cell(c) for c in row] for row in block.rows])


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A Markdown table of already rendered cells (the header is escaped)."""
    lines = [
        "| " + " | ".join(escape(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _cell(cell: doc.Cell) -> str:
    if isinstance(cell, doc.Styled):
        return escape(cell.text)
    if isinstance(cell, doc.Lines):
        return escape(" ".join(cell.items))
    return inlines(cell) if isinstance(cell, tuple) else _inline(cell)


def inlines(parts: tuple[doc.Inline, ...]) -> str:
    """A run of inlines as Markdown."""
    return "".join(_inline(part) for part in parts)


def _inline(part: doc.Inline | int) -> str:
    if isinstance(part, doc.Code):
        return f"`{escape(part.text)}`"
    if isinstance(part, doc.Link):
        return f"[{escape(part.text)}]({part.href})"
    if isinstance(part, doc.Mark):
        return f"**{escape(part.text)}**"
    return escape(part)
