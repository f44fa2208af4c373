"""Log lines and helpers shared by the tests of analyzer.logs."""

from __future__ import annotations

import gzip
from collections.abc import Sequence
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

from analyzer.logs import LogParseResult

ACC = "AC" + "0123456789abcdef" * 2
SEND_PATH = f"/2010-04-01/Accounts/{ACC}/Messages.json"
HYPO = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=UTC)


def write(path: Path, lines: Sequence[str], *, gz: bool = False, end: str = "\n") -> Path:
    data = (end.join(lines) + end).encode("utf-8", "surrogatepass")
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def rows(result: LogParseResult, *cols: str) -> list[dict[str, Any]]:
    table = result.requests
    names = list(cols) if cols else [n for n in table.column_names if n != "source_file"]
    return table.select(names).to_pylist()


#: Formatter prefixes: timestamped, a Celery worker's, and logging.basicConfig()'s (no time).
PREFIX = "2026-11-29 14:03:{sec:02d},{ms:03d} INFO twilio.http_client: "
CELERY = "[2025-11-20 16:10:{sec:02d},{ms:03d}: INFO/ForkPoolWorker-7] "
BARE = "INFO:twilio.http_client:"


def sdk_block(
    sec: int,
    *,
    method: str = "POST",
    path: str = SEND_PATH,
    status: int | None = 201,
    rid: str = "RQ" + "b" * 32,
    prefix: str = PREFIX,
    query: str = "",
    date: str | None = None,
) -> list[str]:
    """A 2022+ twilio-python block, as its logger writes it (``date``: Twilio's Date header,
    which twilio-python 7.8.2+ logs first among the response headers)."""
    p0 = prefix.format(sec=sec, ms=0)
    p1 = prefix.format(sec=sec, ms=250)
    url = f"https://api.twilio.com{path}"
    out = [p0 + "-- BEGIN Twilio API Request --"]
    if query:
        out += [p0 + f"{method} Request: {url}?{query}", p0 + f"Query Params: {{'{query}'}}"]
    else:
        out.append(p0 + f"{method} Request: {url}")
    out += [
        p0 + "Headers:",
        p0 + "Content-Type : application/x-www-form-urlencoded",
        p0 + "User-Agent : twilio-python/9.13.0 (Linux x86_64) Python/3.11.7",
        p0 + "-- END Twilio API Request --",
    ]
    if status is not None:
        date_header = "" if date is None else f"'Date': '{date}', "
        out += [
            p1 + f"Response Status Code: {status}",
            p1 + f"Response Headers: {{{date_header}'Content-Type': 'application/json', "
            f"'Twilio-Request-Id': '{rid}', 'Twilio-Request-Duration': '0.040'}}",
        ]
    return out


def http_date(t: datetime) -> str:
    """Twilio's Date header (RFC 7231, GMT, whole seconds)."""
    return formatdate(int(t.timestamp()), usegmt=True)


def envoy_line(t: str, method: str, path: str, status: int, flags: str, dur: str) -> str:
    return (
        f'[{t}] "{method} {path} HTTP/1.1" {status} {flags} 210 812 {dur} 140 "10.1.2.3" '
        f'"twilio-python/9.13.0" "a1b2c3d4-0001" "api.twilio.com" "54.172.60.1:443"'
    )


def nth_combined_line(i: int) -> str:
    return (
        f"10.0.0.{i % 250} - - [29/Nov/2026:14:{i // 60 % 60:02d}:{i % 60:02d} +0100] "
        f'"POST {SEND_PATH} HTTP/1.1" {200 + i % 3} {i} "-" "agent {i}"'
    )


def nth_envoy_line(i: int) -> str:
    return envoy_line(
        f"2026-11-29T14:{i // 60 % 60:02d}:{i % 60:02d}.{i % 1000:03d}Z",
        "POST",
        SEND_PATH,
        201,
        "-",
        str(i),
    )
