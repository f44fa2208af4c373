"""What `analyzer detect` is given: day ranges, and request logs it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.store import write_messages

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"
runner = CliRunner()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dataset")
    write_messages(folder, pq.read_table(SAMPLE / "messages.parquet"))
    return folder


@pytest.mark.parametrize(
    "bounds",
    [
        ["--start", "2026-11-29T23:00:00Z"],
        ["--end", "2026-11-29 12:30"],
        ["--start", "2026-11-29T00:00:00+01:00"],
    ],
)
def test_a_time_of_day_is_refused_not_widened_to_its_day(
    dataset: Path, tmp_path: Path, bounds: list[str]
) -> None:
    result = runner.invoke(app, ["detect", str(dataset), "--out", str(tmp_path), "-q", *bounds])
    assert result.exit_code == 2, result.output
    assert "is not a whole UTC day" in result.output
    assert not (tmp_path / "summary.json").exists()


def test_whole_days_with_or_without_midnight_select_the_same(dataset: Path, tmp_path: Path) -> None:
    plain = runner.invoke(
        app, ["detect", str(dataset), "-o", str(tmp_path / "a"), "-q", "--start", "2026-11-29"]
    )
    midnight = runner.invoke(
        app,
        ["detect", str(dataset), "-o", str(tmp_path / "b"), "-q", "--start", "2026-11-29T00:00Z"],
    )
    assert plain.exit_code == midnight.exit_code == 0, plain.output + midnight.output
    a, b = (json.loads((tmp_path / n / "summary.json").read_text()) for n in ("a", "b"))
    assert a["duplicate_clusters"] == b["duplicate_clusters"] > 0


@pytest.mark.parametrize(
    ("content", "options", "warning"),
    [
        ("", [], "is empty"),
        ("not a log line at all\n" * 50, ["--log-format", "combined"], "could be read as combined"),
    ],
    ids=["empty", "wrong-format"],
)
def test_an_unusable_log_is_warned_about_everywhere(
    tmp_path: Path, content: str, options: list[str], warning: str
) -> None:
    log = tmp_path / "requests.log"
    log.write_text(content)
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        ["detect", str(SAMPLE / "messages.parquet"), "-o", str(out), "-q"]
        + ["--server-log", str(log), *options],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("analyzer: warning:")]
    assert any(str(log) in line and warning in line for line in lines), result.output
    summary = json.loads((out / "summary.json").read_text())
    assert any(warning in w for w in summary["warnings"])
    report = tmp_path / "report"
    assert runner.invoke(app, ["report", str(out), "-o", str(report)]).exit_code == 0
    assert warning in (report / "index.html").read_text()


class _Steps:
    """A Feedback that records each step's name, total and the work reported in it."""

    def __init__(self) -> None:
        self.steps: list[list] = []

    def step(self, name: str, total: int | None = None) -> None:
        self.steps.append([name, total, 0])

    def advance(self, amount: int) -> None:
        self.steps[-1][2] += amount


def test_each_step_counts_its_own_work(tmp_path: Path) -> None:
    from analyzer.pipeline import run_detect

    log = SAMPLE / "server_requests.jsonl"
    feedback = _Steps()
    run_detect(SAMPLE / "messages.parquet", tmp_path, server_logs=[log], feedback=feedback)
    steps = {name: (total, done) for name, total, done in feedback.steps}
    lines = sum(1 for _ in log.open())
    assert steps["Reading server logs (lines)"] == (None, lines)
    assert steps["Cross-referencing"] == (None, 0)
    finding = [v for k, v in steps.items() if k.startswith("Finding duplicates")]
    assert finding and all(total == done for total, done in finding)


def test_the_progress_bar_does_not_keep_the_previous_total() -> None:
    from rich.progress import Progress

    from analyzer.cli import BarFeedback

    with Progress(disable=True) as progress:
        bar = BarFeedback(progress)
        bar.step("Finding duplicates", 3000)
        bar.advance(3000)
        bar.step("Reading server logs (lines)")
        bar.advance(250)
        (task,) = progress.tasks
        assert (task.description, task.total, task.completed) == (
            "Reading server logs (lines)", None, 250
        )  # fmt: skip


SHARED = ("--server-log", "--log-format", "--log-tz", "--log-field", "--tolerance", "--window")


@pytest.mark.parametrize("option", SHARED)
def test_an_option_means_the_same_in_every_command(option: str) -> None:
    import typer.main

    group = typer.main.get_command(app)  # Typer may bundle its own click: no isinstance
    helps = {}
    for name in ("detect", "investigate", "nightly"):
        command = group.commands[name]  # type: ignore[attr-defined]
        (param,) = [p for p in command.params if option in getattr(p, "opts", [])]
        helps[name] = param.help
    assert len(set(helps.values())) == 1, helps
