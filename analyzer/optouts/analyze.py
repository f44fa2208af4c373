"""Opt-out state rebuilt from the message log: who said STOP (or START) to which scope,
which sends went to recipients who had opted out, and who is opted out at the end.

The scope of a keyword is the Messaging Service its inbound record names, else the
number it was sent to; an outbound record is in a scope when its Messaging Service is
that service, or, for a number's scope, its ``from`` is that number. The state of each
(scope, recipient) is the kind of its last opt-out or opt-in keyword (events in time
order, an inbound keyword before a send at the same instant); it is looked up for every
send with an as-of join, not a loop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.optouts.keywords import Keywords, read_bodies
from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_COLUMNS,
    OPTOUT_EVENTS_FILE,
    OPTOUT_SENDS_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
)
from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind, OptoutVerdict

#: What the first read takes: the inbound records, with their bodies.
INBOUND_COLUMNS = (
    "sid",
    "from",
    "to",
    "messaging_service_sid",
    "body",
    "direction",
    "date_created",
)
#: What the second read takes: the outbound records that can matter.
OUTBOUND_COLUMNS = (
    "sid",
    "to",
    "from",
    "messaging_service_sid",
    "status",
    "error_code",
    "direction",
    "date_created",
)
LOW_CARDINALITY = ("direction", "status", "from", "messaging_service_sid")
#: (start, end) of date_created in microseconds since the epoch, end exclusive.
Limits = tuple[int | None, int | None]
#: Reads the given columns of the records, batch by batch, the same on every call.
Scan = Callable[[Sequence[str]], Iterable[pa.RecordBatch]]
_SEPARATOR = "\x1f"


@dataclass
class OptoutAnalysis:
    """The opt-out results: a table per file and the counts."""

    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: OptoutsSummary = field(default_factory=OptoutsSummary)


def find_optouts(
    scan: Scan,
    *,
    limits: Limits = (None, None),
    report_from: int | None = None,
    keywords: Keywords | None = None,
    progress: Callable[[int], None] | None = None,
) -> OptoutAnalysis:
    """Rebuild opt-out state from the records read by ``scan`` and judge every send.

    Keywords before ``report_from`` (microseconds) set the state; only sends and events
    from it on are reported.
    """
    inbound, counts = _read_inbound(scan, limits, progress)
    events, near = _events(inbound, keywords or Keywords())
    transitions = _transitions(events)
    sends = _read_outbound(scan, limits, set(events["recipient"]))
    judged = _judge(sends, transitions)
    since = _since(report_from)
    reported = judged[judged["date_created"] >= since] if since is not None else judged
    shown_events = events[events["date_created"] >= since] if since is not None else events
    opted = reported[reported["opted_out_at"].notna()]
    refused = opted["error_code"].eq(OPTED_OUT_ERROR).fillna(False).to_numpy(dtype=bool)
    verdict = np.where(refused, OptoutVerdict.BLOCKED, OptoutVerdict.SENT_AFTER_OPT_OUT)
    opted = opted.assign(verdict=[str(v) for v in verdict])
    inferred = _inferred(reported)
    suppression = _suppression(transitions)
    tables = {
        OPTOUT_EVENTS_FILE: shown_events,
        OPTOUT_SENDS_FILE: opted,
        NEAR_MISSES_FILE: near[near["date_created"] >= since] if since is not None else near,
        INFERRED_OPTOUTS_FILE: inferred,
        SUPPRESSION_FILE: suppression,
    }
    tables = {
        name: frame[list(OPTOUT_COLUMNS[name])].reset_index(drop=True)
        for name, frame in tables.items()
    }
    summary = OptoutsSummary(
        inbound_messages=int(counts["inbound"] or 0),
        outbound_messages=int(counts["outbound"] or 0),
        events_by_kind={str(k): int(n) for k, n in shown_events["kind"].value_counts().items()},
        opted_out_at_end=len(suppression),
        blocked=int((verdict == OptoutVerdict.BLOCKED).sum()),
        sent_after_opt_out=int((verdict == OptoutVerdict.SENT_AFTER_OPT_OUT).sum()),
        inferred_opt_outs=len(inferred),
        re_opt_ins=int(_shown(transitions, since)["state"].eq(0).sum()),
        near_misses=len(tables[NEAR_MISSES_FILE]),
        period_start=_utc(counts["first"]),
        period_end=_utc(counts["last"]),
    )
    return OptoutAnalysis(tables=tables, summary=summary)


def _since(report_from: int | None) -> pd.Timestamp | None:
    return None if report_from is None else pd.Timestamp(report_from, unit="us", tz="UTC")


def _shown(transitions: pd.DataFrame, since: pd.Timestamp | None) -> pd.DataFrame:
    return transitions if since is None else transitions[transitions["date_created"] >= since]


def _utc(micros: int | None) -> datetime | None:
    return None if micros is None else datetime.fromtimestamp(micros / MICROS_PER_SECOND, tz=UTC)


def _times(table: pa.Table, limits: Limits) -> tuple[np.ndarray, np.ndarray]:
    """Each record's time (µs) and whether it is dated and within the limits."""
    micros = pc.cast(pc.cast(table["date_created"], TIMESTAMP), pa.int64())
    keep = np.asarray(pc.is_valid(micros).to_numpy(zero_copy_only=False), dtype=bool)
    created = np.asarray(pc.fill_null(micros, 0).to_numpy(zero_copy_only=False))
    if limits[0] is not None:
        keep &= created >= limits[0]
    if limits[1] is not None:
        keep &= created < limits[1]
    return created, keep


