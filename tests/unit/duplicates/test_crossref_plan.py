"""The cross-reference's plan: decisions learned once from the whole log, then used as given."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analyzer.duplicates.crossref import cross_reference, plan_cross_reference
from analyzer.duplicates.detect import find_duplicates
from analyzer.errors import InputError
from analyzer.logs import read_server_logs

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


def inputs(log: str) -> tuple[pa.Table, pa.Table, pa.Table]:
    messages = pq.read_table(SAMPLE / "messages.parquet")
    clusters = find_duplicates(messages).clusters
    return clusters, read_server_logs([SAMPLE / log]).requests, messages


@pytest.mark.parametrize(
    ("log", "mode", "scoped"),
    [
        ("server_requests.jsonl", "sid", True),
        ("server_requests.combined.log", "time_only", False),
        ("server_requests.twilio-sdk.log", "time_only", False),
    ],
)
def test_a_plan_given_back_gives_what_learning_it_gives(log: str, mode: str, scoped: bool) -> None:
    clusters, requests, messages = inputs(log)
    plan = plan_cross_reference(clusters, requests, messages)
    assert (plan.mode, plan.scoped) == (mode, scoped)
    learned = cross_reference(clusters, requests, messages)
    given = cross_reference(clusters, requests, messages, plan=plan)
    assert given.clusters.equals(learned.clusters)
    figures = (given.skew, given.delay_band, given.delay_band_method, given.sends)
    assert figures == (learned.skew, learned.delay_band, learned.delay_band_method, learned.sends)
    assert given.coverage.equals(learned.coverage)
    assert given.warnings == learned.warnings == list(plan.warnings)


def test_with_a_plan_part_of_the_log_is_judged_with_the_whole_logs_decisions() -> None:
    clusters, requests, messages = inputs("server_requests.jsonl")
    plan = plan_cross_reference(clusters, requests, messages, skew=2.0)
    whole = cross_reference(clusters, requests, messages, plan=plan)
    # The log's first hours alone: their own coverage and skew would be different.
    first_us = pc.cast(requests["time"], pa.int64()).to_numpy(zero_copy_only=False).min()
    cut = pa.scalar(int(first_us) + 6 * 3600 * 1_000_000, pa.timestamp("us", "UTC"))
    part = requests.filter(pc.fill_null(pc.less(requests["time"], cut), False))
    alone = cross_reference(clusters, part, messages)
    assert not alone.coverage.equals(plan.coverage) and alone.skew != plan.skew
    ours = cross_reference(clusters, part, messages, plan=plan)
    assert ours.coverage.equals(plan.coverage)
    assert (ours.skew, ours.delay_band) == (plan.skew, plan.delay_band)
    assert ours.clusters["covered"].equals(whole.clusters["covered"])


def test_records_and_posts_to_other_recipients_change_no_verdict() -> None:
    # Matched by SID or recipient, a cluster is judged on its recipients' records and
    # POSTs alone: dropping everyone else's changes nothing, given the whole log's plan.
    clusters, requests, messages = inputs("server_requests.jsonl")
    plan = plan_cross_reference(clusters, requests, messages)
    assert plan.scoped
    whole = cross_reference(clusters, requests, messages, plan=plan)
    sids = pc.list_flatten(clusters["sids"])
    recipients = pc.unique(messages["to"].filter(pc.is_in(messages["sid"], value_set=sids)))
    theirs = messages.filter(pc.is_in(messages["to"], value_set=recipients))
    posts = requests.filter(pc.fill_null(pc.is_in(requests["to"], value_set=recipients), False))
    assert theirs.num_rows < messages.num_rows / 10 and posts.num_rows < requests.num_rows / 10
    ours = cross_reference(clusters, posts, theirs, plan=plan)
    assert ours.clusters.equals(whole.clusters)


def test_a_plan_needs_log_lines() -> None:
    clusters, requests, messages = inputs("server_requests.jsonl")
    with pytest.raises(InputError):
        plan_cross_reference(clusters, requests.slice(0, 0), messages)
