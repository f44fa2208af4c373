"""Exporting the account's configuration: incoming phone numbers, Messaging Services with
their numbers, and recent Monitor alerts, each into a Parquet file of the dataset's
configuration folder.

Everything is read through the official SDK (its requests routed through the message
export's Fetcher: same retries, base URL and secret hygiene) before anything is written,
so a refused or failing export leaves the dataset as it was. Settings Twilio leaves
unset (empty text) are null in the files.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
from twilio.rest import Client

from analyzer.atomic import write_parquet
from analyzer.errors import UserError
from analyzer.results.files import (
    ALERTS_FILE,
    CONFIG_COLUMNS,
    CONFIG_DIR,
    NUMBERS_FILE,
    SERVICE_NUMBERS_FILE,
    SERVICES_FILE,
)
from analyzer.schema import TIMESTAMP
from analyzer.sources.twilio_api.credentials import (
    DEFAULT_BASE_URL,
    Credentials,
    check_api_base_url,
)
from analyzer.sources.twilio_api.fetcher import Counters, Fetcher, RetryPolicy
from analyzer.sources.twilio_api.folders import (
    check_output_folder,
    missing_folders,
    remove_created_folders,
)
from analyzer.sources.twilio_api.sdk_client import FetcherHttpClient, routed_client
from analyzer.store import dataset_lock

#: How far back Monitor keeps alerts (and so the longest period asked for).
ALERTS_KEPT = timedelta(days=30)

#: The Arrow type of each configuration column that is not a string.
_TYPES: dict[str, pa.DataType] = {
    "sms_capable": pa.bool_(),
    "mms_capable": pa.bool_(),
    "voice_capable": pa.bool_(),
    "use_inbound_webhook_on_number": pa.bool_(),
    "error_code": pa.int64(),
    "date_updated": TIMESTAMP,
    "date_generated": TIMESTAMP,
}


def config_schema(file_name: str) -> pa.Schema:
    """The Arrow schema of one configuration file (``CONFIG_COLUMNS`` order)."""
    return pa.schema(
        [pa.field(name, _TYPES.get(name, pa.string())) for name in CONFIG_COLUMNS[file_name]]
    )


@dataclass
class ConfigExportResult:
    """What a configuration export fetched and wrote."""

    folder: Path
    alerts_since: datetime
    rows: dict[str, int] = field(default_factory=dict)
    pages: int = 0
    retries: int = 0
    elapsed: float = 0.0

    def summary(self) -> str:
        """One line saying what was written where."""
        counts = ", ".join(f"{rows:,} in {name}" for name, rows in self.rows.items())
        return f"Exported the configuration into {self.folder}: {counts}."


def export_config(
    dataset: str | Path,
    *,
    credentials: Credentials,
    api_base_url: str | None = None,
    alerts_since: datetime | None = None,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    page_size: int = 50,
) -> ConfigExportResult:
    """Export the account's numbers, Messaging Services (and their numbers) and the Monitor
    alerts since ``alerts_since`` (at most the last 30 days, the default) into
    ``DATASET/_config/`` (CONFIG_DIR), each file replaced atomically.

    The base URL and the folder are checked before any request (UserError); refused
    credentials raise AuthError, a service that keeps failing TwilioAPIError, and
    nothing is written then.
    """
    if not 1 <= page_size <= 1000:
        raise UserError("page size must be between 1 and 1000")
    base_url = check_api_base_url(api_base_url or DEFAULT_BASE_URL, [credentials.secret])
    root = Path(dataset)
    check_output_folder(root, "dataset", parents=True)
    began = time.monotonic()
    since = _alerts_since(alerts_since, now)
    counters = Counters()
    fetcher = Fetcher(credentials, base_url, retry or RetryPolicy(), counters, threading.Event())
    http_client = FetcherHttpClient(fetcher)
    tables = fetch_config(routed_client(http_client), since, page_size)
    result = ConfigExportResult(folder=root / CONFIG_DIR, alerts_since=since)
    created = missing_folders(root)
    with dataset_lock(root, blocking=False):
        try:
            result.folder.mkdir(exist_ok=True)
            for name, table in tables.items():
                write_parquet(table, result.folder / name)
                result.rows[name] = table.num_rows
        except BaseException:
            remove_created_folders(created)
            raise
    result.pages, result.retries = http_client.pages, counters.retries
    result.elapsed = time.monotonic() - began
    return result


def _alerts_since(alerts_since: datetime | None, now: datetime | None) -> datetime:
    """The start of the alerts period: ``alerts_since`` (UTC), no earlier than 30 days ago."""
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    oldest = moment - ALERTS_KEPT
    if alerts_since is None:
        return oldest.replace(microsecond=0)
    if alerts_since.tzinfo is None:
        alerts_since = alerts_since.replace(tzinfo=UTC)
    return max(alerts_since.astimezone(UTC), oldest).replace(microsecond=0)


def fetch_config(client: Client, alerts_since: datetime, page_size: int) -> dict[str, pa.Table]:
    """Every configuration table, keyed by file name, read through the SDK ``client``."""
    numbers = [
        _number_row(n)
        for n in client.api.v2010.account.incoming_phone_numbers.stream(page_size=page_size)
    ]
    services = list(client.messaging.v1.services.stream(page_size=page_size))
    service_rows = [
        {name: getattr(s, name) for name in CONFIG_COLUMNS[SERVICES_FILE]} for s in services
    ]
    service_numbers = [
        {"service_sid": service.sid, "sid": pn.sid, "phone_number": pn.phone_number}
        for service in services
        for pn in client.messaging.v1.services(service.sid).phone_numbers.stream(
            page_size=page_size
        )
    ]
    alerts = [
        _alert_row(a)
        for a in client.monitor.v1.alerts.stream(start_date=alerts_since, page_size=page_size)
    ]
    return {
        NUMBERS_FILE: _table(NUMBERS_FILE, numbers),
        SERVICES_FILE: _table(SERVICES_FILE, service_rows),
        SERVICE_NUMBERS_FILE: _table(SERVICE_NUMBERS_FILE, service_numbers),
        ALERTS_FILE: _table(ALERTS_FILE, alerts),
    }


def _number_row(number: Any) -> dict[str, Any]:
    capabilities = number.capabilities if isinstance(number.capabilities, Mapping) else {}
    row = {name: getattr(number, name, None) for name in CONFIG_COLUMNS[NUMBERS_FILE]}
    for kind in ("sms", "mms", "voice"):
        value = capabilities.get(kind)
        row[f"{kind}_capable"] = None if value is None else bool(value)
    return row


def _alert_row(alert: Any) -> dict[str, Any]:
    row = {name: getattr(alert, name, None) for name in CONFIG_COLUMNS[ALERTS_FILE]}
    code = row["error_code"]
    row["error_code"] = int(str(code)) if str(code).strip().isdigit() else None
    return row


def _table(file_name: str, rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """The rows as a table of the file's schema; empty text (Twilio's "not set") is null."""
    cleaned = [{k: None if v == "" else v for k, v in row.items()} for row in rows]
    return pa.Table.from_pylist(cleaned, schema=config_schema(file_name))
