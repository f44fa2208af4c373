"""Deterministic simulator of a Twilio account's outbound messaging, with ground truth.

``simulate()`` writes, for one or more UTC days: the message records as Twilio holds
them, the application's JSON-lines log of its HTTP requests to Twilio, the ground truth
(which records are planted duplicates and who caused them), recipients' complaints and
a description of the run. Everything derives from one seed; no wall-clock time is used,
so a seed always gives byte-identical files. Generation is vectorized and the output is
written in chunks so that millions of messages fit in bounded memory.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from analyzer.errors import UserError
from analyzer.schema import MESSAGE_SCHEMA, TIMESTAMP, coerce_messages
from analyzer.store import write_messages
from analyzer.vocabulary import PLANTED_VERDICTS

SCENARIOS: tuple[str, ...] = (
    "normal",
    "app_retry_timeout",
    "double_submit",
    "queue_redelivery",
    "twilio_side",
    "carrier_side",
    "legit_repeat",
    "inbound",
    "media_only",
)
#: Scenarios whose records form a planted duplicate group (carrier_side: one record
#: in Twilio that the recipient received twice).
PLANTED: tuple[str, ...] = (
    "app_retry_timeout",
    "double_submit",
    "queue_redelivery",
    "twilio_side",
    "carrier_side",
)
VERDICTS: tuple[str, ...] = PLANTED_VERDICTS
API_VERSION = "2010-04-01"
SOURCE = "simulator"
#: Rows per written chunk (Parquet row group, JSON-lines batch).
CHUNK_ROWS = 1_000_000
#: Share of planted groups deliberately placed inside the log gap (at least one).
GAP_PLANTED_SHARE = 0.03
#: Share of app_retry_timeout groups whose failed attempts got a 5xx, not a timeout.
RETRY_5XX_SHARE = 0.05
#: Share of normal outbound records that are TwiML replies (no POST by the app).
REPLY_SHARE = 0.06
GET_SHARE = 0.02
MALFORMED_SHARE = 0.0001

(
    _NORMAL,
    _RETRY,
    _DOUBLE,
    _REDELIVERY,
    _TWILIO,
    _CARRIER,
    _LEGIT,
    _INBOUND,
    _MEDIA,
) = range(len(SCENARIOS))
_PLANTED_CODES = np.array([s in PLANTED for s in SCENARIOS])
_DAY_S = 86_400
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Rates are fractions of ``messages``: the number of groups
    (events) of each scenario is ``round(rate * messages)``; normal messages fill the
    rest so that ``messages`` records are written in total."""

    messages: int
    seed: int = 0
    start: datetime = datetime(2026, 11, 29, tzinfo=UTC)
    days: int = 1
    retry_rate: float = 0.004
    double_submit_rate: float = 0.003
    redelivery_rate: float = 0.001
    twilio_side_rate: float = 0.0005
    carrier_side_rate: float = 0.0005
    legit_repeat_rate: float = 0.02
    inbound_rate: float = 0.03
    media_only_rate: float = 0.01
    log_gap: tuple[time, time] | None = (time(2, 0), time(3, 10))
    clock_skew_seconds: float = 0.8
    #: Request log formats (LOG_FORMATS); the jsonl log is always written.
    log_formats: tuple[str, ...] = ("jsonl",)
    #: Spread the events evenly over this many seconds from the first day's midnight,
    #: instead of over ``days`` days with a daily curve (for a chosen send rate).
    span_seconds: int | None = None
    #: Answer each create with a Twilio-Request-Id that carries the created SID's hex
    #: digits, as public logs of the real service show (False: unrelated random ids).
    request_id_is_sid: bool = False


@dataclass
class SimulationResult:
    """Paths written and what was planted."""

    messages_path: Path
    requests_path: Path
    truth_path: Path
    complaints_path: Path
    metadata_path: Path
    records: dict[str, int] = field(default_factory=dict)
    groups: dict[str, int] = field(default_factory=dict)
    log_lines: int = 0
    complaints: int = 0
    #: Every request log written, by format (jsonl included).
    request_logs: dict[str, Path] = field(default_factory=dict)

    @property
    def paths(self) -> list[Path]:
        """Every file written."""
        extra = [p for fmt, p in self.request_logs.items() if fmt != "jsonl"]
        return [
            self.messages_path,
            self.requests_path,
            *extra,
            self.truth_path,
            self.complaints_path,
            self.metadata_path,
        ]


# --------------------------------------------------------------------------- strings

_DIGITS = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)


def _fixed(mat: np.ndarray) -> pa.Array:
    """Turn an (n, w) uint8 matrix of ASCII into a string array of width w."""
    n, width = mat.shape
    offsets = np.arange(n + 1, dtype=np.int64) * width
    data = np.ascontiguousarray(mat, dtype=np.uint8)
    if n * width < 2**31:
        return pa.Array.from_buffers(
            pa.string(), n, [None, pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(data)]
        )
    large = pa.Array.from_buffers(
        pa.large_string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )
    return large.cast(pa.string())


def _digits(values: np.ndarray, width: int, base: int = 10) -> pa.Array:
    """Zero-padded fixed-width rendering of non-negative integers (base 10 or 16)."""
    values = np.asarray(values, dtype=np.uint64)
    mat = np.empty((values.size, width), dtype=np.uint8)
    rest = values.copy()
    for j in range(width - 1, -1, -1):
        mat[:, j] = _DIGITS[(rest % base).astype(np.intp)]
        rest //= base
    return _fixed(mat)


def _hex_sids(raw: np.ndarray, prefix: np.ndarray) -> pa.Array:
    """SID strings from (n, 16) random bytes and (n, 2) ASCII prefixes."""
    mat = np.empty((raw.shape[0], 34), dtype=np.uint8)
    mat[:, :2] = prefix
    mat[:, 2::2] = _DIGITS[raw >> 4]
    mat[:, 3::2] = _DIGITS[raw & 15]
    return _fixed(mat)


def _sid(rng: np.random.Generator, prefix: str) -> str:
    return prefix + "".join(f"{b:02x}" for b in rng.integers(0, 256, 16, dtype=np.uint8))


def _pick(index: np.ndarray, choices: Sequence[str | None]) -> pa.Array:
    return pa.array(list(choices), type=pa.string()).take(pa.array(np.asarray(index, np.int64)))


def _join(pieces: Sequence[str | pa.Array]) -> pa.Array:
    args = [pa.scalar(p, pa.string()) if isinstance(p, str) else p for p in pieces]
    joined = pc.binary_join_element_wise(*args, "")
    return joined.combine_chunks() if isinstance(joined, pa.ChunkedArray) else joined


_MONTH_NAMES = np.frombuffer(b"JanFebMarAprMayJunJulAugSepOctNovDec", np.uint8).reshape(12, 3)
_WEEKDAY_NAMES = np.frombuffer(b"MonTueWedThuFriSatSun", np.uint8).reshape(7, 3)


def _calendar(ms: np.ndarray) -> dict[str, np.ndarray]:
    """Calendar fields of epoch milliseconds: Y m d H M S f(ms) and a (weekday, Monday 0)."""
    ms = np.asarray(ms, dtype=np.int64)
    days = np.floor_divide(ms, _DAY_MS)
    in_day = ms - days * _DAY_MS
    date = days.astype("datetime64[D]")
    year = date.astype("datetime64[Y]")
    month = date.astype("datetime64[M]")
    return {
        "Y": year.astype(np.int64) + 1970,
        "m": (month - year).astype(np.int64) + 1,
        "d": (date - month).astype(np.int64) + 1,
        "H": in_day // 3_600_000,
        "M": in_day // 60_000 % 60,
        "S": in_day // 1000 % 60,
        "f": in_day % 1000,
        "a": (days + 3) % 7,  # 1970-01-01 was a Thursday
    }


def _compose(n: int, parts: Sequence[str | tuple[np.ndarray, int] | np.ndarray]) -> pa.Array:
    """Fixed-width ASCII strings from literals, (number, zero-padded width) pairs and
    (n, w) uint8 matrices."""
    widths = [
        len(p) if isinstance(p, str) else p[1] if isinstance(p, tuple) else p.shape[1]
        for p in parts
    ]
    mat = np.empty((n, sum(widths)), dtype=np.uint8)
    col = 0
    for part, width in zip(parts, widths, strict=True):
        if isinstance(part, str):
            mat[:, col : col + width] = np.frombuffer(part.encode("ascii"), np.uint8)
        elif isinstance(part, tuple):
            rest = part[0].astype(np.int64)
            for j in range(col + width - 1, col - 1, -1):
                mat[:, j] = rest % 10 + 48
                rest = rest // 10
        else:
            mat[:, col : col + width] = part
        col += width
    return _fixed(mat)


