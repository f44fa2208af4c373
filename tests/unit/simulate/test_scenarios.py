"""The planted scenarios: group shapes, expected verdicts and the log gap."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa

from analyzer.simulate import PLANTED, SimulationConfig, simulate
from analyzer.simulate.plan import RETRY_TIMEOUTS
from analyzer.vocabulary import DOUBLE_SUBMIT, REDELIVERY_1H, TIMEOUT_PATTERNS, classify_gaps
from tests.unit.simulate.helpers import load_run, planted_groups


def test_planted_group_shapes(rich: dict[str, Any]) -> None:
    seen = defaultdict(int)
    for frame in planted_groups(rich["records"]).values():
        scenario = frame["scenario"].iloc[0]
        seen[scenario] += 1
        assert frame["scenario"].nunique() == 1
        assert frame["to"].nunique() == 1 and frame["body"].nunique() == 1
        assert frame["messaging_service_sid"].nunique(dropna=False) == 1
        assert (frame["direction"] == "outbound-api").all()
        gaps = frame["date_created"].diff().dt.total_seconds().dropna()
        posts = list(frame["posts"])
        if scenario == "app_retry_timeout":
            assert len(frame) in (2, 3) and posts == [1] * len(frame)
            timeouts = {t for t in (10, 15, 30) if gaps.between(t, t + 2).all()}
            assert timeouts, gaps.tolist()
        elif scenario == "double_submit":
            assert len(frame) == 2 and gaps.between(0, 2).all() and posts == [1, 1]
        elif scenario == "queue_redelivery":
            assert len(frame) == 2 and gaps.between(3500, 3600).all() and posts == [1, 1]
        elif scenario == "twilio_side":
            assert len(frame) == 2 and gaps.between(0, 1).all() and sorted(posts) == [0, 1]
            assert (
                frame.loc[frame["posts"] == 1, "date_created"].iloc[0]
                == frame["date_created"].min()
            )
        else:
            assert scenario == "carrier_side" and len(frame) == 1 and posts == [1]
    groups = rich["meta"]["groups"]
    assert dict(seen) == {s: groups[s] for s in PLANTED}
    assert all(seen[s] >= 5 for s in PLANTED)


def test_legit_repeats_share_recipient_with_different_bodies(rich: dict[str, Any]) -> None:
    r = rich["records"]
    legit = r[r["scenario"] == "legit_repeat"]
    assert legit["group_id"].isna().all() and legit["expected_verdict"].isna().all()
    for _, frame in legit.groupby("to"):
        assert len(frame) >= 2 and frame["body"].is_unique
    close = (
        legit.sort_values("date_created")
        .groupby("to")["date_created"]
        .agg(lambda s: s.diff().dt.total_seconds().min())
    )
    assert close.between(3, 90).mean() > 0.9


def test_expected_verdicts(rich: dict[str, Any]) -> None:
    r = rich["records"]
    verdict_of = {
        "app_retry_timeout": "app_side",
        "double_submit": "app_side",
        "queue_redelivery": "app_side",
        "twilio_side": "twilio_side",
        "carrier_side": "carrier_side",
    }
    planted = r["scenario"].isin(list(verdict_of))
    assert r["group_id"].notna().eq(planted).all()
    assert r.loc[~planted, "expected_verdict"].isna().all()
    p = r[planted]
    expected = p["scenario"].map(verdict_of).where(p["covered"], "unverified")
    assert (p["expected_verdict"] == expected).all()
    assert (p["expected_verdict"] == "unverified").sum() >= 1
    # A group lies entirely inside or entirely outside the log gap.
    assert (p.groupby("group_id")["covered"].nunique() == 1).all()
    group_ids = p["group_id"].drop_duplicates()
    assert list(group_ids) == list(range(1, len(group_ids) + 1))


def test_no_gap_means_everything_covered(tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(messages=3000, seed=2, log_gap=None, days=2))
    truth = pd.read_parquet(tmp_path / "truth.parquet")
    assert truth["covered"].all() and not (truth["expected_verdict"] == "unverified").any()
    lines = (tmp_path / "server_requests.jsonl").read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.endswith("}")]
    posts = sum(1 for p in parsed if p["method"] == "POST" and "error_code" not in p)
    assert posts == truth["posts"].sum()


def test_gap_across_midnight(tmp_path: Path) -> None:
    config = SimulationConfig(messages=4000, seed=4, log_gap=(time(23, 30), time(0, 40)))
    simulate(tmp_path, config)
    data = load_run(tmp_path)
    tod = data["log"]["ts"].dt.hour * 60 + data["log"]["ts"].dt.minute
    assert not ((tod >= 23 * 60 + 30) | (tod < 40)).any()
    r = data["records"]
    assert (r.loc[r["group_id"].notna()].groupby("group_id")["covered"].nunique() == 1).all()
    assert (r["expected_verdict"] == "unverified").any()


def _gaps(groups: list[pd.DataFrame]) -> pa.ListArray:
    return pa.array(
        [frame["date_created"].diff().dt.total_seconds().dropna().tolist() for frame in groups],
        pa.list_(pa.float64()),
    )


def test_every_planted_gap_pattern_is_classified_as_its_own(rich: dict[str, Any]) -> None:
    by_scenario: dict[str, list[pd.DataFrame]] = {}
    for frame in planted_groups(rich["records"]).values():
        by_scenario.setdefault(frame["scenario"].iloc[0], []).append(frame)
    timeouts = {pattern.name for pattern in RETRY_TIMEOUTS}
    assert timeouts <= {pattern.name for pattern in TIMEOUT_PATTERNS.values()}
    expected = {
        "app_retry_timeout": timeouts,
        "double_submit": {DOUBLE_SUBMIT.name},
        "queue_redelivery": {REDELIVERY_1H.name},
    }
    for scenario, names in expected.items():
        groups = by_scenario[scenario]
        assert len(groups) >= 5, scenario
        found = classify_gaps(_gaps(groups))
        assert set(found) <= names, (scenario, sorted(set(found)))
    retries = classify_gaps(_gaps(by_scenario["app_retry_timeout"]))
    assert len(set(retries)) >= 2  # the retries come after different client timeouts
