"""The failures analysis finds exactly what the simulator planted: the counts per code,
the jump on the last day, the recipients that always fail and the refused sends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyzer.analyses import AnalysisInput
from analyzer.cli import app
from analyzer.options import LogOptions
from analyzer.pipeline import run_analysis
from analyzer.results import FailuresSummary
from analyzer.simulate import SimulationConfig, simulate

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "sample"


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    root = tmp_path_factory.mktemp("week")
    result = simulate(
        root / "sim", SimulationConfig(messages=12_000, seed=5, days=6), dataset=root / "ds"
    )
    planted = json.loads((root / "sim" / "simulation.json").read_text())
    return root / "ds", result.requests_path, planted


def test_counts_per_code_and_status_are_the_planted_ones(week: tuple[Path, Path, dict]) -> None:
    dataset, log, planted = week
    result = run_analysis(
        "failures",
        dataset,
        dataset.parent / "out",
        AnalysisInput(dataset, logs=LogOptions.of([log])),
    )
    summary = result.summary
    assert isinstance(summary, FailuresSummary)
    assert summary.by_error_code == {
        code: n
        for code, n in sorted(
            planted["failures_by_error_code"].items(), key=lambda kv: (-kv[1], kv[0])
        )
    }
    assert {"failed": summary.failed, "undelivered": summary.undelivered} == planted[
        "failures_by_status"
    ]
    assert summary.rejected_requests is not None
    assert summary.rejected_requests.by_status == planted["rejected_requests"]["by_status"]
    assert summary.rejected_requests.by_error_code == planted["rejected_requests"]["by_error_code"]
    suppressed = set(result.detail["analysis"].suppress["recipient"])
    assert set(planted["permanent_failure_recipients"]) <= suppressed


def test_the_planted_jump_is_flagged_on_its_day_only(week: tuple[Path, Path, dict]) -> None:
    dataset, _log, planted = week
    jump = planted["failure_jump"]
    result = run_analysis("failures", dataset, dataset.parent / "jump", AnalysisInput(dataset))
    assert isinstance(result.summary, FailuresSummary)
    flagged = [(j.error_code, j.day, j.count) for j in result.summary.jumps]
    assert flagged == [(jump["error_code"], jump["day"], jump["total"])]
    one_day = run_analysis(
        "failures", dataset, dataset.parent / "day", AnalysisInput(dataset, day=_date(jump["day"]))
    )
    assert isinstance(one_day.summary, FailuresSummary)
    assert [j.day for j in one_day.summary.jumps] == [jump["day"]]
    assert int(one_day.summary.by_error_code[jump["error_code"]]) == jump["total"]


def test_the_sample_failures_match_its_description(tmp_path: Path) -> None:
    planted = json.loads((SAMPLE / "simulation.json").read_text())
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        [
            "failures",
            str(SAMPLE / "messages.parquet"),
            "-o",
            str(out),
            "-q",
            "--server-log",
            str(SAMPLE / "server_requests.jsonl"),
        ],  # fmt: skip
    )
    assert result.exit_code == 0, result.output
    summary = FailuresSummary.read(out / "failures_summary.json")
    assert summary.by_error_code == dict(
        sorted(planted["failures_by_error_code"].items(), key=lambda kv: (-kv[1], kv[0]))
    )
    assert summary.rejected_requests is not None
    assert summary.rejected_requests.rejected == planted["rejected_requests"]["rejected"]
    assert summary.jumps == []  # one day: no baseline, no jump


def _date(text: str):  # type: ignore[no-untyped-def]
    from datetime import date

    return date.fromisoformat(text)
