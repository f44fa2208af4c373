"""The delivery-failures analysis: why messages did not arrive, and what to do about each.

``codes`` (our table of error codes, categories and actions; Twilio's catalog),
``analyze`` (the failures of a period, read batch by batch), ``rollups`` (by day, code,
sender, service, country; jumps) and ``rejected`` (sends refused before a record existed).
"""

from __future__ import annotations

from analyzer.failures.analyze import (
    COLUMNS,
    FAILURE_COLUMNS,
    LOW_CARDINALITY,
    FailureAnalysis,
    find_failures,
)
from analyzer.failures.codes import CATEGORY_ACTIONS, ERROR_CODES, describe_codes, read_catalog
from analyzer.failures.rejected import refused_posts, rejected_requests
from analyzer.failures.rollups import Rollups

__all__ = [
    "CATEGORY_ACTIONS",
    "COLUMNS",
    "ERROR_CODES",
    "FAILURE_COLUMNS",
    "LOW_CARDINALITY",
    "FailureAnalysis",
    "Rollups",
    "describe_codes",
    "find_failures",
    "read_catalog",
    "refused_posts",
    "rejected_requests",
]
