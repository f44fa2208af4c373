"""Errors that mean the user has to change something (input, path, settings)."""

from __future__ import annotations


class UserError(Exception):
    """An error caused by input or configuration; the CLI shows it as one line, exit 2."""

    exit_code: int = 2


class SchemaError(UserError):
    """Data that cannot be coerced into the canonical message schema."""


class InputError(UserError):
    """A missing, unreadable or empty input."""
