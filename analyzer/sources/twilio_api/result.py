"""What an export fetched and wrote."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass
class ExportResult:
    """What an export fetched and wrote."""

    accounts: list[str]
    start: datetime | None
    end: datetime | None
    records: int = 0
    fetched: int = 0
    pages: int = 0
    retries: int = 0
    slices: int = 0
    days: dict[str, int] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Records fetched per second."""
        return self.fetched / self.elapsed if self.elapsed > 0 else 0.0
