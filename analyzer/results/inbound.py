"""The summary of an inbound-reachability check."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.results.text import format_time, parse_time


@dataclass
class InboundSummary:
    """The counts of an inbound check (``inbound_summary.json``)."""

    numbers: int = 0
    inbound_messages: int = 0
    #: Numbers by verdict.
    by_verdict: dict[str, int] = field(default_factory=dict)
    #: Inbound messages no webhook request answered (None: no server log given).
    unhandled_inbound: int | None = None
    webhook_alerts: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data, in the shape of ``inbound_summary.json``."""
        data = asdict(self)
        data["period_start"] = format_time(self.period_start)
        data["period_end"] = format_time(self.period_end)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InboundSummary:
        """Read the data of an ``inbound_summary.json`` (unknown keys are ignored)."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("period_start", "period_end"):
            if values.get(name):
                values[name] = parse_time(str(values[name]))
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> InboundSummary:
        """Read an ``inbound_summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
