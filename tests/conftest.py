"""Shared fixtures: every test runs with a clean, isolated environment."""

from __future__ import annotations

import os

import pytest

_KEEP = {"PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH", "VIRTUAL_ENV", "SYSTEMROOT"}


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Drop every variable that could change behaviour (Twilio credentials, edges, ...)."""
    for name in list(os.environ):
        if name not in _KEEP and (name.startswith(("TWILIO_", "ANALYZER_")) or name in {"COLUMNS"}):
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "200")
