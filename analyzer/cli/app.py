"""The Typer application: short usage errors, one error path, progress bars."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version as package_version
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperGroup

from analyzer.errors import UserError, failure
from analyzer.redact import scrub_secrets

# Typer raises click's exceptions: click's own or, in newer Typer, those of its bundled copy.
_click_exceptions = sys.modules[typer.BadParameter.__module__]


class _ShortErrors(TyperGroup):
    """Usage errors as two plain lines on stderr (the error, where to find help), exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _short_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _short_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _short_usage_errors() -> Iterator[None]:
    try:
        yield
    except _click_exceptions.UsageError as exc:
        help_only: Any = getattr(_click_exceptions, "NoArgsIsHelpError", ())  # click >= 8.2
        if isinstance(exc, help_only):
            typer.echo(exc.format_message())  # `analyzer` alone: the help, on stdout
            raise typer.Exit(code=exc.exit_code) from None
        typer.echo(f"analyzer: error: {scrub_secrets(exc.format_message())}", err=True)
        if exc.ctx is not None:
            typer.echo(f"Try '{exc.ctx.command_path} --help' for help.", err=True)
        raise typer.Exit(code=exc.exit_code) from None


app = typer.Typer(
    name="analyzer",
    help="Find duplicate SMS in Twilio Programmable Messaging logs and show who caused them.",
    cls=_ShortErrors,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: rich markup would eat [dask], [default: ...] and show <bool> for flags.
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"analyzer {package_version('analyzer')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Find duplicate SMS in Twilio Programmable Messaging logs and show who caused them."""


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn errors into one line on stderr and an exit code, never a traceback."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except (Exception, KeyboardInterrupt) as exc:
        unexpected = not isinstance(exc, UserError | KeyboardInterrupt)
        if unexpected and os.environ.get("ANALYZER_DEBUG"):
            raise
        code, line = failure(exc, scrub_secrets)
        shown = f"error: {line}" if isinstance(exc, UserError) else line
        typer.echo(f"analyzer: {shown}", err=True)
        raise typer.Exit(code=code) from None


class BarFeedback:
    """Shows a job's steps as rich progress bars (records read per step)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("Starting", total=None)

    def step(self, name: str, total: int | None = None) -> None:
        # A fresh task: reset() keeps the old total when given None, and a step of
        # unknown size must not show the previous step's count as its goal.
        self.progress.remove_task(self.task)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, amount: int) -> None:
        self.progress.advance(self.task, amount)


def progress_bars(quiet: bool) -> Progress:
    """Progress bars on stderr; none when quiet or when stderr is not a terminal."""
    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )
