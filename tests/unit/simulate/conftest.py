"""Simulated runs shared by the simulator's test modules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from analyzer.logs import read_server_logs
from analyzer.simulate import simulate
from tests.unit.simulate.helpers import ALL_FORMATS, RICH, load_run


@pytest.fixture(scope="package")
def rich_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rich")
    simulate(out, RICH)
    return out


@pytest.fixture(scope="package")
def rich(rich_dir: Path) -> dict[str, Any]:
    return load_run(rich_dir)


@pytest.fixture(scope="package")
def formats_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats")
    simulate(out, ALL_FORMATS)
    return out


@pytest.fixture(scope="package")
def parsed_jsonl(formats_dir: Path) -> Any:
    return read_server_logs(formats_dir / "server_requests.jsonl", format="jsonl")