def _iso_ms(ms: np.ndarray) -> pa.Array:
    """``YYYY-MM-DDTHH:MM:SS.mmmZ`` for epoch milliseconds (years 1000-9999)."""
    c = _calendar(ms)
    return _compose(
        np.size(ms),
        [(c["Y"], 4), "-", (c["m"], 2), "-", (c["d"], 2), "T", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), ".", (c["f"], 3), "Z"],
    )  # fmt: skip


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64 finalizer: a fixed bijection scrambling uint64 values."""
    x = x.astype(np.uint64, copy=True)
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _counter_bytes(seed: int, stream: int, index: np.ndarray) -> np.ndarray:
    """16 pseudo-random bytes per index, independent of how indices are chunked."""
    base = np.uint64((seed * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03) % 2**64)
    idx = index.astype(np.uint64)
    with np.errstate(over="ignore"):
        hi = _mix64(idx * np.uint64(2) + base)
        lo = _mix64(idx * np.uint64(2) + np.uint64(1) + base)
    both = np.stack([hi, lo], axis=1).astype(">u8")
    return both.view(np.uint8).reshape(index.size, 16)


# ----------------------------------------------------------------------- SMS encoding

_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")


def _sms_units(text: str) -> tuple[bool, int]:
    """(is UCS-2, length in encoding units) of one message text."""
    if all(c in _GSM_BASIC or c in _GSM_EXTENDED for c in text):
        return False, sum(2 if c in _GSM_EXTENDED else 1 for c in text)
    return True, sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def _segments(ucs2: np.ndarray, units: np.ndarray) -> np.ndarray:
    single = np.where(ucs2, 70, 160)
    multi = np.where(ucs2, 67, 153)
    return np.where(units <= single, 1, -(-units // multi)).astype(np.int64)


# ------------------------------------------------------------------------- templates

_NAMES = (
    "Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jürgen",
    "Kofi", "Lena", "Mateo", "Nadia", "Olivia", "Priya", "Quentin", "Rosa", "Søren",
    "Tom", "Uma", "Victor", "Wei", "Yara",
)  # fmt: skip
_CLINICS = ("Harbor Dental", "Maple Family Clinic", "Eastside Physio", "Northwind Vision")
_WEEKDAYS = ("Mon 30 Nov", "Tue 1 Dec", "Wed 2 Dec", "Thu 3 Dec", "Fri 4 Dec")
_INBOUND_BODIES = (
    "STOP", "Yes", "C", "R", "Thanks!", "Wrong number, please remove me",
    "Can you deliver after 5pm?", "👍", "Ok", "HELP",
)  # fmt: skip
_LONG_NOTICE = (
    "): we have updated our terms of service and privacy policy. The changes take effect "
    "on 1 January 2027 and affect how we store delivery addresses, payment methods and "
    "order history. Read the full text at https://nw.example/legal or reply HELP for "
    "help, STOP to opt out."
)
_JA_TAIL = (
    "）を発送しました。お届け予定日は3日以内です。配送状況は追跡ページでご確認いただけます。"
    "ご利用ありがとうございます。追跡番号 "
)


def _split(p: np.ndarray, *radices: int) -> list[np.ndarray]:
    """Mixed-radix digits of p (least significant first), then the remaining quotient."""
    out = []
    for radix in radices:
        out.append(p % radix)
        p = p // radix
    out.append(p)
    return out


def _tracking(order: np.ndarray) -> pa.Array:
    with np.errstate(over="ignore"):
        scrambled = (order.astype(np.uint64) * np.uint64(2654435761) + np.uint64(12345)) % (
            np.uint64(2**32)
        )
    return _digits(scrambled, 8, 16)


def _t_verify(p: np.ndarray) -> list[str | pa.Array]:
    return ["Your Northwind verification code is ", _digits(p, 6), ". Don't share it with anyone."]


def _t_login(p: np.ndarray) -> list[str | pa.Array]:
    minutes, code = _split(p, 3)
    return [
        _digits(code, 6),
        " is your Northwind login code. It expires in ",
        _pick(minutes, ("5", "10", "15")),
        " minutes.",
    ]


def _t_shipped(p: np.ndarray) -> list[str | pa.Array]:
    name, order = _split(p, len(_NAMES))
    return [
        "Hi ", _pick(name, _NAMES), ", your order #", _digits(order, 8),
        " has shipped! Track it: https://nw.example/t/", _tracking(order),
    ]  # fmt: skip


def _t_appointment(p: np.ndarray) -> list[str | pa.Array]:
    name, clinic, day, hour, quarter, ref = _split(p, len(_NAMES), 4, 5, 9, 4)
    return [
        "Reminder: ", _pick(name, _NAMES), ", your appointment at ", _pick(clinic, _CLINICS),
        " is on ", _pick(day, _WEEKDAYS), " at ", _digits(hour + 8, 2), ":",
        _digits(quarter * 15, 2), ". Reply C to confirm or R to reschedule. Ref ", _digits(ref, 6),
    ]  # fmt: skip


def _t_window(p: np.ndarray) -> list[str | pa.Array]:
    hour, order = _split(p, 11)
    return [
        "Northwind: your delivery ", _digits(order, 8), " arrives today between ",
        _digits(hour + 8, 2), ":00 and ", _digits(hour + 10, 2), ":00.",
    ]  # fmt: skip


def _t_notice(p: np.ndarray) -> list[str | pa.Array]:
    return ["Northwind account notice (ref ", _digits(p, 8), _LONG_NOTICE]


def _t_emoji(p: np.ndarray) -> list[str | pa.Array]:
    name, order = _split(p, len(_NAMES))
    return [
        "🎉 ", _pick(name, _NAMES), ", your order #", _digits(order, 8),
        " is on its way! 🚚 Track: https://nw.example/t/", _tracking(order),
    ]  # fmt: skip


def _t_german(p: np.ndarray) -> list[str | pa.Array]:
    return ["Ihr Northwind-Code lautet ", _digits(p, 6), " – gültig für 10 Minuten."]


def _t_french(p: np.ndarray) -> list[str | pa.Array]:
    name, order = _split(p, len(_NAMES))
    return [
        "Bonjour ", _pick(name, _NAMES), ", votre commande n°", _digits(order, 8),
        " a été expédiée. Merci d’avoir choisi Northwind !",
    ]  # fmt: skip


def _t_invoice(p: np.ndarray) -> list[str | pa.Array]:
    cents, euros, day, invoice = _split(p, 100, 500, 5)
    number = _digits(invoice, 7)
    return [
        "Northwind: payment of €", pc.cast(pa.array(euros + 5), pa.string()), ",",
        _digits(cents, 2), " for invoice [INV-", number, "] is due on ", _pick(day, _WEEKDAYS),
        ". Pay at https://nw.example/p/", number,
    ]  # fmt: skip


def _t_japanese(p: np.ndarray) -> list[str | pa.Array]:
    return ["【Northwind】ご注文（注文番号 ", _digits(p, 8), _JA_TAIL, _tracking(p)]


@dataclass(frozen=True)
class _Template:
    render: Callable[[np.ndarray], list[str | pa.Array]]
    cardinality: int
    weight: float
    verification: bool = False


_TEMPLATES: tuple[_Template, ...] = (
    _Template(_t_verify, 10**6, 0.22, True),
    _Template(_t_login, 3 * 10**6, 0.10, True),
    _Template(_t_shipped, len(_NAMES) * 10**8, 0.16),
    _Template(_t_appointment, len(_NAMES) * 4 * 5 * 9 * 4 * 10**6, 0.12),
    _Template(_t_window, 11 * 10**8, 0.12),
    _Template(_t_notice, 10**8, 0.05),
    _Template(_t_emoji, len(_NAMES) * 10**8, 0.05),
    _Template(_t_german, 10**6, 0.05, True),
    _Template(_t_french, len(_NAMES) * 10**8, 0.04),
    _Template(_t_invoice, 100 * 500 * 5 * 10**7, 0.06),
    _Template(_t_japanese, 10**8, 0.03),
)
_N_TEMPLATES = len(_TEMPLATES)
# Pseudo-templates beyond the real ones: inbound replies and media-only bodies.
_T_INBOUND = _N_TEMPLATES
_T_MEDIA_EMPTY = _N_TEMPLATES + 1
_T_MEDIA_NULL = _N_TEMPLATES + 2


def _template_encoding() -> tuple[np.ndarray, np.ndarray]:
    """Per template: UCS-2 flag and units beyond one per code point (from literals)."""
    ucs2 = np.zeros(_N_TEMPLATES, dtype=bool)
    extra = np.zeros(_N_TEMPLATES, dtype=np.int64)
    for k, template in enumerate(_TEMPLATES):
        pieces = template.render(np.zeros(1, dtype=np.int64))
        literal = "".join(p for p in pieces if isinstance(p, str))
        variable = "".join(p[0].as_py() for p in pieces if not isinstance(p, str))
        is_ucs2, units = _sms_units(literal + variable)
        _, variable_units = _sms_units(variable)
        # Variable parts are names and digits: one unit per character in either encoding.
        assert variable_units == len(variable) and all(c in _GSM_BASIC for c in "".join(_NAMES))
        ucs2[k] = is_ucs2
        extra[k] = units - len(literal) - len(variable)
    return ucs2, extra


_TEMPLATE_UCS2, _TEMPLATE_EXTRA = _template_encoding()
_INBOUND_SEGMENTS = np.array(
    [_segments(np.array([u]), np.array([n]))[0] for u, n in map(_sms_units, _INBOUND_BODIES)]
)

# ---------------------------------------------------------------------- phone numbers

# (label, weight, price per segment, prefixes, digits after the prefix)
_COUNTRIES: tuple[tuple[str, float, float, tuple[str, ...], int], ...] = (
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
_PRICE_PER_SEGMENT = np.array([c[2] for c in _COUNTRIES])
_MMS_PRICE = 0.0200
_US_SPACE = 800 * 800 * 10_000  # area 200-999, exchange 200-999, line 0000-9999


def _space(country: int) -> int:
    _, _, _, prefixes, digits = _COUNTRIES[country]
    if not prefixes:
        return _US_SPACE
    low = 10 ** (digits - 1) if prefixes[0] in ("+447", "+919") else 0
    return len(prefixes) * (10**digits - low)


def _format_numbers(country: int, values: np.ndarray) -> pa.Array:
    _, _, _, prefixes, digits = _COUNTRIES[country]
    if not prefixes:
        line, exchange, area = _split(values, 10_000, 800)
        return _join(["+1", _digits(area + 200, 3), _digits(exchange + 200, 3), _digits(line, 4)])
    low = 10 ** (digits - 1) if prefixes[0] in ("+447", "+919") else 0
    number, prefix = _split(values, 10**digits - low)
    return _join([_pick(prefix, prefixes), _digits(number + low, digits)])


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
class _Numbers:
    recipients: pa.Array  # E.164 strings, country blocks in _COUNTRIES order
    block_ends: np.ndarray  # exclusive end of each country's block
    senders: pa.Array
    sender_service: np.ndarray  # service index per sender, -1 for a standalone number
    route_start: np.ndarray  # first sender of each route (services, then standalone)
    route_size: np.ndarray

    def country(self, idx: np.ndarray) -> np.ndarray:
        return np.searchsorted(self.block_ends, idx, side="right")


def _numbers(rng: np.random.Generator, pool: int, n_services: int) -> _Numbers:
    weights = np.array([c[1] for c in _COUNTRIES])
    counts = rng.multinomial(pool, weights / weights.sum())
    counts[0] = max(counts[0], 1)
    service_sizes = rng.integers(3, 9, size=n_services)
    n_standalone = 2
    n_us_senders = int(service_sizes.sum()) + n_standalone - 1
    blocks: list[pa.Array] = []
    us_senders: pa.Array | None = None
    gb_sender: pa.Array | None = None
    for k in range(len(_COUNTRIES)):
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
    return _Numbers(
        recipients=pa.concat_arrays(blocks),
        block_ends=np.cumsum(counts),
        senders=senders,
        sender_service=sender_service,
        route_start=route_start,
        route_size=route_size,
    )


# -------------------------------------------------------------------------- time model

_HOUR_WEIGHTS = np.array(
    [0.25, 0.18, 0.12, 0.10, 0.10, 0.15, 0.30, 0.55, 0.85, 1.00, 1.10, 1.15,
     1.20, 1.20, 1.15, 1.10, 1.10, 1.05, 1.00, 0.95, 0.85, 0.70, 0.50, 0.35]
)  # fmt: skip


class _Gap:
    """The daily window without server-log coverage, in the application's clock."""

    def __init__(self, gap: tuple[time, time] | None) -> None:
        self.enabled = gap is not None
        if gap is None:
            self.start_ms = self.end_ms = 0
            return
        self.start_ms, self.end_ms = (
            ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000 for t in gap
        )
        length = (self.end_ms - self.start_ms) % _DAY_MS
        if length == 0 or length > _DAY_MS // 2:
            raise UserError("log_gap must be a window shorter than 12 hours")
        self.length_ms = length

    def contains(self, ms: np.ndarray) -> np.ndarray:
        """Whether each app-clock time (ms since the epoch) is inside the gap."""
        if not self.enabled:
            return np.zeros(ms.shape, dtype=bool)
        tod = np.mod(ms, _DAY_MS)
        if self.start_ms < self.end_ms:
            return (tod >= self.start_ms) & (tod < self.end_ms)
        return (tod >= self.start_ms) | (tod < self.end_ms)


