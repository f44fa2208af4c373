"""Offline imports: Console CSV, Bulk Export JSON lines, saved API list pages."""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
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
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2,03/21/2026 10:00:05,+1555,+1500,hi,sent,x,\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa3,too,few\r\n"
        'SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa4,"Sun, 01 Mar 2026 10:00:09 +0000",+1555,+1500,b,'
        "sent,2,-0.1\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5,yesterday,+1555,+1500,b,sent,2,-0.1\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa6,2026-03-01 11:00:00,+1555,+1500,b,sent,1,\r\n"
        "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa7,,+1555,+1500,never sent,failed,1,\r\n"
    )
    path.write_text(text, encoding="utf-8")
    result = import_files([path], tmp_path / "ds")
    # the row without a SentDate (line 10) is kept: see test_console_rows_without_sent_date;
    # the one with NumSegments "x" (line 4) too: see test_unreadable_optional_values_are_kept
    assert (result.rows, result.imported, result.malformed, result.unreadable) == (7, 5, 2, 1)
    assert [(s.line, s.file) for s in result.samples] == [
        (5, "console.csv"),
        (7, "console.csv"),
    ]
    reasons = [s.reason for s in result.samples]
    assert "expected 8 fields" in reasons[0]
    assert "date_sent" in reasons[1] and "yesterday" in reasons[1]
    [kept] = result.unreadable_samples
    assert (kept.line, kept.reason) == (4, "not a number in num_segments ('x'), kept as empty")
    assert any("date_created is taken from SentDate" in n for n in result.notes)
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["sid"].to_pylist() == [f"SM{'a' * 31}{i}" for i in (1, 2, 4, 6, 7)]
    assert stored["date_created"].to_pylist() == [
        DAY0 + timedelta(hours=10),
        datetime(2026, 3, 21, 10, 0, 5, tzinfo=UTC),
        DAY0 + timedelta(hours=10, seconds=9),
        DAY0 + timedelta(hours=11),
        None,
    ]
    assert stored["num_segments"].to_pylist() == [1, None, 2, 1, 1]
    assert stored["body"][0].as_py() == "two\r\nlines"

    with pytest.raises(InputError, match=r"2 malformed row\(s\); first: console.csv: line 5"):
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
    """Reported lines equal the lines where csv.writer put each bad record or value."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["Sid", "Body", "SentDate", "NumSegments"])
    expected_bad = []
    expected_unreadable = []  # a bad NumSegments is kept, without it
    for i, (body, kind) in enumerate(rows):
        line = out.getvalue().count("\n") + 1
        sid = f"SM{i:032x}"
        if kind == "short":
            writer.writerow([sid, body])
        else:
            date = "not a date" if kind == "bad_date" else "2026-03-01 10:00:00"
            writer.writerow([sid, body, date, "x" if kind == "bad_number" else "1"])
        if kind == "bad_number":
            expected_unreadable.append(line)
        elif kind != "ok":
            expected_bad.append(line)
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "lines.csv"
        path.write_bytes(out.getvalue().encode())
        parsed = files._parse_console_csv(path)
        if len(expected_bad) == len(rows):  # nothing readable: not a Console CSV at all
            with pytest.raises(InputError, match="none of its"):
                read_files([path])
            return
        table = read_files([path])
    cleaned = files._clean(parsed, "lines.csv", "console-csv:lines.csv")
    assert cleaned.malformed == len(expected_bad)
    assert [s.line for s in cleaned.samples] == expected_bad[: files.MAX_SAMPLES]
    assert [s.line for s in cleaned.unreadable_samples] == expected_unreadable[: files.MAX_SAMPLES]
    assert cleaned.unreadable == len(expected_unreadable)
    assert table.num_rows == len(rows) - len(expected_bad)
    # an empty field reads as null
    assert sorted(v or "" for v in table["body"].to_pylist()) == sorted(
        b for b, k in rows if k in ("ok", "bad_number")
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


# -- dates written day-first or month-first --------------------------------------------


def _sent_dates_csv(path: Path, dates: list[str]) -> Path:
    lines = ["Sid,SentDate,To,Body,Status"]
    lines += [f"SM{i:032x},{d},+15550100,hi,delivered" for i, d in enumerate(dates, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_date_order_is_decided_per_file_from_the_values(tmp_path: Path) -> None:
    day_first = _sent_dates_csv(
        tmp_path / "eu.csv", ["13/10/2024 13:45", "01/10/2024 09:00:30", "2024-10-02T08:00:00Z"]
    )
    month_first = _sent_dates_csv(
        tmp_path / "us.csv", ["10/13/2024 01:45 PM", "10/01/2024 09:00:30"]
    )
    assert read_files([day_first]).sort_by("sid")["date_sent"].to_pylist() == [
        _utc(2024, 10, 13, 13, 45),
        _utc(2024, 10, 1, 9, 0, 30),
        _utc(2024, 10, 2, 8),
    ]
    assert read_files([month_first]).sort_by("sid")["date_sent"].to_pylist() == [
        _utc(2024, 10, 13, 13, 45),
        _utc(2024, 10, 1, 9, 0, 30),
    ]
    result = import_files([day_first, month_first], tmp_path / "ds")
    assert (result.imported, result.malformed) == (5, 0)
    assert result.notes == [
        "eu.csv: no DateCreated column: date_created is taken from SentDate (rows without a "
        "SentDate are kept without date_created, in the date=undated partition)",
        "eu.csv: dates read day-first (DD/MM/YYYY), as in '13/10/2024 13:45'",
        "us.csv: no DateCreated column: date_created is taken from SentDate (rows without a "
        "SentDate are kept without date_created, in the date=undated partition)",
    ]


def test_a_file_that_fits_both_orders_is_refused_unless_told(tmp_path: Path) -> None:
    path = _sent_dates_csv(
        tmp_path / "either.csv", ["03/04/2026 10:00", "05/06/2026 11:00", "07/07/2026 12:00"]
    )
    with pytest.raises(InputError) as refused:
        import_files([path], tmp_path / "ds")
    message = str(refused.value)
    assert message == (
        "either.csv: cannot tell whether dates such as '03/04/2026 10:00' (line 2) are "
        "month-first or day-first (no day above 12 in the file); use --date-order "
        "month-first or --date-order day-first (date_order= in Python)"
    )
    assert not list((tmp_path / "ds").glob("date=*"))
    assert read_files([path], date_order="day-first").sort_by("sid")["date_sent"].to_pylist() == [
        _utc(2026, 4, 3, 10),
        _utc(2026, 6, 5, 11),
        _utc(2026, 7, 7, 12),
    ]
    result = import_files([path], tmp_path / "ds", date_order="month-first")
    assert result.imported == 3
    assert read_messages(tmp_path / "ds").sort_by("sid")["date_sent"].to_pylist() == [
        _utc(2026, 3, 4, 10),
        _utc(2026, 5, 6, 11),
        _utc(2026, 7, 7, 12),
    ]
    # the same day and month read alike either way: nothing to ask
    same = _sent_dates_csv(tmp_path / "same.csv", ["07/07/2026 12:00", "2026-07-08 12:00:00"])
    assert read_files([same])["date_sent"].to_pylist() == [
        _utc(2026, 7, 7, 12),
        _utc(2026, 7, 8, 12),
    ]
    with pytest.raises(InputError, match="unknown date order"):
        import_files([path], tmp_path / "ds", date_order="dmy")  # type: ignore[arg-type]


def test_a_file_mixing_orders_reports_the_dates_it_cannot_place(tmp_path: Path) -> None:
    path = _sent_dates_csv(
        tmp_path / "mixed.csv",
        ["13/10/2024 13:45", "10/14/2024 09:00", "03/04/2024 10:00", "05/05/2024 10:00"],
    )
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (3, 1)
    [sample] = result.samples
    assert sample.line == 4
    assert sample.reason == (
        "day and month order unknown in date_sent (the file mixes both) ('03/04/2024 10:00')"
    )
    assert any("dates in both orders" in note for note in result.notes)
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["date_sent"].to_pylist() == [
        _utc(2024, 10, 13, 13, 45),
        _utc(2024, 10, 14, 9),
        _utc(2024, 5, 5, 10),
    ]
    # told the order, the dates that do not fit it are the malformed ones
    told = read_files([path], date_order="day-first").sort_by("sid")
    assert told["date_sent"].to_pylist() == [
        _utc(2024, 10, 13, 13, 45),
        _utc(2024, 4, 3, 10),
        _utc(2024, 5, 5, 10),
    ]


_ORDERED = {"month-first": "%m/%d/%Y %H:%M:%S", "day-first": "%d/%m/%Y %H:%M:%S"}


@settings(max_examples=60, deadline=None)
@given(
    moments=st.lists(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2050, 1, 1)).map(
            lambda d: d.replace(microsecond=0, tzinfo=UTC)
        ),
        min_size=1,
        max_size=8,
    ),
    order=st.sampled_from(sorted(_ORDERED)),
)
def test_auto_date_order_reads_a_consistent_file_right_or_refuses_it(
    moments: list[datetime], order: str
) -> None:
    texts = [m.strftime(_ORDERED[order]) for m in moments]
    telling = any(m.day > 12 for m in moments)
    ambiguous = any(m.day != m.month for m in moments)
    with tempfile.TemporaryDirectory() as directory:
        path = _sent_dates_csv(Path(directory) / "dates.csv", texts)
        if not telling and ambiguous:
            with pytest.raises(InputError, match="--date-order"):
                read_files([path])
            read = read_files([path], date_order=order)  # type: ignore[arg-type]
        else:
            read = read_files([path])
    assert read.sort_by("sid")["date_sent"].to_pylist() == moments


# -- saved API output: single Messages, pages one per line, camelCase --------------------


def _api_message(row: dict) -> dict:
    """A record as the v2010 API returns it: RFC 2822 dates, numbers as text."""
    out: dict[str, object] = {}
    for name, value in row.items():
        if name == "source":
            continue
        if isinstance(value, datetime):
            value = value.strftime("%a, %d %b %Y %H:%M:%S +0000")
        elif name in ("num_segments", "num_media") and value is not None:
            value = str(value)
        elif name == "price" and value is not None:
            value = f"{value:.5f}"
        out[name] = value
    base = f"/2010-04-01/Accounts/{row['account_sid']}/Messages/{row['sid']}"
    out["uri"] = base + ".json"
    out["subresource_uris"] = {"media": base + "/Media.json", "feedback": base + "/Feedback.json"}
    return out


def _camel(message: dict) -> dict:
    """The same record as twilio-node and the Twilio CLI write it: camelCase, ISO dates."""
    out = {}
    for name, value in message.items():
        if name.startswith("date_") and value is not None:
            parsed = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S %z")
            value = parsed.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)] = value
    return out


def _page(messages: list[dict], number: int) -> dict:
    return {
        "messages": messages,
        "page": number,
        "page_size": 100,
        "next_page_uri": f"/2010-04-01/Accounts/AC1/Messages.json?Page={number + 1}",
    }


def _assert_stored(stored: pa.Table, expected: pa.Table) -> None:
    stored, expected = stored.sort_by("sid"), expected.sort_by("sid")
    assert stored.num_rows == expected.num_rows
    for name in MESSAGE_SCHEMA.names:
        if name != "source":
            assert stored[name].equals(expected[name]), name


def test_a_pretty_printed_single_message_imports(tmp_path: Path, records: pa.Table) -> None:
    path = tmp_path / "message.json"
    path.write_text(json.dumps(_api_message(records.to_pylist()[0]), indent=2))
    assert detect_format(path) == "api-json"
    for fmt in ("auto", "api-json"):
        _assert_stored(read_files([path], format=fmt), records.slice(0, 1))  # type: ignore[arg-type]
    result = import_files([path], tmp_path / "ds", format="api-json")
    assert (result.rows, result.imported, result.malformed) == (1, 1, 0)
    assert read_messages(tmp_path / "ds")["source"].to_pylist() == ["api-json:message.json"]


def test_list_pages_appended_one_per_line(tmp_path: Path, records: pa.Table) -> None:
    messages = [_api_message(r) for r in records.to_pylist()]
    lines = [
        json.dumps(_page(messages[i : i + 100], i // 100)) for i in range(0, len(messages), 100)
    ]
    lines.insert(1, '{"messages": [{"sid": "SMcut", "to": ')  # a page cut off: line 2
    path = tmp_path / "pages.jsonl"
    path.write_text("\n".join(lines) + "\n")
    assert detect_format(path) == "api-json"
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (records.num_rows, 1)
    assert result.samples[0].line == 2 and "not JSON" in result.samples[0].reason
    _assert_stored(read_messages(tmp_path / "ds"), records)


@pytest.mark.parametrize("shape", ["page", "single", "json-lines", "json-lines-slow", "cli-array"])
def test_camel_case_json_imports(tmp_path: Path, records: pa.Table, shape: str) -> None:
    messages = [_camel(_api_message(r)) for r in records.to_pylist()]
    assert "dateCreated" in messages[0] and "messagingServiceSid" in messages[0]
    expected = records
    path = tmp_path / "camel.json"
    if shape == "page":
        path.write_text(json.dumps(_page(messages, 0), indent=2))
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
    _assert_stored(read_messages(tmp_path / "ds"), expected)


@pytest.mark.parametrize("slow", [False, True])
def test_bulk_export_error_code_zero_means_no_error(tmp_path: Path, slow: bool) -> None:
    rows = [
        {"sid": f"SM{i:032x}", "date_created": "2026-03-01T10:00:00Z", "error_code": code}
        for i, code in enumerate([0, 30007, None, 21610])
    ]
    lines = [json.dumps(r) for r in rows]
    if slow:
        lines.append("{broken")
    path = tmp_path / "2026-03-01.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    table = read_files([path]).sort_by("sid")
    assert table["error_code"].to_pylist() == [None, 30007, None, 21610]


def test_console_rows_without_sent_date_are_kept_and_counted(tmp_path: Path) -> None:
    from analyzer.pipeline import detect_path
    from analyzer.store import list_days

    sid = [f"SM{i:032x}" for i in range(4)]
    console = tmp_path / "console.csv"
    console.write_text(
        "Sid,SentDate,To,From,Body,Status,Direction,ErrorCode\n"
        f"{sid[0]},2026-03-01 10:00:00,+1555,+1500,hi,Delivered,outbound-api,\n"
        f"{sid[1]},,+1555,+1500,hi,Failed,outbound-api,21610\n"
        f"{sid[2]},,+1555,+1500,later,Scheduled,outbound-api,\n"
        f"{sid[3]},2026-03-01 10:00:20,+1555,+1500,hi,Sent,outbound-api,\n"
    )
    dataset = tmp_path / "ds"
    result = import_files([console], dataset)
    [report] = result.files
    assert (report.rows, report.imported, report.malformed) == (4, 4, 0)
    assert (report.no_sent_date, report.undated) == (2, 2)
    assert (dataset / "date=undated" / "part-0.parquet").is_file()
    assert list_days(dataset) == ["2026-03-01"]
    every = read_messages(dataset).sort_by("sid")
    assert every["sid"].to_pylist() == sid
    assert every["date_created"].to_pylist()[1:3] == [None, None]
    assert every["status"].to_pylist()[1:3] == ["failed", "scheduled"]
    assert read_messages(dataset, start="2026-03-01")["sid"].to_pylist() == [sid[0], sid[3]]
    assert read_messages(dataset, end="2026-03-01").num_rows == 2
    again = import_files([console], dataset)
    assert (again.write.inserted, again.write.updated, again.write.unchanged) == (0, 0, 4)

    # A Bulk Export brings the failed message's creation time: it leaves date=undated.
    bulk = tmp_path / "2026-03-01.json"
    bulk.write_text(
        json.dumps({"sid": sid[1], "date_created": "2026-03-01T09:59:59Z", "status": "failed"})
        + "\n"
    )
    moved = import_files([bulk], dataset)
    assert (moved.write.inserted, moved.write.updated) == (0, 1)
    assert pq.read_table(dataset / "date=undated" / "part-0.parquet")["sid"].to_pylist() == [sid[2]]
    # ... and importing the Console file again does not bring the undated copy back
    import_files([console], dataset)
    every = read_messages(dataset).sort_by("sid")
    assert every["sid"].to_pylist() == sid
    assert every["date_created"][1].as_py() == _utc(2026, 3, 1, 9, 59, 59)

    detection = detect_path(dataset, window=60)
    assert detection.summary.messages == 3  # the undated record cannot be placed in time
    assert detection.clusters["sids"].to_pylist() == [[sid[0], sid[3]]]


def test_json_lines_keep_text_that_looks_like_a_date(tmp_path: Path) -> None:
    path = tmp_path / "day.jsonl"
    rows = [
        {"sid": f"SM{i:032x}", "dateCreated": "2026-03-01T10:00:00Z", "body": body, "apiVersion": v}
        for i, (body, v) in enumerate([("2026-01-01", "2010-04-01"), ("2026-01-02", "2010-04-01")])
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    table = read_files([path]).sort_by("sid")
    assert table["body"].to_pylist() == ["2026-01-01", "2026-01-02"]
    assert table["api_version"].to_pylist() == ["2010-04-01", "2010-04-01"]


# -- a file in the wrong format ----------------------------------------------------------


def test_a_file_read_in_the_wrong_format_is_refused(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = tmp_path / "messages.csv"
    _write_console_csv(path, records, CONSOLE_HEADER)
    with pytest.raises(InputError) as refused:
        import_files([path], tmp_path / "ds", format="bulk-export")
    message = str(refused.value)
    lines = sum(1 for line in path.read_text().split("\n") if line.strip())  # bodies span lines
    assert message.startswith(f"{path}: none of its {lines} rows could be read as bulk-export")
    assert "line 1: not JSON" in message and "--format" in message
    assert not (tmp_path / "ds").exists()
    with pytest.raises(InputError, match="none of its"):
        read_files([path], format="bulk-export")
    result = CliRunner().invoke(
        app, ["import", str(path), "--out", str(tmp_path / "ds"), "--format", "bulk-export"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line == f"analyzer: error: {message}"
    # an empty file holds no rows at all: nothing to import, and nothing wrong
    empty = tmp_path / "2026-03-02.json.gz"
    with gzip.open(empty, "wb"):
        pass
    done = import_files([empty], tmp_path / "ds", format="bulk-export")
    assert (done.rows, done.imported, done.malformed) == (0, 0, 0)
    # one readable row is enough: the others are malformed rows of the right format
    mostly_bad = tmp_path / "mostly.jsonl"
    mostly_bad.write_text('{"sid": "SM1", "date_created": "2026-03-01T10:00:00Z"}\nnot json\n')
    assert import_files([mostly_bad], tmp_path / "ds").malformed == 1


# -- optional values that cannot be read ------------------------------------------------------


def test_unreadable_optional_values_are_kept_empty_and_counted(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = tmp_path / "console.csv"
    sid = [f"SM{i:032x}" for i in range(5)]
    path.write_text(
        "Sid,SentDate,To,Body,NumSegments,Price,ErrorCode\n"
        f"{sid[0]},2026-03-01 10:00:00,+1555,hi,1,free!,\n"
        f"{sid[1]},2026-03-01 10:00:01,+1555,hi,1.5,-0.0079,30007\n"
        f"{sid[2]},2026-03-01 10:00:02,+1555,hi,two,n/a,none\n"
        f"{sid[3]},not a date,+1555,hi,x,-0.0079,\n"  # a required value: the row is malformed
        f"{sid[4]},2026-03-01 10:00:04,+1555,hi,2,-0.0079,\n"
    )
    result = import_files([path], tmp_path / "ds")
    [report] = result.files
    assert (report.rows, report.imported, report.malformed, report.unreadable) == (5, 4, 1, 5)
    assert result.unreadable == 5
    assert [str(s) for s in result.unreadable_samples] == [
        "console.csv: line 2: not a number in price ('free!'), kept as empty",
        "console.csv: line 3: not a number in num_segments ('1.5'), kept as empty",
        "console.csv: line 4: not a number in error_code ('none'), kept as empty",
        "console.csv: line 4: not a number in num_segments ('two'), kept as empty",
        "console.csv: line 4: not a number in price ('n/a'), kept as empty",
    ]
    [malformed] = result.samples
    assert malformed.line == 5 and "unreadable date_sent ('not a date')" in malformed.reason
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["sid"].to_pylist() == [sid[0], sid[1], sid[2], sid[4]]
    assert stored["price"].to_pylist() == [None, -0.0079, None, -0.0079]
    assert stored["num_segments"].to_pylist() == [1, None, None, 2]
    assert stored["error_code"].to_pylist() == [None, 30007, None, None]

    # --strict loses nothing: an unreadable value stops the import like a malformed row
    just_values = tmp_path / "values.csv"
    just_values.write_text(f"Sid,SentDate,Price\n{sid[0]},2026-03-01 10:00:00,free!\n")
    with pytest.raises(
        InputError,
        match=r"^1 unreadable value\(s\); first: values.csv: line 2: not a number in price",
    ):
        import_files([just_values], tmp_path / "strict", strict=True)
    assert not (tmp_path / "strict").exists()

    cli = CliRunner().invoke(app, ["import", str(path), "--out", str(tmp_path / "cli")])
    assert cli.exit_code == 0, cli.output
    assert (
        f"{path}: console-csv, 4 of 5 rows imported, 1 malformed, 0 never sent (no sent date), "
        "5 values unreadable, kept as empty"
    ) in cli.stdout
    assert "analyzer: warning: console.csv: line 2: not a number in price ('free!')" in cli.stderr


# -- spreadsheets: Windows-1252 text, semicolons, decimal commas --------------------------


def test_a_cp1252_csv_is_read_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "excel.csv"
    text = (
        "Sid,SentDate,To,Body,Price,PriceUnit\r\n"
        f"SM{1:032x},2026-03-01 10:00:00,+33612345678,Café à 5 € ce soir,-0.0079,EUR\r\n"
        f"SM{2:032x},2026-03-01 10:00:01,+33612345678,Ç’est “prêt”,-0.0079,EUR\r\n"
    )
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")  # really not UTF-8
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed) == (2, 0)
    assert "excel.csv: not valid UTF-8: read as Windows-1252 (cp1252)" in result.notes
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["body"].to_pylist() == ["Café à 5 € ce soir", "Ç’est “prêt”"]
    # the five bytes cp1252 leaves undefined do not stop it (read as Latin-1 does)
    odd = tmp_path / "odd.csv"
    odd.write_bytes(f"Sid,SentDate,Body\nSM{3:032x},2026-03-01 10:00:00,".encode() + b"\x81\x80\n")
    assert read_files([odd])["body"].to_pylist() == ["\x81€"]
    # UTF-8 (with or without a byte-order mark) is read as UTF-8, without a note
    utf8 = tmp_path / "utf8.csv"
    utf8.write_bytes(b"\xef\xbb\xbf" + text.encode("utf-8"))
    again = import_files([utf8], tmp_path / "ds2")
    assert not any("cp1252" in n for n in again.notes)
    assert read_messages(tmp_path / "ds2").sort_by("sid")["body"].equals(stored["body"])


def test_a_semicolon_csv_with_decimal_commas(tmp_path: Path) -> None:
    path = tmp_path / "export.txt"  # not named .csv: the header tells
    text = (
        "Sid;SentDate;To;Body;Price;PriceUnit;NumSegments\r\n"
        f'SM{1:032x};2026-03-01 10:00:00;+4915112345678;"Grüße; bis gleich";-0,0079;EUR;1\r\n'
        f"SM{2:032x};2026-03-01 10:00:01;+4915112345678;Straße;-0,10;EUR;2\r\n"
        f"SM{3:032x};2026-03-01 10:00:02;+4915112345678;x;-1.5;EUR;1\r\n"
    )
    path.write_bytes(text.encode("cp1252"))
    assert detect_format(path) == "console-csv"
    result = import_files([path], tmp_path / "ds")
    assert (result.imported, result.malformed, result.unreadable) == (3, 0, 0)
    assert "export.txt: fields separated by ';' (decimal commas read as points)" in result.notes
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    assert stored["price"].to_pylist() == [-0.0079, -0.10, -1.5]
    assert stored["body"].to_pylist() == ["Grüße; bis gleich", "Straße", "x"]
    assert stored["num_segments"].to_pylist() == [1, 2, 1]

    tabs = tmp_path / "tabs.tsv"
    tabs.write_text(f"Sid\tSentDate\tBody\tPrice\nSM{4:032x}\t2026-03-01 10:00:00\ta, b\t-0.5\n")
    assert detect_format(tabs) == "console-csv"
    table = read_files([tabs])
    assert (table["body"].to_pylist(), table["price"].to_pylist()) == (["a, b"], [-0.5])
    # with commas between fields, a decimal comma is not a number (1,234 may be a thousand)
    commas = tmp_path / "commas.csv"
    commas.write_text(f'Sid,SentDate,Price\nSM{5:032x},2026-03-01 10:00:00,"-0,0079"\n')
    assert read_files([commas])["price"].to_pylist() == [None]


# -- Parquet files of messages ----------------------------------------------------------------


def test_a_parquet_file_of_messages_imports(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    path = tmp_path / "messages.dat"  # found by its PAR1 magic, not its name
    partial = records.drop_columns(["api_version", "price_unit", "source"])
    partial = partial.set_column(
        partial.schema.get_field_index("status"),
        "status",
        partial["status"].dictionary_encode(),
    )
    pq.write_table(partial, path)
    assert detect_format(path) == "parquet"
    result = import_files([path], tmp_path / "ds")
    assert (result.rows, result.imported, result.malformed) == (records.num_rows,) * 2 + (0,)
    assert result.files[0].format == "parquet"
    stored = read_messages(tmp_path / "ds").sort_by("sid")
    expected = records.sort_by("sid")
    for name in MESSAGE_SCHEMA.names:
        if name in ("api_version", "price_unit"):
            assert stored[name].null_count == stored.num_rows
        elif name == "source":
            assert set(stored[name].to_pylist()) == {"parquet:messages.dat"}
        else:
            assert stored[name].equals(expected[name]), name
    again = CliRunner().invoke(
        app, ["import", str(path), "--out", str(tmp_path / "ds"), "--format", "parquet"]
    )
    assert again.exit_code == 0, again.output
    assert (
        f"{path}: parquet, {records.num_rows} of {records.num_rows} rows imported" in again.stdout
    )
    assert f"0 new, 0 updated, {records.num_rows} unchanged" in again.stdout


def test_a_parquet_file_with_another_schema_is_refused(tmp_path: Path, records: pa.Table) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app
    from analyzer.errors import SchemaError

    other = tmp_path / "other.parquet"
    pq.write_table(pa.table({"id": [1], "text": ["hi"]}), other)
    with pytest.raises(SchemaError, match=rf"^{other}: missing column\(s\): sid, date_created$"):
        import_files([other], tmp_path / "ds")
    epoch = tmp_path / "epoch.parquet"
    index = records.schema.get_field_index("date_created")
    millis = pc.divide(records["date_created"].cast(pa.int64()), 1000)
    pq.write_table(records.set_column(index, "date_created", millis), epoch)
    with pytest.raises(SchemaError, match=rf"^{epoch}: column date_created is int64, not a"):
        import_files([epoch], tmp_path / "ds")
    words = tmp_path / "words.parquet"
    pq.write_table(
        records.set_column(
            records.schema.get_field_index("price"), "price", pa.array(["free!"] * records.num_rows)
        ),
        words,
    )
    with pytest.raises(SchemaError, match=rf"^{words}: cannot convert column\(s\): price"):
        import_files([words], tmp_path / "ds")
    garbage = tmp_path / "garbage.parquet"
    garbage.write_bytes(b"PAR1 and then nothing like Parquet")
    with pytest.raises(InputError, match=rf"^cannot read {garbage} as Parquet"):
        import_files([garbage], tmp_path / "ds")
    result = CliRunner().invoke(
        app, ["import", str(epoch), "--out", str(tmp_path / "ds"), "--format", "parquet"]
    )
    assert result.exit_code == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"analyzer: error: {epoch}: column date_created is int64")
    assert not (tmp_path / "ds").exists()
    # a row without a sid is a malformed row, as in the other formats
    nosid = tmp_path / "nosid.parquet"
    pq.write_table(
        records.set_column(
            0, "sid", pa.array([None] + records["sid"].to_pylist()[1:], pa.string())
        ),
        nosid,
    )
    partial = import_files([nosid], tmp_path / "ds")
    assert (partial.imported, partial.malformed) == (records.num_rows - 1, 1)
    assert str(partial.samples[0]) == "nosid.parquet: record 1: no sid"
