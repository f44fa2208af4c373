"""Console CSV imports: columns in any order, line numbers of bad rows, encodings and separators."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.errors import InputError
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.sources.files import detect_format, import_files, read_files
from analyzer.store import read_messages
from tests.unit.sources.file_samples import (
    CONSOLE_HEADER,
    DAY0,
    sample_records,
    sorted_columns,
    utc,
    write_console_csv,
)


@pytest.fixture(scope="module")
def records() -> pa.Table:
    return sample_records()


def test_console_csv_any_column_order(tmp_path: Path, records: pa.Table) -> None:
    first = tmp_path / "messages.csv"
    second = tmp_path / "reordered.csv"
    write_console_csv(first, records, CONSOLE_HEADER)
    older = [h for h in reversed(CONSOLE_HEADER) if h != "ErrorCode"]  # older exports
    write_console_csv(second, records, older)
    a = read_files([first])
    b = read_files([second])
    assert a.num_rows == b.num_rows == records.num_rows
    same = [n for n in MESSAGE_SCHEMA.names if n not in ("source", "error_code")]
    assert sorted_columns(a, same).equals(sorted_columns(b, same))
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


def test_console_rows_without_sent_date_are_kept_and_counted(tmp_path: Path) -> None:
    from analyzer.engines import detect_path
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
    assert every["date_created"][1].as_py() == utc(2026, 3, 1, 9, 59, 59)

    detection = detect_path(dataset, window=60)
    assert detection.summary.messages == 3  # the undated record cannot be placed in time
    assert detection.clusters["sids"].to_pylist() == [[sid[0], sid[3]]]


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
