"""Offline imports: Console CSV, Bulk Export JSON lines, saved API list pages."""

from __future__ import annotations

import csv
import gzip
import io
import json
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from twilio.rest import Client

from analyzer.errors import InputError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources import files
from analyzer.sources.files import detect_format, import_files, parse_dates, read_files
from analyzer.store import read_messages
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio, generate_messages

DAY0 = datetime(2026, 3, 1, tzinfo=UTC)
CONSOLE_HEADER = [
    "From",
    "To",
    "Body",
    "Status",
    "SentDate",
    "ApiVersion",
    "NumSegments",
    "ErrorCode",
    "AccountSid",
    "Sid",
    "Direction",
    "Price",
    "PriceUnit",
]
CSV_FIELDS = {
    "From": "from",
    "To": "to",
    "Body": "body",
    "Status": "status",
    "SentDate": "date_sent",
    "ApiVersion": "api_version",
    "NumSegments": "num_segments",
    "ErrorCode": "error_code",
    "AccountSid": "account_sid",
    "Sid": "sid",
    "Direction": "direction",
    "Price": "price",
    "PriceUnit": "price_unit",
}


@pytest.fixture(scope="module")
def records() -> pa.Table:
    table = generate_messages(300, DAY0, DAY0 + timedelta(days=2), seed=5, unsent_fraction=0)
    return table


