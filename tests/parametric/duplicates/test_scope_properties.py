"""A cross-reference judged from the request rows a LogScope keeps is the one judged from
the whole log, or it says that the log must be read whole (IncompleteLog).

Each log starts with more POSTs than the plan samples (a quiet filler, each naming its
record), so that the scope can leave rows out; the random tail then holds clusters and
POSTs written every way logs write them: recipients with or without ``+``, redacted or
missing, another number; SIDs of the record, missing or unknown; every outcome.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import event, given, settings
from hypothesis import strategies as st

from analyzer.duplicates.crossref import IncompleteLog, LogScope, cross_reference
from analyzer.duplicates.crossref.records import RECIPIENT_SAMPLE
from analyzer.duplicates.crossref.skew import SKEW_SAMPLE
from analyzer.duplicates.detect import find_duplicates
from analyzer.logs import REQUEST_SCHEMA, timeline_of
from analyzer.redact import CALLING_CODES
from analyzer.schema import coerce_messages

T0 = datetime(2026, 11, 29, tzinfo=UTC)
URL = "/2010-04-01/Accounts/AC" + "0" * 32 + "/Messages.json"
FILLER = SKEW_SAMPLE + 2_000
#: The tail starts after the longest filler (a POST every 50 ms).
TAIL_S = (RECIPIENT_SAMPLE + FILLER) // 20 + 60


def _sid(n: int) -> str:
    return f"SM{n:032x}"


@cache
def filler(writing: str = "plain") -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The filler's records and POSTs, as columns. The first RECIPIENT_SAMPLE POSTs write
    their recipients the way ``writing`` says (the plan learns from them how to compare
    recipients); then come more POSTs as Twilio writes them than the plan samples."""
    first = 0 if writing == "plain" else RECIPIENT_SAMPLE
    n = first + FILLER
    at = [T0 + timedelta(milliseconds=50 * i) for i in range(n)]
    to = [f"+1555{i:07d}" for i in range(n)]
    logged = [_written(number, writing if i < first else "plain", i) for i, number in enumerate(to)]
    sids = [_sid(10**6 + i) for i in range(n)]
    records = {
        "sid": sids,
        "to": to,
        "body": [f"filler {i}" for i in range(n)],
        "direction": ["outbound-api"] * n,
        "status": ["delivered"] * n,
        "date_created": [t.replace(microsecond=0) for t in at],
    }
    posts = {
        "time": [t - timedelta(milliseconds=300) for t in at],
        "to": logged,
        "message_sid": sids,
    }
    posts["status"] = [201] * n
    return records, posts


WRITINGS = ["plain", "plain", "no_plus", "no_plus", "redacted", "missing", "other", "unassigned"]
#: A calling code that is none: ``+`` and digits, yet no number (recipient_key gives null).
UNASSIGNED = next(
    f"{n:03d}"
    for n in range(100, 1000)
    if not {f"{n:03d}"[:k] for k in (1, 2, 3)} & set(CALLING_CODES)
)
SIDS = ["record", "record", "record", "record", "missing", "unknown"]
STATUSES = [201, 201, 201, 500, 400, 429, None]


@st.composite
def tails(draw: st.DrawFn) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """Records after the filler (clusters among them) and the POSTs logged for them."""
    records: dict[str, list[Any]] = {k: [] for k in filler()[0]}
    posts: dict[str, list[Any]] = {"time": [], "to": [], "message_sid": [], "status": []}
    n = 0
    for group in range(draw(st.integers(1, 5))):
        to = draw(st.sampled_from(["+14440000001", "+14440000002", "+447700900123"]))
        if draw(st.integers(0, 9)) == 0:
            to = "+1 444 000 000" + str(group)  # a record as Twilio never writes one
        start = TAIL_S + draw(st.integers(0, 600))
        for copy in range(draw(st.integers(1, 4))):
            n += 1
            made = T0 + timedelta(seconds=start + copy * draw(st.integers(0, 5)))
            for name, value in zip(
                records,
                [_sid(n), to, f"body {group}", "outbound-api", "delivered", made],
                strict=True,
            ):
                records[name].append(value)
            for _ in range(draw(st.integers(0, 2))):
                writing, named = draw(st.sampled_from(WRITINGS)), draw(st.sampled_from(SIDS))
                posts["time"].append(made - timedelta(milliseconds=draw(st.integers(0, 900))))
                posts["to"].append(_written(to, writing, n))
                posts["message_sid"].append(
                    {"record": _sid(n), "missing": None, "unknown": _sid(10**9 + n)}[named]
                )
                posts["status"].append(draw(st.sampled_from(STATUSES)))
    for k in range(draw(st.integers(0, 40))):  # other recipients, as Twilio writes them
        posts["time"].append(T0 + timedelta(seconds=TAIL_S + 15 * k))
        posts["to"].append(f"+1666{k:07d}")
        posts["message_sid"].append(draw(st.sampled_from([_sid(10**6 + k), _sid(10**9 + k)])))
        posts["status"].append(201)
    return records, posts


