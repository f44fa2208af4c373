"""Tests of the byte-level fast paths of issue 16: each gives what the Arrow kernels it
replaced give, on lines of every shape."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from hypothesis import given
from hypothesis import strategies as st

from analyzer.logs.columns import core_table, letters_only, per_distinct, to_int_status
from analyzer.logs.wire_split import combined_fields
from analyzer.schema import TIMESTAMP
from tests.unit.logs.samples import ACC, HYPO


def reference_combined_fields(lines: pa.Array) -> tuple[dict[str, pa.Array], np.ndarray]:
    """combined_fields as it was before issue 16's work: the lines split at their quotes,
    the request at its spaces."""
    split = pc.split_pattern(lines, '"', max_splits=2)
    ok = np.asarray(pc.fill_null(pc.equal(pc.list_value_length(split), 3), False))
    split = pc.if_else(pa.array(ok), split, pa.scalar([""] * 3, split.type))
    head, request, rest = (pc.list_element(split, i) for i in range(3))
    bracket = pc.find_substring(head, "[")
    bracket_at = pc.subtract(pc.binary_length(head), 29)
    ok &= np.asarray(pc.fill_null(pc.equal(bracket, bracket_at), False))
    ok &= np.asarray(pc.fill_null(pc.ends_with(head, "] "), False))
    words = pc.split_pattern(request, " ", max_splits=2)
    two = np.asarray(pc.fill_null(pc.greater_equal(pc.list_value_length(words), 2), False))
    words = pc.if_else(pa.array(two), words, pa.scalar([""] * 3, words.type))
    method, target = pc.list_element(words, 0), pc.list_element(words, 1)
    ok &= two & np.asarray(pc.fill_null(pc.match_substring_regex(method, "^[A-Za-z]+$"), False))
    ok &= np.asarray(pc.fill_null(pc.greater(pc.binary_length(target), 0), False))
    status = pc.utf8_slice_codeunits(rest, 0, 5)
    ok &= np.asarray(pc.fill_null(pc.match_substring_regex(status, r"^ [0-9]{3} $"), False))
    fields = {
        "method": method,
        "target": target,
        "time": pc.utf8_slice_codeunits(head, -28, -2),
        "status": pc.utf8_slice_codeunits(status, 1, 4),
    }
    keep = pa.array(ok)
    return {k: pc.if_else(keep, v, pa.scalar(None, v.type)) for k, v in fields.items()}, ok


LINE = '10.1.2.3 - - [29/Nov/2026:14:03:01 +0100] "GET /x HTTP/1.1" 200 5 "-" "curl/8"'


@st.composite
def mangled_lines(draw: st.DrawFn) -> str | None:
    """Combined lines with a few characters inserted, dropped or replaced, most of them
    the delimiters the fast path looks for."""
    if draw(st.integers(0, 20)) == 0:
        return None
    line = list(draw(st.sampled_from([LINE, LINE.replace("GET /x", "POST /a/b?c=1")])))
    chars = st.sampled_from(['"', "[", "]", " ", "a", "G", "2", "é", "/", "-", ":"])
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        change = draw(st.sampled_from(["insert", "drop", "replace"]))
        if change == "insert":
            line.insert(at, draw(chars))
        elif line:
            at = min(at, len(line) - 1)
            if change == "drop":
                del line[at]
            else:
                line[at] = draw(chars)
    return "".join(line)


@HYPO
@given(lines=st.lists(mangled_lines(), max_size=12), offset=st.integers(0, 2))
def test_combined_fields_read_from_bytes_as_the_split_reads_them(
    lines: list[str | None], offset: int
) -> None:
    text = pa.array(lines, pa.string()).slice(min(offset, len(lines)))
    fields, ok = combined_fields(text)
    want, want_ok = reference_combined_fields(text)
    assert ok.tolist() == want_ok.tolist()
    assert {k: v.to_pylist() for k, v in fields.items()} == {
        k: v.to_pylist() for k, v in want.items()
    }


def test_combined_fields_of_odd_lines() -> None:
    lines = [
        LINE,
        LINE.replace("+0100", "+0é0"),  # a character of two bytes: 26 characters, 27 bytes
        LINE.replace("10.1.2.3", "é.1.2.3"),
        "a" * 26 + '] "GET /x HTTP/1.1" 200 5 "-" "c"',  # no "[" at all, 28 bytes before '"'
        LINE.replace("[29", "[[29"),
        LINE.replace("GET /x", "GET"),
        LINE.replace("GET /x", "GET "),
        LINE.replace("GET /x", "GET /x y"),
        LINE.replace(" 200 ", " 20 "),
        LINE[: LINE.index(" 200") + 4],  # ends after the status: the next line's bytes follow
        " " + LINE,
        "",
        '""',
    ]
    fields, ok = combined_fields(pa.array(lines))
    want, want_ok = reference_combined_fields(pa.array(lines))
    assert ok.tolist() == want_ok.tolist()
    assert ok.tolist()[:4] == [True, True, True, True]
    assert fields["time"].to_pylist()[:2] == [
        "29/Nov/2026:14:03:01 +0100",
        "[29/Nov/2026:14:03:01 +0é0",
    ]
    assert {k: v.to_pylist() for k, v in fields.items()} == {
        k: v.to_pylist() for k, v in want.items()
    }


@HYPO
@given(st.lists(st.one_of(st.none(), st.text(alphabet="aZ -é1", max_size=4)), max_size=12))
def test_letters_only_is_the_method_regex(values: list[str | None]) -> None:
    text = pa.array(values, pa.string())
    want = pc.fill_null(pc.match_substring_regex(text, "^[A-Za-z]+$"), False)
    assert letters_only(text).tolist() == want.to_pylist()
    assert letters_only(text.slice(1)).tolist() == want.to_pylist()[1:]


@HYPO
@given(st.lists(st.one_of(st.none(), st.sampled_from(["200", "201", " 404", "1e2", "x"]))))
def test_per_distinct_gives_what_the_whole_column_gives(values: list[str | None]) -> None:
    text = pa.array(values, pa.string())
    assert per_distinct(text, to_int_status).equals(to_int_status(text))


def test_url_facts_alike_for_few_and_many_distinct_urls() -> None:
    # Few distinct URLs (their facts remembered chunk after chunk) and many (worked out).
    base = f"https://api.twilio.com/2010-04-01/Accounts/{ACC}"
    urls = [f"{base}/Messages/SM{i:032x}.json" for i in range(100)]
    urls += [f"{base}/Messages.json", "/sms/status", f"{base}/SMS/Messages", "-"]
    methods = ["GET"] * 100 + ["POST", "POST", "post", "CONNECT"]

    def facts(lo: int, hi: int) -> list[tuple[object, ...]]:
        n = hi - lo
        table = core_table(
            time=pa.nulls(n, TIMESTAMP),
            method=pa.array(methods[lo:hi]),
            url=pa.array(urls[lo:hi]),
            line=np.arange(n),
        )
        cols = [table[c].to_pylist() for c in ("path", "account_sid", "is_send")]
        return list(zip(*cols, strict=True))

    whole = facts(0, len(urls))
    assert whole == [row for lo in range(0, len(urls), 8) for row in facts(lo, lo + 8)]
    assert whole[100:] == [
        (f"/2010-04-01/Accounts/{ACC}/Messages.json", ACC, True),
        ("/sms/status", None, False),
        (f"/2010-04-01/Accounts/{ACC}/SMS/Messages", ACC, True),
        (None, None, False),
    ]
