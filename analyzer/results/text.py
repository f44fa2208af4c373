"""One time format, one duration format and one percentage format for every result."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Self

from analyzer.atomic import write_text


def format_time(value: datetime | date | str | None) -> str | None:
    """A time as results text: ISO 8601 in UTC with a ``Z`` (fractions of a second only
    when there are some, in milliseconds where they suffice); a date stays ``YYYY-MM-DD``;
    None stays None."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        value = parse_time(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        micros = value.microsecond
        spec = "microseconds" if micros % 1000 else "milliseconds" if micros else "seconds"
        return value.replace(tzinfo=None).isoformat(timespec=spec) + "Z"
    return value.isoformat()


def duration_text(seconds: float) -> str:
    """A span of seconds in words: ``1 min``, ``6 h``, ``45 s``, ``90 min``."""
    seconds = float(seconds)
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def time_from_micros(us: int) -> str:
    """A time given in microseconds since the epoch, as results text."""
    text = format_time(datetime.fromtimestamp(int(us) / 1e6, tz=UTC))
    assert text is not None
    return text


def parse_time(text: str) -> datetime:
    """Read a results time (``Z`` or ``+00:00``, as older results wrote) as aware UTC."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def write_json(data: Any, path: Path) -> None:
    """Write JSON data atomically; times in the results format, arrays as lists."""
    write_text(json.dumps(data, indent=2, default=_json_default) + "\n", path)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return format_time(value)
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def duplicate_rate(extra_messages: int, outbound_messages: int) -> float | None:
    """Extra messages per outbound message, as a fraction; None without outbound messages."""
    return extra_messages / outbound_messages if outbound_messages else None


def percent(fraction: float | None, digits: int = 3) -> str:
    """A fraction as percentage text (``–`` for None)."""
    return "–" if fraction is None else f"{fraction * 100:.{digits}f}%"


def short_percent(fraction: float | None) -> str:
    """A fraction as short percentage text for prose: two significant digits below 1 %,
    whole percents above (``0%`` for none or None)."""
    if not fraction or fraction <= 0:
        return "0%"
    share = 100.0 * fraction
    return f"{share:.2g}%" if share < 1 else f"{share:.0f}%"


class PeriodSummary:
    """JSON for a dataclass summary whose ``period_start`` and ``period_end`` are times:
    written in the results' time format, read back as aware UTC, unknown keys ignored."""

    _TIMES = ("period_start", "period_end")

    def to_json(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        data = asdict(self)  # type: ignore[call-overload]
        for name in self._TIMES:
            data[name] = format_time(getattr(self, name))
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Self:
        """Read a summary's JSON data."""
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}  # type: ignore[arg-type]
        for name in cls._TIMES:
            if values.get(name):
                values[name] = parse_time(str(values[name]))
        return cls(**cls._parts(values))

    @classmethod
    def _parts(cls, values: dict[str, Any]) -> dict[str, Any]:
        """Turn nested JSON objects into their dataclasses (none by default)."""
        return values

    @classmethod
    def read(cls, path: Path) -> Self:
        """Read a summary file."""
        return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