def _draw_times(
    rng: np.random.Generator, n: int, window_start: int, days: int, span: int | None = None
) -> np.ndarray:
    """Event times (epoch seconds) following a diurnal volume curve, or even over ``span``."""
    if span is not None:
        return window_start + rng.integers(0, span, size=n)
    day = rng.integers(0, days, size=n)
    hour = rng.choice(24, size=n, p=_HOUR_WEIGHTS / _HOUR_WEIGHTS.sum())
    second = rng.integers(0, 3600, size=n)
    return window_start + day * _DAY_S + hour * 3600 + second


# --------------------------------------------------------------------------- bodies


def _resolve_collisions(
    key: np.ndarray, param: np.ndarray, cardinality: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Redraw params so that (key, param) pairs are unique; the first occurrence of each
    given pair (lowest index) keeps its value. ``param[i]`` stays in ``[0, cardinality[i])``."""
    param = param.copy()
    index = np.arange(key.size)
    moved = np.zeros(key.size, dtype=bool)  # a redrawn value yields to an original one
    for _ in range(200):
        # One sort of a 64-bit hash finds candidates; equal pairs always hash alike.
        with np.errstate(over="ignore"):
            digest = _mix64(_mix64(key.astype(np.uint64)) ^ param.astype(np.uint64))
        order = np.argsort(digest)
        sorted_digest = digest[order]
        del digest
        same = np.flatnonzero(sorted_digest[1:] == sorted_digest[:-1])
        if not same.size:
            return param
        candidates = order[np.unique(np.concatenate([same, same + 1]))]
        exact = candidates[
            np.lexsort((index[candidates], moved[candidates], param[candidates], key[candidates]))
        ]
        k, p = key[exact], param[exact]
        repeat = np.zeros(exact.size, dtype=bool)
        repeat[1:] = (k[1:] == k[:-1]) & (p[1:] == p[:-1])
        if not repeat.any():
            return param
        redraw = exact[repeat]
        param[redraw] = rng.integers(0, cardinality[redraw])
        moved[redraw] = True
    raise RuntimeError("could not make message bodies unique")


def _render_bodies(template: np.ndarray, param: np.ndarray) -> pa.Array:
    """Body text of each row (null for media-only rows rendered as null)."""
    n = template.size
    parts: list[pa.Array] = []
    positions: list[np.ndarray] = []
    for k in np.unique(template):
        rows = np.flatnonzero(template == k)
        if k < _N_TEMPLATES:
            parts.append(_join(_TEMPLATES[k].render(param[rows])))
        elif k == _T_INBOUND:
            parts.append(_pick(param[rows], _INBOUND_BODIES))
        elif k == _T_MEDIA_EMPTY:
            parts.append(_pick(np.zeros(rows.size, np.int64), ("",)))
        else:
            parts.append(pa.nulls(rows.size, pa.string()))
        positions.append(rows)
    if not parts:
        return pa.array([], pa.string())
    combined = pa.concat_arrays(parts)
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(positions)] = np.arange(n)
    return combined.take(pa.array(inverse))


def _num_segments(template: np.ndarray, param: np.ndarray, body: pa.Array) -> np.ndarray:
    real = template < _N_TEMPLATES
    t = np.where(real, template, 0)
    lengths = pc.fill_null(pc.utf8_length(body), 0).to_numpy(zero_copy_only=False)
    units = lengths + _TEMPLATE_EXTRA[t]
    segments = _segments(_TEMPLATE_UCS2[t], units)
    inbound = template == _T_INBOUND
    segments[inbound] = _INBOUND_SEGMENTS[param[inbound]]
    segments[template > _T_INBOUND] = 1
    return segments


# --------------------------------------------------------------------------- statuses

_STATUSES = ("delivered", "sent", "undelivered", "failed", "queued", "received")
_DELIVERED, _SENT, _UNDELIVERED, _FAILED, _QUEUED, _RECEIVED = range(6)
_ERRORS = {
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered by carrier",
    30008: "Unknown error",
    21610: "Attempt to send to unsubscribed recipient",
}
_ERROR_CODES = np.array(list(_ERRORS))
_DIRECTIONS = ("outbound-api", "outbound-reply", "inbound")
_COMPLAINT_NOTES_CARRIER = (
    "Customer says the text arrived twice",
    "Recipient got the same message two times, minutes apart",
    "Duplicate SMS reported by customer (single send in our records?)",
    "User: 'why did I get this twice?'",
)
_COMPLAINT_NOTES_APP = (
    "Customer received the same message twice",
    "Got two identical texts, please check",
)


# ------------------------------------------------------------------------------- main


@dataclass
class _Plan:
    """Everything about the records and log lines, as numbers; strings come per chunk."""

    n: int
    scenario: np.ndarray
    event: np.ndarray
    pos: np.ndarray
    group_id: np.ndarray  # 0 = none
    verdict: np.ndarray  # -1 = none
    posts: np.ndarray
    covered: np.ndarray
    created: np.ndarray  # epoch seconds
    sent_delay: np.ndarray  # -1 = no date_sent
    after: np.ndarray  # date_updated minus date_sent (or date_created)
    direction: np.ndarray
    status: np.ndarray
    error: np.ndarray  # 0 = none
    template: np.ndarray
    param: np.ndarray
    recipient: np.ndarray
    sender: np.ndarray
    sid_raw: np.ndarray
    media: np.ndarray
    app_off_ms: np.ndarray
    counts: dict[str, int]
    groups: dict[str, int]
    line_ms: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_rec: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_kind: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    line_status: np.ndarray = field(default_factory=lambda: np.empty(0, np.int16))
    line_error: np.ndarray = field(default_factory=lambda: np.empty(0, np.int8))
    line_duration: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    line_cut: np.ndarray = field(default_factory=lambda: np.empty(0, np.float64))


def _validate(config: SimulationConfig) -> tuple[int, _Gap]:
    if config.messages < 1:
        raise UserError("messages must be at least 1")
    if config.days < 1:
        raise UserError("days must be at least 1")
    if config.span_seconds is not None and not 60 <= config.span_seconds <= config.days * _DAY_S:
        raise UserError("span_seconds must be between 60 and the days simulated")
    for name, value in _rates(config).items():
        if not 0 <= value <= 1:
            raise UserError(f"{name} must be between 0 and 1, got {value}")
    if not math.isfinite(config.clock_skew_seconds) or abs(config.clock_skew_seconds) > 3600:
        raise UserError("clock_skew_seconds must be within an hour")
    _log_formats(config)
    start = config.start if config.start.tzinfo else config.start.replace(tzinfo=UTC)
    start = start.astimezone(UTC)
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return int(day.timestamp()), _Gap(config.log_gap)


def _log_formats(config: SimulationConfig) -> list[str]:
    """The request log formats to write, jsonl first, each once."""
    names = (config.log_formats,) if isinstance(config.log_formats, str) else config.log_formats
    unknown = [str(f) for f in names if f not in LOG_FORMATS]
    if unknown:
        raise UserError(
            f"unknown log format(s) {', '.join(unknown)}; expected some of {', '.join(LOG_FORMATS)}"
        )
    return ["jsonl", *dict.fromkeys(f for f in names if f != "jsonl")]


def _rates(config: SimulationConfig) -> dict[str, float]:
    return {
        "retry_rate": config.retry_rate,
        "double_submit_rate": config.double_submit_rate,
        "redelivery_rate": config.redelivery_rate,
        "twilio_side_rate": config.twilio_side_rate,
        "carrier_side_rate": config.carrier_side_rate,
        "legit_repeat_rate": config.legit_repeat_rate,
        "inbound_rate": config.inbound_rate,
        "media_only_rate": config.media_only_rate,
    }


def _plan(config: SimulationConfig, rng: np.random.Generator) -> tuple[_Plan, _Numbers, list[str]]:
    window_start, gap = _validate(config)
    window_end = window_start + (config.span_seconds or config.days * _DAY_S)
    m = config.messages
    rates = list(_rates(config).values())
    n_groups = np.array([0] + [round(r * m) for r in rates], dtype=np.int64)

    # Events and their sizes (records per event).
    ev_scen = np.repeat(np.arange(len(SCENARIOS), dtype=np.int8), n_groups)
    size = np.ones(ev_scen.size, dtype=np.int64)
    size[ev_scen == _RETRY] = rng.choice([2, 3], size=n_groups[_RETRY], p=[0.75, 0.25])
    size[np.isin(ev_scen, [_DOUBLE, _REDELIVERY, _TWILIO])] = 2
    size[ev_scen == _LEGIT] = rng.choice([2, 3], size=n_groups[_LEGIT], p=[0.85, 0.15])
    normal = m - int(size.sum())
    if normal < 0:
        raise UserError(
            f"the scenario rates ask for {int(size.sum())} records, more than messages={m}"
        )
    n_groups[_NORMAL] = normal
    ev_scen = np.concatenate([np.zeros(normal, np.int8), ev_scen])
    size = np.concatenate([np.ones(normal, np.int64), size])
    n_events = ev_scen.size
    starts = np.concatenate([[0], np.cumsum(size)[:-1]])
    # Non-normal events are few: most per-record work below only touches their records.
    special = np.flatnonzero(np.repeat(ev_scen != _NORMAL, size))

    # Records in event order; offsets (seconds after the event's first record).
    rec_ev = np.repeat(np.arange(n_events, dtype=np.int32), size)
    pos = np.zeros(m, dtype=np.int8)
    pos[special] = special - starts[rec_ev[special]]
    rec_scen = np.repeat(ev_scen, size)
    timeout = rng.choice(np.array([10, 15, 30], dtype=np.int32), size=n_events)
    gap_s = np.zeros(special.size, dtype=np.int64)
    sp_scen, sp_follow, sp_ev = rec_scen[special], pos[special] > 0, rec_ev[special]
    draws = {
        _RETRY: lambda k: timeout[sp_ev[k]] + rng.integers(0, 3, size=k.size),
        _DOUBLE: lambda k: rng.integers(0, 3, size=k.size),
        _REDELIVERY: lambda k: rng.integers(3500, 3601, size=k.size),
        _TWILIO: lambda k: rng.integers(0, 2, size=k.size),
        _LEGIT: lambda k: rng.integers(3, 91, size=k.size),
    }
    for code, draw in draws.items():
        rows = np.flatnonzero(sp_follow & (sp_scen == code))
        gap_s[rows] = draw(rows)
    cum = np.cumsum(gap_s)
    offset = np.zeros(m, dtype=np.int32)
    offset[special] = cum - cum[np.searchsorted(special, starts[rec_ev[special]])]
    span = offset[starts + size - 1].astype(np.int64)
    del cum, gap_s, sp_scen

    # App clock: Twilio's second-truncated time + sub-second part + skew - network latency.
    skew_ms = round(config.clock_skew_seconds * 1000)
    app_off = rng.integers(0, 1000, size=m, dtype=np.int32)
    app_off += np.int32(skew_ms) - rng.integers(30, 300, size=m, dtype=np.int32)
    # Coverage follows the POST that produced the record (the first one for twilio_side).
    cov_off_ms = offset.astype(np.int64) * 1000 + app_off
    twin = special[(rec_scen[special] == _TWILIO) & sp_follow]
    cov_off_ms[twin] = cov_off_ms[starts[rec_ev[twin]]]

    # Place events in time: planted groups entirely inside or entirely outside the gap.
    t0 = _draw_times(rng, n_events, window_start, config.days, config.span_seconds)
    planted_ev = _PLANTED_CODES[ev_scen]
    planted_idx = np.flatnonzero(planted_ev)
    planted_recs = special[planted_ev[rec_ev[special]]]
    if gap.enabled and planted_idx.size:
        fits = planted_idx[span[planted_idx] * 1000 + 5000 < gap.length_ms]
        n_forced = min(fits.size, max(1, round(GAP_PLANTED_SHARE * planted_idx.size)))
        forced = rng.choice(fits, size=n_forced, replace=False) if n_forced else fits[:0]
        room = (gap.length_ms - 5000) // 1000 - span[forced]
        day = rng.integers(0, config.days, size=forced.size)
        t0[forced] = (
            window_start + day * _DAY_S + (gap.start_ms - skew_ms) // 1000 + 2
            + rng.integers(0, room + 1)
        )  # fmt: skip
    check = np.flatnonzero(t0 + span >= window_end)
    check = np.union1d(check, planted_idx)
    for _ in range(200):
        bad = np.zeros(n_events, dtype=bool)
        bad[check] = t0[check] + span[check] >= window_end
        if gap.enabled:
            recs = planted_recs[np.isin(rec_ev[planted_recs], check)]
            ev = rec_ev[recs]
            inside = gap.contains(t0[ev] * 1000 + cov_off_ms[recs])
            n_in = np.bincount(ev, weights=inside, minlength=n_events)
            n_all = np.bincount(ev, minlength=n_events)
            bad |= (n_in > 0) & (n_in < n_all)
        if not bad.any():
            break
        check = np.flatnonzero(bad)
        t0[check] = _draw_times(rng, check.size, window_start, config.days, config.span_seconds)
    else:
        raise RuntimeError("could not place the planted groups in time")
    created = np.repeat(t0, size) + offset
    covered = ~gap.contains(np.repeat(t0 * 1000, size) + cov_off_ms)
    del offset, cov_off_ms

    # Senders and recipients.
    pool = max(200, m // 3)
    n_services = int(rng.integers(3, 5))
    numbers = _numbers(rng, pool, n_services)
    service_sids = [_sid(rng, "MG") for _ in range(n_services)]
    account_sid = _sid(rng, "AC")
    n_routes = numbers.route_size.size
    route_p = np.concatenate(
        [rng.dirichlet(np.full(n_services, 2.0)) * 0.92, np.full(n_routes - n_services, 0.04)]
    )
    route = rng.choice(n_routes, size=n_events, p=route_p / route_p.sum()).astype(np.int16)
    recipient_ev = rng.integers(0, pool, size=n_events, dtype=np.int32)
    media_ev = np.flatnonzero(ev_scen == _MEDIA)
    recipient_ev[media_ev] = rng.integers(0, numbers.block_ends[0], size=media_ev.size)
    rec_route = np.repeat(route, size)
    sender = (
        numbers.route_start[rec_route] + rng.integers(0, numbers.route_size[rec_route])
    ).astype(np.int16)
    del rec_route
    recipient = np.repeat(recipient_ev, size)

    # Direction, media, posts.
    direction = np.zeros(m, dtype=np.int8)
    inbound = rec_scen == _INBOUND
    direction[inbound] = 2
    direction[(rec_scen == _NORMAL) & (rng.random(m, dtype=np.float32) < REPLY_SHARE)] = 1
    media = rec_scen == _MEDIA
    posts = (direction == 0).astype(np.int8)
    posts[twin] = 0

    # Bodies: one (template, param) per unit; a planted group's records share one unit.
    followers = special[_PLANTED_CODES[rec_scen[special]] & sp_follow]
    unit = ~inbound & ~media
    unit[followers] = False
    units = np.flatnonzero(unit)
    del unit
    weights = np.array([t.weight for t in _TEMPLATES])
    verify = np.array([t.verification for t in _TEMPLATES], dtype=float)
    template = np.zeros(m, dtype=np.int8)
    template[units] = rng.choice(_N_TEMPLATES, size=units.size, p=weights / weights.sum())
    legit = special[rec_scen[special] == _LEGIT]
    template[legit] = rng.choice(_N_TEMPLATES, size=legit.size, p=verify / verify.sum())
    cardinality = np.array([t.cardinality for t in _TEMPLATES], dtype=np.int64)
    param = np.zeros(m, dtype=np.int64)
    card = cardinality[template[units]]
    drawn = rng.integers(0, card)
    # Legit repeats go to one recipient too: they get different bodies like everyone else.
    param[units] = _resolve_collisions(
        recipient[units].astype(np.int64) * 16 + template[units], drawn, card, rng
    )
    del units, card, drawn
    template[followers] = template[starts[rec_ev[followers]]]
    param[followers] = param[starts[rec_ev[followers]]]
    n_inbound, n_media = int(inbound.sum()), int(media.sum())
    template[inbound] = _T_INBOUND
    param[inbound] = rng.integers(0, len(_INBOUND_BODIES), size=n_inbound)
    template[media] = np.where(rng.random(n_media) < 0.5, _T_MEDIA_EMPTY, _T_MEDIA_NULL)

    # Status, error, dates.
    status = rng.choice(5, size=m, p=[0.93, 0.03, 0.025, 0.012, 0.003]).astype(np.int8)
    planted_rec = special[_PLANTED_CODES[rec_scen[special]]]
    status[planted_rec] = np.where(rng.random(planted_rec.size) < 0.97, _DELIVERED, _SENT)
    status[special[rec_scen[special] == _CARRIER]] = _DELIVERED
    status[inbound] = _RECEIVED
    error = np.zeros(m, dtype=np.int16)
    und = np.flatnonzero(status == _UNDELIVERED)
    error[und] = rng.choice(_ERROR_CODES[:4], size=und.size, p=[0.4, 0.2, 0.2, 0.2])
    fail = np.flatnonzero(status == _FAILED)
    error[fail] = rng.choice([30008, 21610], size=fail.size, p=[0.6, 0.4])
    sent_delay = rng.integers(0, 4, size=m, dtype=np.int8)
    sent_delay[(status == _QUEUED) | (error == 21610)] = -1
    sent_delay[inbound] = 0
    after = rng.integers(0, 3, size=m, dtype=np.int16)  # sent, queued
    for code, (low, high) in {
        _DELIVERED: (1, 31), _UNDELIVERED: (5, 121), _FAILED: (1, 31), _RECEIVED: (0, 1)
    }.items():  # fmt: skip
        rows = np.flatnonzero(status == code)
        after[rows] = rng.integers(low, high, size=rows.size, dtype=np.int16)
    del rows, inbound

    sid_raw = rng.integers(0, 256, size=(m, 16), dtype=np.uint8)

    # Sort records by (date_created, sid) and renumber groups in that order.
    order = _order_by_time_and_sid(created - window_start, sid_raw)
    new_pos = np.empty(m, dtype=np.int64)
    new_pos[order] = np.arange(m)
    first = np.minimum.reduceat(new_pos, starts)
    del new_pos
    planted_ranked = planted_idx[np.argsort(first[planted_idx], kind="stable")]
    ev_group = np.zeros(n_events, dtype=np.int32)
    ev_group[planted_ranked] = np.arange(1, planted_ranked.size + 1)
    verdict_of = np.full(len(SCENARIOS), -1, dtype=np.int8)
    verdict_of[[_RETRY, _DOUBLE, _REDELIVERY]] = 0
    verdict_of[_TWILIO] = 1
    verdict_of[_CARRIER] = 2
    verdict = verdict_of[rec_scen]
    verdict[(verdict >= 0) & ~covered] = 3
    counts = dict(zip(SCENARIOS, map(int, np.bincount(rec_scen, minlength=9)), strict=True))

    columns = {
        "scenario": rec_scen, "event": rec_ev, "pos": pos, "group_id": np.repeat(ev_group, size),
        "verdict": verdict, "posts": posts, "covered": covered, "created": created,
        "sent_delay": sent_delay, "after": after, "direction": direction, "status": status,
        "error": error, "template": template, "param": param, "recipient": recipient,
        "sender": sender, "sid_raw": sid_raw, "media": media, "app_off_ms": app_off,
    }  # fmt: skip
    del rec_scen, rec_ev, pos, verdict, posts, covered, created, sent_delay, after, direction
    del status, error, template, param, recipient, sender, sid_raw, media, app_off
    for name in list(columns):  # one column at a time keeps a single extra copy alive
        columns[name] = columns[name][order]
    plan = _Plan(
        n=m, counts=counts, groups=dict(zip(SCENARIOS, map(int, n_groups), strict=True)),
        **columns,
    )  # fmt: skip
    del columns
    _plan_lines(plan, rng, gap, timeout, size)
    return plan, numbers, [account_sid, *service_sids]


def _order_by_time_and_sid(created: np.ndarray, sid_raw: np.ndarray) -> np.ndarray:
    """Permutation sorting records by (created, sid); created must be non-negative."""
    hi = sid_raw[:, :8].copy().view(">u8").ravel().astype(np.uint64)
    # One int64 sort on (created, top 30 bits of the sid); exact ties resolved below.
    packed = (created.astype(np.int64) << 30) | (hi >> np.uint64(34)).astype(np.int64)
    order = np.argsort(packed)
    ties = np.flatnonzero(packed[order][1:] == packed[order][:-1])
    if ties.size:
        members = np.unique(np.concatenate([ties, ties + 1]))
        sub = order[members]
        lo = sid_raw[sub, 8:].copy().view(">u8").ravel().astype(np.uint64)
        order[members] = sub[np.lexsort((lo, hi[sub], packed[sub]))]
    return order


def _plan_lines(
    plan: _Plan, rng: np.random.Generator, gap: _Gap, timeout: np.ndarray, size: np.ndarray
) -> None:
    """Plan the request log: one POST per posting record, GET noise, malformed lines.

    ``timeout`` and ``size`` are per event."""
    post = np.flatnonzero(plan.posts > 0).astype(np.int32)
    p_ms = plan.created[post] * 1000 + plan.app_off_ms[post]
    p_status = np.full(post.size, 201, dtype=np.int16)
    p_error = np.zeros(post.size, dtype=np.int8)
    p_duration = np.clip(np.exp(rng.normal(5.5, 0.35, size=post.size)), 60, 5000).astype(np.int32)
    retry_rows = np.flatnonzero(plan.scenario[post] == _RETRY)
    retry_ev = plan.event[post[retry_rows]]
    failed = retry_rows[plan.pos[post[retry_rows]] < size[retry_ev] - 1]
    failed_ev = plan.event[post[failed]]
    # Whole retry groups either time out or get a 5xx on their failed attempts.
    ev_5xx = rng.random(size.size) < RETRY_5XX_SHARE
    five = failed[ev_5xx[failed_ev]]
    timed_out = failed[~ev_5xx[failed_ev]]
    p_status[timed_out] = 0
    p_error[timed_out] = 1
    p_duration[timed_out] = timeout[plan.event[post[timed_out]]] * 1000 + rng.integers(
        0, 40, size=timed_out.size
    )
    p_status[five] = rng.choice([500, 503], size=five.size)
    p_error[five] = 2
    p_duration[five] = rng.integers(150, 3000, size=five.size)

    candidates = np.flatnonzero((plan.direction == 0) & (plan.status != _QUEUED))
    n_get = min(candidates.size, round(GET_SHARE * plan.n))
    get = np.sort(rng.choice(candidates, size=n_get, replace=False)).astype(np.int32)
    del candidates
    g_ms = plan.created[get] * 1000 + plan.app_off_ms[get] + rng.integers(2000, 600_000, n_get)

    line_ms = np.concatenate([p_ms, g_ms])
    del p_ms, g_ms
    keep = np.flatnonzero(~gap.contains(line_ms))
    # Lines are in (kind, record) order: a stable sort by time gives (time, kind, record).
    order = keep[np.argsort(line_ms[keep], kind="stable")]
    del keep
    plan.line_ms = line_ms[order]
    del line_ms
    plan.line_rec = np.concatenate([post, get])[order]
    plan.line_kind = (order >= post.size).astype(np.int8)
    plan.line_status = np.concatenate([p_status, np.full(n_get, 200, np.int16)])[order]
    plan.line_error = np.concatenate([p_error, np.zeros(n_get, np.int8)])[order]
    plan.line_duration = np.concatenate([p_duration, rng.integers(40, 400, n_get, dtype=np.int32)])[
        order
    ]
    # A few GET lines are written truncated (crash mid-write); POST lines stay intact.
    gets = np.flatnonzero(plan.line_kind == 1)
    n_bad = min(gets.size, max(1, round(MALFORMED_SHARE * plan.line_ms.size)))
    plan.line_cut = np.zeros(plan.line_ms.size, dtype=np.float32)
    plan.line_cut[rng.choice(gets, size=n_bad, replace=False)] = rng.uniform(0.15, 0.9, n_bad)


# ----------------------------------------------------------------------------- output


METADATA_FILE = "simulation.json"


class _FileSet:
    """Files written aside and put in place together at the end, or not at all.

    A simulation is one set (messages, logs, truth, metadata): an interrupted run into
    a folder that holds an older one must leave the older one whole, never a mix.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[tuple[Path, Path]] = []

    @contextmanager
    def file(self, path: Path) -> Iterator[Path]:
        """A temporary path to write ``path`` to; it is put in place at commit."""
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        self.pending.append((Path(tmp), path))
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary data files

    def commit(self) -> None:
        """Put every file in place, and remove the files of an older set not rewritten."""
        stale = set(_set_files(self.folder)) - {path for _, path in self.pending}
        blocked = {signal.SIGINT, signal.SIGTERM}
        in_main = threading.current_thread() is threading.main_thread()
        # A few renames: Ctrl-C waits for them rather than splitting the set.
        previous = signal.pthread_sigmask(signal.SIG_BLOCK, blocked) if in_main else None
        try:
            for tmp, path in self.pending:
                os.replace(tmp, path)
            for path in stale:
                path.unlink(missing_ok=True)
        finally:
            if previous is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, previous)

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)


