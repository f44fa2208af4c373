"""Property tests: phone masking agrees with a brute-force reference and never leaks digits."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.redact import (
    CALLING_CODES,
    MASK,
    country_codes,
    mask_phone,
    mask_phones,
    scrub_secrets,
)

DIGITS = "0123456789"
SEPARATORS = " \t-.()/"


def reference_mask(value: str) -> str:
    """The masking rules written out character by character."""
    if value == "":
        return ""
    compact = "".join(c for c in value if c not in SEPARATORS)
    match = re.match(r"[a-z][a-z0-9-]*:", compact)
    channel = match.group(0) if match else ""
    rest = compact[len(channel) :]
    positions = [c for c in rest if c in DIGITS or c == MASK]
    n = len(positions)
    code = ""
    for length in (1, 2, 3):
        head = "".join(positions[:length])
        if len(head) == length and head in CALLING_CODES:
            code = head
            break
    e164 = (
        len(rest) > 1
        and rest[0] == "+"
        and all(c in DIGITS or c == MASK for c in rest[1:])
        and code != ""
        and 8 <= n <= 15
    )
    keep = 4 if e164 or n >= 8 else 0
    shown_code = code if e164 else ""
    hidden = max(n - len(shown_code) - keep, 0) if n else 3
    last = "".join(positions[-keep:]) if keep else ""
    head = f"+{shown_code} " if e164 else ""
    return channel + head + MASK * hidden + last


@st.composite
def e164_numbers(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(sorted(CALLING_CODES)))
    total = draw(st.integers(min_value=6, max_value=16))
    rest = draw(
        st.text(
            alphabet=DIGITS, min_size=max(total - len(code), 0), max_size=max(total - len(code), 0)
        )
    )
    digits = code + rest
    # sprinkle separators the way people write numbers
    out = []
    for ch in digits:
        out.append(ch)
        if draw(st.integers(0, 5)) == 0:
            out.append(draw(st.sampled_from(list(SEPARATORS))))
    prefix = draw(st.sampled_from(["", "", "whatsapp:", "tel:"]))
    return prefix + "+" + "".join(out)


anything = st.one_of(
    e164_numbers(),
    st.text(alphabet=DIGITS + SEPARATORS + "+:" + MASK + "abzW", max_size=24),
    st.text(max_size=12),
)


@settings(max_examples=400, deadline=None)
@given(anything)
def test_mask_matches_reference(value: str) -> None:
    assert mask_phone(value) == reference_mask(value)


@settings(max_examples=300, deadline=None)
@given(anything)
def test_mask_is_idempotent(value: str) -> None:
    once = mask_phone(value)
    assert mask_phone(once) == once


@settings(max_examples=300, deadline=None)
@given(e164_numbers())
def test_e164_keeps_exactly_country_code_and_last_four(value: str) -> None:
    masked = mask_phone(value)
    compact = "".join(c for c in value.split(":")[-1] if c in DIGITS)
    revealed = "".join(c for c in masked if c in DIGITS)
    if 8 <= len(compact) <= 15:
        code = next(compact[:k] for k in (1, 2, 3) if compact[:k] in CALLING_CODES)
        assert masked.endswith(compact[-4:])
        assert revealed == code + compact[-4:]
        assert masked.count(MASK) == len(compact) - len(code) - 4
    else:
        # too short or too long for E.164: at most the last 4 digits
        assert len(revealed) <= 4
        assert compact.endswith(revealed)


@settings(max_examples=300, deadline=None)
@given(anything)
def test_never_reveals_more_than_it_may(value: str) -> None:
    masked = mask_phone(value)
    compact = "".join(c for c in value if c not in SEPARATORS)
    match = re.match(r"[a-z][a-z0-9-]*:", compact)
    channel = match.group(0) if match else ""  # a channel prefix (whatsapp:) is kept as is
    assert masked.startswith(channel)
    rest_in, rest_out = compact[len(channel) :], masked[len(channel) :]
    digits_in = [c for c in rest_in if c in DIGITS]
    digits_out = [c for c in rest_out if c in DIGITS]
    # never more than code (<= 3) + 4 digits, and only digits the input had
    assert len(digits_out) <= 7
    for d in set(digits_out):
        assert digits_out.count(d) <= digits_in.count(d)
    if sum(c in DIGITS or c == MASK for c in rest_in) < 8:
        assert digits_out == []
    assert len(masked) <= max(len(value) + 1, len(channel) + 3)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.none(), anything), max_size=20))
def test_vectorized_equals_scalar(values: list[str | None]) -> None:
    expected = [None if v is None else mask_phone(v) for v in values]
    assert mask_phones(values).to_pylist() == expected


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("+14155550123", "+1 ••••••0123"),
        ("+16135550123", "+1 ••••••0123"),  # Canada shares NANP +1
        ("+12685550123", "+1 ••••••0123"),  # Antigua: +1 268 is NANP, not +268
        ("+447700900123", "+44 ••••••0123"),
        ("+4915112345678", "+49 •••••••5678"),
        ("+33612345678", "+33 •••••5678"),
        ("+61412345678", "+61 •••••5678"),
        ("+919876543210", "+91 ••••••3210"),
        ("+5511987654321", "+55 •••••••4321"),
        ("+79161234567", "+7 ••••••4567"),
        ("+77011234567", "+7 ••••••4567"),  # Kazakhstan shares +7
        ("+85212345678", "+852 ••••5678"),
        ("+971501234567", "+971 •••••4567"),
        ("+3545512345", "+354 •••2345"),
        ("+2348012345678", "+234 ••••••5678"),
        ("+1 (415) 555-0123", "+1 ••••••0123"),
        ("whatsapp:+447700900123", "whatsapp:+44 ••••••0123"),
        ("07700 900123", "•••••••0123"),  # national format: not E.164
        ("+2801234567", "••••••4567"),  # +280 is not an assigned code
        ("+1234567", "•••••••"),  # too short to keep anything
        ("Northwind", "•••"),
        ("", ""),
    ],
)
def test_known_countries(number: str, masked: str) -> None:
    assert mask_phone(number) == masked


def test_calling_codes_are_prefix_free() -> None:
    for code in CALLING_CODES:
        for k in range(1, len(code)):
            assert code[:k] not in CALLING_CODES, (code, code[:k])


def test_scrub_secrets_removes_tokens() -> None:
    token = "0123456789abcdef0123456789abcdef"
    text = (
        f"https://ACx:{token}@api.twilio.com Authorization: Basic QUM6eHl6 "
        f"{token} SM{token} custom-secret-value"
    )
    out = scrub_secrets(text, secrets=["custom-secret-value"])
    assert token not in out.replace(f"SM{token}", "")
    assert "QUM6eHl6" not in out
    assert "custom-secret-value" not in out
    assert f"SM{token}" in out  # SIDs are identifiers, not secrets


@given(st.lists(st.one_of(st.none(), anything), max_size=20))
def test_country_codes_are_what_the_mask_keeps(values: list[str | None]) -> None:
    codes = country_codes(values).to_pylist()
    for value, code in zip(values, codes, strict=True):
        if value is None:
            assert code is None
            continue
        masked = mask_phone(value)
        kept = re.match(r"^(?:[a-z][a-z0-9-]*:)?(\+\d{1,3}) ", masked)
        assert code == (kept.group(1) if kept else None)
