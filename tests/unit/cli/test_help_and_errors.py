"""The CLI's own surface: help texts, --version, shell completion, usage errors, numbers
and output folders (issue 11)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import typer
from typer.testing import CliRunner

from analyzer.atomic import ensure_output_dir
from analyzer.cli import app
from analyzer.errors import InputError
from analyzer.paths import check_output_outside
from analyzer.store import write_messages

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample" / "messages.parquet"
COMPLAINTS = ROOT / "data" / "sample" / "complaints.csv"
COMMANDS = ["simulate", "detect", "report", "investigate", "nightly", "export", "import"]
runner = CliRunner()


def _one_error_line(result, text: str) -> str:  # type: ignore[no-untyped-def]
    """The run failed with exit 2 and exactly one line on stderr, containing ``text``."""
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("analyzer: error:") and text in lines[0], lines[0]
    assert "Traceback" not in result.output + result.stderr
    return str(lines[0])


def _usage_error(result, command: str, *texts: str) -> None:  # type: ignore[no-untyped-def]
    """A usage error: exit 2, nothing on stdout, two plain lines on stderr."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert lines[0].startswith("analyzer: error: ")
    for text in texts:
        assert text in lines[0], lines[0]
    assert lines[1] == f"Try '{command} --help' for help."
    assert not any(box in result.stderr for box in "╭│╰─")
    assert "Usage:" not in result.stderr


# ------------------------------------------------------------------------ help texts


