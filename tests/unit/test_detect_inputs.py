"""What `analyzer detect` is given: day ranges, and request logs it cannot use."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from analyzer.cli import app
from analyzer.store import write_messages

ROOT = Path(__file__).resolve().parents[2]
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
