"""The report's sections, in the order a report shows them.

A section is a function that takes the :class:`~analyzer.report.sections.base.ReportContext`
(the loaded results and the report's numbers) and returns the
:class:`~analyzer.report.document.Section` s it adds; adding an analysis's section is
writing such a function and listing it in :data:`SECTIONS`.
"""

from __future__ import annotations

from analyzer.report.sections import (
    carrier,
    duplicates,
    failures,
    inbound,
    optouts,
    server_logs,
)
from analyzer.report.sections.base import ReportContext, ReportOverview, ReportSection

#: The blocks before the first section, in reading order.
OVERVIEWS: tuple[ReportOverview, ...] = (
    duplicates.overview,
    failures.overview,
    optouts.overview,
)
#: Every section, in reading order.
SECTIONS: tuple[ReportSection, ...] = (
    duplicates.sections,
    carrier.sections,
    server_logs.sections,
    failures.sections,
    optouts.sections,
    inbound.sections,
)

__all__ = ["OVERVIEWS", "SECTIONS", "ReportContext", "ReportOverview", "ReportSection"]
