"""The opt-out analysis finds exactly the SIDs the simulator planted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from analyzer.pipeline import run_analysis
from analyzer.results import (
    INFERRED_OPTOUTS_FILE,
    NEAR_MISSES_FILE,
    OPTOUT_EVENTS_FILE,
    OPTOUT_SENDS_FILE,
    SUPPRESSION_FILE,
    OptoutsSummary,
)
from analyzer.simulate import SimulationConfig, simulate

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


@pytest.fixture(scope="module", params=["sample", "simulated"])
def planted(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if request.param == "sample":
        return SAMPLE / "messages.parquet", SAMPLE / "simulation.json"
    folder = tmp_path_factory.mktemp("optouts") / "sim"
    simulate(folder, SimulationConfig(messages=8_000, seed=11, days=2))
    return folder / "messages.parquet", folder / "simulation.json"


def test_every_planted_sid_and_only_those(planted, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    messages, description = planted
    truth = json.loads(description.read_text())["optouts"]
    result = run_analysis("optouts", messages, tmp_path / "out")
    tables = result.detail["analysis"].tables
    events = tables[OPTOUT_EVENTS_FILE]
    assert sorted(zip(events["sid"], events["kind"], events["keyword"], strict=True)) == sorted(
        (e["sid"], e["kind"], e["keyword"]) for e in truth["events"]
    )
    sends = tables[OPTOUT_SENDS_FILE]
    by_verdict = {
        v: sorted(sends.loc[sends["verdict"] == v, "sid"])
        for v in ("blocked", "sent_after_opt_out")
    }
    assert by_verdict == {
        "blocked": sorted(truth["blocked_sids"]),
        "sent_after_opt_out": sorted(truth["sent_after_opt_out_sids"]),
    }
    assert set(truth["service_wide_sids"]) <= set(truth["blocked_sids"])
    assert not set(truth["other_scope_sids"]) & set(sends["sid"])
    assert sorted(tables[NEAR_MISSES_FILE]["sid"]) == sorted(truth["near_miss_sids"])
    inferred = tables[INFERRED_OPTOUTS_FILE]
    assert sorted(zip(inferred["recipient"], inferred["scope"], strict=True)) == sorted(
        (i["recipient"], i["scope"]) for i in truth["inferred"]
    )
    suppressed = tables[SUPPRESSION_FILE]
    assert sorted(zip(suppressed["scope"], suppressed["recipient"], strict=True)) == sorted(
        (s["scope"], s["recipient"]) for s in truth["suppressed_at_end"]
    )
    summary = result.summary
    assert isinstance(summary, OptoutsSummary)
    assert summary.re_opt_ins == truth["re_opt_ins"]
    assert summary.blocked == len(truth["blocked_sids"]) > 0
    assert summary.sent_after_opt_out == len(truth["sent_after_opt_out_sids"]) > 0
