"""Tests of time parsing and of the local-time correction by Twilio's Date header."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from analyzer.logs import parse_times, parse_twilio_dates, read_server_logs
from tests.unit.logs.samples import http_date, rows, sdk_block, utc, write


def test_parse_times_zones_and_epochs() -> None:
    values = pa.array(
        [
            "2026-03-29T02:30:00",
            "2026-10-25 02:30:00",
            "2026-11-29T14:03:01Z",
            "2026-11-29T14:03:01.5-05:00",
            "1795960984",
            "",
            None,
            "nope",
            "2026-11-29 14:03:01,25 +0100",
        ]
    )
    got = parse_times(values, "Europe/Berlin").to_pylist()
    assert got == [
        utc(2026, 3, 29, 1, 0),  # non-existent local time: moved forward to 03:00 CEST
        utc(2026, 10, 25, 0, 30),  # ambiguous: the earlier (summer time) instant
        utc(2026, 11, 29, 14, 3, 1),
        utc(2026, 11, 29, 19, 3, 1, 500000),
        utc(2026, 11, 29, 14, 3, 4),
        None,
        None,
        None,
        utc(2026, 11, 29, 13, 3, 1, 250000),
    ]


def test_parse_twilio_dates_forms() -> None:
    got = parse_twilio_dates(
        pa.array(
            [
                "Wed, 08 Apr 2026 09:04:08 GMT",  # RFC 7231 (the header)
                "Fri, 24 May 2019 17:44:46 +0000",  # RFC 2822 (Twilio's resource dates)
                "1 Jan 2026 01:02 -0130",  # no weekday, no seconds, an offset
                "wed, 08 apr 2026 09:04:08 gmt",
                "2026-04-08T09:04:08Z",
                "2026-04-08 09:04:08.5",  # zoneless ISO: Twilio's clock is UTC
                "Mon, 31 Feb 2026 00:00:00 GMT",
                "garbage",
                "",
                None,
            ]
        )
    ).to_pylist()
    assert got == [
        utc(2026, 4, 8, 9, 4, 8),
        utc(2019, 5, 24, 17, 44, 46),
        utc(2026, 1, 1, 2, 32),
        utc(2026, 4, 8, 9, 4, 8),
        utc(2026, 4, 8, 9, 4, 8),
        utc(2026, 4, 8, 9, 4, 8, 500000),
        None,
        None,
        None,
        None,
    ]
    # all values in the header's own fixed-width shape (the fast path)
    fixed = ["Wed, 08 Apr 2026 09:04:08 GMT", None, "Tue, 31 Feb 2026 00:00:00 GMT"]
    assert parse_twilio_dates(pa.array(fixed)).to_pylist() == [utc(2026, 4, 8, 9, 4, 8), None, None]
    assert parse_twilio_dates(pa.array([1795960984, None])).to_pylist() == [
        utc(2026, 11, 29, 14, 3, 4),
        None,
    ]


def _celery_log(
    tmp_path: Path, offset: timedelta, n: int = 4, *, jitter: Sequence[float] = ()
) -> tuple[Path, list[datetime]]:
    """A Celery worker log whose naive line times are UTC + offset; the true UTC times."""
    lines: list[str] = []
    true: list[datetime] = []
    for i in range(n):
        t = utc(2025, 11, 20, 13, 10, 10 + 3 * i, 921000)
        local = t + offset
        prefix = f"[{local:%Y-%m-%d %H:%M:%S},921: INFO/ForkPoolWorker-7] "
        extra = timedelta(seconds=jitter[i] if i < len(jitter) else 0)
        block = sdk_block(0, prefix=prefix, date=http_date(t + extra))
        lines += block
        true.append(t)
    return write(tmp_path / "celery.log", lines), true


@pytest.mark.parametrize(
    ("offset", "text"),
    [
        (timedelta(hours=3), "3 h ahead of"),
        (timedelta(hours=5, minutes=30), "5 h 30 min ahead of"),
        (timedelta(hours=-5), "5 h behind"),
        (timedelta(minutes=45), "45 min ahead of"),
    ],
)
def test_local_time_log_corrected_by_twilio_date(
    tmp_path: Path, offset: timedelta, text: str
) -> None:
    # one block's Date is off by a few seconds: the median ignores it
    path, true = _celery_log(tmp_path, offset, n=5, jitter=[0, 0, 0, 0, 7])
    res = read_server_logs([path], chunk_lines=3)
    assert [r["time"] for r in rows(res, "time")] == true
    st_ = res.files[0]
    assert st_.offset_corrected_seconds == offset.total_seconds()
    assert st_.warnings == [
        f"times in {path} look like local time {text} UTC (measured against Twilio's Date "
        "header): corrected; pass --log-tz to state the zone"
    ]
    assert res.warnings == st_.warnings
    assert (st_.first_time, st_.last_time) == (true[0], true[-1])
    assert st_.time_source == "line"


def test_local_time_correction_uses_the_whole_file(tmp_path: Path) -> None:
    # The first blocks have no Date header (and sit in their own chunks): they are shifted too.
    lines: list[str] = []
    for i in range(6):
        t = utc(2025, 11, 20, 13, 10, 10 + i)
        prefix = f"[{t + timedelta(hours=3):%Y-%m-%d %H:%M:%S},000: INFO/ForkPoolWorker-1] "
        lines += sdk_block(0, prefix=prefix, date=None if i < 3 else http_date(t))
    path = write(tmp_path / "celery.log", lines)
    small = read_server_logs([path], chunk_lines=4)
    big = read_server_logs([path])
    assert small.requests.equals(big.requests)
    assert [r["time"] for r in rows(small, "time")] == [
        utc(2025, 11, 20, 13, 10, 10 + i) for i in range(6)
    ]
    assert small.files[0].offset_corrected_seconds == 10800.0


@pytest.mark.parametrize(
    ("offset", "n", "log_tz"),
    [
        (timedelta(seconds=90), 4, "UTC"),  # clock skew: left to the cross-reference
        (timedelta(minutes=9), 4, "UTC"),  # under 10 min: still skew
        (timedelta(hours=3), 2, "UTC"),  # too few pairs to tell
        (timedelta(hours=3), 4, "Europe/Moscow"),  # the right zone was given
    ],
)
def test_local_time_not_corrected(tmp_path: Path, offset: timedelta, n: int, log_tz: str) -> None:
    path, true = _celery_log(tmp_path, offset, n=n)
    res = read_server_logs([path], log_tz=log_tz)
    expected = true if log_tz != "UTC" else [t + offset for t in true]
    assert [r["time"] for r in rows(res, "time")] == expected
    assert res.files[0].offset_corrected_seconds == 0.0
    assert res.warnings == []


def test_local_time_wrong_zone_given_and_residuals_reported(tmp_path: Path) -> None:
    path, true = _celery_log(tmp_path, timedelta(hours=3), n=4)
    res = read_server_logs([path], log_tz="Europe/Berlin")  # UTC+1 in November
    assert [r["time"] for r in rows(res, "time")] == true
    assert res.files[0].offset_corrected_seconds == 7200.0
    assert res.warnings == [
        f"times in {path}, read in Europe/Berlin, are 2 h ahead of Twilio's Date header: "
        "corrected; check --log-tz"
    ]
    # A daylight saving change within the file: three blocks at +3 h, two at +2 h.
    lines: list[str] = []
    for i, hours in enumerate([3, 3, 3, 2, 2]):
        t = utc(2025, 10, 26, 0, 10, i)
        prefix = f"[{t + timedelta(hours=hours):%Y-%m-%d %H:%M:%S},000: INFO/W] "
        lines += sdk_block(0, prefix=prefix, date=http_date(t))
    dst = write(tmp_path / "dst.log", lines)
    res = read_server_logs([dst])
    assert res.files[0].offset_corrected_seconds == 10800.0
    assert res.warnings[1] == (
        f"2 of 5 requests in {dst} still differ from Twilio's Date header by 10 minutes or "
        "more after that correction (a change of zone or of daylight saving time within the "
        "file?)"
    )
