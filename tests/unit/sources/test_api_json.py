"""Saved API output imports: list pages, single Messages, arrays, camelCase keys."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest
from twilio.rest import Client

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.files import detect_format, import_files, read_files
from analyzer.store import read_messages
from tests.fakes.twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.unit.sources.file_samples import (
    api_message,
    assert_stored,
    camel,
    list_page,
    sample_records,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return sample_records()


def test_saved_api_pages(tmp_path: Path, records: pa.Table) -> None:
    with FakeTwilio(records) as server:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, environment={})
        client.api.base_url = server.base_url
        url: str | None = f"{server.base_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
        params: dict[str, object] = {"PageSize": 100}
        pages = []
        while url:
            page = json.loads(client.request("GET", url, params=params).text)
            pages.append(page)
            url = server.base_url + page["next_page_uri"] if page["next_page_uri"] else None
            params = {}
        held = server.messages()
    (tmp_path / "page0.json").write_text(json.dumps(pages[0], indent=2))  # pretty-printed
    (tmp_path / "rest.json").write_text(json.dumps(pages[1:]))  # a list of pages
    files = [tmp_path / "page0.json", tmp_path / "rest.json"]
    assert [detect_format(p) for p in files] == ["api-json", "api-json"]
    result = import_files(files, tmp_path / "ds")
    assert result.imported == held.num_rows and result.malformed == 0
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    expected = held.sort_by("sid")
    for name in MESSAGE_SCHEMA.names:
        if name != "source":
            assert stored[name].equals(expected[name]), name
    assert set(stored["source"].to_pylist()) == {"api-json:page0.json", "api-json:rest.json"}


def test_a_pretty_printed_single_message_imports(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "message.json"
    path.write_text(json.dumps(api_message(records.to_pylist()[0]), indent=2))
    assert detect_format(path) == "api-json"
    for fmt in ("auto", "api-json"):
        assert_stored(read_files([path], format=fmt), records.slice(0, 1))  # type: ignore[arg-type]
    result = import_files([path], tmp_path / "ds", format="api-json")
    assert (result.rows, result.imported, result.malformed) == (1, 1, 0)
    assert read_messages(tmp_path / "ds")["source"].to_pylist() == ["api-json:message.json"]


def test_list_pages_appended_one_per_line(tmp_path: Path, records: pa.Table) -> None:
    messages = [api_message(r) for r in records.to_pylist()]
    lines = [
        json.dumps(list_page(messages[i : i + 100], i // 100)) for i in range(0, len(messages), 100)
    ]
    lines.insert(1, '{"messages": [{"sid": "SMcut", "to": ')  # a page cut off: line 2
    path = tmp_path / "pages.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "api-json"
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (records.num_rows, 1)
    assert result.samples[0].line == 2 and "not JSON" in result.samples[0].reason
    assert_stored(read_messages(tmp_path / "ds"), records)


@pytest.mark.parametrize("shape", ["page", "single", "json-lines", "json-lines-slow", "cli-array"])
def test_camel_case_json_imports(tmp_path: Path, records: pa.Table, shape: str) -> None:
    messages = [camel(api_message(r)) for r in records.to_pylist()]
    assert "dateCreated" in messages[0] and "messagingServiceSid" in messages[0]
    expected = records
    path = tmp_path / "camel.json"
    if shape == "page":
        path.write_text(json.dumps(list_page(messages, 0), indent=2))
    elif shape == "single":
        path.write_text(json.dumps(messages[0], indent=2))
        expected = records.slice(0, 1)
    elif shape == "cli-array":  # `twilio api:core:messages:list -o json`
        path.write_text(json.dumps(messages, indent=2))
    else:
        lines = [json.dumps(m) for m in messages]
        if shape == "json-lines-slow":
            lines.insert(5, "{not json")
        path.write_text("\n".join(lines) + "\n")
    result = import_files([path], tmp_path / "ds")
    assert result.imported == expected.num_rows
    assert result.malformed == (1 if shape == "json-lines-slow" else 0)
    assert_stored(read_messages(tmp_path / "ds"), expected)
