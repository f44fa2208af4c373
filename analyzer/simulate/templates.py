"""The message templates: the texts the application sends, drawn by number."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.text import digits, pick

NAMES = (
    "Ana", "Ben", "Chloé", "David", "Emma", "Farid", "Grace", "Hiro", "Inès", "Jürgen",
    "Kofi", "Lena", "Mateo", "Nadia", "Olivia", "Priya", "Quentin", "Rosa", "Søren",
    "Tom", "Uma", "Victor", "Wei", "Yara",
)  # fmt: skip
_CLINICS = ("Harbor Dental", "Maple Family Clinic", "Eastside Physio", "Northwind Vision")
_WEEKDAYS = ("Mon 30 Nov", "Tue 1 Dec", "Wed 2 Dec", "Thu 3 Dec", "Fri 4 Dec")
INBOUND_BODIES = (
    "STOP", "Yes", "C", "R", "Thanks!", "Wrong number, please remove me",
    "Can you deliver after 5pm?", "👍", "Ok", "HELP",
)  # fmt: skip
#: Inbound keyword messages planted for opt-outs, by what they do: trimmed and ignoring
#: case, the first three lists are keywords; the near misses change nothing.
OPT_OUT_BODIES = ("stop", " Stop ", "UNSUBSCRIBE", "sToP", "STOP", "Cancel")
OPT_IN_BODIES = ("START", "YES", "UNSTOP", "start ")
HELP_BODIES = ("HELP", "INFO", "help")
NEAR_MISS_BODIES = ("STOP.", "stop texting me", "STOP ALL", "Please stop")
KEYWORD_BODIES = OPT_OUT_BODIES + OPT_IN_BODIES + HELP_BODIES + NEAR_MISS_BODIES
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


def split_digits(p: np.ndarray, *radices: int) -> list[np.ndarray]:
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
    return digits(scrambled, 8, 16)


def _t_verify(p: np.ndarray) -> list[str | pa.Array]:
    return ["Your Northwind verification code is ", digits(p, 6), ". Don't share it with anyone."]


def _t_login(p: np.ndarray) -> list[str | pa.Array]:
    minutes, code = split_digits(p, 3)
    return [
        digits(code, 6),
        " is your Northwind login code. It expires in ",
        pick(minutes, ("5", "10", "15")),
        " minutes.",
    ]


def _t_shipped(p: np.ndarray) -> list[str | pa.Array]:
    name, order = split_digits(p, len(NAMES))
    return [
        "Hi ", pick(name, NAMES), ", your order #", digits(order, 8),
        " has shipped! Track it: https://nw.example/t/", _tracking(order),
    ]  # fmt: skip


def _t_appointment(p: np.ndarray) -> list[str | pa.Array]:
    name, clinic, day, hour, quarter, ref = split_digits(p, len(NAMES), 4, 5, 9, 4)
    return [
        "Reminder: ", pick(name, NAMES), ", your appointment at ", pick(clinic, _CLINICS),
        " is on ", pick(day, _WEEKDAYS), " at ", digits(hour + 8, 2), ":",
        digits(quarter * 15, 2), ". Reply C to confirm or R to reschedule. Ref ", digits(ref, 6),
    ]  # fmt: skip


def _t_window(p: np.ndarray) -> list[str | pa.Array]:
    hour, order = split_digits(p, 11)
    return [
        "Northwind: your delivery ", digits(order, 8), " arrives today between ",
        digits(hour + 8, 2), ":00 and ", digits(hour + 10, 2), ":00.",
    ]  # fmt: skip


def _t_notice(p: np.ndarray) -> list[str | pa.Array]:
    return ["Northwind account notice (ref ", digits(p, 8), _LONG_NOTICE]


def _t_emoji(p: np.ndarray) -> list[str | pa.Array]:
    name, order = split_digits(p, len(NAMES))
    return [
        "🎉 ", pick(name, NAMES), ", your order #", digits(order, 8),
        " is on its way! 🚚 Track: https://nw.example/t/", _tracking(order),
    ]  # fmt: skip


def _t_german(p: np.ndarray) -> list[str | pa.Array]:
    return ["Ihr Northwind-Code lautet ", digits(p, 6), " – gültig für 10 Minuten."]


def _t_french(p: np.ndarray) -> list[str | pa.Array]:
    name, order = split_digits(p, len(NAMES))
    return [
        "Bonjour ", pick(name, NAMES), ", votre commande n°", digits(order, 8),
        " a été expédiée. Merci d’avoir choisi Northwind !",
    ]  # fmt: skip


def _t_invoice(p: np.ndarray) -> list[str | pa.Array]:
    cents, euros, day, invoice = split_digits(p, 100, 500, 5)
    number = digits(invoice, 7)
    return [
        "Northwind: payment of €", pc.cast(pa.array(euros + 5), pa.string()), ",",
        digits(cents, 2), " for invoice [INV-", number, "] is due on ", pick(day, _WEEKDAYS),
        ". Pay at https://nw.example/p/", number,
    ]  # fmt: skip


def _t_japanese(p: np.ndarray) -> list[str | pa.Array]:
    return ["【Northwind】ご注文（注文番号 ", digits(p, 8), _JA_TAIL, _tracking(p)]


@dataclass(frozen=True)
class Template:
    """A message text with numbered variants: ``render`` gives the pieces of variant p."""

    render: Callable[[np.ndarray], list[str | pa.Array]]
    cardinality: int
    weight: float
    verification: bool = False


TEMPLATES: tuple[Template, ...] = (
    Template(_t_verify, 10**6, 0.22, True),
    Template(_t_login, 3 * 10**6, 0.10, True),
    Template(_t_shipped, len(NAMES) * 10**8, 0.16),
    Template(_t_appointment, len(NAMES) * 4 * 5 * 9 * 4 * 10**6, 0.12),
    Template(_t_window, 11 * 10**8, 0.12),
    Template(_t_notice, 10**8, 0.05),
    Template(_t_emoji, len(NAMES) * 10**8, 0.05),
    Template(_t_german, 10**6, 0.05, True),
    Template(_t_french, len(NAMES) * 10**8, 0.04),
    Template(_t_invoice, 100 * 500 * 5 * 10**7, 0.06),
    Template(_t_japanese, 10**8, 0.03),
)
TEMPLATE_COUNT = len(TEMPLATES)
# Pseudo-templates beyond the real ones: inbound replies, media-only bodies and the
# inbound keyword messages planted for opt-outs.
INBOUND_TEMPLATE = TEMPLATE_COUNT
MEDIA_EMPTY_TEMPLATE = TEMPLATE_COUNT + 1
MEDIA_NULL_TEMPLATE = TEMPLATE_COUNT + 2
KEYWORD_TEMPLATE = TEMPLATE_COUNT + 3
