"""Brute-force reference implementations that the vectorized code is checked against."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

#: Statuses of records that never went out, written out here rather than imported.
NOT_SENT = ("canceled", "scheduled")
#: Statuses of records that reached a handset.
REACHED = ("sent", "delivered", "read")


def brute_force_clusters(
    records: Sequence[dict[str, Any]], window: float, key: Sequence[str] = ("to", "body")
) -> list[list[str]]:
    """Return every duplicate cluster as its list of sids, ordered by first record.

    Written for clarity, one record at a time, straight from the definition.
    """
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for record in records:
        direction = record.get("direction") or ""
        body = record.get("body")
        if not direction.startswith("outbound") or body is None or body == "":
            continue
        if record.get("status") in NOT_SENT:
            continue
        groups[tuple(record[k] for k in key)].append(record)
    clusters: list[tuple[datetime, str, list[str]]] = []
    for members in groups.values():
        members.sort(key=lambda r: (r["date_created"], r["sid"]))
        run = [members[0]]
        for previous, current in zip(members, members[1:], strict=False):
            gap = (current["date_created"] - previous["date_created"]).total_seconds()
            if gap <= window:
                run.append(current)
            else:
                if len(run) >= 2:
                    clusters.append(
                        (run[0]["date_created"], run[0]["sid"], [r["sid"] for r in run])
                    )
                run = [current]
        if len(run) >= 2:
            clusters.append((run[0]["date_created"], run[0]["sid"], [r["sid"] for r in run]))
    clusters.sort(key=lambda c: (c[0], c[1]))
    return [sids for _, _, sids in clusters]


def brute_force_reached_extra(
    records: Sequence[dict[str, Any]], clusters: Sequence[Sequence[str]]
) -> int:
    """Extra messages that reached a handset: per cluster, reached records less one."""
    by_sid = {r["sid"]: r for r in records}
    total = 0
    for sids in clusters:
        reached = sum(1 for sid in sids if by_sid[sid].get("status") in REACHED)
        total += max(0, reached - 1)
    return total
