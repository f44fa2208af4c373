"""What the opt-outs in a simulation's records amount to: a plain replay of Twilio's
rules over the plan, written to simulation.json as the truth an analysis must find.

The rules: an inbound keyword (the whole body, trimmed, ignoring case) to one of our
numbers applies to its scope (the number's Messaging Service, else the number); an
opt-out opts the recipient out, an opt-in back in, HELP changes nothing. Events are in
time order, inbound first on ties. An outbound record in the scope while its recipient
is opted out is ``blocked`` (21610) or ``sent_after_opt_out``; a 21610 while not opted
out is an inferred opt-out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa

from analyzer.simulate.messages import Direction, record_sids
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.templates import (
    INBOUND_BODIES,
    INBOUND_TEMPLATE,
    KEYWORD_BODIES,
    KEYWORD_TEMPLATE,
    NEAR_MISS_BODIES,
)
from analyzer.vocabulary import OPTED_OUT_ERROR, OptoutKind

if TYPE_CHECKING:
    from analyzer.simulate.plan import Plan

#: Twilio's default keywords of each kind, in OptoutKind order.
KEYWORDS: dict[OptoutKind, tuple[str, ...]] = {
    OptoutKind.OPT_OUT: (
        "STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT",
    ),
    OptoutKind.OPT_IN: ("START", "YES", "UNSTOP"),
    OptoutKind.HELP: ("HELP", "INFO"),
}  # fmt: skip
KINDS: tuple[OptoutKind, ...] = tuple(KEYWORDS)
OPT_OUT, OPT_IN, HELP = (KINDS.index(k) for k in KINDS)
#: Bits of a (scope, recipient) key that hold the recipient.
_RECIPIENT_BITS = 32


def keyword_kind(body: str) -> int:
    """The KINDS index of an inbound body's keyword, -1 when it is none."""
    word = body.strip().upper()
    return next((k for k, kind in enumerate(KINDS) if word in KEYWORDS[kind]), -1)


_INBOUND_KIND = np.array([keyword_kind(b) for b in INBOUND_BODIES], dtype=np.int8)
_KEYWORD_KIND = np.array([keyword_kind(b) for b in KEYWORD_BODIES], dtype=np.int8)
_NEAR_MISS = np.array([b in NEAR_MISS_BODIES for b in KEYWORD_BODIES])


@dataclass
class PlantedOptouts:
    """Records planted to show how far an opt-out reaches (plan rows)."""

    #: Sends refused from another number of the Messaging Service the STOP went to.
    service_wide: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    #: Sends from another number to a recipient who opted out of a number outside any
    #: service: not covered by that opt-out.
    other_scope: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))


@dataclass
class Replay:
    """The opt-out state the records give, per record and per (scope, recipient) key."""

    #: Outbound records sent while their recipient was opted out in their scope.
    opted_out: np.ndarray
    #: Opt-ins that ended an opt-out.
    re_opt_in: np.ndarray
    #: Keys opted out at the end.
    suppressed: np.ndarray
    #: Keys with a 21610 refusal while not opted out.
    inferred: np.ndarray


def inbound_kinds(plan: Plan) -> np.ndarray:
    """Each record's keyword kind (KINDS index), -1 for none (and outbound records)."""
    kind = np.full(plan.n, -1, dtype=np.int8)
    for template, kinds in ((INBOUND_TEMPLATE, _INBOUND_KIND), (KEYWORD_TEMPLATE, _KEYWORD_KIND)):
        rows = np.flatnonzero(plan.template == template)
        kind[rows] = kinds[plan.param[rows]]
    return kind


def scope_codes(plan: Plan, numbers: PhoneNumbers) -> np.ndarray:
    """Each record's scope: its sender's service index, else services + sender index."""
    service = numbers.sender_service[plan.sender]
    n_services = int(numbers.sender_service.max()) + 1
    return np.where(service >= 0, service, n_services + plan.sender.astype(np.int64))


def record_keys(plan: Plan, scope: np.ndarray) -> np.ndarray:
    """Each record's (scope, recipient) key as one integer."""
    return (scope.astype(np.int64) << _RECIPIENT_BITS) | plan.recipient.astype(np.int64)


