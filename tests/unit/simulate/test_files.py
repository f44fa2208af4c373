"""The simulator's file set: determinism, chunking, errors, interruption, datasets."""

from __future__ import annotations

import json
import math
from datetime import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analyzer.errors import UserError
from analyzer.results import CONFIG_COLUMNS, CONFIG_DIR
from analyzer.simulate import SimulationConfig, dataset, simulate
from tests.unit.simulate.helpers import FILES, RICH


def test_same_seed_gives_identical_files_and_other_seed_differs(
    tmp_path: Path, rich_dir: Path
) -> None:
    again = simulate(tmp_path / "again", RICH)
    for name in [*FILES, *(f"{CONFIG_DIR}/{c}" for c in CONFIG_COLUMNS)]:
        assert (tmp_path / "again" / name).read_bytes() == (rich_dir / name).read_bytes(), name
    assert again.records["normal"] > 0

    other = tmp_path / "other"
    simulate(other, SimulationConfig(**{**RICH.__dict__, "seed": 12}))
    for name in ("messages.parquet", "server_requests.jsonl", "truth.parquet"):
        assert (other / name).read_bytes() != (rich_dir / name).read_bytes(), name


def test_output_does_not_depend_on_chunk_size(
    tmp_path: Path, rich_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset, "CHUNK_ROWS", 333)
    calls: list[tuple[int, int]] = []
    simulate(tmp_path, RICH, progress=lambda done, total: calls.append((done, total)))
    for name in ("messages.parquet", "truth.parquet"):
        assert pq.read_table(tmp_path / name).equals(pq.read_table(rich_dir / name)), name
        assert pq.ParquetFile(tmp_path / name).metadata.num_row_groups == math.ceil(4000 / 333)
    for name in ("server_requests.jsonl", "complaints.csv", "simulation.json"):
        assert (tmp_path / name).read_bytes() == (rich_dir / name).read_bytes(), name
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) > 20
    assert calls[-1][0] == calls[-1][1]


@pytest.mark.parametrize(
    "config, message",
    [
        (SimulationConfig(messages=0), "messages"),
        (SimulationConfig(messages=100, days=0), "days"),
        (SimulationConfig(messages=100, retry_rate=1.5), "retry_rate"),
        (SimulationConfig(messages=100, inbound_rate=0.6, legit_repeat_rate=0.4), "rates"),
        (SimulationConfig(messages=100, log_gap=(time(1), time(1))), "log_gap"),
    ],
)
def test_bad_config_is_a_user_error(tmp_path: Path, config: SimulationConfig, message: str) -> None:
    with pytest.raises(UserError, match=message):
        simulate(tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        simulate(target, SimulationConfig(messages=10))


def test_tiny_run_and_no_leftover_temp_files(tmp_path: Path) -> None:
    result = simulate(tmp_path, SimulationConfig(messages=1, seed=9))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([*FILES, CONFIG_DIR])
    assert sorted(p.name for p in (tmp_path / CONFIG_DIR).iterdir()) == sorted(CONFIG_COLUMNS)
    assert sum(result.records.values()) == 1 == result.records["normal"]
    assert pq.read_table(result.messages_path).num_rows == 1


def _contents(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the configuration folder's too), by relative path."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_an_interrupted_simulation_leaves_the_older_set_whole(tmp_path: Path) -> None:
    old = simulate(
        tmp_path, SimulationConfig(messages=2_000, seed=1, log_formats=("jsonl", "combined"))
    )
    before = _contents(tmp_path)

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:  # the messages are written, the logs half-way
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(tmp_path, SimulationConfig(messages=3_000, seed=2), progress=interrupt)
    assert _contents(tmp_path) == before
    assert old.request_logs["combined"].exists()

    new = simulate(tmp_path, SimulationConfig(messages=3_000, seed=2))
    names = {p.name for p in tmp_path.iterdir()}
    # The new set, whole, and nothing of the older one beside it.
    assert names == {
        "messages.parquet", "server_requests.jsonl", "truth.parquet", "complaints.csv",
        "simulation.json", CONFIG_DIR, "app_requests.jsonl", "app_requests.combined.log",
    }  # fmt: skip
    planted = new.records["opt_out"]
    assert pq.read_metadata(tmp_path / "messages.parquet").num_rows == 3_000 + planted


def test_simulated_messages_can_go_into_a_dataset(tmp_path: Path) -> None:
    from analyzer.pipeline import run_detect
    from analyzer.store import list_days

    sim = simulate(
        tmp_path / "sim", SimulationConfig(messages=4_000, seed=3, days=2), dataset=tmp_path / "ds"
    )
    assert list_days(tmp_path / "ds") == ["2026-11-29", "2026-11-30"]
    whole = run_detect(sim.messages_path, tmp_path / "a").detection.summary
    days = run_detect(
        tmp_path / "ds", tmp_path / "b", start="2026-11-29", end="2026-11-30"
    ).detection.summary
    assert days.messages == whole.messages == 4_000 + sim.records["opt_out"]
    assert days.duplicate_clusters == whole.duplicate_clusters > 0


def test_cli_simulate_into_a_dataset_then_detect_a_day(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ds = tmp_path / "ds"
    made = runner.invoke(
        app,
        ["simulate", "--out", str(tmp_path / "sim"), "-n", "3000", "--days", "2"]
        + ["--dataset", str(ds), "--quiet"],
    )
    assert made.exit_code == 0, made.output
    assert f"also in the dataset {ds}" in made.output
    day = runner.invoke(
        app, ["detect", str(ds), "-o", str(tmp_path / "d"), "-q", "--start", "2026-11-30"]
    )
    assert day.exit_code == 0, day.output
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["period_start"].startswith("2026-11-30")
