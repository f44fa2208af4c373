"""The account's phone numbers: recipients in several countries and the senders."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analyzer.errors import UserError
from analyzer.simulate.templates import split_digits
from analyzer.simulate.text import digits, join, pick

# (label, weight, price per segment, prefixes, digits after the prefix)
COUNTRIES: tuple[tuple[str, float, float, tuple[str, ...], int], ...] = (
    ("US", 0.60, 0.0079, (), 10),
    ("GB", 0.10, 0.0463, ("+447",), 9),
    ("DE", 0.07, 0.0827, tuple(f"+49{p}" for p in (151, 152, 157, 159, 160, 162, 163,
                                                   170, 171, 172, 173, 174, 175, 176,
                                                   177, 178, 179)), 8),
    ("FR", 0.06, 0.0804, ("+336", "+337"), 8),
    ("AU", 0.06, 0.0515, ("+614",), 8),
    ("IN", 0.06, 0.0832, ("+919",), 9),
    ("BR", 0.05, 0.0612, ("+55119",), 8),
)  # fmt: skip
PRICE_PER_SEGMENT = np.array([c[2] for c in COUNTRIES])
MMS_PRICE = 0.0200
_US_SPACE = 800 * 800 * 10_000  # area 200-999, exchange 200-999, line 0000-9999


def _space(country: int) -> int:
    _, _, _, prefixes, width = COUNTRIES[country]
    if not prefixes:
        return _US_SPACE
    low = 10 ** (width - 1) if prefixes[0] in ("+447", "+919") else 0
    return len(prefixes) * (10**width - low)


def _format_numbers(country: int, values: np.ndarray) -> pa.Array:
    _, _, _, prefixes, width = COUNTRIES[country]
    if not prefixes:
        line, exchange, area = split_digits(values, 10_000, 800)
        return join(["+1", digits(area + 200, 3), digits(exchange + 200, 3), digits(line, 4)])
    low = 10 ** (width - 1) if prefixes[0] in ("+447", "+919") else 0
    number, prefix = split_digits(values, 10**width - low)
    return join([pick(prefix, prefixes), digits(number + low, width)])


def _unique_draw(rng: np.random.Generator, n: int, space: int) -> np.ndarray:
    """n distinct integers from [0, space), in random order."""
    if n > space // 2:
        raise UserError(f"cannot draw {n} distinct phone numbers")
    values = np.unique(rng.integers(0, space, size=n + n // 8 + 16))
    while values.size < n:
        values = np.unique(np.concatenate([values, rng.integers(0, space, size=n)]))
    values = values[rng.permutation(values.size)[:n]]
    return values


@dataclass
class PhoneNumbers:
    """The recipients (by country) and the senders (by route) of one simulation."""

    recipients: pa.Array  # E.164 strings, country blocks in COUNTRIES order
    block_ends: np.ndarray  # exclusive end of each country's block
    senders: pa.Array
    sender_service: np.ndarray  # service index per sender, -1 for a standalone number
    route_start: np.ndarray  # first sender of each route (services, then standalone)
    route_size: np.ndarray

    def country(self, idx: np.ndarray) -> np.ndarray:
        """The COUNTRIES index of each recipient index."""
        return np.searchsorted(self.block_ends, idx, side="right")


def draw_numbers(rng: np.random.Generator, pool: int, n_services: int) -> PhoneNumbers:
    """``pool`` recipients and the senders of ``n_services`` services and two lone numbers."""
    weights = np.array([c[1] for c in COUNTRIES])
    counts = rng.multinomial(pool, weights / weights.sum())
    counts[0] = max(counts[0], 1)
    service_sizes = rng.integers(3, 9, size=n_services)
    n_standalone = 2
    n_us_senders = int(service_sizes.sum()) + n_standalone - 1
    blocks: list[pa.Array] = []
    us_senders: pa.Array | None = None
    gb_sender: pa.Array | None = None
    for k in range(len(COUNTRIES)):
        extra = n_us_senders if k == 0 else (1 if k == 1 else 0)
        values = _unique_draw(rng, int(counts[k]) + extra, _space(k))
        formatted = _format_numbers(k, values)
        blocks.append(formatted.slice(0, int(counts[k])))
        if k == 0:
            us_senders = formatted.slice(int(counts[k]))
        elif k == 1:
            gb_sender = formatted.slice(int(counts[k]))
    assert us_senders is not None and gb_sender is not None
    # The last service also sends from a UK number; the rest are US long codes.
    senders = pa.concat_arrays(
        [
            us_senders.slice(0, int(service_sizes.sum()) - 1),
            gb_sender,
            us_senders.slice(int(service_sizes.sum()) - 1),
        ]
    )
    route_size = np.concatenate([service_sizes, np.ones(n_standalone, dtype=np.int64)])
    route_start = np.concatenate([[0], np.cumsum(route_size)[:-1]])
    sender_service = np.repeat(
        np.concatenate([np.arange(n_services), np.full(n_standalone, -1)]), route_size
    )
    return PhoneNumbers(
        recipients=pa.concat_arrays(blocks),
        block_ends=np.cumsum(counts),
        senders=senders,
        sender_service=sender_service,
        route_start=route_start,
        route_size=route_size,
    )
