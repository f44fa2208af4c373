"""Errors that mean the user has to change something, and every exit code."""

from __future__ import annotations

from collections.abc import Callable

#: Exit codes of every command.
EXIT_OK = 0
#: An unexpected failure (a bug, or a service that kept failing after the retries).
EXIT_FAILURE = 1
#: A user error: input, path, settings or credentials.
EXIT_USER = 2
#: nightly: done, but the duplicate rate is above the threshold.
EXIT_THRESHOLD = 3
#: nightly: another run holds the lock (EX_TEMPFAIL: cron may try again).
EXIT_LOCKED = 75
#: Interrupted (Ctrl-C), as shells report SIGINT.
EXIT_INTERRUPTED = 130


class UserError(Exception):
    """An error caused by input or configuration; the CLI shows it as one line, exit 2."""

    exit_code: int = EXIT_USER


class SchemaError(UserError):
    """Data that cannot be coerced into the canonical message schema."""


class InputError(UserError):
    """A missing, unreadable or empty input."""


def failure(exc: BaseException, scrub: Callable[[str], str]) -> tuple[int, str]:
    """The exit code and the one line (secrets scrubbed) for an error that ended a command."""
    if isinstance(exc, UserError):
        return exc.exit_code, scrub(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED, "interrupted"
    text = str(exc)
    first = scrub(text.splitlines()[0]) if text else ""
    return (
        EXIT_FAILURE,
        f"unexpected error: {type(exc).__name__}: {first} (set ANALYZER_DEBUG=1 for a traceback)",
    )