def test_detect_help_keeps_square_brackets_and_defaults() -> None:
    result = runner.invoke(app, ["detect", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.stdout.split())  # help is wrapped to the terminal
    assert "pip install -e '.[dask]'" in text
    assert "[default: a local cluster]" in text
    assert "[default: 60.0]" in text
    assert "[default: pandas]" in text
    assert "[env var: DASK_SCHEDULER_ADDRESS]" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_every_bracketed_help_text_survives(command: str) -> None:
    """`[yesterday]`, `[60]`, `.[dask]`...: whatever an option's help has in brackets."""
    params = typer.main.get_command(app).commands[command].params  # type: ignore[attr-defined]
    helps = [getattr(param, "help", None) or "" for param in params]
    bracketed = [found for text in helps for found in re.findall(r"\[[^\]]*\]", text)]
    result = runner.invoke(app, [command, "--help"])
    assert result.exit_code == 0
    shown = "".join(result.stdout.split())  # help is wrapped (at spaces and hyphens)
    for text in bracketed:
        assert "".join(text.split()) in shown, text


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS)])
def test_help_shows_no_placeholder_for_flags_and_no_boxes(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "--help" in result.stdout
    assert "<bool>" not in result.stdout
    assert not any(box in result.stdout for box in "╭│╰")


def test_no_arguments_prints_the_help() -> None:
    result = runner.invoke(app, [])
    assert result.exit_code == 2
    assert result.stdout.startswith("Usage: analyzer [OPTIONS] COMMAND [ARGS]...")
    assert "Commands:" in result.stdout and result.stderr == ""


def test_root_help_lists_version_and_completion() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for option in ("--version", "--install-completion", "--show-completion"):
        assert option in result.stdout
    for command in COMMANDS:
        assert command in result.stdout


# ---------------------------------------------------------------- version, completion


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.stdout == f"analyzer {version('analyzer')}\n"


def test_version_through_python_dash_m() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"analyzer {version('analyzer')}"


def test_show_completion_prints_a_bash_script() -> None:
    env = {**os.environ, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "--show-completion", "bash"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "_ANALYZER_COMPLETE" in proc.stdout
    assert "complete " in proc.stdout


def test_install_completion_writes_the_script_into_home(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "HOME": str(tmp_path),
        "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "--install-completion", "bash"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    script = tmp_path / ".bash_completions" / "analyzer.sh"
    assert "_ANALYZER_COMPLETE" in script.read_text()
    assert f"source '{script}'" in (tmp_path / ".bashrc").read_text()


def test_completion_completes_commands_and_options() -> None:
    def complete(words: str) -> str:
        env = {
            **os.environ,
            "_ANALYZER_COMPLETE": "complete_bash",
            "COMP_WORDS": words,
            "COMP_CWORD": str(len(words.split()) - 1),
        }
        proc = subprocess.run(
            [sys.executable, "-m", "analyzer"], capture_output=True, text=True, env=env
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert complete("analyzer det").split() == ["detect"]
    assert "--tolerance" in complete("analyzer detect --tol").split()


# ------------------------------------------------------------------------ usage errors


@pytest.mark.parametrize(
    ("args", "command", "texts"),
    [
        (["detect", "x", "-o", "y", "--window", "-5"], "analyzer detect", ["--window", "-5"]),
        (["detect", "x", "-o", "y", "--window", "abc"], "analyzer detect", ["--window"]),
        (["detect", "x", "-o", "y", "--bogus"], "analyzer detect", ["--bogus"]),
        (["detect"], "analyzer detect", ["Missing argument"]),
        (["report", "x"], "analyzer report", ["--out"]),
        (["investigate", "x", "--before-hours", "soon"], "analyzer investigate", ["--before"]),
        (["simulate", "--out", "x", "--messages", "0"], "analyzer simulate", ["--messages"]),
        (["nightly", "--bogus"], "analyzer nightly", ["--bogus"]),
        (
            ["export", "-o", "x", "--start", "2026-01-01", "--concurrency", "0"],
            "analyzer export",
            ["--concurrency"],
        ),
        (["import", "f.csv", "--out", "x", "--bogus"], "analyzer import", ["--bogus"]),
        (["--bogus"], "analyzer", ["--bogus"]),
        (["bogus"], "analyzer", ["bogus"]),
    ],
)
def test_usage_errors_are_two_plain_lines(args: list[str], command: str, texts: list[str]) -> None:
    _usage_error(runner.invoke(app, args), command, *texts)


def test_usage_error_from_the_installed_script_is_short() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "analyzer", "detect", "x", "--window", "-5"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [
        "analyzer: error: Invalid value for '--window' / '-w': expected a finite number "
        "from 0 to 86400 seconds, got -5",
        "Try 'analyzer detect --help' for help.",
    ]


# ----------------------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    ("option", "value", "text"),
    [
        ("--window", "nan", "finite"),
        ("--window", "inf", "finite"),
        ("--window", "-1", "from 0 to 86400"),
        ("--skew", "nan", "finite"),
        ("--skew", "-inf", "finite"),
        ("--skew", "1e300", "from -86400 to 86400"),
        ("--tolerance", "nan", "finite"),
        ("--tolerance", "-3", "from 0 to 3600"),
        ("--tolerance", "1e300", "from 0 to 3600"),
    ],
)
def test_detect_refuses_bad_numbers(tmp_path: Path, option: str, value: str, text: str) -> None:
    result = runner.invoke(
        app, ["detect", str(SAMPLE), "-o", str(tmp_path / "o"), "-q", f"{option}={value}"]
    )
    _usage_error(result, "analyzer detect", option, text)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("option", "value", "text"),
    [
        ("--skew", "nan", "finite"),
        ("--before-hours", "nan", "finite"),
        ("--before-hours", "-1", "from 0 to 87840"),
        ("--before-hours", "1e300", "to 87840 hours"),
        ("--after-minutes", "inf", "finite"),
        ("--after-minutes", "1e300", "to 5270400 minutes"),
    ],
)
def test_investigate_refuses_bad_numbers(option: str, value: str, text: str) -> None:
    args = ["investigate", str(SAMPLE), "--complaints", str(COMPLAINTS), f"{option}={value}"]
    _usage_error(runner.invoke(app, args), "analyzer investigate", option, text)


def test_numbers_at_the_limits_are_accepted(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["detect", str(SAMPLE), "-o", str(tmp_path), "-q", "--window", "0", "--tolerance", "0"],
    )
    assert result.exit_code == 0, result.output
    args = ["investigate", str(SAMPLE), "--complaints", str(COMPLAINTS)]
    result = runner.invoke(app, [*args, "--before-hours", "0", "--after-minutes", "0"])
    assert result.exit_code == 0, result.output


# ---------------------------------------------------------------------- output folders


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    folder = tmp_path / "ds"
    write_messages(folder, pq.read_table(SAMPLE))
    return folder


def _files(folder: Path) -> list[Path]:
    return sorted(p.relative_to(folder) for p in folder.rglob("*"))


@pytest.mark.parametrize("inside", [".", "results", "date=2026-11-29/results"])
def test_detect_refuses_an_output_folder_inside_the_dataset(dataset: Path, inside: str) -> None:
    before = _files(dataset)
    out = dataset / inside
    result = runner.invoke(app, ["detect", str(dataset), "--out", str(out), "-q"])
    _one_error_line(result, "input dataset")
    assert _files(dataset) == before


def test_investigate_refuses_an_output_folder_inside_the_dataset(dataset: Path) -> None:
    before = _files(dataset)
    args = ["investigate", str(dataset), "--complaints", str(COMPLAINTS)]
    result = runner.invoke(app, [*args, "--out", str(dataset / "inv")])
    _one_error_line(result, "inside the input dataset")
    assert _files(dataset) == before


def test_detect_writes_beside_the_dataset(dataset: Path) -> None:
    out = dataset.parent / "ds-results"
    result = runner.invoke(app, ["detect", str(dataset), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    assert (out / "clusters.parquet").exists()


def test_check_output_outside(tmp_path: Path, dataset: Path) -> None:
    check_output_outside(tmp_path / "elsewhere", dataset)
    check_output_outside(tmp_path / "ds-2", dataset)  # a sibling that shares the prefix
    check_output_outside(tmp_path / "out", SAMPLE)  # a Parquet file has no inside
    with pytest.raises(InputError, match="is the input dataset"):
        check_output_outside(dataset / ".." / "ds", dataset)
    link = tmp_path / "link"
    link.symlink_to(dataset)
    with pytest.raises(InputError, match="inside the input dataset"):
        check_output_outside(link / "results", dataset)


@pytest.fixture
def detected(tmp_path: Path) -> Path:
    out = tmp_path / "detected"
    result = runner.invoke(app, ["detect", str(SAMPLE), "--out", str(out), "-q"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("under", [False, True])
def test_an_existing_file_as_output_folder_is_refused(
    tmp_path: Path, detected: Path, under: bool
) -> None:
    a_file = tmp_path / "taken"
    a_file.write_text("keep me")
    out = a_file / "sub" if under else a_file
    runs = [
        ["detect", str(SAMPLE), "--out", str(out), "-q"],
        ["report", str(detected), "--out", str(out)],
        ["investigate", str(SAMPLE), "--complaints", str(COMPLAINTS), "--out", str(out)],
    ]
    for args in runs:
        line = _one_error_line(runner.invoke(app, args), str(out if not under else a_file))
        assert "not a folder" in line
    assert a_file.read_text() == "keep me"


def test_ensure_output_dir(tmp_path: Path) -> None:
    out = tmp_path / "a" / "b"
    assert ensure_output_dir(out, create=False) == out
    assert not out.exists()
    assert ensure_output_dir(out) == out and out.is_dir()
    assert ensure_output_dir(str(out)) == out  # an existing folder is fine
    a_file = tmp_path / "f"
    a_file.write_text("")
    for create in (True, False):
        with pytest.raises(InputError, match=f"{a_file} exists and is not a folder"):
            ensure_output_dir(a_file, create=create)
        with pytest.raises(InputError, match="cannot create the output folder"):
            ensure_output_dir(a_file / "x", create=create)


def test_ensure_output_dir_refuses_a_read_only_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    if os.geteuid() == 0:  # root may write anywhere: let the OS answer as for anyone else
        real_access = os.access
        monkeypatch.setattr(
            os, "access", lambda p, mode: Path(p) != locked and real_access(p, mode)
        )
    try:
        with pytest.raises(InputError, match="cannot write into the output folder"):
            ensure_output_dir(locked)
        for create in (True, False):
            with pytest.raises(InputError, match=f"{locked} is not writable"):
                ensure_output_dir(locked / "new", create=create)
        assert not (locked / "new").exists()
    finally:
        locked.chmod(0o700)


# -------------------------------------------------------------------------- packaging


def test_pyproject_uses_an_spdx_license_expression() -> None:
    """`license = {text = ...}` makes setuptools >= 77 print a warning per build step."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert pyproject["project"]["license"] == "MIT"
    requires = pyproject["build-system"]["requires"]
    assert any(r.replace(" ", "").startswith("setuptools>=77") for r in requires), requires
