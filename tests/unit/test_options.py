"""Settings are declared once: the CLI, nightly and the API check and describe them alike."""

from __future__ import annotations

from dataclasses import fields

import pytest
import typer.main

from analyzer.cli import app
from analyzer.errors import UserError
from analyzer.nightly import ENV, NightlyConfig, load_config
from analyzer.options import (
    DEFAULT_KEY,
    SETTINGS,
    DetectOptions,
    InvestigateOptions,
    LogOptions,
    checked,
)


def _options(command: str) -> dict[str, str]:
    """The help of each option of a command, by its first flag."""
    click_command = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.opts[0]: p.help for p in click_command.params if getattr(p, "help", None)}


@pytest.mark.parametrize(
    "flag", ["--server-log", "--log-format", "--log-tz", "--log-field", "--window", "--tolerance"]
)
def test_a_shared_option_reads_the_same_in_every_command(flag: str) -> None:
    helps = {command: _options(command).get(flag) for command in ("detect", "investigate")}
    helps["nightly"] = _options("nightly").get(flag)
    assert len(set(helps.values())) == 1 and None not in helps.values(), helps


def test_nightly_reads_the_variables_the_settings_declare() -> None:
    assert {
        f.name: SETTINGS[f.name].env for f in fields(NightlyConfig) if SETTINGS[f.name].env
    } == ENV
    assert set(ENV) == {f.name for f in fields(NightlyConfig)}


@pytest.mark.parametrize(
    ("name", "value"),
    [("window", 86_401), ("window", float("nan")), ("tolerance", -1), ("skew", 1e9)],
)
def test_one_limit_for_the_cli_the_api_and_nightly(name: str, value: float) -> None:
    with pytest.raises(UserError, match=f"bad value for {name}"):
        checked(name, value)
    config = {"dataset": "/d", "reports": "/r"}
    if name in ENV:
        with pytest.raises(UserError, match=f"bad value for {name}"):
            load_config({**config, name: value}, {})
    built = {"skew": lambda: DetectOptions(skew=value)}.get(
        name, lambda: DetectOptions(**{name: value})
    )
    with pytest.raises(UserError, match=f"bad value for {name}"):
        built()


def test_detect_options_compose_the_key() -> None:
    options = DetectOptions(window=10, extra_key=("from", "to"))
    assert options.key == (*DEFAULT_KEY, "from")
    assert DetectOptions().key == DEFAULT_KEY


def test_log_options_from_paths_and_their_checks() -> None:
    assert LogOptions.of(["a.jsonl", "b.log"]).paths == ("a.jsonl", "b.log")
    assert LogOptions.of("a.jsonl").format == "auto"
    assert LogOptions(fields=("to=recipient",)).field_map == {"to": "recipient"}
    with pytest.raises(UserError, match="log_format"):
        LogOptions(format="nginx")
    with pytest.raises(UserError, match="log_tz"):
        LogOptions(tz="Mars/Olympus")
    with pytest.raises(UserError, match="NAME=FIELD"):
        LogOptions(fields=("recipient",))


def test_investigate_options_check_the_search_span() -> None:
    from datetime import timedelta

    with pytest.raises(UserError, match="before_hours"):
        InvestigateOptions(before=timedelta(days=4000))
    assert InvestigateOptions(window=None).window is None
