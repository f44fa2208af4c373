"""A small results folder of ``analyzer optouts``, written by hand from the contract."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_COLUMNS,
    OPTOUT_EVENTS_FILE,
    OPTOUT_SENDS_FILE,
    OPTOUTS_SUMMARY_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
    write_json,
)
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind, OptoutVerdict

SERVICE = "MG0123456789abcdef0123456789abcdef"
#: A number outside any Messaging Service: its own scope.
NUMBER = "+15550009999"
SENDER = "+15550001111"
#: Recipients: who said what.
ALICE, BOB, CAROL, DAVE, ERIN = (f"+4477009000{i:02d}" for i in range(1, 6))
#: A recipient blocked with 21610 without a keyword: an inferred opt-out.
GRACE = "+447700900077"
#: Recipients of near misses.
HEIDI, IVAN = "+447700900088", "+447700900099"
#: A number written inside a near miss's body.
NUMBER_IN_BODY = "+44 7700 900123"
NEAR_MISS_BODIES = ("STOP.", f"stop texting me, call {NUMBER_IN_BODY}", "Stop please")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A time on 2026-11-<day> (UTC)."""
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


#: (sid, recipient, number, scope, keyword, kind, date_created).
EVENTS = (
    ("SM" + "e1" * 16, ALICE, SENDER, SERVICE, "STOP", OptoutKind.OPT_OUT, at(28, 9)),
    ("SM" + "e2" * 16, BOB, NUMBER, NUMBER, "STOP", OptoutKind.OPT_OUT, at(28, 10)),
    ("SM" + "e3" * 16, CAROL, SENDER, SERVICE, "UNSUBSCRIBE", OptoutKind.OPT_OUT, at(29, 8)),
    ("SM" + "e4" * 16, BOB, NUMBER, NUMBER, "START", OptoutKind.OPT_IN, at(29, 12)),
    ("SM" + "e5" * 16, DAVE, SENDER, SERVICE, "HELP", OptoutKind.HELP, at(29, 13)),
    ("SM" + "e6" * 16, ERIN, SENDER, SERVICE, "STOP", OptoutKind.OPT_OUT, at(29, 14)),
)
B, S = OptoutVerdict.BLOCKED, OptoutVerdict.SENT_AFTER_OPT_OUT
#: (sid, to, from, scope, status, error_code, opted_out_at, verdict, date_created).
SENDS = (
    ("SM" + "b1" * 16, ALICE, SENDER, SERVICE, "failed", OPTED_OUT_ERROR, at(28, 9), B, at(28, 11)),
    ("SM" + "b2" * 16, ALICE, SENDER, SERVICE, "failed", OPTED_OUT_ERROR, at(28, 9), B, at(29, 9)),
    ("SM" + "b3" * 16, ALICE, SENDER, SERVICE, "failed", OPTED_OUT_ERROR, at(28, 9), B, at(29, 10)),
    ("SM" + "b4" * 16, BOB, NUMBER, NUMBER, "failed", OPTED_OUT_ERROR, at(28, 10), B, at(28, 12)),
    ("SM" + "b5" * 16, CAROL, SENDER, SERVICE, "failed", OPTED_OUT_ERROR, at(29, 8), B, at(29, 15)),
    ("SM" + "b6" * 16, CAROL, SENDER, SERVICE, "failed", OPTED_OUT_ERROR, at(29, 8), B, at(29, 16)),
    ("SM" + "a1" * 16, ALICE, SENDER, SERVICE, "delivered", None, at(28, 9), S, at(29, 18)),
    ("SM" + "a2" * 16, CAROL, SENDER, SERVICE, "sent", None, at(29, 8), S, at(29, 17)),
)
SENT_AFTER_SIDS = ("SM" + "a2" * 16, "SM" + "a1" * 16)  # worst first: earliest first
SUPPRESSED = (
    (ALICE, at(28, 9), "STOP"),
    (CAROL, at(29, 8), "UNSUBSCRIBE"),
    (ERIN, at(29, 14), "STOP"),
)


