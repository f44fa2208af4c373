"""The opt-out analysis: who said STOP (or START), and whom we kept sending to.

``keywords`` (the keyword lists, reading inbound bodies, near misses) and ``analyze``
(scopes, the state of each recipient over time, the sends judged against it).
"""

from __future__ import annotations

from analyzer.optouts.analyze import (
    INBOUND_COLUMNS,
    LOW_CARDINALITY,
    OUTBOUND_COLUMNS,
    OptoutAnalysis,
    find_optouts,
)
from analyzer.optouts.keywords import Keywords, read_bodies

__all__ = [
    "INBOUND_COLUMNS",
    "LOW_CARDINALITY",
    "OUTBOUND_COLUMNS",
    "Keywords",
    "OptoutAnalysis",
    "find_optouts",
    "read_bodies",
]
