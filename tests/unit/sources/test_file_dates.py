"""Dates in imported files: the accepted forms, and day-first or month-first order."""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import InputError
from analyzer.sources.files import import_files, parse_dates, read_files
from analyzer.store import read_messages
from tests.unit.sources.file_samples import (
    sent_dates_csv,
    utc,
)

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


def test_date_order_is_decided_per_file_from_the_values(tmp_path: Path) -> None:
    day_first = sent_dates_csv(
        tmp_path / "eu.csv", ["13/10/2024 13:45", "01/10/2024 09:00:30", "2024-10-02T08:00:00Z"]
    )
    month_first = sent_dates_csv(
        tmp_path / "us.csv", ["10/13/2024 01:45 PM", "10/01/2024 09:00:30"]
    )
    assert read_files([day_first]).sort_by("sid")["date_sent"].to_pylist() == [
        utc(2024, 10, 13, 13, 45),
        utc(2024, 10, 1, 9, 0, 30),
        utc(2024, 10, 2, 8),
    ]
    assert read_files([month_first]).sort_by("sid")["date_sent"].to_pylist() == [
        utc(2024, 10, 13, 13, 45),
        utc(2024, 10, 1, 9, 0, 30),
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
    path = sent_dates_csv(
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
        utc(2026, 4, 3, 10),
        utc(2026, 6, 5, 11),
        utc(2026, 7, 7, 12),
    ]
    result = import_files([path], tmp_path / "ds", date_order="month-first")
    assert result.imported == 3
    assert read_messages(tmp_path / "ds").sort_by("sid")["date_sent"].to_pylist() == [
        utc(2026, 3, 4, 10),
        utc(2026, 5, 6, 11),
        utc(2026, 7, 7, 12),
    ]
    # the same day and month read alike either way: nothing to ask
    same = sent_dates_csv(tmp_path / "same.csv", ["07/07/2026 12:00", "2026-07-08 12:00:00"])
    assert read_files([same])["date_sent"].to_pylist() == [
        utc(2026, 7, 7, 12),
        utc(2026, 7, 8, 12),
    ]
    with pytest.raises(InputError, match="unknown date order"):
        import_files([path], tmp_path / "ds", date_order="dmy")  # type: ignore[arg-type]


def test_a_file_mixing_orders_reports_the_dates_it_cannot_place(tmp_path: Path) -> None:
    path = sent_dates_csv(
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
        utc(2024, 10, 13, 13, 45),
        utc(2024, 10, 14, 9),
        utc(2024, 5, 5, 10),
    ]
    # told the order, the dates that do not fit it are the malformed ones
    told = read_files([path], date_order="day-first").sort_by("sid")
    assert told["date_sent"].to_pylist() == [
        utc(2024, 10, 13, 13, 45),
        utc(2024, 4, 3, 10),
        utc(2024, 5, 5, 10),
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
        path = sent_dates_csv(Path(directory) / "dates.csv", texts)
        if not telling and ambiguous:
            with pytest.raises(InputError, match="--date-order"):
                read_files([path])
            read = read_files([path], date_order=order)  # type: ignore[arg-type]
        else:
            read = read_files([path])
    assert read.sort_by("sid")["date_sent"].to_pylist() == moments
