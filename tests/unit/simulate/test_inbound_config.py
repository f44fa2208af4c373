"""The simulated account configuration: `analyzer inbound` judges every number as the
simulation expects, and writing it changes none of the other files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from analyzer.analyses.base import AnalysisInput
from analyzer.options import LogOptions
from analyzer.pipeline import run_analysis
from analyzer.results import (
    CONFIG_COLUMNS,
    CONFIG_DIR,
    NUMBERS_CHECK_FILE,
    NUMBERS_FILE,
    STATUS_CALLBACKS_FILE,
    UNHANDLED_INBOUND_FILE,
)
from analyzer.simulate import SimulationConfig, simulate
from analyzer.sources.twilio_api.config import config_schema
from analyzer.vocabulary import InboundVerdict

#: SHA-256 of the files a run of 3,000 messages (seed 7) wrote before the simulator
#: wrote the configuration and the ingress log; simulation.json without what they added
#: (its "inbound", files "config" and "app_logs", config "app_log").
BEFORE = {
    "complaints.csv": "51e7742858fbdbec10e714858dddfbb2f6bee13c1139954b70f18f448edc062f",
    "messages.parquet": "48a691b52f8ceda87dcd49faf39982db56cdb6c5eed73fc5f0d7424219c3ee35",
    "server_requests.jsonl": "30d8a8d54765dfe138b8082cec2d8a2917e649fc9f147c7a7569ea05350bba75",
    "simulation.json": "a2ee26b02a5d950227b3a76b562c4e80f4f00d49a1aebe0ba1559e7927b88813",
    "truth.parquet": "ec99ad88a2ac7aee3a011d836b4eca477a10469517a5e38b843af9417b81fd8b",
}
PLANTED = {"not_sms_capable", "no_webhook", "demo_webhook", "webhook_errors"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("inbound")
    simulate(out, SimulationConfig(messages=3000, seed=7))
    return out


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_every_number_gets_the_expected_verdict(run_dir: Path, tmp_path: Path) -> None:
    expected = json.loads((run_dir / "simulation.json").read_text())["inbound"]["numbers"]
    run_analysis("inbound", run_dir / "messages.parquet", tmp_path)
    found = pq.read_table(tmp_path / NUMBERS_CHECK_FILE).to_pandas()
    assert dict(zip(found["phone_number"], found["verdict"], strict=True)) == expected
    verdicts = list(expected.values())
    assert all(verdicts.count(v) == 1 for v in PLANTED)
    assert verdicts.count("ok") > len(verdicts) // 2
    inbound = found.set_index("verdict")["inbound_messages"]
    assert inbound["no_webhook"] > 0 and inbound["webhook_errors"] > 0


@pytest.mark.parametrize("fmt", ["jsonl", "combined"])
def test_with_the_app_log_every_number_gets_the_expected_verdict(
    run_dir: Path, tmp_path: Path, fmt: str
) -> None:
    described = json.loads((run_dir / "simulation.json").read_text())
    expected, log = described["inbound"], run_dir / described["files"]["app_logs"][fmt]
    source = run_dir / "messages.parquet"
    run_analysis("inbound", source, tmp_path, AnalysisInput(source, logs=LogOptions.of([log])))
    found = pq.read_table(tmp_path / NUMBERS_CHECK_FILE).to_pandas()
    verdicts = dict(zip(found["phone_number"], found["verdict"], strict=True))
    assert verdicts == expected["numbers_with_log"]
    assert list(verdicts.values()).count(InboundVerdict.WEBHOOK_NOT_HIT) == 1
    unhandled = pq.read_table(tmp_path / UNHANDLED_INBOUND_FILE)["sid"].to_pylist()
    assert sorted(unhandled) == expected["unhandled"]
    if fmt == "jsonl":  # an access log shows no MessageSid to tell the messages apart
        problems = pq.read_table(tmp_path / STATUS_CALLBACKS_FILE).to_pandas()
        found_problems = problems.groupby("problem")["sid"].agg(sorted).to_dict()
        assert found_problems == expected["callbacks"]


def test_config_files_have_the_exports_schema(run_dir: Path) -> None:
    for name in CONFIG_COLUMNS:
        table = pq.read_table(run_dir / CONFIG_DIR / name)
        assert table.schema.remove_metadata() == config_schema(name)
    numbers = pq.read_table(run_dir / CONFIG_DIR / NUMBERS_FILE)
    assert numbers.num_rows == len(set(numbers["phone_number"].to_pylist()))


def test_other_files_are_unchanged(run_dir: Path) -> None:
    for name, digest in BEFORE.items():
        data = (run_dir / name).read_bytes()
        if name == "simulation.json":
            described = json.loads(data)
            del described["inbound"]
            del described["files"]["config"]
            del described["files"]["app_logs"]
            del described["config"]["app_log"]
            data = (json.dumps(described, indent=2, ensure_ascii=False) + "\n").encode()
        assert _digest(data) == digest, name


def test_dataset_gets_the_configuration(tmp_path: Path) -> None:
    dataset, run = tmp_path / "dataset", tmp_path / "run"
    simulate(run, SimulationConfig(messages=300, seed=3), dataset=dataset)
    for name in CONFIG_COLUMNS:
        assert pq.read_table(dataset / CONFIG_DIR / name).equals(
            pq.read_table(run / CONFIG_DIR / name)
        ), name
    expected = json.loads((run / "simulation.json").read_text())["inbound"]["numbers"]
    run_analysis("inbound", dataset, tmp_path / "out")
    found = pq.read_table(tmp_path / "out" / NUMBERS_CHECK_FILE).to_pandas()
    assert dict(zip(found["phone_number"], found["verdict"], strict=True)) == expected
