"""The `analyzer` command line: a thin layer that parses arguments, calls the library
and prints. ``app`` holds the commands; each module below registers its own."""

from __future__ import annotations

from analyzer.cli import analyse, jobs
from analyzer.cli.app import BarFeedback, app, user_errors

__all__ = ["BarFeedback", "analyse", "app", "jobs", "main", "user_errors"]


def main() -> None:
    """Entry point of the console script and ``python -m analyzer``."""
    app(prog_name="analyzer")