def _console_value(name: str, value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if name == "Status":
        return str(value).capitalize()  # the Console shows "Delivered"
    if name == "Price":
        return f"{value:.5f}"
    return str(value)


def _write_console_csv(path: Path, table: pa.Table, header: list[str]) -> None:
    rows = table.to_pylist()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([_console_value(h, row[CSV_FIELDS[h]]) for h in header])


def _cols(table: pa.Table, names: list[str]) -> pa.Table:
    return table.select(names).sort_by("sid")


def test_console_csv_any_column_order(tmp_path: Path, records: pa.Table) -> None:
    first = tmp_path / "messages.csv"
    second = tmp_path / "reordered.csv"
    _write_console_csv(first, records, CONSOLE_HEADER)
    older = [h for h in reversed(CONSOLE_HEADER) if h != "ErrorCode"]  # older exports
    _write_console_csv(second, records, older)
    a = read_files([first])
    b = read_files([second])
    assert a.num_rows == b.num_rows == records.num_rows
    same = [n for n in MESSAGE_SCHEMA.names if n not in ("source", "error_code")]
    assert _cols(a, same).equals(_cols(b, same))
    assert set(a["source"].to_pylist()) == {"console-csv:messages.csv"}
    assert b["error_code"].null_count == b.num_rows
    # Values survive: dates (SentDate also becomes date_created), numbers, statuses.
    expected = records.sort_by("sid")
    got = a.sort_by("sid")
    for name in (
        "sid",
        "from",
        "to",
        "body",
        "status",
        "direction",
        "num_segments",
        "price",
        "error_code",
        "date_sent",
    ):
        assert got[name].equals(expected[name]), name
    assert got["date_created"].equals(expected["date_sent"])


def test_console_csv_import_reports_malformed_rows_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "console.csv"
    text = (
        "\ufeffSid,SentDate,To,From,Body,Status,NumSegments,Price\r\n"
        'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1,2026-03-01T10:00:00Z,+1555,+1500,"two\r\nlines",'
        "delivered,1,-0.0079\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2,03/01/2026 10:00:05,+1555,+1500,hi,sent,x,\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3,too,few\r\n"
        'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4,"Sun, 01 Mar 2026 10:00:09 +0000",+1555,+1500,b,'
        "sent,2,-0.1\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5,yesterday,+1555,+1500,b,sent,2,-0.1\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6,2026-03-01 11:00:00,+1555,+1500,b,sent,1,\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa7,,+1555,+1500,never sent,failed,1,\r\n"
    )
    path.write_text(text, encoding="utf-8")
    result = import_files([path], tmp_path / "ds")
    assert (result.rows, result.imported, result.malformed) == (7, 3, 4)
    assert [(s.line, s.file) for s in result.samples] == [
        (4, "console.csv"),
        (5, "console.csv"),
        (7, "console.csv"),
        (9, "console.csv"),
    ]
    reasons = [s.reason for s in result.samples]
    assert "num_segments" in reasons[0] and "'x'" in reasons[0]
    assert "expected 8 fields" in reasons[1]
    assert "date_sent" in reasons[2] and "yesterday" in reasons[2]
    assert reasons[3] == "no date"
    assert any("date_created is taken from SentDate" in n for n in result.notes)
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["sid"].to_pylist() == [f"SM{'a' * 31}{i}" for i in (1, 4, 6)]
    assert stored["date_created"].to_pylist() == [
        DAY0 + timedelta(hours=10),
        DAY0 + timedelta(hours=10, seconds=9),
        DAY0 + timedelta(hours=11),
    ]
    assert stored["body"][0].as_py() == "two\r\nlines"

    with pytest.raises(InputError, match=r"4 malformed row\(s\); first: console.csv: line 4"):
        import_files([path], tmp_path / "strict", strict=True)
    assert not list((tmp_path / "strict").glob("date=*"))


def test_console_csv_without_sid_column_fails_clearly(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("To,Body\n+1,hi\n")
    with pytest.raises(InputError, match="no Sid column"):
        import_files([path], tmp_path / "ds")


def _bulk_line(row: dict) -> dict:
    out = {}
    for name, value in row.items():
        if name in ("api_version", "price_unit", "error_message", "source"):
            continue
        if isinstance(value, datetime):
            value = value.strftime("%Y-%m-%dT%H:%M:%SZ")
        elif name in ("num_segments", "num_media") and value is not None:
            value = str(value)
        elif name == "price" and value is not None:
            value = f"{value:.5f}"
        out[name] = value
    return out


def test_bulk_export_gzipped_json_lines(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "2026-03-01.json.gz"
    lines = [json.dumps(_bulk_line(r)) for r in records.to_pylist()]
    lines.insert(10, '{"sid": "SMbroken", "date_created": ')  # cut off: line 11
    lines.insert(20, "")  # blank lines are not records
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    assert detect_format(path) == "bulk-export"
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (records.num_rows, 1)
    assert result.samples[0].line == 11 and "not JSON" in result.samples[0].reason
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    expected = records.sort_by("sid")
    for name in MESSAGE_SCHEMA.names:
        if name in ("api_version", "price_unit", "error_message", "source"):
            assert stored[name].null_count == stored.num_rows or name == "source"
        else:
            assert stored[name].equals(expected[name]), name
    assert set(stored["source"].to_pylist()) == {"bulk-export:2026-03-01.json.gz"}


def test_bulk_export_fast_path_keeps_types(tmp_path: Path, records: pa.Table) -> None:
    """A clean file goes through Arrow's JSON reader; numbers may come as numbers."""
    path = tmp_path / "day.jsonl"
    rows = []
    for r in records.to_pylist():
        line = _bulk_line(r)
        line["num_segments"] = r["num_segments"]  # a number, not a string
        line["price"] = r["price"]
        rows.append(json.dumps(line))
    path.write_text("\n".join(rows) + "\n")
    table = read_files([path])
    got, expected = table.sort_by("sid"), records.sort_by("sid")
    for name in (
        "sid",
        "num_segments",
        "price",
        "date_created",
        "date_sent",
        "date_updated",
        "error_code",
        "body",
    ):
        assert got[name].equals(expected[name]), name


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


def test_import_is_an_idempotent_upsert(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "m.csv"
    _write_console_csv(path, records, CONSOLE_HEADER)
    first = import_files([path], tmp_path / "ds")
    again = import_files([path], tmp_path / "ds", format="console-csv")
    assert first.write.inserted == records.num_rows
    assert (again.write.inserted, again.write.updated) == (0, 0)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        import_files([tmp_path / "missing.csv"], tmp_path / "ds")
    with pytest.raises(InputError, match="unknown format"):
        import_files([tmp_path / "x"], tmp_path / "ds", format="xml")  # type: ignore[arg-type]
    odd = tmp_path / "odd.txt"
    odd.write_text("hello world\n")
    with pytest.raises(InputError, match="cannot tell the format"):
        import_files([odd], tmp_path / "ds")
    page = tmp_path / "notpage.json"
    page.write_text('{"accounts": []}')
    with pytest.raises(InputError, match="not a Messages list page"):
        import_files([page], tmp_path / "ds", format="api-json")


_FORMATS = {
    "iso_t": lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ"),
    "iso_space": lambda d: d.strftime("%Y-%m-%d %H:%M:%S"),
    "iso_offset": lambda d: d.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
    "rfc2822": lambda d: d.strftime("%a, %d %b %Y %H:%M:%S +0000"),
    "us": lambda d: d.strftime("%m/%d/%Y %H:%M:%S"),
    "us_utc": lambda d: d.strftime("%m/%d/%Y %H:%M:%S UTC"),
    "us_ampm": lambda d: d.strftime("%m/%d/%Y %I:%M:%S %p"),
}


@settings(max_examples=60, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2090, 1, 1)).map(
            lambda d: d.replace(microsecond=0, tzinfo=UTC)
        ),
        min_size=1,
        max_size=20,
    ),
    formats=st.lists(st.sampled_from(sorted(_FORMATS)), min_size=20, max_size=20),
)
def test_parse_dates_matches_strptime(moments: list[datetime], formats: list[str]) -> None:
    texts = [_FORMATS[f](m) for m, f in zip(moments, formats, strict=False)]
    parsed = parse_dates(pa.array(texts, pa.string())).to_pylist()
    assert parsed == moments


def test_parse_dates_rejects_other_forms() -> None:
    texts = ["yesterday", "31/12/2026 10:00:00", "2026-13-01", "", None, "1 Mar 2026"]
    assert parse_dates(pa.array(texts, pa.string())).to_pylist() == [None] * 6


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(
            st.text(alphabet='ab ,"\n\r\u00e9', max_size=12),  # body: quotes, commas, newlines
            st.sampled_from(["ok", "bad_date", "short", "bad_number"]),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_csv_line_numbers_match_a_reference(rows: list[tuple[str, str]]) -> None:
    """Reported lines equal the lines where csv.writer put each bad record."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Sid", "Body", "SentDate", "NumSegments"])
    expected_bad = []
    for i, (body, kind) in enumerate(rows):
        line = out.getvalue().count("\n") + 1
        sid = f"SM{i:032x}"
        if kind == "short":
            writer.writerow([sid, body])
        else:
            date = "not a date" if kind == "bad_date" else "2026-03-01 10:00:00"
            writer.writerow([sid, body, date, "x" if kind == "bad_number" else "1"])
        if kind != "ok":
            expected_bad.append(line)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "lines.csv"
        path.write_bytes(out.getvalue().encode())
        table = read_files([path])
        parsed = files._parse_console_csv(path)
    _, samples, count = files._clean(parsed, "lines.csv", "console-csv:lines.csv")
    assert count == len(expected_bad)
    assert [s.line for s in samples] == expected_bad[: files.MAX_SAMPLES]
    assert table.num_rows == len(rows) - len(expected_bad)
    # an empty field reads as null
    assert sorted(v or "" for v in table["body"].to_pylist()) == sorted(
        b for b, k in rows if k == "ok"
    )


def test_records_without_sid_are_malformed(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    page = {
        "messages": [
            {"sid": None, "date_created": "Sun, 01 Mar 2026 10:00:00 +0000"},
            {
                "sid": "SM" + "1" * 32,
                "date_created": "Sun, 01 Mar 2026 10:00:00 +0000",
                "num_segments": "1",
            },
            "not a record",
        ]
    }
    path.write_text(json.dumps(page))
    result = import_files([path], tmp_path / "ds")
    assert (result.rows, result.imported, result.malformed) == (3, 1, 2)
    assert [(s.record, s.reason) for s in result.samples] == [
        (1, "no sid"),
        (3, "not a JSON object"),
    ]
    assert str(result.samples[0]) == "p.json: record 1: no sid"
    assert pc.sum(read_messages(tmp_path / "ds")["num_segments"]).as_py() == 1