def write_optouts_results(
    out: Path, *, sends: tuple[tuple[object, ...], ...] = SENDS, warnings: tuple[str, ...] = ()
) -> OptoutsSummary:
    """Write every file of the contract into ``out`` (``sends`` the sends after opt-out);
    returns the summary written."""
    out.mkdir(parents=True, exist_ok=True)
    _write_events(out)
    _write_sends(out, sends)
    _write_csvs(out)
    kinds = [kind for *_, kind, _when in EVENTS]
    summary = OptoutsSummary(
        inbound_messages=40,
        outbound_messages=500,
        events_by_kind={kind.value: kinds.count(kind) for kind in OptoutKind},
        opted_out_at_end=len(SUPPRESSED),
        blocked=sum(row[7] == B for row in sends),
        sent_after_opt_out=sum(row[7] == S for row in sends),
        inferred_opt_outs=1,
        re_opt_ins=1,
        near_misses=len(NEAR_MISS_BODIES),
        period_start=at(28, 0),
        period_end=datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC),
        source="data/messages.parquet",
        warnings=list(warnings),
    )
    write_json(summary.to_json(), out / OPTOUTS_SUMMARY_FILE)
    return summary


def _times(values: list[object]) -> pa.Array:
    return pa.array(values, pa.timestamp("us", tz="UTC"))


def _write_events(out: Path) -> None:
    columns = list(zip(*EVENTS, strict=True))
    names = OPTOUT_COLUMNS[OPTOUT_EVENTS_FILE]
    arrays = [pa.array([str(v) for v in values], pa.string()) for values in columns[:-1]]
    table = pa.table([*arrays, _times(list(columns[-1]))], names=list(names))
    pq.write_table(table, out / OPTOUT_EVENTS_FILE)


def _write_sends(out: Path, sends: tuple[tuple[object, ...], ...]) -> None:
    names = OPTOUT_COLUMNS[OPTOUT_SENDS_FILE]
    columns = list(zip(*sends, strict=True)) if sends else [() for _ in names]
    data = dict(zip(names, columns, strict=True))
    table = pa.table(
        {
            **{n: pa.array([str(v) for v in data[n]], pa.string()) for n in names[:5]},
            "error_code": pa.array(list(data["error_code"]), pa.int64()),
            "opted_out_at": _times(list(data["opted_out_at"])),
            "verdict": pa.array([str(v) for v in data["verdict"]], pa.string()),
            "date_created": _times(list(data["date_created"])),
        }
    )
    pq.write_table(table, out / OPTOUT_SENDS_FILE)


def _write_csvs(out: Path) -> None:
    pd.DataFrame(
        {
            "sid": [f"SM{i:032x}" for i in range(len(NEAR_MISS_BODIES))],
            "recipient": [HEIDI, IVAN, HEIDI],
            "number": [SENDER] * len(NEAR_MISS_BODIES),
            "scope": [SERVICE] * len(NEAR_MISS_BODIES),
            "body": list(NEAR_MISS_BODIES),
            "date_created": [f"2026-11-29T{hour}:00:00Z" for hour in (10, 11, 12)],
        },
        columns=list(OPTOUT_COLUMNS[NEAR_MISSES_FILE]),
    ).to_csv(out / NEAR_MISSES_FILE, index=False)
    pd.DataFrame(
        {
            "recipient": [GRACE],
            "scope": [SERVICE],
            "first_blocked_at": ["2026-11-28T07:00:00Z"],
            "blocked_sends": [2],
        }
    ).to_csv(out / INFERRED_OPTOUTS_FILE, index=False)
    pd.DataFrame(
        {
            "scope": [SERVICE] * len(SUPPRESSED),
            "recipient": [who for who, _when, _word in SUPPRESSED],
            "opted_out_at": [when.strftime("%Y-%m-%dT%H:%M:%SZ") for _who, when, _w in SUPPRESSED],
            "keyword": [word for _who, _when, word in SUPPRESSED],
        }
    ).to_csv(out / SUPPRESSION_FILE, index=False)
