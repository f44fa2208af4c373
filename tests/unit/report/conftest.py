"""Detect outputs the report tests read (built once for the package)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.pipeline import run_detect
from analyzer.report import build_report
from analyzer.simulate import simulate
from tests.unit.report.helpers import NONE, RICH


@pytest.fixture(scope="package")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, RICH)
    return out


@pytest.fixture(scope="package")
def with_logs(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect_logs")
    run_detect(sim / "messages.parquet", out, server_logs=[sim / "server_requests.jsonl"])
    return out


@pytest.fixture(scope="package")
def without_logs(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect_plain")
    run_detect(sim / "messages.parquet", out)
    return out


@pytest.fixture(scope="package")
def zero(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("sim0")
    simulate(data, NONE)
    out = tmp_path_factory.mktemp("detect0")
    run_detect(data / "messages.parquet", out, server_logs=[data / "server_requests.jsonl"])
    return out


@pytest.fixture(scope="package")
def report_logs(with_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report_logs")
    build_report(with_logs, out, ticket=True)
    return out
