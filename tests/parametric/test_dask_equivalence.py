"""The Dask engine gives exactly the clusters, verdicts and reports of the pandas engine."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.duplicates.crossref import cross_reference
from analyzer.engines import detect_path
from analyzer.logs import read_server_logs
from analyzer.nightly import NightlyConfig, run_nightly
from analyzer.options import EngineOptions
from analyzer.pipeline import run_detect
from analyzer.results import CLUSTERS_FILE, CONFIG_DIR, SENSITIVITY_FILE, SUMMARY_FILE
from analyzer.simulate import SimulationConfig, simulate
from analyzer.store import read_messages, write_messages
from tests.parametric.duplicates.test_detect_properties import message_records, to_table
from tests.unit.duplicates.reference import brute_force_clusters

pytest.importorskip("dask.distributed")
from distributed import get_task_stream  # noqa: E402

from analyzer.engines.dask import detect_dask, session  # noqa: E402
from analyzer.engines.dask_crossref import (  # noqa: E402
    MESSAGE_COLUMNS,
    MessageRead,
    cross_reference_dask,
)


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    # The engine's steps run inside reuse this LocalCluster, as a nightly run does.
    with session() as started:
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


# ------------------------------------------------- nightly and the cross-reference

DAY = date(2026, 11, 30)


@pytest.fixture(scope="module")
def account(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three simulated days: a dataset with the account's configuration, and request logs."""
    out = tmp_path_factory.mktemp("account")
    simulate(out, SimulationConfig(messages=9_000, seed=11, days=3))
    write_messages(out / "dataset", pq.read_table(out / "messages.parquet"))
    shutil.copytree(out / CONFIG_DIR, out / "dataset" / CONFIG_DIR)
    return out


def _logs(account: Path) -> list[str]:
    return [str(account / "server_requests.jsonl"), str(account / "app_requests.jsonl")]


def _nightly(account: Path, reports: Path, **engine: Any) -> Path:
    config = NightlyConfig(
        dataset=account / "dataset",
        reports=reports,
        server_log=_logs(account),
        export=False,
        date=DAY,
        **engine,
    )
    assert run_nightly(config).exit_code == 0
    return reports


def _files(folder: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(folder)): path.read_bytes()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


@pytest.fixture(scope="module")
def local_reports(account: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    return _files(_nightly(account, tmp_path_factory.mktemp("local")))


def test_nightly_on_a_local_cluster_writes_every_file_the_local_engine_writes(
    client: Any, account: Path, tmp_path: Path, local_reports: dict[str, bytes]
) -> None:
    ours = _files(_nightly(account, tmp_path / "reports", engine="dask"))
    results = f"{DAY.isoformat()}/results/"
    # Every analysis wrote its results: duplicates with verdicts, failures, opt-outs, inbound.
    assert {f"{results}{CLUSTERS_FILE}", f"{results}failures_summary.json"} <= set(ours)
    assert {f"{results}optouts_summary.json", f"{results}inbound_summary.json"} <= set(ours)
    assert json.loads(ours[f"{results}{SUMMARY_FILE}"])["by_verdict"]
    assert sorted(ours) == sorted(local_reports)
    # No file holds the time of the run, so every one is compared byte for byte.
    assert [name for name in ours if ours[name] != local_reports[name]] == []


def test_nightly_with_a_scheduler_address_runs_there(
    account: Path, tmp_path: Path, local_reports: dict[str, bytes]
) -> None:
    from dask.distributed import LocalCluster

    with LocalCluster(
        n_workers=1, processes=False, protocol="tcp://", dashboard_address=None
    ) as cluster:
        args = ["nightly", "--dataset", str(account / "dataset"), "--reports"]
        args += [str(tmp_path / "reports"), "--date", DAY.isoformat(), "--no-export", "-q"]
        args += [f"--server-log={path}" for path in _logs(account)]
        args += ["--engine", "dask", "--scheduler", cluster.scheduler_address]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        ran = cluster.scheduler.task_prefixes
        # The analyses ran as tasks on this cluster's worker.
        assert {"whole", "detect_part", "run_failures", "run_inbound"} <= set(ran), sorted(ran)
    assert _files(tmp_path / "reports") == local_reports


def test_a_range_of_days_gives_the_local_clusters_verdicts_and_summary(
    client: Any, account: Path, tmp_path: Path
) -> None:
    local = run_detect(account / "dataset", tmp_path / "local", server_logs=_logs(account))
    ours = run_detect(
        account / "dataset",
        tmp_path / "dask",
        server_logs=_logs(account),
        engine=EngineOptions("dask"),
    )
    assert ours.crossref is not None and local.crossref is not None
    days = {c.date() for c in local.detection.clusters["first_created"].to_pylist()}
    assert len(days) >= 3  # several time partitions were judged
    for name in (CLUSTERS_FILE, SENSITIVITY_FILE):
        assert (tmp_path / "dask" / name).read_bytes() == (tmp_path / "local" / name).read_bytes()
    summaries = [json.loads((tmp_path / d / SUMMARY_FILE).read_text()) for d in ("dask", "local")]
    # The delay band is learned per partition (see analyzer.engines.dask_crossref): the
    # summary gives the hull of the bands used, near the one learned from the whole log.
    bands = [s.pop("delay_band_seconds") for s in summaries]
    assert summaries[0] == summaries[1]
    assert bands[0][0] <= bands[1][0] + 0.1 and bands[0][1] >= bands[1][1] - 0.1
    assert bands[0][1] - bands[0][0] <= bands[1][1] - bands[1][0] + 0.5


def _ran(stream: Any, prefix: str) -> int:
    """How many tasks of this name a task stream recorded."""
    return sum(1 for task in stream.data if str(task["key"]).startswith(prefix))


def test_hourly_partitions_give_the_verdicts_of_one_cross_reference(
    client: Any, account: Path
) -> None:
    detection = detect_path(account / "dataset", window=60)
    logs = read_server_logs(_logs(account))
    formats = {f.path: f.format for f in logs.files}
    messages = read_messages(account / "dataset", columns=MESSAGE_COLUMNS, dictionary=["direction"])
    whole = cross_reference(detection.clusters, logs.requests, messages, formats=formats)
    hours = {c.replace(minute=0, second=0) for c in detection.clusters["first_created"].to_pylist()}
    assert len(hours) > 24
    with get_task_stream(client) as stream:
        ours = cross_reference_dask(
            detection.clusters,
            logs.requests,
            MessageRead(account / "dataset"),
            client=client,
            formats=formats,
            tolerance=3.0,
            bucket=timedelta(hours=1),
        )
    assert _ran(stream, "_part") == len(hours)  # one task per hour with clusters
    assert _ran(stream, "_whole") == 1  # the plan, once for the whole log
    assert ours.clusters.equals(whole.clusters)
    assert ours.by_verdict == whole.by_verdict and len(ours.by_verdict) >= 2
    assert (ours.skew, ours.mode, ours.sends) == (whole.skew, whole.mode, whole.sends)
    assert (ours.warnings, ours.request_ids) == (whole.warnings, whole.request_ids)
    assert ours.coverage.equals(whole.coverage)
