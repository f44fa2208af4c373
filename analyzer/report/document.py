"""The document model every report output is rendered from.

A report is built once, as a :class:`Document` of :class:`Section` s holding blocks
(paragraphs, notices, bullet lists, charts, tables); the HTML and Markdown renderers
turn the same document into a page and a file, so both always say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Literal

from analyzer.report.charts import Chart


@dataclass(frozen=True)
class Code:
    """Text shown as code (a path, a log line)."""

    text: str


@dataclass(frozen=True)
class Link:
    """Text linking to a relative address."""

    text: str
    href: str


@dataclass(frozen=True)
class Mark:
    """Text that must catch the eye (a warning inside a table row)."""

    text: str


#: A run of text: plain, code, a link or a mark.
Inline = str | Code | Link | Mark


@dataclass(frozen=True)
class Styled:
    """A table cell shown in a named style (a verdict colour, a SID font)."""

    text: str
    style: str


@dataclass(frozen=True)
class Lines:
    """A table cell of several values, one per line where the output allows it."""

    items: tuple[str, ...]
    style: str = ""


#: What a table cell holds: a value, a styled value, several values or a run of inlines.
Cell = str | int | Code | Link | Mark | Styled | Lines | tuple[Inline, ...]


@dataclass
class Paragraph:
    """A paragraph: ``lead`` is the report's summary, ``muted`` a side remark."""

    parts: tuple[Inline, ...]
    kind: Literal["plain", "lead", "muted"] = "plain"


@dataclass
class Notice:
    """A warning the reader must see."""

    text: str


@dataclass
class BulletList:
    """A list of statements."""

    items: list[str]


@dataclass
class ChartBlock:
    """A chart, inlined in a page or written beside a file."""

    chart: Chart


@dataclass
class Table:
    """A table: a header, rows of cells, the columns holding numbers, and a style name
    for some rows (by row index)."""

    header: list[str]
    rows: Sequence[Sequence[Cell]]
    numeric: frozenset[int] = frozenset()
    row_styles: dict[int, str] = field(default_factory=dict)


Block = Paragraph | Notice | BulletList | ChartBlock | Table


@dataclass
class Section:
    """A titled part of a report."""

    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Document:
    """A whole report: a title, the blocks before the first section, the sections."""

    title: str
    intro: list[Block] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)

    def blocks(self) -> Iterator[Block]:
        """Every block, in reading order."""
        yield from self.intro
        for section in self.sections:
            yield from section.blocks

    def charts(self) -> list[Chart]:
        """Every chart, in reading order."""
        return [b.chart for b in self.blocks() if isinstance(b, ChartBlock)]
