"""A :class:`~analyzer.report.document.Document` as one self-contained HTML page:
inline styles, charts inlined as PNG, no scripts, nothing fetched."""

from __future__ import annotations

import html
from typing import Any

from analyzer.report.document import (
    Block,
    BulletList,
    Cell,
    ChartBlock,
    Code,
    Document,
    Inline,
    Lines,
    Link,
    Mark,
    Notice,
    Paragraph,
    Styled,
    Table,
)

CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;
margin:2em auto;max-width:1200px;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.lead{font-size:1.15em;background:#f6f8fa;border-left:4px solid #2E86C1;padding:.8em 1em}
.muted{color:#666}.warn{background:#fff4e5;border-left:4px solid #E07B39;padding:.5em 1em}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f2f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,.sid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px}
figure{display:inline-block;margin:.5em 1em .5em 0}img{max-width:100%}
tr.empty td{background:#fff4d6}.mark{color:#8a5a00;font-weight:600}
.v-app_side{color:#B3541E}.v-twilio_side{color:#C0392B;font-weight:bold}.v-webhook_side{color:#1E8449}
.v-unverified{color:#777}.v-inconclusive{color:#2471A3}.v-carrier_side{color:#8E44AD}
"""
_PARAGRAPH_CLASS = {"plain": "", "lead": ' class="lead"', "muted": ' class="muted"'}


def escape(value: Any) -> str:
    """Text escaped for HTML (None as empty)."""
    return html.escape("" if value is None else str(value), quote=True)


def render_html(document: Document) -> str:
    """The whole page."""
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(document.title)}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>{escape(document.title)}</h1>",
    ]
    parts += [render_block(block) for block in document.intro]
    for section in document.sections:
        parts.append(f"<h2>{escape(section.title)}</h2>")
        parts += [render_block(block) for block in section.blocks]
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def render_block(block: Block) -> str:
    """One block as HTML."""
    if isinstance(block, Paragraph):
        return f"<p{_PARAGRAPH_CLASS[block.kind]}>{_inlines(block.parts)}</p>"
    if isinstance(block, Notice):
        return f'<p class="warn">⚠ {escape(block.text)}</p>'
    if isinstance(block, BulletList):
        items = "\n".join(f"<li>{escape(item)}</li>" for item in block.items)
        return f"<ul>\n{items}\n</ul>"
    if isinstance(block, ChartBlock):
        chart = block.chart
        return f'<figure><img src="{chart.data_uri}" alt="{escape(chart.title)}"></figure>'
    return _table(block)


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    rows = []
    for i, row in enumerate(table.rows):
        style = table.row_styles.get(i)
        opening = f'<tr class="{escape(style)}">' if style else "<tr>"
        cells = "".join(_cell(cell, j in table.numeric) for j, cell in enumerate(row))
        rows.append(f"{opening}{cells}</tr>")
    body = "\n".join(rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>"


def _cell(cell: Cell, numeric: bool) -> str:
    if isinstance(cell, Styled):
        return f'<td class="{escape(cell.style)}">{escape(cell.text)}</td>'
    if isinstance(cell, Lines):
        style = f' class="{escape(cell.style)}"' if cell.style else ""
        return f"<td{style}>" + "<br>".join(escape(x) for x in cell.items) + "</td>"
    content = _inlines(cell) if isinstance(cell, tuple) else _inline(cell)
    return f'<td class="n">{content}</td>' if numeric else f"<td>{content}</td>"


def _inlines(parts: tuple[Inline, ...]) -> str:
    return "".join(_inline(part) for part in parts)


def _inline(part: Inline | int) -> str:
    if isinstance(part, Code):
        return f"<code>{escape(part.text)}</code>"
    if isinstance(part, Link):
        return f'<a href="{escape(part.href)}">{escape(part.text)}</a>'
    if isinstance(part, Mark):
        return f'<span class="mark">{escape(part.text)}</span>'
    return escape(part)