def _direction(table: pa.Table, prefix: str) -> np.ndarray:
    column = table["direction"].combine_chunks()
    if pa.types.is_dictionary(column.type):
        matched = pc.starts_with(column.dictionary, prefix).take(column.indices)
    else:
        matched = pc.starts_with(column, prefix)
    return np.asarray(pc.fill_null(matched, False).to_numpy(zero_copy_only=False), dtype=bool)


def _read_inbound(
    scan: Scan, limits: Limits, progress: Callable[[int], None] | None
) -> tuple[pa.Table, dict[str, int | None]]:
    """The inbound records (with bodies), and the counts and period of all records."""
    parts: list[pa.Table] = []
    counts: dict[str, int | None] = {"inbound": 0, "outbound": 0, "first": None, "last": None}
    for batch in scan(INBOUND_COLUMNS):
        table = pa.Table.from_batches([batch])
        created, keep = _times(table, limits)
        inbound = keep & _direction(table, "inbound")
        outbound = keep & _direction(table, "outbound")
        counts["inbound"] = int(counts["inbound"] or 0) + int(inbound.sum())
        counts["outbound"] = int(counts["outbound"] or 0) + int(outbound.sum())
        if keep.any():
            first, last = int(created[keep].min()), int(created[keep].max())
            counts["first"] = first if counts["first"] is None else min(counts["first"], first)
            counts["last"] = last if counts["last"] is None else max(counts["last"], last)
        parts.append(table.filter(pa.array(inbound)).drop_columns(["direction"]))
        if progress is not None:
            progress(batch.num_rows)
    schema = pa.schema([f for f in _plain_schema(INBOUND_COLUMNS) if f.name != "direction"])
    return pa.concat_tables([p.cast(schema) for p in parts] or [schema.empty_table()]), counts


def _plain_schema(columns: Sequence[str]) -> pa.Schema:
    from analyzer.schema import MESSAGE_SCHEMA

    return pa.schema([MESSAGE_SCHEMA.field(c) for c in columns])


def _events(inbound: pa.Table, keywords: Keywords) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The keyword messages and the near misses, each with its recipient, number, scope."""
    read = read_bodies(inbound["body"], keywords)
    frame = inbound.to_pandas()
    frame["recipient"] = frame["from"]
    frame["number"] = frame["to"]
    frame["scope"] = frame["messaging_service_sid"].where(
        frame["messaging_service_sid"].notna() & (frame["messaging_service_sid"] != ""),
        frame["to"],
    )
    frame["keyword"] = read.keyword.to_pandas()
    frame["kind"] = read.kind.to_pandas()
    near = np.asarray(read.near_miss.to_numpy(zero_copy_only=False), dtype=bool)
    events = frame[frame["keyword"].notna()].sort_values(["date_created", "sid"], kind="stable")
    return events, frame[near].sort_values(["date_created", "sid"], kind="stable")


def _transitions(events: pd.DataFrame) -> pd.DataFrame:
    """The events that changed a (scope, recipient)'s state: 1 opted out, 0 opted in."""
    changing = events[events["kind"] != str(OptoutKind.HELP)].copy()
    changing["state"] = (changing["kind"] == str(OptoutKind.OPT_OUT)).astype("int8")
    changing["key"] = changing["scope"] + _SEPARATOR + changing["recipient"]
    changing = changing.sort_values(["key", "date_created", "sid"], kind="stable")
    before = changing.groupby("key", sort=False)["state"].shift(1).fillna(0).astype("int8")
    return changing[changing["state"] != before].sort_values(["date_created", "sid"])


