"""What every report section is given, and what it returns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from analyzer.report.document import Block, Section
from analyzer.report.load import ReportData
from analyzer.results import ReportSummary


@dataclass(frozen=True)
class ReportContext:
    """The loaded results, the report's numbers and whether numbers are masked."""

    data: ReportData
    summary: ReportSummary
    redact: bool


#: A report section: the loaded results in, the sections it adds out.
ReportSection = Callable[[ReportContext], list[Section]]
#: The blocks before the first section (the headline and the figures).
ReportOverview = Callable[[ReportContext], list[Block]]
