"""Message bodies: which template and variant each record gets, its text and segments."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.templates import (
    INBOUND_BODIES,
    INBOUND_TEMPLATE,
    KEYWORD_BODIES,
    KEYWORD_TEMPLATE,
    MEDIA_EMPTY_TEMPLATE,
    MEDIA_NULL_TEMPLATE,
    NAMES,
    TEMPLATE_COUNT,
    TEMPLATES,
)
from analyzer.simulate.text import join, mix64, pick

GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM_EXTENDED = set("^{}\\[~]|€\f")


def sms_units(text: str) -> tuple[bool, int]:
    """(is UCS-2, length in encoding units) of one message text."""
    if all(c in GSM_BASIC or c in GSM_EXTENDED for c in text):
        return False, sum(2 if c in GSM_EXTENDED else 1 for c in text)
    return True, sum(2 if ord(c) > 0xFFFF else 1 for c in text)


def segment_count(ucs2: np.ndarray, units: np.ndarray) -> np.ndarray:
    """SMS segments of texts of this encoding and length in units."""
    single = np.where(ucs2, 70, 160)
    multi = np.where(ucs2, 67, 153)
    return np.where(units <= single, 1, -(-units // multi)).astype(np.int64)


def _template_encoding() -> tuple[np.ndarray, np.ndarray]:
    """Per template: UCS-2 flag and units beyond one per code point (from literals)."""
    ucs2 = np.zeros(TEMPLATE_COUNT, dtype=bool)
    extra = np.zeros(TEMPLATE_COUNT, dtype=np.int64)
    for k, template in enumerate(TEMPLATES):
        pieces = template.render(np.zeros(1, dtype=np.int64))
        literal = "".join(p for p in pieces if isinstance(p, str))
        variable = "".join(p[0].as_py() for p in pieces if not isinstance(p, str))
        is_ucs2, units = sms_units(literal + variable)
        _, variable_units = sms_units(variable)
        # Variable parts are names and digits: one unit per character in either encoding.
        assert variable_units == len(variable) and all(c in GSM_BASIC for c in "".join(NAMES))
        ucs2[k] = is_ucs2
        extra[k] = units - len(literal) - len(variable)
    return ucs2, extra


_TEMPLATE_UCS2, _TEMPLATE_EXTRA = _template_encoding()
_INBOUND_SEGMENTS = np.array(
    [segment_count(np.array([u]), np.array([n]))[0] for u, n in map(sms_units, INBOUND_BODIES)]
)
_KEYWORD_SEGMENTS = np.array(
    [segment_count(np.array([u]), np.array([n]))[0] for u, n in map(sms_units, KEYWORD_BODIES)]
)


def resolve_collisions(
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
            digest = mix64(mix64(key.astype(np.uint64)) ^ param.astype(np.uint64))
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


def draw_bodies(
    rng: np.random.Generator,
    recipient: np.ndarray,
    inbound: np.ndarray,
    media: np.ndarray,
    legit: np.ndarray,
    followers: np.ndarray,
    leaders: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(template, param) of every record: one draw per unit; a planted group's followers
    take their leader's, legit repeats use verification templates.

    ``inbound`` and ``media`` are record masks; ``legit``, ``followers`` and ``leaders``
    (the first record of each follower's group) record indices.
    """
    m = recipient.size
    unit = ~inbound & ~media
    unit[followers] = False
    units = np.flatnonzero(unit)
    del unit
    weights = np.array([t.weight for t in TEMPLATES])
    verify = np.array([t.verification for t in TEMPLATES], dtype=float)
    template = np.zeros(m, dtype=np.int8)
    template[units] = rng.choice(TEMPLATE_COUNT, size=units.size, p=weights / weights.sum())
    template[legit] = rng.choice(TEMPLATE_COUNT, size=legit.size, p=verify / verify.sum())
    cardinality = np.array([t.cardinality for t in TEMPLATES], dtype=np.int64)
    param = np.zeros(m, dtype=np.int64)
    card = cardinality[template[units]]
    drawn = rng.integers(0, card)
    # Legit repeats go to one recipient too: they get different bodies like everyone else.
    param[units] = resolve_collisions(
        recipient[units].astype(np.int64) * 16 + template[units], drawn, card, rng
    )
    del units, card, drawn
    template[followers] = template[leaders]
    param[followers] = param[leaders]
    n_inbound, n_media = int(inbound.sum()), int(media.sum())
    template[inbound] = INBOUND_TEMPLATE
    param[inbound] = rng.integers(0, len(INBOUND_BODIES), size=n_inbound)
    template[media] = np.where(rng.random(n_media) < 0.5, MEDIA_EMPTY_TEMPLATE, MEDIA_NULL_TEMPLATE)
    return template, param


def render_bodies(template: np.ndarray, param: np.ndarray) -> pa.Array:
    """Body text of each row (null for media-only rows rendered as null)."""
    n = template.size
    parts: list[pa.Array] = []
    positions: list[np.ndarray] = []
    for k in np.unique(template):
        rows = np.flatnonzero(template == k)
        if k < TEMPLATE_COUNT:
            parts.append(join(TEMPLATES[k].render(param[rows])))
        elif k == INBOUND_TEMPLATE:
            parts.append(pick(param[rows], INBOUND_BODIES))
        elif k == KEYWORD_TEMPLATE:
            parts.append(pick(param[rows], KEYWORD_BODIES))
        elif k == MEDIA_EMPTY_TEMPLATE:
            parts.append(pick(np.zeros(rows.size, np.int64), ("",)))
        else:
            parts.append(pa.nulls(rows.size, pa.string()))
        positions.append(rows)
    if not parts:
        return pa.array([], pa.string())
    combined = pa.concat_arrays(parts)
    inverse = np.empty(n, dtype=np.int64)
    inverse[np.concatenate(positions)] = np.arange(n)
    return combined.take(pa.array(inverse))


def num_segments(template: np.ndarray, param: np.ndarray, body: pa.Array) -> np.ndarray:
    """SMS segments of each rendered body."""
    real = template < TEMPLATE_COUNT
    t = np.where(real, template, 0)
    lengths = pc.fill_null(pc.utf8_length(body), 0).to_numpy(zero_copy_only=False)
    units = lengths + _TEMPLATE_EXTRA[t]
    segments = segment_count(_TEMPLATE_UCS2[t], units)
    inbound = template == INBOUND_TEMPLATE
    segments[inbound] = _INBOUND_SEGMENTS[param[inbound]]
    segments[template > INBOUND_TEMPLATE] = 1
    keyword = template == KEYWORD_TEMPLATE
    segments[keyword] = _KEYWORD_SEGMENTS[param[keyword]]
    return segments