def _set_files(folder: Path) -> list[Path]:
    """The files of the simulation already in ``folder``, as its metadata lists them."""
    meta = folder / METADATA_FILE
    try:
        files = json.loads(meta.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    names = [files.get(k) for k in ("messages", "server_requests", "truth", "complaints")]
    names += list((files.get("request_logs") or {}).values())
    return [folder / n for n in names if isinstance(n, str) and "/" not in n] + [meta]


@contextmanager
def _file_set(folder: Path) -> Iterator[_FileSet]:
    files = _FileSet(folder)
    try:
        yield files
    except BaseException:
        files.discard()
        raise
    files.commit()


@contextmanager
def _atomic(path: Path) -> Iterator[Path]:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; these are ordinary data files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _sids(plan: _Plan, rows: np.ndarray) -> pa.Array:
    prefix = np.where(
        plan.media[rows, None],
        np.frombuffer(b"MM", np.uint8)[None, :],
        np.frombuffer(b"SM", np.uint8)[None, :],
    )
    return _hex_sids(plan.sid_raw[rows], prefix)


def _timestamps(seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    return pa.array(seconds.astype(np.int64) * 1_000_000, type=TIMESTAMP, mask=mask)


def _message_chunk(plan: _Plan, numbers: _Numbers, sids: list[str], rows: np.ndarray) -> pa.Table:
    n = rows.size
    account_sid, service_sids = sids[0], sids[1:]
    inbound = plan.direction[rows] == 2
    template, param = plan.template[rows], plan.param[rows]
    body = _render_bodies(template, param)
    segments = _num_segments(template, param, body)
    recipient = plan.recipient[rows]
    customer = numbers.recipients.take(pa.array(recipient))
    ours = numbers.senders.take(pa.array(plan.sender[rows]))
    mask = pa.array(inbound)
    service = numbers.sender_service[plan.sender[rows]]
    status = plan.status[rows]
    error = plan.error[rows]
    priced = np.isin(status, [_DELIVERED, _SENT, _UNDELIVERED, _RECEIVED])
    country = np.where(inbound, 0, numbers.country(recipient))
    per_segment = np.where(plan.media[rows], _MMS_PRICE, _PRICE_PER_SEGMENT[country])
    price = -np.round(per_segment * np.where(plan.media[rows], 1, segments), 5)
    error_index = np.full(n, len(_ERRORS), dtype=np.int64)
    for k, code in enumerate(_ERROR_CODES):
        error_index[error == code] = k
    sent_delay = plan.sent_delay[rows]
    created = plan.created[rows]
    columns: dict[str, Any] = {
        "sid": _sids(plan, rows),
        "account_sid": _pick(np.zeros(n, np.int64), (account_sid,)),
        "messaging_service_sid": _pick(
            np.where(service < 0, len(service_sids), service), (*service_sids, None)
        ),
        "from": pc.if_else(mask, customer, ours),
        "to": pc.if_else(mask, ours, customer),
        "body": body,
        "status": _pick(status, _STATUSES),
        "direction": _pick(plan.direction[rows], _DIRECTIONS),
        "error_code": pa.array(error, mask=error == 0),
        "error_message": _pick(error_index, (*_ERRORS.values(), None)),
        "num_segments": pa.array(segments),
        "num_media": pa.array(plan.media[rows].astype(np.int64)),
        "price": pa.array(price, mask=~priced),
        "price_unit": _pick(np.zeros(n, np.int64), ("USD",)),
        "api_version": _pick(np.zeros(n, np.int64), (API_VERSION,)),
        "date_created": _timestamps(created),
        "date_sent": _timestamps(created + np.maximum(sent_delay, 0), mask=sent_delay < 0),
        "date_updated": _timestamps(
            created + np.maximum(sent_delay, 0) + plan.after[rows].astype(np.int64)
        ),
        "source": _pick(np.zeros(n, np.int64), (SOURCE,)),
    }
    return coerce_messages(pa.table(columns))


def _truth_chunk(plan: _Plan, rows: np.ndarray) -> pa.Table:
    group = plan.group_id[rows]
    verdict = plan.verdict[rows]
    return pa.table(
        {
            "sid": _sids(plan, rows),
            "scenario": _pick(plan.scenario[rows], SCENARIOS),
            "group_id": pa.array(group, mask=group == 0),
            "expected_verdict": _pick(
                np.where(verdict < 0, len(VERDICTS), verdict), (*VERDICTS, None)
            ),
            "posts": pa.array(plan.posts[rows]),
            "covered": pa.array(plan.covered[rows]),
        }
    )


# ------------------------------------------------------------------ request log formats

#: Where the egress proxy's ``$time_local`` is (combined format), minutes east of UTC.
COMBINED_UTC_OFFSET_MINUTES = 60
#: What the application's logging formatter writes after the time (SDK formats).
SDK_LOG_PREFIX = " INFO twilio.http_client: "
SDK_VERSION = "9.13.0"
USER_AGENT = f"twilio-python/{SDK_VERSION} (Linux x86_64) Python/3.11.7"
#: nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_STATUS = 499
_API_HOST = "https://api.twilio.com"
_UPSTREAMS = ("54.172.60.1:443", "54.244.51.3:443", "3.209.162.28:443", "34.203.254.66:443")
_ERROR_BODIES = {
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


def _log_name(fmt: str) -> str:
    return "server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log"


def _text(values: np.ndarray) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def _json_escape(values: pa.Array) -> pa.Array:
    """JSON string escaping (quotes, backslashes, control characters)."""
    if not pc.any(pc.match_substring_regex(values, r'["\\\x00-\x1f]')).as_py():
        return values
    for raw, escaped in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        values = pc.replace_substring(values, raw, escaped)
    for code in range(32):
        if chr(code) not in "\n\r\t" and pc.any(pc.match_substring(values, chr(code))).as_py():
            values = pc.replace_substring(values, chr(code), f"\\u{code:04x}")
    return values


def _quoted(values: pa.Array) -> pa.Array:
    """JSON string values, ``null`` for nulls."""
    return pc.fill_null(pc.binary_join_element_wise('"', _json_escape(values), '"', ""), "null")


def _py_repr(values: pa.Array) -> pa.Array:
    """Python's repr() of str values (the quoting the SDK's PAYLOAD line shows)."""
    esc = pc.replace_substring(values, "\\", "\\\\")
    for raw, escaped in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        esc = pc.replace_substring(esc, raw, escaped)
    double = pc.and_(pc.match_substring(values, "'"), pc.invert(pc.match_substring(values, '"')))
    single = pc.binary_join_element_wise("'", pc.replace_substring(esc, "'", "\\'"), "'", "")
    return pc.if_else(double, pc.binary_join_element_wise('"', esc, '"', ""), single)


def _present(mask: np.ndarray | pa.Array, values: pa.Array) -> pa.Array:
    """values where mask holds, "" elsewhere (for optional pieces of a line)."""
    return pc.fill_null(pc.if_else(mask, values, pa.scalar(None, pa.string())), "")


def _rfc2822(seconds: np.ndarray, zone: str = "+0000") -> pa.Array:
    """``Sun, 29 Nov 2026 14:03:01 +0000`` (Twilio's dates; zone "GMT" for HTTP dates)."""
    c = _calendar(np.asarray(seconds, dtype=np.int64) * 1000)
    return _compose(
        np.size(seconds),
        [_WEEKDAY_NAMES[c["a"]], ", ", (c["d"], 2), " ", _MONTH_NAMES[c["m"] - 1], " ",
         (c["Y"], 4), " ", (c["H"], 2), ":", (c["M"], 2), ":", (c["S"], 2), " " + zone],
    )  # fmt: skip


def _sdk_stamp(ms: np.ndarray) -> pa.Array:
    """Python logging's default asctime: ``2026-11-29 14:03:01,123``."""
    c = _calendar(ms)
    return _compose(
        np.size(ms),
        [(c["Y"], 4), "-", (c["m"], 2), "-", (c["d"], 2), " ", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), ",", (c["f"], 3)],
    )  # fmt: skip


def _clf_time(ms: np.ndarray, offset_minutes: int) -> pa.Array:
    """nginx ``$time_local`` at a fixed UTC offset: ``29/Nov/2026:15:03:01 +0100``."""
    c = _calendar(np.asarray(ms, dtype=np.int64) + offset_minutes * 60_000)
    sign = "+" if offset_minutes >= 0 else "-"
    zone = f" {sign}{abs(offset_minutes) // 60:02d}{abs(offset_minutes) % 60:02d}"
    return _compose(
        np.size(ms),
        [(c["d"], 2), "/", _MONTH_NAMES[c["m"] - 1], "/", (c["Y"], 4), ":", (c["H"], 2), ":",
         (c["M"], 2), ":", (c["S"], 2), zone],
    )  # fmt: skip


def _timestamp_text(values: pa.Array, zone: str = "+0000") -> pa.Array:
    """RFC 2822 text of a timestamp column, nulls kept."""
    valid = pc.is_valid(values)
    seconds = pc.fill_null(pc.cast(values, pa.int64()), 0).to_numpy(zero_copy_only=False)
    return pc.if_else(valid, _rfc2822(seconds // 1_000_000, zone), pa.scalar(None, pa.string()))


def _price_text(price: pa.Array) -> pa.Array:
    """Twilio's price strings (``-0.00790``), nulls kept."""
    valid = pc.is_valid(price)
    value = np.asarray(pc.fill_null(price, 0.0).to_numpy(zero_copy_only=False), dtype=np.float64)
    units = np.rint(np.abs(value) * 100_000).astype(np.int64)
    text = _join(
        [
            _pick((value < 0).astype(np.int64), ("", "-")),
            _text(units // 100_000),
            ".",
            _digits(units % 100_000, 5),
        ]
    )
    return pc.if_else(valid, text, pa.scalar(None, pa.string()))


def _message_json(records: pa.Table) -> pa.Array:
    """Message resources as the API's JSON (keys in Twilio's alphabetical order)."""

    def col(name: str) -> pa.Array:
        column = records[name]
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column

    base = _join(["/2010-04-01/Accounts/", col("account_sid"), "/Messages/", col("sid")])
    return _join(
        [
            '{"account_sid": ', _quoted(col("account_sid")),
            ', "api_version": ', _quoted(col("api_version")),
            ', "body": ', _quoted(col("body")),
            ', "date_created": ', _quoted(_timestamp_text(col("date_created"))),
            ', "date_sent": ', _quoted(_timestamp_text(col("date_sent"))),
            ', "date_updated": ', _quoted(_timestamp_text(col("date_updated"))),
            ', "direction": ', _quoted(col("direction")),
            ', "error_code": ', pc.fill_null(pc.cast(col("error_code"), pa.string()), "null"),
            ', "error_message": ', _quoted(col("error_message")),
            ', "from": ', _quoted(col("from")),
            ', "messaging_service_sid": ', _quoted(col("messaging_service_sid")),
            ', "num_media": ', _quoted(pc.cast(col("num_media"), pa.string())),
            ', "num_segments": ', _quoted(pc.cast(col("num_segments"), pa.string())),
            ', "price": ', _quoted(_price_text(col("price"))),
            ', "price_unit": ', _quoted(col("price_unit")),
            ', "sid": ', _quoted(col("sid")),
            ', "status": ', _quoted(col("status")),
            ', "subresource_uris": {"media": "', base, '/Media.json"}, "to": ', _quoted(col("to")),
            ', "uri": "', base, '.json"}',
        ]
    )  # fmt: skip


def _created_view(records: pa.Table, via_service: np.ndarray) -> pa.Table:
    """The records as the create call answered them: just accepted (service) or queued."""
    n = records.num_rows
    replace = {
        "status": _pick(via_service.astype(np.int64), ("queued", "accepted")),
        "date_sent": pa.nulls(n, TIMESTAMP),
        "date_updated": records["date_created"].combine_chunks(),
        "price": pa.nulls(n, pa.float64()),
        "error_code": pa.nulls(n, pa.int64()),
        "error_message": pa.nulls(n, pa.string()),
        # Sent through a Messaging Service, the sender is only picked later.
        "from": pc.if_else(
            pa.array(via_service), pa.scalar(None, pa.string()), records["from"].combine_chunks()
        ),
    }
    for name, values in replace.items():
        records = records.set_column(records.schema.get_field_index(name), name, values)
    return records


def _request_chunk(
    plan: _Plan,
    numbers: _Numbers,
    sids: list[str],
    seed: int,
    lines: np.ndarray,
    with_records: bool,
    request_id_is_sid: bool = False,
) -> pa.Table:
    """The given planned log lines as a request table (the jsonl fields, plus ``ms``,
    ``seq`` and ``cut``; with_records adds what the pre-2022 SDK logged)."""
    n = lines.size
    rec = plan.line_rec[lines]
    is_get = plan.line_kind[lines] == 1
    status = plan.line_status[lines]
    sid = _sids(plan, rec)
    with_sid = (status == 201) | is_get
    has_response = status != 0
    request_id = _hex_sids(
        _counter_bytes(seed, 1, lines),
        np.broadcast_to(np.frombuffer(b"RQ", np.uint8), (n, 2)),
    )
    if request_id_is_sid:
        created = pa.array((status == 201) & ~is_get)
        same = pc.binary_join_element_wise("RQ", pc.utf8_slice_codeunits(sid, 2), "")
        request_id = pc.if_else(created, same, request_id)
    to = numbers.recipients.take(pa.array(plan.recipient[rec]))
    nulls = pa.nulls(n, pa.string())
    get = pa.array(is_get)
    url = f"{_API_HOST}/{API_VERSION}/Accounts/{sids[0]}/Messages"
    columns: dict[str, pa.Array] = {
        "ms": pa.array(plan.line_ms[lines]),
        "method": _pick(is_get.astype(np.int64), ("POST", "GET")),
        "url": _join([url, pc.if_else(get, _join(["/", sid, ".json"]), ".json")]),
        "status": pa.array(status, mask=~has_response),
        "duration_ms": pa.array(plan.line_duration[lines]),
        "to": pc.if_else(get, nulls, to),
        "message_sid": pc.if_else(pa.array(with_sid), sid, nulls),
        "request_id": pc.if_else(pa.array(has_response), request_id, nulls),
        "error": _pick(plan.line_error[lines], (None, "ReadTimeout", "HTTPError")),
        "seq": pa.array(lines.astype(np.int64)),
        "cut": pa.array(plan.line_cut[lines]),
    }
    if with_records:
        records = _message_chunk(plan, numbers, sids, rec)
        post = ~is_get
        via_service = numbers.sender_service[plan.sender[rec]] >= 0
        columns["from"] = pc.if_else(pa.array(post & ~via_service), records["from"], nulls)
        columns["messaging_service_sid"] = pc.if_else(
            pa.array(post & via_service), records["messaging_service_sid"], nulls
        )
        columns["body"] = pc.if_else(pa.array(post), records["body"], nulls)
        media_name = _fixed(_hex_matrix(_counter_bytes(seed, 4, rec.astype(np.int64))[:, :8]))
        columns["media_url"] = pc.if_else(
            pa.array(post & plan.media[rec]),
            _join(["https://nw.example/m/", media_name, ".jpg"]),
            nulls,
        )
        # Create calls answer with the new record; status look-ups with its current state.
        created = _message_json(_created_view(records, via_service))
        fetched = _message_json(records)
        columns["response_body"] = pc.if_else(
            pa.array(with_sid), pc.if_else(get, fetched, created), nulls
        )
    return pa.table(columns)


def _render_jsonl(t: pa.Table, seed: int) -> pa.Array:
    return _join(
        [
            '{"timestamp": "', _iso_ms(t["ms"].to_numpy()), '", "method": "',
            _json_escape(t["method"]), '", "url": "', _json_escape(t["url"]),
            '", "status": ', pc.fill_null(pc.cast(t["status"], pa.string()), "null"),
            ', "duration_ms": ', pc.fill_null(pc.cast(t["duration_ms"], pa.string()), "null"),
            ', "to": ', _quoted(t["to"]),
            ', "message_sid": ', _quoted(t["message_sid"]),
            ', "request_id": ', _quoted(t["request_id"]),
            ', "error": ', _quoted(t["error"]),
            "}\n",
        ]
    )  # fmt: skip


def _url_path(url: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(url, r"^[A-Za-z][A-Za-z0-9+.\-]*://[^/]*", "")


def _numbers_of(t: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """status (0 = no response), duration (ms, 0 if unknown), is GET, per-row random ints."""
    status = np.asarray(pc.fill_null(t["status"], 0).to_numpy(zero_copy_only=False), np.int64)
    duration = np.asarray(
        pc.fill_null(t["duration_ms"], 0).to_numpy(zero_copy_only=False), np.int64
    )
    is_get = np.asarray(pc.equal(t["method"], "GET").to_numpy(zero_copy_only=False), bool)
    return status, duration, is_get, t["seq"].to_numpy()


def _bytes_sent(status: np.ndarray, rnd: np.ndarray) -> np.ndarray:
    return np.where(
        status == 0, 0, np.where(status >= 400, 150 + rnd[:, 2] % 40, 820 + rnd[:, 3] % 180)
    )


def _render_combined(t: pa.Table, seed: int) -> pa.Array:
    status, _, _, seq = _numbers_of(t)
    rnd = _counter_bytes(seed, 2, seq).astype(np.int64)
    shown = np.where(status == 0, CLIENT_CLOSED_STATUS, status)
    return _join(
        [
            "10.0.", _text(1 + rnd[:, 0] % 3), ".", _text(10 + rnd[:, 1] % 40), " - - [",
            _clf_time(t["ms"].to_numpy(), COMBINED_UTC_OFFSET_MINUTES), '] "', t["method"], " ",
            _url_path(t["url"]), ' HTTP/1.1" ', _text(shown), " ",
            _text(_bytes_sent(status, rnd)), ' "-" "', USER_AGENT, '"\n',
        ]
    )  # fmt: skip


def _hex_matrix(raw: np.ndarray) -> np.ndarray:
    """(n, 2k) ASCII hex digits of (n, k) bytes."""
    mat = np.empty((raw.shape[0], 2 * raw.shape[1]), dtype=np.uint8)
    mat[:, 0::2] = _DIGITS[raw >> 4]
    mat[:, 1::2] = _DIGITS[raw & 15]
    return mat


def _uuid4(raw: np.ndarray) -> pa.Array:
    """UUID version 4 text from (n, 16) random bytes."""
    raw = raw.copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    h = _hex_matrix(raw)
    return _compose(
        raw.shape[0],
        [h[:, :8], "-", h[:, 8:12], "-", h[:, 12:16], "-", h[:, 16:20], "-", h[:, 20:]],
    )


def _render_envoy(t: pa.Table, seed: int) -> pa.Array:
    status, duration, is_get, seq = _numbers_of(t)
    rnd = _counter_bytes(seed, 2, seq).astype(np.int64)
    answered = pa.array(status != 0)
    upstream_time = _text(np.maximum(1, duration - 1 - rnd[:, 4] % 8))
    # A client that gave up shows as code 0 with DC (downstream connection termination).
    return _join(
        [
            "[", _iso_ms(t["ms"].to_numpy()), '] "', t["method"], " ", _url_path(t["url"]),
            ' HTTP/1.1" ', _text(status), " ", pc.if_else(answered, "-", "DC"), " ",
            _text(np.where(is_get, 0, 180 + rnd[:, 5] % 220)), " ",
            _text(_bytes_sent(status, rnd)), " ", _text(duration), " ",
            pc.if_else(answered, upstream_time, "-"), ' "-" "', USER_AGENT, '" "',
            _uuid4(_counter_bytes(seed, 3, seq)), '" "api.twilio.com" "',
            _pick(rnd[:, 6] % len(_UPSTREAMS), _UPSTREAMS), '"\n',
        ]
    )  # fmt: skip


def _sdk_prefixes(t: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Formatter prefixes at the request's start and at its response."""
    ms = t["ms"].to_numpy()
    duration = np.asarray(pc.fill_null(t["duration_ms"], 0).to_numpy(zero_copy_only=False))
    return (
        _join([_sdk_stamp(ms), SDK_LOG_PREFIX]),
        _join([_sdk_stamp(ms + duration.astype(np.int64)), SDK_LOG_PREFIX]),
    )


def _response_headers(t: pa.Table, seed: int, status: np.ndarray, duration: np.ndarray) -> pa.Array:
    """str() of the response's headers, as requests holds them."""
    rnd = _counter_bytes(seed, 2, t["seq"].to_numpy()).astype(np.int64)
    ms = t["ms"].to_numpy() + duration
    server_ms = np.maximum(8, duration * 7 // 10 - rnd[:, 0] % 20)
    rid = _present(
        pc.is_valid(t["request_id"]),
        _join(["'Twilio-Request-Id': '", pc.fill_null(t["request_id"], ""), "', "]),
    )
    return _join(
        [
            "{'Date': '", _rfc2822(ms // 1000, "GMT"),
            "', 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': '",
            _text(_bytes_sent(np.maximum(status, 1), rnd) - 40),
            "', 'Connection': 'keep-alive', ", rid,
            "'Twilio-Concurrent-Requests': '1', 'Twilio-Request-Duration': '",
            _text(server_ms // 1000), ".", _digits(server_ms % 1000, 3),
            "', 'X-Home-Region': 'us1', 'X-API-Domain': 'api.twilio.com', "
            "'Strict-Transport-Security': 'max-age=31536000'}",
        ]
    )  # fmt: skip


def _render_sdk(t: pa.Table, seed: int) -> pa.Array:
    """twilio-python 9.x blocks; a request without a response ends after END."""
    status, duration, is_get, _ = _numbers_of(t)
    pre, pre_response = _sdk_prefixes(t)
    post = pa.array(~is_get)
    answered = pa.array(status != 0)
    headers = _response_headers(t, seed, status, duration)
    return _join(
        [
            pre, "-- BEGIN Twilio API Request --\n",
            pre, t["method"], " Request: ", t["url"], "\n",
            pre, "Headers:\n",
            _present(post, _join([pre, "Content-Type : application/x-www-form-urlencoded\n"])),
            pre, "Accept : application/json\n",
            pre, "User-Agent : ", USER_AGENT, "\n",
            pre, f"X-Twilio-Client : python-{SDK_VERSION}\n",
            pre, "Accept-Charset : utf-8\n",
            pre, "-- END Twilio API Request --\n",
            _present(answered, _join([
                pre_response, "Response Status Code: ", _text(status), "\n",
                pre_response, "Response Headers: ", headers, "\n",
            ])),
        ]
    )  # fmt: skip


def _optional(t: pa.Table, name: str) -> pa.Array:
    if name in t.column_names:
        column = t[name]
        return column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    return pa.nulls(t.num_rows, pa.string())


def _payload(t: pa.Table) -> pa.Array:
    """The PAYLOAD dict's str(), null when the request carried no form data."""
    items = []
    for key, name in (
        ("To", "to"),
        ("From", "from"),
        ("MessagingServiceSid", "messaging_service_sid"),
        ("Body", "body"),
    ):
        items.append(pc.binary_join_element_wise(f"'{key}': ", _py_repr(_optional(t, name)), ""))
    media = _optional(t, "media_url")
    items.append(pc.binary_join_element_wise("'MediaUrl': [", _py_repr(media), "]", ""))
    # Items joined with ", " (null_handling="skip" drops rows in this pyarrow version).
    pieces: list[str | pa.Array] = ["{"]
    seen = pa.array(np.zeros(t.num_rows, dtype=bool))
    for item in items:
        valid = pc.is_valid(item)
        pieces += [pc.if_else(pc.and_(valid, seen), ", ", ""), pc.fill_null(item, "")]
        seen = pc.or_(seen, valid)
    pieces.append("}")
    post = pc.equal(t["method"], "POST")
    return pc.if_else(pc.and_(seen, post), _join(pieces), pa.scalar(None, pa.string()))


_ERROR_MESSAGES = {
    400: "Bad Request",
    401: "Authenticate",
    404: "The requested resource was not found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _fallback_body(t: pa.Table, status: np.ndarray) -> pa.Array:
    """A response body for rows that carry none: Twilio's error JSON, or sid/to/status."""
    code = _text(20000 + status)
    known = np.array(list(_ERROR_MESSAGES))
    which = np.where(np.isin(status, known), np.searchsorted(known, status), known.size)
    error = _join(
        [
            '{"code": ',
            code,
            ', "message": "',
            _pick(which, (*_ERROR_MESSAGES.values(), "Error")),
            '", "more_info": "https://www.twilio.com/docs/errors/',
            code,
            '", "status": ',
            _text(status),
            "}",
        ]
    )
    ok = _join(
        [
            '{"sid": ',
            _quoted(_optional(t, "message_sid")),
            ', "status": "queued", "to": ',
            _quoted(_optional(t, "to")),
            "}",
        ]
    )
    return pc.if_else(pa.array(status >= 400), error, ok)


def _render_sdk_legacy(t: pa.Table, seed: int) -> pa.Array:
    """twilio-python before 2022: request line, PAYLOAD, then response with its body."""
    status, _, _, _ = _numbers_of(t)
    pre, pre_response = _sdk_prefixes(t)
    payload = _payload(t)
    body = pc.coalesce(_optional(t, "response_body"), _fallback_body(t, status))
    payload_line = _join([pre, "PAYLOAD: ", pc.fill_null(payload, ""), "\n"])
    return _join(
        [
            pre, t["method"], " Request: ", t["url"], "\n",
            _present(pc.is_valid(payload), payload_line),
            _present(pa.array(status != 0), _join(
                [pre_response, t["method"], " Response: ", _text(status), " ", body, "\n"])),
        ]
    )  # fmt: skip


_RENDERERS: dict[str, Callable[[pa.Table, int], pa.Array]] = {
    "jsonl": _render_jsonl,
    "twilio-sdk": _render_sdk,
    "twilio-sdk-legacy": _render_sdk_legacy,
    "combined": _render_combined,
    "envoy": _render_envoy,
}
#: Request log formats the simulator writes.
LOG_FORMATS: tuple[str, ...] = tuple(_RENDERERS)
#: The ``analyzer.logs`` format that reads each of LOG_FORMATS.
PARSER_FORMATS: dict[str, str] = {
    "jsonl": "jsonl",
    "twilio-sdk": "twilio-sdk",
    "twilio-sdk-legacy": "twilio-sdk",
    "combined": "combined",
    "envoy": "envoy",
}
_SDK_RESPONSE = re.compile(r" Response: [0-9]+ ")


def _cut(fmt: str, text: str, fraction: float) -> str:
    """A damaged copy of one rendered request (a torn write)."""
    if fmt in ("twilio-sdk", "twilio-sdk-legacy"):
        lines = text.split("\n")
        # The legacy SDK: the long response body is cut (its request line stays whole:
        # without it the response would join the previous block).
        for k, line in enumerate(lines if fmt == "twilio-sdk-legacy" else ()):
            m = _SDK_RESPONSE.search(line)
            if m:
                body = line[m.end() :]
                lines[k] = line[: m.end()] + body[: max(1, int(len(body) * fraction))]
                return "\n".join(lines)
        # 2022+ blocks: the request line is cut before its "Request:" marker.
        for k, line in enumerate(lines):
            marker = line.find(" Request: ")
            if marker >= 0:
                lines[k] = line[: max(1, int((marker + 5) * fraction))]
                return "\n".join(lines)
    return text[: max(1, int(len(text) * fraction))] + "\n"


def _render(fmt: str, t: pa.Table, seed: int) -> pa.Array:
    text = _RENDERERS[fmt](t, seed)
    cut = t["cut"].to_numpy()
    broken = np.flatnonzero(cut > 0)
    if broken.size:
        # Few rows (about 1 in 10,000): a plain loop is fine here.
        originals = text.take(pa.array(broken)).to_pylist()
        replaced = [_cut(fmt, s, float(c)) for s, c in zip(originals, cut[broken], strict=True)]
        mask = np.zeros(len(text), dtype=bool)
        mask[broken] = True
        text = pc.replace_with_mask(text, pa.array(mask), pa.array(replaced, pa.string()))
    return text


def _request_table(requests: pa.Table | pd.DataFrame) -> pa.Table:
    """Normalize a caller's request table to the renderers' columns."""
    table = (
        requests
        if isinstance(requests, pa.Table)
        else pa.Table.from_pandas(requests, preserve_index=False)
    )
    names = table.column_names
    n = table.num_rows

    def column(name: str) -> pa.Array:
        c = table[name]
        return c.combine_chunks() if isinstance(c, pa.ChunkedArray) else c

    stamp_name = next((c for c in ("timestamp", "time") if c in names), None)
    if stamp_name is None or "method" not in names or not {"url", "path"} & set(names):
        raise UserError("requests need timestamp (or time), method and url (or path) columns")
    stamp = column(stamp_name)
    try:
        if not pa.types.is_timestamp(stamp.type):
            stamp = pc.cast(stamp.cast(pa.string()), pa.timestamp("us", tz="UTC"))
        ms = pc.cast(stamp.cast(pa.timestamp("us", tz=stamp.type.tz)), pa.int64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise UserError(f"unreadable request timestamps: {exc}") from exc
    if ms.null_count:
        raise UserError("every request needs a timestamp")
    url = (
        column("url").cast(pa.string())
        if "url" in names
        else pc.binary_join_element_wise(_API_HOST, column("path").cast(pa.string()), "")
    )
    out: dict[str, pa.Array] = {
        "ms": pa.array(np.floor_divide(ms.to_numpy(zero_copy_only=False), 1000)),
        "method": pc.utf8_upper(column("method").cast(pa.string())),
        "url": url,
    }
    for name, typ in (("status", pa.int16()), ("duration_ms", pa.int64())):
        values = column(name) if name in names else pa.nulls(n, pa.float64())
        if not pa.types.is_integer(values.type):
            values = pc.round(pc.cast(values, pa.float64()))
        out[name] = pc.cast(values, typ)
    for name in ("to", "message_sid", "request_id", "error", "from", "messaging_service_sid",
                 "body", "media_url", "response_body"):  # fmt: skip
        out[name] = column(name).cast(pa.string()) if name in names else pa.nulls(n, pa.string())
    out["seq"] = pa.array(np.arange(n, dtype=np.int64))
    cut = column("cut") if "cut" in names else pa.array(np.zeros(n, np.float32))
    out["cut"] = pc.fill_null(pc.cast(cut, pa.float32()), 0.0)
    return pa.table(out)


def render_request_log(requests: pa.Table | pd.DataFrame, fmt: str, target: str | Path) -> None:
    """Write requests as a log in one of LOG_FORMATS, atomically.

    Columns: ``timestamp`` (ISO 8601 text or timestamps; or ``time``), ``method``, ``url``
    (or ``path``); optional ``status`` (null: no response), ``duration_ms``, ``to``,
    ``message_sid``, ``request_id``, ``error``, and what the pre-2022 SDK showed:
    ``from``, ``messaging_service_sid``, ``body``, ``media_url``, ``response_body``.
    ``cut`` (0-1) damages a row like a torn write. Times are UTC, the application's clock.
    """
    if fmt not in LOG_FORMATS:
        raise UserError(f"unknown log format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}")
    target = Path(target)
    if not target.parent.is_dir():
        raise UserError(f"folder not found: {target.parent}")
    table = _request_table(requests)
    step = max(1, CHUNK_ROWS // 16)
    with _atomic(target) as tmp, tmp.open("wb") as handle:
        for begin in range(0, table.num_rows, step):
            _write_text(handle, _render(fmt, table.slice(begin, step), 0))


def _write_text(handle: Any, text: pa.Array) -> None:
    if isinstance(text, pa.ChunkedArray):
        text = text.combine_chunks()
    if text.type != pa.large_string():
        text = text.cast(pa.large_string())
    buffers = text.buffers()
    offsets = np.frombuffer(buffers[1], dtype=np.int64)[text.offset : text.offset + len(text) + 1]
    if len(text):
        handle.write(memoryview(buffers[2])[offsets[0] : offsets[-1]])


def _complaints(plan: _Plan, numbers: _Numbers, rng: np.random.Generator) -> pd.DataFrame:
    first = plan.pos == 0
    carrier = np.flatnonzero(first & (plan.scenario == _CARRIER))
    app_first = np.flatnonzero(first & np.isin(plan.scenario, [_RETRY, _DOUBLE, _REDELIVERY]))
    app = np.sort(rng.choice(app_first, size=min(2, app_first.size), replace=False))
    # Complaints about an app-side group come after its last record.
    members = np.isin(plan.event, plan.event[app])
    last = pd.Series(plan.created[members]).groupby(plan.event[members]).max()
    rows = np.concatenate([carrier, app])
    base = np.concatenate([plan.created[carrier], last.loc[plan.event[app]].to_numpy()])
    reported = base + np.concatenate(
        [rng.integers(300, 6 * 3600, carrier.size), rng.integers(120, 3 * 3600, app.size)]
    )
    notes = np.concatenate(
        [
            np.array(_COMPLAINT_NOTES_CARRIER)[rng.integers(0, 4, carrier.size)],
            np.array(_COMPLAINT_NOTES_APP)[rng.integers(0, 2, app.size)],
        ]
    )
    frame = pd.DataFrame(
        {
            "to": numbers.recipients.take(pa.array(plan.recipient[rows])).to_pylist(),
            "reported_at": np.datetime_as_string(reported.astype("datetime64[s]"), unit="s"),
            "note": notes,
        }
    )
    frame["reported_at"] = frame["reported_at"] + "Z"
    return frame.sort_values(["reported_at", "to"], kind="stable").reset_index(drop=True)


def simulate(
    out_dir: str | Path,
    config: SimulationConfig,
    progress: Callable[[int, int], None] | None = None,
    dataset: str | Path | None = None,
) -> SimulationResult:
    """Simulate the configured days and write messages, request log, truth, complaints
    and metadata into ``out_dir`` (created if missing). Deterministic for a seed.

    With ``dataset``, the messages are also stored in that message dataset (as
    ``analyzer export`` would), for ``nightly --no-export`` or ``detect --start/--end``.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} exists and is not a directory")
    rng = np.random.default_rng(config.seed)
    plan, numbers, sids = _plan(config, rng)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UserError(f"cannot create {out}: {exc.strerror}") from exc
    result = SimulationResult(
        messages_path=out / "messages.parquet",
        requests_path=out / "server_requests.jsonl",
        truth_path=out / "truth.parquet",
        complaints_path=out / "complaints.csv",
        metadata_path=out / METADATA_FILE,
        records=plan.counts,
        groups={s: plan.groups[s] for s in SCENARIOS},
        log_lines=int(plan.line_ms.size),
    )
    with _file_set(out) as files:
        _write_simulation(config, plan, numbers, sids, rng, result, files, progress)
    if dataset is not None:
        messages = pq.ParquetFile(result.messages_path)
        for group in range(messages.num_row_groups):
            write_messages(dataset, messages.read_row_group(group))
    return result


def _write_simulation(
    config: SimulationConfig,
    plan: _Plan,
    numbers: _Numbers,
    sids: list[str],
    rng: np.random.Generator,
    result: SimulationResult,
    files: _FileSet,
    progress: Callable[[int, int], None] | None,
) -> None:
    """Write every file of a simulation aside, through ``files``."""
    out = result.messages_path.parent
    _atomic = files.file
    total = plan.n + plan.line_ms.size
    done = 0
    if progress is not None:
        progress(0, total)
    with _atomic(result.messages_path) as messages_tmp, _atomic(result.truth_path) as truth_tmp:
        messages_writer = pq.ParquetWriter(messages_tmp, MESSAGE_SCHEMA, compression="zstd")
        truth_writer: pq.ParquetWriter | None = None
        try:
            for begin in range(0, plan.n, CHUNK_ROWS):
                rows = np.arange(begin, min(begin + CHUNK_ROWS, plan.n))
                messages_writer.write_table(
                    _message_chunk(plan, numbers, sids, rows), row_group_size=CHUNK_ROWS
                )
                truth = _truth_chunk(plan, rows)
                if truth_writer is None:
                    truth_writer = pq.ParquetWriter(truth_tmp, truth.schema, compression="zstd")
                truth_writer.write_table(truth, row_group_size=CHUNK_ROWS)
                del truth
                pa.default_memory_pool().release_unused()
                done += rows.size
                if progress is not None:
                    progress(done, total)
        finally:
            messages_writer.close()
            if truth_writer is not None:
                truth_writer.close()

    formats = _log_formats(config)
    result.request_logs = {fmt: out / _log_name(fmt) for fmt in formats}
    with ExitStack() as stack:
        handles = {}
        for fmt, path in result.request_logs.items():
            handles[fmt] = stack.enter_context(stack.enter_context(_atomic(path)).open("wb"))
        # Log lines are wide and built from many pieces: smaller batches bound memory
        # (SDK blocks are about ten lines per request).
        step = max(1, CHUNK_ROWS // (4 if len(formats) == 1 else 16))
        with_records = "twilio-sdk-legacy" in formats
        for begin in range(0, plan.line_ms.size, step):
            lines = np.arange(begin, min(begin + step, plan.line_ms.size))
            chunk = _request_chunk(
                plan, numbers, sids, config.seed, lines, with_records, config.request_id_is_sid
            )
            for fmt, handle in handles.items():
                _write_text(handle, _render(fmt, chunk, config.seed))
            del chunk
            pa.default_memory_pool().release_unused()
            done += lines.size
            if progress is not None:
                progress(done, total)

    complaints = _complaints(plan, numbers, rng)
    result.complaints = len(complaints)
    with _atomic(result.complaints_path) as complaints_tmp:
        complaints.to_csv(complaints_tmp, index=False, lineterminator="\n")

    metadata = _metadata(config, result, sids)
    with _atomic(result.metadata_path) as metadata_tmp:
        metadata_tmp.write_text(json.dumps(metadata, indent=2, ensure_ascii=False) + "\n")


def _metadata(config: SimulationConfig, result: SimulationResult, sids: list[str]) -> dict:
    described = asdict(config)
    described["start"] = config.start.isoformat()
    described["log_gap"] = (
        None if config.log_gap is None else [t.isoformat() for t in config.log_gap]
    )
    return {
        "generator": "analyzer.simulate",
        "config": described,
        "account_sid": sids[0],
        "messaging_service_sids": sids[1:],
        "records": result.records,
        "groups": result.groups,
        "log_lines": result.log_lines,
        "complaints": result.complaints,
        "files": {
            "messages": result.messages_path.name,
            "server_requests": result.requests_path.name,
            "request_logs": {fmt: p.name for fmt, p in result.request_logs.items()},
            "truth": result.truth_path.name,
            "complaints": result.complaints_path.name,
        },
    }
