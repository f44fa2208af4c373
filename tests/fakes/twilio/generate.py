"""Plausible message records for the fake to serve (seeded, reproducible)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.schema import MESSAGE_SCHEMA
from tests.fakes.twilio.credentials import ACCOUNT_SID

# The draws below come from one generator in a fixed order: records a seed gave before
# must stay the same, so steps are not reordered.


@dataclass
class _Times:
    """Epoch seconds of each record's dates, and which records were never sent."""

    created: np.ndarray
    sent: np.ndarray
    unsent: np.ndarray
    updated: np.ndarray


def generate_messages(
    n: int,
    start: datetime,
    end: datetime,
    *,
    account_sids: Iterable[str] = (ACCOUNT_SID,),
    seed: int = 0,
    unsent_fraction: float = 0.02,
    max_send_delay: int = 30,
) -> pa.Table:
    """Make ``n`` plausible message records created in [start, end), message schema, no source.

    date_sent is date_created plus 0..max_send_delay s, null for a fraction (queued/failed).
    """
    rng = np.random.default_rng(seed)
    accounts = np.array(list(account_sids), dtype=object)
    times = _draw_times(rng, n, start, end, unsent_fraction, max_send_delay)
    sids = _draw_sids(rng, n)
    statuses = _draw_statuses(rng, n, times.unsent)
    direction = np.where(statuses == "received", "inbound", "outbound-api").astype(object)
    error = np.where(statuses == "undelivered", 30003, np.where(statuses == "failed", 30007, 0))
    segments = rng.integers(1, 4, n)
    to, frm = _draw_parties(rng, n, inbound=direction == "inbound")
    bodies = _draw_bodies(rng)
    columns = {
        "sid": pa.array(sids, pa.string()),
        "account_sid": pa.array(rng.choice(accounts, n), pa.string()),
        "messaging_service_sid": pc.if_else(
            pa.array(rng.random(n) < 0.7), "MG" + "d4" * 16, pa.scalar(None, pa.string())
        ),
        "from": pa.array(frm, pa.string()),
        "to": pa.array(to, pa.string()),
        "body": pa.array(rng.choice(bodies, n), pa.string()),
        "status": pa.array(statuses, pa.string()),
        "direction": pa.array(direction, pa.string()),
        "error_code": pc.if_else(
            pa.array(error == 0), pa.scalar(None, pa.int64()), pa.array(error, pa.int64())
        ),
        "error_message": pa.array([None] * n, pa.string()),
        "num_segments": pa.array(segments, pa.int64()),
        "num_media": pa.array(
            np.where(np.char.startswith(sids.astype(str), "MM"), 1, 0), pa.int64()
        ),
        "price": _prices(segments, times.unsent),
        "price_unit": pa.array(["USD"] * n, pa.string()),
        "api_version": pa.array(["2010-04-01"] * n, pa.string()),
        "date_created": _timestamps(times.created),
        "date_sent": _timestamps(times.sent, times.unsent),
        "date_updated": _timestamps(times.updated),
        "source": pa.array([None] * n, pa.string()),
    }
    return pa.table(columns, schema=MESSAGE_SCHEMA)


def _draw_times(
    rng: np.random.Generator,
    n: int,
    start: datetime,
    end: datetime,
    unsent_fraction: float,
    max_send_delay: int,
) -> _Times:
    t0, t1 = int(start.timestamp()), int(end.timestamp())
    created = rng.integers(t0, t1, n)
    sent = created + rng.integers(0, max_send_delay + 1, n)
    unsent = rng.random(n) < unsent_fraction
    updated = np.where(unsent, created, sent) + rng.integers(0, 10, n)
    return _Times(created, sent, unsent, updated)


def _draw_sids(rng: np.random.Generator, n: int) -> np.ndarray:
    """``SM<32 hex>``, or ``MM<32 hex>`` for one in twenty (messages with media)."""
    hexes = np.frombuffer(rng.bytes(16 * n).hex().encode(), dtype="S32").astype(str)
    return np.char.add(np.where(rng.random(n) < 0.05, "MM", "SM"), hexes).astype(object)


def _draw_statuses(rng: np.random.Generator, n: int, unsent: np.ndarray) -> np.ndarray:
    statuses = rng.choice(
        np.array(["delivered", "sent", "undelivered", "received"], dtype=object),
        n,
        p=[0.8, 0.1, 0.05, 0.05],
    )
    return np.where(unsent, rng.choice(np.array(["queued", "failed"], dtype=object), n), statuses)


def _draw_parties(
    rng: np.random.Generator, n: int, *, inbound: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """To and From: one of many customer numbers and one of our two (swapped inbound)."""
    numbers = np.array(
        [f"+1555{k:07d}" for k in rng.integers(0, 10_000_000, max(n // 4, 1))], dtype=object
    )
    ours = np.array(["+15005550006", "+15005550007"], dtype=object)
    to = rng.choice(numbers, n)
    frm = rng.choice(ours, n)
    return np.where(inbound, frm, to), np.where(inbound, to, frm)


def _draw_bodies(rng: np.random.Generator) -> np.ndarray:
    """Fifty verification codes and a few texts that are awkward to quote."""
    return np.array(
        [f"Your code is {k:06d}" for k in rng.integers(0, 1_000_000, 50)]
        + ["Hello! 👍", 'Line one\nline "two", comma', "Ünïcödé ✓"],
        dtype=object,
    )


def _prices(segments: np.ndarray, unsent: np.ndarray) -> pa.Array:
    """US prices by segment count, as Twilio writes them; none for unsent records."""
    price_text = np.array(["-0.00790", "-0.01580", "-0.02370"], dtype=object)[segments - 1]
    prices = pa.array(price_text.tolist(), pa.string()).cast(pa.float64())
    return pc.if_else(pa.array(unsent), pa.scalar(None, pa.float64()), prices)


def _timestamps(values: np.ndarray, null: np.ndarray | None = None) -> pa.Array:
    arr = pa.array(values.astype("datetime64[s]"), pa.timestamp("s"))
    if null is not None:
        arr = pc.if_else(pa.array(null), pa.scalar(None, arr.type), arr)
    return arr.cast(pa.timestamp("us")).cast(pa.timestamp("us", tz="UTC"))