def replay(plan: Plan, keys: np.ndarray, kind: np.ndarray) -> Replay:
    """Replay the keyword events and sends of every key in time order."""
    moves = (kind == OPT_OUT) | (kind == OPT_IN)
    outbound = plan.direction != Direction.INBOUND
    rows = np.flatnonzero(moves | outbound)
    # Rows are in (date_created, sid) order already: the row breaks the remaining ties.
    order = rows[np.lexsort((rows, outbound[rows], plan.created[rows], keys[rows]))]
    key = keys[order]
    position = np.arange(order.size)
    last_move = np.maximum.accumulate(np.where(moves[order], position, -1))
    at = np.maximum(last_move, 0)
    out_after = (last_move >= 0) & (key[at] == key) & (kind[order[at]] == OPT_OUT)
    out_before = np.zeros(order.size, dtype=bool)
    out_before[1:] = out_after[:-1] & (key[1:] == key[:-1])
    opted_out = np.zeros(plan.n, dtype=bool)
    opted_out[order] = outbound[order] & out_after
    re_opt_in = np.zeros(plan.n, dtype=bool)
    re_opt_in[order] = (kind[order] == OPT_IN) & out_before
    ends = np.flatnonzero(np.append(key[1:] != key[:-1], True)) if order.size else position
    refused = outbound[order] & (plan.error[order] == OPTED_OUT_ERROR) & ~out_after
    return Replay(
        opted_out=opted_out,
        re_opt_in=re_opt_in,
        suppressed=key[ends][out_after[ends]],
        inferred=np.unique(key[refused]),
    )


def describe_optouts(plan: Plan, numbers: PhoneNumbers, sids: list[str]) -> dict[str, Any]:
    """The opt-out truth for simulation.json (``optouts``): every keyword event, the
    near misses, the sends to opted-out recipients by verdict, the inferred opt-outs,
    the recipients opted out at the end and the re-opt-ins."""
    scope = scope_codes(plan, numbers)
    kind = inbound_kinds(plan)
    state = replay(plan, record_keys(plan, scope), kind)
    events = np.flatnonzero(kind >= 0)
    keyword = np.array([b.strip().upper() for b in (*INBOUND_BODIES, *KEYWORD_BODIES)])
    text = (
        np.where(plan.template[events] == KEYWORD_TEMPLATE, len(INBOUND_BODIES), 0)
        + plan.param[events]
    )
    keyword_rows = np.flatnonzero(plan.template == KEYWORD_TEMPLATE)
    near = keyword_rows[_NEAR_MISS[plan.param[keyword_rows]]]
    refused = plan.error == OPTED_OUT_ERROR
    names = _scope_names(numbers, sids)
    return {
        "events": [
            {"sid": sid, "kind": KINDS[k].value, "keyword": str(word)}
            for sid, k, word in zip(_sids(plan, events), kind[events], keyword[text], strict=True)
        ],
        "near_miss_sids": _sids(plan, near),
        "blocked_sids": _sids(plan, np.flatnonzero(state.opted_out & refused)),
        "sent_after_opt_out_sids": _sids(plan, np.flatnonzero(state.opted_out & ~refused)),
        "service_wide_sids": _sids(plan, plan.optouts.service_wide),
        "other_scope_sids": _sids(plan, plan.optouts.other_scope),
        "inferred": _key_list(state.inferred, names, numbers),
        "suppressed_at_end": _key_list(state.suppressed, names, numbers),
        "re_opt_ins": int(np.count_nonzero(state.re_opt_in)),
    }


def _sids(plan: Plan, rows: np.ndarray) -> list[str]:
    return [str(s) for s in record_sids(plan, np.sort(rows)).to_pylist()]


def _scope_names(numbers: PhoneNumbers, sids: list[str]) -> list[str]:
    """The text of each scope code: the service SIDs, then every sender number."""
    n_services = int(numbers.sender_service.max()) + 1
    return [*sids[1 : 1 + n_services], *map(str, numbers.senders.to_pylist())]


def _key_list(keys: np.ndarray, names: list[str], numbers: PhoneNumbers) -> list[dict[str, str]]:
    """(scope, recipient) keys as {scope, recipient}, sorted by scope, then recipient."""
    recipient = numbers.recipients.take(pa.array(keys & ((1 << _RECIPIENT_BITS) - 1))).to_pylist()
    pairs = sorted(
        (names[int(s)], str(r)) for s, r in zip(keys >> _RECIPIENT_BITS, recipient, strict=True)
    )
    return [{"scope": s, "recipient": r} for s, r in pairs]