def _read_outbound(scan: Scan, limits: Limits, recipients: set[str]) -> pd.DataFrame:
    """The outbound records to recipients with a keyword, and every 21610 send."""
    wanted = pa.array(sorted(recipients), pa.string())
    parts: list[pa.Table] = []
    for batch in scan(OUTBOUND_COLUMNS):
        table = pa.Table.from_batches([batch])
        _created, keep = _times(table, limits)
        keep &= _direction(table, "outbound")
        to = table["to"].cast(pa.string())
        mine = pc.or_kleene(
            pc.is_in(to, value_set=wanted), pc.equal(table["error_code"], OPTED_OUT_ERROR)
        )
        keep &= np.asarray(pc.fill_null(mine, False).to_numpy(zero_copy_only=False), dtype=bool)
        parts.append(table.filter(pa.array(keep)).drop_columns(["direction"]))
    schema = pa.schema([f for f in _plain_schema(OUTBOUND_COLUMNS) if f.name != "direction"])
    table = pa.concat_tables([p.cast(schema) for p in parts] or [schema.empty_table()])
    frame = table.to_pandas()
    frame["error_code"] = frame["error_code"].astype("Int64")
    return frame.sort_values(["date_created", "sid"], kind="stable")


def _judge(sends: pd.DataFrame, transitions: pd.DataFrame) -> pd.DataFrame:
    """Each send with the scope it was opted out of (service first) and since when."""
    sends = sends.reset_index(drop=True)
    scope = pd.Series(None, index=sends.index, dtype=object)
    since = pd.Series(pd.NaT, index=sends.index, dtype="datetime64[us, UTC]")
    for column in ("from", "messaging_service_sid"):  # the later wins: a service first
        state = _state_at(sends, transitions, column)
        opted = state["state"].eq(1).to_numpy()
        if opted.any():
            scope[opted] = sends.loc[opted, column].to_numpy()
            since[opted] = state.loc[opted, "opted_out_at"].to_numpy()
    return sends.assign(scope=scope, opted_out_at=since)


def _state_at(sends: pd.DataFrame, transitions: pd.DataFrame, scope_column: str) -> pd.DataFrame:
    """The state of (the send's ``scope_column``, its recipient) when it was created."""
    left = pd.DataFrame(
        {
            "row": np.arange(len(sends)),
            "date_created": sends["date_created"].astype("datetime64[us, UTC]"),
            "key": sends[scope_column].fillna("").astype(str)
            + _SEPARATOR
            + sends["to"].astype(str),
        }
    ).sort_values("date_created", kind="stable")
    right = transitions[["key", "date_created", "state"]].assign(
        opted_out_at=transitions["date_created"],
        date_created=transitions["date_created"].astype("datetime64[us, UTC]"),
    )
    if right.empty:
        nothing = pd.Series(pd.NaT, index=left.index, dtype="datetime64[us, UTC]")
        return left.sort_values("row").assign(state=np.nan, opted_out_at=nothing)
    # Plain object keys: arrow-backed strings trip merge_asof on empty chunks.
    left["key"], right["key"] = left["key"].astype(object), right["key"].astype(object)
    merged = pd.merge_asof(left, right, on="date_created", by="key", direction="backward")
    return merged.sort_values("row").reset_index(drop=True)


def _inferred(sends: pd.DataFrame) -> pd.DataFrame:
    """21610 sends in no opted-out scope: opted out before the data starts (or the number
    was reassigned), by recipient and the send's scope."""
    refused = sends["error_code"].eq(OPTED_OUT_ERROR).fillna(False).to_numpy(dtype=bool)
    blocked = sends[refused & sends["opted_out_at"].isna().to_numpy()]
    scope = blocked["messaging_service_sid"].where(
        blocked["messaging_service_sid"].notna() & (blocked["messaging_service_sid"] != ""),
        blocked["from"],
    )
    grouped = blocked.assign(recipient=blocked["to"], scope=scope).groupby(["recipient", "scope"])
    frame = grouped.agg(
        first_blocked_at=("date_created", "min"), blocked_sends=("sid", "size")
    ).reset_index()
    return frame.sort_values(["first_blocked_at", "recipient"], ignore_index=True)


def _suppression(transitions: pd.DataFrame) -> pd.DataFrame:
    """The (scope, recipient) pairs opted out at the end, with when and by which keyword."""
    last = transitions.sort_values(["date_created", "sid"]).groupby("key").tail(1)
    out = last[last["state"] == 1].rename(columns={"date_created": "opted_out_at"})
    return out.sort_values(["scope", "recipient"], ignore_index=True)
