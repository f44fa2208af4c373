"""Sample files for import tests: Console CSV, Bulk Export lines, API list pages."""

from __future__ import annotations

import csv
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from analyzer.schema import MESSAGE_SCHEMA
from tests.fakes.twilio import generate_messages

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


def sample_records() -> pa.Table:
    """300 records over two days, all sent."""
    table = generate_messages(300, DAY0, DAY0 + timedelta(days=2), seed=5, unsent_fraction=0)
    return table


def console_value(name: str, value: object) -> str:
    """A value as the Console CSV shows it in column ``name``."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if name == "Status":
        return str(value).capitalize()  # the Console shows "Delivered"
    if name == "Price":
        return f"{value:.5f}"
    return str(value)


def write_console_csv(path: Path, table: pa.Table, header: list[str]) -> None:
    """Records as a Console CSV with these columns."""
    rows = table.to_pylist()
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([console_value(h, row[CSV_FIELDS[h]]) for h in header])


def sorted_columns(table: pa.Table, names: list[str]) -> pa.Table:
    """Some columns, rows sorted by sid."""
    return table.select(names).sort_by("sid")


def _json_record(row: dict, *, skip: tuple[str, ...], date_format: str) -> dict:
    """A record as JSON writes it: dates in ``date_format``, counts and prices as text."""
    out: dict[str, object] = {}
    for name, value in row.items():
        if name in skip:
            continue
        if isinstance(value, datetime):
            value = value.strftime(date_format)
        elif name in ("num_segments", "num_media") and value is not None:
            value = str(value)
        elif name == "price" and value is not None:
            value = f"{value:.5f}"
        out[name] = value
    return out


def bulk_line(row: dict) -> dict:
    """A record as a Bulk Export line holds it: ISO dates, numbers as text."""
    skip = ("api_version", "price_unit", "error_message", "source")
    return _json_record(row, skip=skip, date_format="%Y-%m-%dT%H:%M:%SZ")


def api_message(row: dict) -> dict:
    """A record as the v2010 API returns it: RFC 2822 dates, numbers as text."""
    out = _json_record(row, skip=("source",), date_format="%a, %d %b %Y %H:%M:%S +0000")
    base = f"/2010-04-01/Accounts/{row['account_sid']}/Messages/{row['sid']}"
    out["uri"] = base + ".json"
    out["subresource_uris"] = {"media": base + "/Media.json", "feedback": base + "/Feedback.json"}
    return out


def camel(message: dict) -> dict:
    """The same record as twilio-node and the Twilio CLI write it: camelCase, ISO dates."""
    out = {}
    for name, value in message.items():
        if name.startswith("date_") and value is not None:
            parsed = datetime.strptime(value, "%a, %d %b %Y %H:%M:%S %z")
            value = parsed.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        out[re.sub(r"_([a-z])", lambda m: m.group(1).upper(), name)] = value
    return out


def list_page(messages: list[dict], number: int) -> dict:
    """A Messages list page holding ``messages``."""
    return {
        "messages": messages,
        "page": number,
        "page_size": 100,
        "next_page_uri": f"/2010-04-01/Accounts/AC1/Messages.json?Page={number + 1}",
    }


def assert_stored(stored: pa.Table, expected: pa.Table) -> None:
    """The same records, every field but source equal."""
    stored, expected = stored.sort_by("sid"), expected.sort_by("sid")
    assert stored.num_rows == expected.num_rows
    for name in MESSAGE_SCHEMA.names:
        if name != "source":
            assert stored[name].equals(expected[name]), name


def sent_dates_csv(path: Path, dates: list[str]) -> Path:
    """A Console CSV with one record per SentDate."""
    lines = ["Sid,SentDate,To,Body,Status"]
    lines += [f"SM{i:032x},{d},+15550100,hi,delivered" for i, d in enumerate(dates, start=1)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def utc(*args: int) -> datetime:
    """datetime(*args) in UTC."""
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]
