"""The analyses the jobs run, registered by name.

An analysis reads the message records (and the request logs where it uses them) and
returns tables and a summary, written into a results folder that the report turns into
its section. Adding one is adding its package beside ``analyzer/duplicates/`` (its run
over messages, its results named in ``analyzer/results/``, its report section in
``analyzer/report/sections/``), an adapter module here, and a line in ANALYSES; the
pipeline, nightly and the Python API then run it.
"""

from __future__ import annotations

from analyzer.analyses.base import Analysis, AnalysisInput, AnalysisResult, Summary
from analyzer.analyses.duplicates import CROSSREF_COLUMNS, DUPLICATES, crossref_summary
from analyzer.analyses.failures import FAILURES
from analyzer.analyses.inbound import INBOUND
from analyzer.analyses.optouts import OPTOUTS

#: Every analysis, in the order the jobs run them and the report shows them.
ANALYSES: dict[str, Analysis] = {a.name: a for a in (DUPLICATES, FAILURES, OPTOUTS, INBOUND)}

__all__ = [
    "ANALYSES",
    "CROSSREF_COLUMNS",
    "Analysis",
    "AnalysisInput",
    "AnalysisResult",
    "Summary",
    "crossref_summary",
]
