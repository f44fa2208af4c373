"""Command-line options built from analyzer.options.SETTINGS: flags, help, checks and
environment variables are declared there once; these are their Typer forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from analyzer.options import SETTINGS


def _callback(name: str) -> Callable[[Any], Any]:
    check = SETTINGS[name].check

    def validate(value: Any) -> Any:
        if value is None or value == []:
            return value
        try:
            checked = check(value)
        except (TypeError, ValueError) as exc:
            raise typer.BadParameter(str(exc)) from None
        # Typer hands the callback's value to the command: keep the command's own type
        # for texts and paths, take the checked value for numbers and days.
        return checked if isinstance(value, str) and not isinstance(checked, str | Path) else value

    return validate


def option(
    name: str,
    *,
    envvar: bool = False,
    validate: bool = True,
    help: str | None = None,
    **extra: Any,
) -> Any:
    """The Typer option of setting ``name`` (reading its variable too with ``envvar``).

    With ``validate``, a bad value is a usage error; without, the library refuses it
    when the command runs (one line, for settings whose errors must stay one line).
    """
    setting = SETTINGS[name]
    if validate:
        extra["callback"] = _callback(name)
    return typer.Option(
        *setting.flags,
        help=help or setting.help,
        envvar=setting.env if envvar else None,
        **extra,
    )


# Options that mean the same in several commands. A command whose settings have their
# own precedence (nightly: command line, then environment, then file) defaults them to None.
ServerLogOption = Annotated[list[str] | None, option("server_log")]
LogFormatOption = Annotated[str | None, option("log_format")]
LogTzOption = Annotated[str | None, option("log_tz")]
LogFieldOption = Annotated[list[str] | None, option("log_field")]
WindowOption = Annotated[float | None, option("window")]
KeyOption = Annotated[list[str] | None, option("key")]
SkewOption = Annotated[float | None, option("skew")]
ToleranceOption = Annotated[float | None, option("tolerance")]
ApiBaseUrlOption = Annotated[str | None, option("api_base_url", envvar=True, validate=False)]
QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bars (for cron).", envvar="ANALYZER_QUIET"),
]
StartOption = Annotated[
    str | None, typer.Option("--start", help="First UTC day (YYYY-MM-DD) to read.")
]
EndOption = Annotated[str | None, typer.Option("--end", help="Last UTC day (YYYY-MM-DD) to read.")]
