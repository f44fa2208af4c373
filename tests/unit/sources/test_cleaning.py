"""Cleaning imported rows: malformed rows dropped with their lines, unreadable values kept empty."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from pathlib import Path

import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer.errors import InputError
from analyzer.sources.files import MAX_SAMPLES, import_files, read_files
from analyzer.sources.files.cleaning import clean
from analyzer.sources.files.console_csv import parse_console_csv
from analyzer.store import read_messages


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
        parsed = parse_console_csv(path)
        if len(expected_bad) == len(rows):  # nothing readable: not a Console CSV at all
            with pytest.raises(InputError, match="none of its"):
                read_files([path])
            return
        table = read_files([path])
    cleaned = clean(parsed, "lines.csv", "console-csv:lines.csv")
    assert cleaned.malformed == len(expected_bad)
    assert [s.line for s in cleaned.samples] == expected_bad[: MAX_SAMPLES]
    assert [s.line for s in cleaned.unreadable_samples] == expected_unreadable[: MAX_SAMPLES]
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