def _written(to: str, writing: str, n: int) -> str | None:
    return {
        "plain": to,
        "no_plus": to.lstrip("+"),
        "redacted": "redacted",
        "missing": None,
        "other": f"+1777{n:07d}",
        "unassigned": f"+{UNASSIGNED}{n:08d}",
    }[writing]


def _tables(
    tail: tuple[dict[str, list[Any]], dict[str, list[Any]]], writing: str = "plain"
) -> tuple[pa.Table, pa.Table]:
    (records, posts), (more_records, more_posts) = filler(writing), tail
    messages = coerce_messages(
        pa.table({k: records[k] + more_records[k] for k in records}), fill_missing=True
    )
    columns = {k: posts[k] + more_posts[k] for k in posts}
    n = len(columns["time"])
    requests = pa.table(
        {
            **{name: pa.nulls(n, REQUEST_SCHEMA.field(name).type) for name in REQUEST_SCHEMA.names},
            "time": pa.array(columns["time"], REQUEST_SCHEMA.field("time").type),
            "method": pa.array(["POST"] * n),
            "path": pa.array([URL] * n).dictionary_encode(),
            "status": pa.array(columns["status"], pa.int32()),
            "to": pa.array(columns["to"], pa.string()),
            "message_sid": pa.array(columns["message_sid"], pa.string()),
            "is_send": pa.array(np.ones(n, dtype=bool)),
            "line": pa.array(np.arange(1, n + 1)),
        }
    ).cast(REQUEST_SCHEMA)
    return messages, requests.take(pc.sort_indices(requests, [("time", "ascending")]))


@settings(max_examples=30, deadline=None)
@given(
    tail=tails(),
    writing=st.sampled_from(["plain", "plain", "no_plus", "redacted"]),
    chunk=st.sampled_from([997, 20_000, 250_000]),
)
def test_the_scope_judges_as_the_whole_log_or_asks_for_it(
    tail: tuple[dict[str, list[Any]], dict[str, list[Any]]], writing: str, chunk: int
) -> None:
    messages, requests = _tables(tail, writing)
    clusters = find_duplicates(messages, window=60).clusters
    scope = LogScope(clusters, messages)
    mask = np.concatenate(
        [np.asarray(scope(requests.slice(i, chunk))) for i in range(0, requests.num_rows, chunk)]
    )
    kept = requests.filter(pa.array(mask))
    timeline = timeline_of(requests).set_column(5, "kept", pa.array(mask))
    whole = cross_reference(clusters, requests, messages)
    try:
        part = cross_reference(clusters, kept, messages, timeline=timeline)
    except IncompleteLog:
        event("the log must be read whole")
        assert not mask.all()
        return
    left_out = "rows left out" if not mask.all() else "every row kept"
    event(f"{whole.mode}, recipients logged {writing} at first: {left_out}")
    assert part.clusters.equals(whole.clusters)
    assert (part.mode, part.sends, part.skew, part.warnings) == (
        whole.mode,
        whole.sends,
        whole.skew,
        whole.warnings,
    )
    assert part.coverage.equals(whole.coverage)
    assert part.request_ids == whole.request_ids and part.delay_band == whole.delay_band


def test_the_scope_leaves_out_the_posts_to_other_recipients() -> None:
    records, posts = filler()
    tail_records = {k: [] for k in records} | {
        "sid": [_sid(1), _sid(2)],
        "to": ["+14440000001"] * 2,
        "body": ["twice"] * 2,
        "direction": ["outbound-api"] * 2,
        "status": ["delivered"] * 2,
        "date_created": [T0 + timedelta(seconds=TAIL_S)] * 2,
    }
    tail_posts = {
        "time": [T0 + timedelta(seconds=TAIL_S - 1)] * 2,
        "to": ["+14440000001"] * 2,
        "message_sid": [_sid(1), _sid(2)],
        "status": [201, 201],
    }
    messages, requests = _tables((tail_records, tail_posts))
    clusters = find_duplicates(messages, window=60).clusters
    assert clusters.num_rows == 1
    mask = np.asarray(LogScope(clusters, messages)(requests))
    assert mask.sum() == SKEW_SAMPLE + 2  # the plan's samples and the cluster's two POSTs
    kept = requests.filter(pa.array(mask))
    timeline = timeline_of(requests).set_column(5, "kept", pa.array(mask))
    part = cross_reference(clusters, kept, messages, timeline=timeline)
    assert part.clusters.equals(cross_reference(clusters, requests, messages).clusters)
    assert part.sends["accepted"] == FILLER + 2
