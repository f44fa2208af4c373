"""Detection recovers exactly the duplicates the simulator planted."""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from analyzer.duplicates.detect import find_duplicates
from analyzer.simulate import SimulationConfig, simulate
from tests.unit.duplicates.reference import brute_force_clusters


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, SimulationConfig(messages=20_000, seed=11, days=2))
    return out


@pytest.mark.parametrize("window", [2, 60, 3600, 4000])
def test_detect_finds_exactly_the_planted_groups(simulated: Path, window: float) -> None:
    messages = pq.read_table(simulated / "messages.parquet")
    truth = pq.read_table(simulated / "truth.parquet")
    planted_sids = truth.filter(pc.is_valid(truth["group_id"]))["sid"]
    planted = messages.filter(pc.is_in(messages["sid"], value_set=planted_sids))
    assert planted.num_rows > 50

    found = find_duplicates(messages, window=window).clusters["sids"].to_pylist()
    # The reference sees only the planted records: if any other record joined a
    # cluster, or a planted group were missed, the two would differ.
    assert found == brute_force_clusters(planted.to_pylist(), window)


def test_every_planted_group_is_found_whole_at_a_wide_window(simulated: Path) -> None:
    messages = pq.read_table(simulated / "messages.parquet")
    truth = pq.read_table(simulated / "truth.parquet").to_pandas()
    groups = truth.dropna(subset=["group_id"]).groupby("group_id")["sid"].apply(set)
    found = {
        frozenset(s) for s in find_duplicates(messages, window=4000).clusters["sids"].to_pylist()
    }
    assert found == {frozenset(g) for g in groups if len(g) >= 2}
