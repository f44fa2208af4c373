"""pytest fixtures of the fake Twilio."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.twilio.server import FakeTwilio


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A started FakeTwilio with no records (call ``.load()``)."""
    with FakeTwilio() as server:
        yield server
