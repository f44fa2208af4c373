"""Writing exported records to the dataset a whole day at a time, once no slice still
being listed can hold more of that day."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.sources.twilio_api.result import ExportResult
from analyzer.store import write_messages

_DAY = 86_400


class DayBuffer:
    """Records waiting for their date_created day to be complete enough to write."""

    def __init__(self, dataset: Path, result: ExportResult, grace: int) -> None:
        self.dataset = dataset
        self.result = result
        self.grace = grace
        self.tables: dict[str, list[pa.Table]] = {}

    def add(self, table: pa.Table) -> None:
        """Hold a slice's records by date_created day (the sent day when it has none)."""
        created = pc.fill_null(table["date_created"], table["date_sent"])
        table = table.set_column(
            table.schema.get_field_index("date_created"), "date_created", created
        ).filter(pc.is_valid(created))
        if table.num_rows == 0:
            return
        days = pc.strftime(table["date_created"], format="%Y-%m-%d")
        for day in pc.unique(days).to_pylist():
            self.tables.setdefault(day, []).append(table.filter(pc.equal(days, day)))

    def flush(self, frontier: float) -> None:
        """Write the buffered days that end at least ``grace`` before ``frontier``.

        ``frontier`` is the start of the earliest slice still being listed.
        """
        ready = [
            day for day in sorted(self.tables) if _day_start(day) + _DAY - 1 + self.grace < frontier
        ]
        if not ready:
            return
        batch = pa.concat_tables([t for day in ready for t in self.tables.pop(day)])
        written = write_messages(self.dataset, batch, lock=False)
        days = pc.strftime(batch["date_created"], format="%Y-%m-%d")
        counts = (
            pa.table({"day": days, "sid": batch["sid"]})
            .group_by("day")
            .aggregate([("sid", "count_distinct")])
        )
        result = self.result
        for day, count in zip(
            counts["day"].to_pylist(), counts["sid_count_distinct"].to_pylist(), strict=True
        ):
            result.days[day] = result.days.get(day, 0) + count
            result.records += count
        result.inserted += written.inserted
        result.updated += written.updated
        result.unchanged += written.unchanged


def _day_start(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())
