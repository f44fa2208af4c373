"""The Dask engine gives exactly the clusters and verdicts of the pandas engine."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.duplicates.crossref import cross_reference
from analyzer.engines import detect_path
from analyzer.logs import read_server_logs
from analyzer.simulate import SimulationConfig, simulate
from analyzer.store import write_messages
from tests.parametric.duplicates.test_detect_properties import message_records, to_table
from tests.unit.duplicates.reference import brute_force_clusters

pytest.importorskip("dask.distributed")
from analyzer.engines.dask import dask_client, detect_dask  # noqa: E402


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with dask_client() as started:
        yield started


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, SimulationConfig(messages=8_000, seed=3, days=3))
    messages = pq.read_table(out / "messages.parquet")
    # Plant clusters that straddle each midnight, so they cross day files (partitions).
    midnight = [m for m in messages.to_pylist() if m["date_created"].hour == 23][:6]
    extra = []
    for i, record in enumerate(midnight):
        copy = dict(record)
        copy["sid"] = f"SM{i:032x}"
        copy["date_created"] = record["date_created"].replace(
            hour=0, minute=0, second=5
        ) + timedelta(days=1)
        extra.append(copy)
    window = 3600
    planted = pa.concat_tables([messages, pa.Table.from_pylist(extra, schema=messages.schema)])
    write_messages(out / "dataset", planted)
    (out / "window").write_text(str(window))
    return out


@pytest.mark.parametrize("partitions", [1, 3, 8])
def test_simulated_days_give_the_same_clusters_and_verdicts(
    client: Any, simulated: Path, partitions: int
) -> None:
    dataset = simulated / "dataset"
    window = float((simulated / "window").read_text())
    ours = detect_dask(dataset, client=client, window=window, partitions=partitions)
    reference = detect_path(dataset, window=window)
    assert ours.clusters.num_rows > 50
    assert ours.clusters.equals(reference.clusters)
    assert ours.summary == reference.summary
    assert ours.sensitivity.equals(reference.sensitivity)
    midnight = [
        c
        for c in reference.clusters.to_pylist()
        if c["first_created"].date() != c["last_created"].date()
    ]
    assert midnight, "no cluster crosses a day boundary"

    logs = read_server_logs([simulated / "server_requests.jsonl"])
    messages = pq.read_table(simulated / "messages.parquet")
    verdicts = [
        cross_reference(d.clusters, logs.requests, messages).clusters["verdict"].to_pylist()
        for d in (ours, reference)
    ]
    assert verdicts[0] == verdicts[1]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    records=message_records(), window=st.sampled_from([0, 5, 60]), parts=st.sampled_from([1, 3, 8])
)
def test_random_records_match_the_reference(
    client: Any,
    tmp_path_factory: pytest.TempPathFactory,
    records: list[dict[str, Any]],
    window: float,
    parts: int,
) -> None:
    shifted = [{**r, "date_created": r["date_created"] - timedelta(seconds=60)} for r in records]
    folder = tmp_path_factory.mktemp("ds")
    write_messages(folder, to_table(shifted))
    if not records:
        return
    ours = detect_dask(folder, client=client, window=window, partitions=parts)
    assert ours.clusters["sids"].to_pylist() == brute_force_clusters(shifted, window)


def test_without_dask_the_error_is_clear(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['dask'] = None; sys.modules['dask.dataframe'] = None\n"
        "from analyzer.cli import main; main()"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "detect",
            "data/sample/messages.parquet",
            "--out",
            str(tmp_path),
            "--engine",
            "dask",
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert proc.returncode == 2
    assert "pip install -e '.[dask]'" in proc.stderr
    assert "Traceback" not in proc.stderr
