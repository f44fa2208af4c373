"""Saved API output: Messages list pages, single Messages, or arrays of either."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np

from analyzer.errors import InputError
from analyzer.sources.files.json_fields import field_name, records_to_strings
from analyzer.sources.files.model import MalformedRow, ParsedFile
from analyzer.sources.files.reading import open_bytes

_SPACE = re.compile(r"\s*")
_NEXT_VALUE = re.compile(r"\n(?=[\[{])")


def parse_api_json(path: Path) -> ParsedFile:
    """Saved API output: list pages, single Messages or arrays of either, one JSON value
    or several (e.g. one page per line)."""
    data = open_bytes(path).removeprefix(b"\xef\xbb\xbf")
    values, malformed = _json_values(data.decode("utf-8", "replace"), path.name)
    rows: list[dict[str, Any]] = []
    kept: list[int] = []
    unknown: list[MalformedRow] = []
    number = 0

    def take(record: Any) -> None:
        nonlocal number
        number += 1
        if isinstance(record, dict):
            rows.append(record)
            kept.append(number)
        else:
            malformed.append(MalformedRow(path.name, None, "not a JSON object", number))

    for value, line in values:
        if isinstance(value, list):
            for item in value:
                for record in item["messages"] if _is_page(item) else [item]:
                    take(record)
        elif _is_page(value):
            for record in value["messages"]:
                take(record)
        elif isinstance(value, dict) and any(field_name(k) == "sid" for k in value):
            take(value)
        else:
            reason = "not a Messages list page (no 'messages' list) nor a Message (no 'sid')"
            unknown.append(MalformedRow(path.name, line, reason))
    if unknown and len(unknown) == len(values):
        raise InputError(f"{path.name}: {unknown[0].reason}")
    return ParsedFile(
        records_to_strings(rows), None, np.array(kept, dtype=np.int64), malformed + unknown
    )


def _is_page(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("messages"), list)


def _json_values(text: str, file_name: str) -> tuple[list[tuple[Any, int]], list[MalformedRow]]:
    """The JSON values in a text (one, or several one after another) with their first
    lines; a value that cannot be read is reported and skipped up to the next line
    that starts with ``{`` or ``[``."""
    try:
        return [(json.loads(text), 1)], []
    except ValueError:
        pass
    decoder = json.JSONDecoder()
    values: list[tuple[Any, int]] = []
    bad: list[MalformedRow] = []
    pos = counted = 0
    line = 1
    while True:
        pos = _SPACE.match(text, pos).end()  # type: ignore[union-attr]
        if pos >= len(text):
            break
        line += text.count("\n", counted, pos)
        counted = pos
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            bad.append(MalformedRow(file_name, line, f"not JSON ({exc.msg})"))
            following = _NEXT_VALUE.search(text, pos)
            if following is None:
                break
            pos = following.start() + 1
            continue
        values.append((value, line))
    if not values:
        reason = bad[0].reason if bad else "not JSON (empty)"
        raise InputError(f"{file_name}: {reason}")
    return values, bad
