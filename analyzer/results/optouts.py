"""The summary of an opt-out analysis."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime
from pathlib import Path
from typing import Any

from analyzer.results.text import format_time, parse_time


@dataclass
class OptoutsSummary:
    """The counts of an opt-out analysis (``optouts_summary.json``)."""

    inbound_messages: int = 0
    outbound_messages: int = 0
    #: Keyword messages by kind (opt_out, opt_in, help).
    events_by_kind: dict[str, int] = field(default_factory=dict)
    #: (scope, recipient) pairs opted out at the end of the period.
    opted_out_at_end: int = 0
    blocked: int = 0
    sent_after_opt_out: int = 0
    inferred_opt_outs: int = 0
    #: Opt-ins that ended an opt-out.
    re_opt_ins: int = 0
    near_misses: int = 0
    period_start: datetime | None = None
    period_end: datetime | None = None
    source: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data, in the shape of ``optouts_summary.json``."""
        data = asdict(self)
        data["period_start"] = format_time(self.period_start)
        data["period_end"] = format_time(self.period_end)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OptoutsSummary:
        """Read the data of an ``optouts_summary.json`` (unknown keys are ignored)."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        for name in ("period_start", "period_end"):
            if values.get(name):
                values[name] = parse_time(str(values[name]))
        return cls(**values)

    @classmethod
    def read(cls, path: Path) -> OptoutsSummary:
        """Read an ``optouts_summary.json``."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
