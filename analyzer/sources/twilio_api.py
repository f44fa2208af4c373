"""Export message records from Twilio's Messages API (v2010) into a message dataset.

The requested range is cut into time slices of ``date_sent`` that are listed
concurrently; each page is read as raw JSON and turned into Arrow columns directly.
Pages are retried on throttling, server errors and broken transfers. Days are
written to the dataset as soon as every slice that can hold their records is done.

Only records with a ``date_sent`` can be found: the API filters on nothing else,
so messages that never left Twilio (queued, scheduled, many failed) are not exported.
"""

from __future__ import annotations

import io
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import requests
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from analyzer.errors import InputError, UserError
from analyzer.redact import scrub_secrets, secret_values
from analyzer.schema import MESSAGE_SCHEMA, TIMESTAMP, coerce_messages
from analyzer.store import LOCK_FILE, dataset_lock, write_messages

DEFAULT_BASE_URL = "https://api.twilio.com"
API_SOURCE = "api"
_MESSAGE_FIELDS = [f.name for f in MESSAGE_SCHEMA if f.name != "source"]
_DATE_FIELDS = ("date_created", "date_sent", "date_updated")
# What the list API sends: counts and prices are strings, error_code a number.
_PAGE_SCHEMA = pa.schema(
    [
        pa.field(
            "messages",
            pa.list_(
                pa.struct(
                    [
                        pa.field(name, pa.int64() if name == "error_code" else pa.string())
                        for name in _MESSAGE_FIELDS
                    ]
                )
            ),
        ),
        pa.field("next_page_uri", pa.string()),
    ]
)
_SID = re.compile(r"^AC[0-9a-fA-F]{32}$")
_DAY = 86_400
_AUTO_SLICES = (86_400, 43_200, 21_600, 10_800, 7_200, 3_600, 1_800, 900, 600, 300)

log = logging.getLogger(__name__)


class AuthError(UserError):
    """Twilio refused the credentials (HTTP 401/403)."""


class TwilioAPIError(UserError, RuntimeError):
    """The API kept failing after all retries, or answered in an unexpected way.

    Shown like every other error (one line, credentials scrubbed), but exit code 1:
    nothing in the command was wrong, the service was not there.
    """

    exit_code = 1


@dataclass(frozen=True)
class Credentials:
    """Credentials for the REST API: the account SID and either its auth token or an API key."""

    account_sid: str
    secret: str = field(repr=False)
    api_key: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Credentials:
        """Read TWILIO_ACCOUNT_SID + TWILIO_AUTH_TOKEN, or TWILIO_API_KEY + TWILIO_API_SECRET."""

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        account, key = get("TWILIO_ACCOUNT_SID"), get("TWILIO_API_KEY")
        if key:
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_API_SECRET"]
        elif get("TWILIO_API_SECRET"):
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_API_KEY"]
        else:
            wanted = ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"]
        missing = [name for name in wanted if not get(name)]
        if missing:
            raise UserError(
                "missing Twilio credentials: set "
                + " and ".join(missing)
                + " (TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY"
                " and TWILIO_API_SECRET)"
            )
        if not _SID.match(account):
            raise UserError("TWILIO_ACCOUNT_SID must be AC followed by 32 hex digits")
        secret = get("TWILIO_API_SECRET") if key else get("TWILIO_AUTH_TOKEN")
        return cls(account_sid=account, secret=secret, api_key=key or None)

    @property
    def username(self) -> str:
        """The HTTP Basic user: the API key SID, or the account SID."""
        return self.api_key or self.account_sid

    def describe(self) -> str:
        """Who these credentials are, without the secret."""
        if self.api_key:
            return f"API key {self.api_key} for account {self.account_sid}"
        return f"account {self.account_sid}"

    def __repr__(self) -> str:
        key = f", api_key={self.api_key!r}" if self.api_key else ""
        return f"Credentials(account_sid={self.account_sid!r}{key}, secret=***)"

    __str__ = __repr__


def check_api_base_url(url: str, secrets: Iterable[str] = ()) -> str:
    """Return ``url`` without its trailing slash; UserError unless it is http(s) with a host.

    Checked before any request, so a typo costs no retries. The error never shows
    ``secrets`` (nor the environment's credentials), even when the URL embeds them.
    """
    text = str(url)
    problem = None
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        problem = "its host or port cannot be read (the port must be a number from 1 to 65535)"
    else:
        if parts.scheme.lower() not in ("http", "https"):
            problem = "it must start with https:// (or http:// for a test double)"
        elif not parts.hostname:
            problem = "it has no host"
        elif port == 0:
            problem = "the port must be a number from 1 to 65535"
        elif any(c.isspace() for c in text):
            problem = "it contains white space"
        elif parts.username is not None or parts.password is not None:
            problem = (
                "it must not hold credentials (they come from TWILIO_ACCOUNT_SID with "
                "TWILIO_AUTH_TOKEN, or with TWILIO_API_KEY and TWILIO_API_SECRET)"
            )
        elif parts.query or parts.fragment:
            problem = "it must not have a query (?) or a fragment (#)"
    if problem is not None:
        raise UserError(
            f"bad Twilio API base URL {scrub(text, secrets)!r} "
            f"(--api-base-url or TWILIO_API_BASE_URL): {problem}"
        )
    return text.rstrip("/")


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """:func:`analyzer.redact.scrub_secrets` with ``secrets`` besides the environment's,
    each also in its URL-encoded forms (a secret pasted into a URL path).
    """
    values: set[str] = set()
    for value in [*secret_values(), *secrets]:
        if value:
            values |= {value, quote(value, safe=""), quote(value)}
    return scrub_secrets(text, sorted(values, key=len, reverse=True))


def missing_folders(path: str | Path) -> list[Path]:
    """``path`` and those of its parents that do not exist yet, deepest first."""
    folder = Path(path)
    missing = []
    for candidate in (folder, *folder.parents):
        if candidate.exists() or candidate.is_symlink():
            break
        missing.append(candidate)
    return missing


def check_output_folder(path: str | Path, what: str, *, parents: bool) -> None:
    """InputError unless ``path`` is a writable folder or can be created as one.

    With ``parents=False`` only the folder itself may be missing: a path whose parent
    does not exist is taken for a typo.
    """
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise InputError(f"the {what} {folder} is a file, not a folder")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise InputError(f"the {what} folder {folder} is not writable")
        return
    missing = missing_folders(folder)
    base = missing[-1].parent if missing else folder.parent
    if not parents and len(missing) > 1:
        raise InputError(
            f"the {what} folder {folder} does not exist and neither does its parent "
            f"{folder.parent}: check the path"
        )
    if not base.is_dir():
        raise InputError(f"cannot create the {what} folder {folder}: {base} is not a folder")
    if not os.access(base, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the {what} folder {folder}: {base} is not writable")


def remove_created_folders(
    created: Sequence[Path], leftovers: Collection[str] = (LOCK_FILE,)
) -> bool:
    """Undo the folders (``missing_folders`` before the run) a failed run created.

    Only when the deepest one holds nothing but files named in ``leftovers`` (its lock
    files); call it while holding the dataset's write lock. Returns whether they went.
    """
    if not created:
        return False
    root = created[0]
    try:
        names = [p.name for p in root.iterdir()]
        if not set(names) <= set(leftovers):
            return False
        for name in names:
            (root / name).unlink()
        for folder in created:
            folder.rmdir()
    except OSError:
        return False
    return True


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff for one page: exponential with full jitter, bounded in total time."""

    base: float = 0.5
    cap: float = 30.0
    max_retry_time: float = 120.0
    timeout: float = 60.0

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number ``attempt`` (1-based)."""
        jitter = random.uniform(0.0, min(self.cap, self.base * 2 ** (attempt - 1)))
        return max(jitter, retry_after or 0.0)


@dataclass
class ExportResult:
    """What an export fetched and wrote."""

    accounts: list[str]
    start: datetime | None
    end: datetime | None
    records: int = 0
    fetched: int = 0
    pages: int = 0
    retries: int = 0
    slices: int = 0
    days: dict[str, int] = field(default_factory=dict)
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    elapsed: float = 0.0

    @property
    def rate(self) -> float:
        """Records fetched per second."""
        return self.fetched / self.elapsed if self.elapsed > 0 else 0.0


class _Stopped(Exception):
    pass


@dataclass
class _Counters:
    lock: threading.Lock = field(default_factory=threading.Lock)
    fetched: int = 0
    pages: int = 0
    retries: int = 0
    #: The highest retry number logged since the last good page: one line per backoff.
    logged_retry: int = 0


class _Fetcher:
    """GETs JSON through the SDK's ``client.request`` with retries; one SDK client per thread."""

    def __init__(
        self,
        credentials: Credentials,
        base_url: str,
        policy: RetryPolicy,
        counters: _Counters,
        stop: threading.Event,
    ) -> None:
        self.credentials = credentials
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self.counters = counters
        self.stop = stop
        self._local = threading.local()

    def clean(self, text: str) -> str:
        """``text`` without the credentials' secret (nor the environment's)."""
        return scrub(text, [self.credentials.secret])

    def client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            creds = self.credentials
            client = Client(
                creds.username,
                creds.secret,
                creds.account_sid,
                environment={},
                http_client=TwilioHttpClient(timeout=self.policy.timeout),
            )
            client.api.base_url = self.base_url
            self._local.client = client
        return client

    def get(self, url: str, params: dict[str, object] | None, parse: Callable[[bytes], Any]) -> Any:
        """GET ``url`` and return ``parse(body)``, retrying transient failures."""
        policy, first_failure, attempt = self.policy, 0.0, 0
        while True:
            if self.stop.is_set():
                raise _Stopped
            retry_after: float | None = None
            try:
                response = self.client().request("GET", url, params=params)
                status = response.status_code
                if status == 200:
                    try:
                        page = parse(response.text.encode("utf-8"))
                    except (ValueError, pa.ArrowInvalid) as exc:
                        problem = f"unreadable JSON ({type(exc).__name__})"
                    else:
                        if self.counters.logged_retry:
                            with self.counters.lock:
                                self.counters.logged_retry = 0
                        return page
                elif status in (401, 403):
                    raise AuthError(
                        f"Twilio rejected the credentials for {self.credentials.describe()}"
                        f" (HTTP {status}{_twilio_code(response.text)})"
                    )
                elif status == 404:
                    raise UserError(
                        self.clean(
                            f"Twilio answered 404 for {_path(url)}{_twilio_code(response.text)}:"
                            " check the account SID and the API base URL"
                        )
                    )
                elif status == 429 or status >= 500:
                    problem = f"HTTP {status}{_twilio_code(response.text)}"
                    retry_after = _retry_after(response.headers)
                else:
                    raise TwilioAPIError(
                        self.clean(
                            f"Twilio answered HTTP {status}{_twilio_code(response.text)}"
                            f" for {_path(url)}"
                        )
                    )
            except requests.ConnectionError as exc:
                problem = f"no connection ({type(exc).__name__})"
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}"
            now = time.monotonic()
            attempt += 1
            if attempt == 1:
                first_failure = now
            pause = policy.delay(attempt, retry_after)
            if now + pause - first_failure > policy.max_retry_time:
                raise TwilioAPIError(
                    self.clean(
                        f"Twilio API at {self.base_url} kept failing for {_path(url)}:"
                        f" {attempt} attempts over {now - first_failure:.0f} s, last: {problem}"
                    )
                )
            with self.counters.lock:
                self.counters.retries += 1
                announce = attempt > self.counters.logged_retry
                if announce:
                    self.counters.logged_retry = attempt
            if announce:
                log.info(
                    "%s",
                    self.clean(
                        f"Twilio API at {self.base_url}: {problem} for {_path(url)}; retry"
                        f" {attempt} in {pause:.1f} s ({now - first_failure:.0f} s since the"
                        f" first failure, giving up after {policy.max_retry_time:.0f} s)"
                    ),
                )
            if self.stop.wait(pause):
                raise _Stopped


def _path(url: str) -> str:
    return re.sub(r"^https?://[^/]+", "", url).split("?")[0]


def _twilio_code(text: str) -> str:
    try:
        payload = json.loads(text)
    except ValueError:
        return ""
    if isinstance(payload, dict) and payload.get("code"):
        return f", Twilio error {payload['code']}"
    return ""


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = next((v for k, v in headers.items() if k.lower() == "retry-after"), None)
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - datetime.now(UTC)).total_seconds())


def page_to_table(body: bytes, source: str = API_SOURCE) -> tuple[pa.Table, str | None]:
    """Turn one Messages list page (raw JSON) into message-schema records and the next page URI.

    Raises ValueError (or ArrowInvalid) when the body is not a list page.
    """
    try:
        parsed = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(block_size=len(body) + 64),
            parse_options=pj.ParseOptions(
                explicit_schema=_PAGE_SCHEMA, unexpected_field_behavior="ignore"
            ),
        )
    except pa.ArrowInvalid:
        return _page_to_table_slow(body, source)
    if parsed.num_rows != 1 or parsed["messages"].null_count:
        raise ValueError("not a Messages list page")
    structs = parsed["messages"].combine_chunks().values
    columns = {name: structs.field(name) for name in _MESSAGE_FIELDS}
    for name in _DATE_FIELDS:
        columns[name] = _rfc2822(columns[name])
    columns["source"] = pa.array([source] * len(structs), pa.string())
    next_uri = parsed["next_page_uri"][0].as_py()
    return coerce_messages(pa.table(columns)), next_uri


def _page_to_table_slow(body: bytes, source: str) -> tuple[pa.Table, str | None]:
    payload = json.loads(body)  # ValueError on a broken body: the caller retries
    if not isinstance(payload, dict) or not isinstance(payload.get("messages"), list):
        raise ValueError("not a Messages list page")
    records = payload["messages"]
    columns: dict[str, pa.Array] = {}
    for name in _MESSAGE_FIELDS:
        values = [r.get(name) if isinstance(r, dict) else None for r in records]
        columns[name] = pa.array([None if v is None else str(v) for v in values], pa.string())
    columns["source"] = pa.array([source] * len(records), pa.string())
    return coerce_messages(pa.table(columns)), payload.get("next_page_uri")


_MONTHS = pa.array(
    ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
)


def _rfc2822(column: pa.Array) -> pa.Array:
    """Parse ``Fri, 24 May 2019 17:44:46 +0000``; leave other forms to coerce_messages."""
    try:
        if pc.all(pc.ends_with(column, "+0000")).as_py() is not False:
            # Twilio always writes GMT: rearrange into ISO text, which Arrow casts fast.
            month = pc.add(
                pc.index_in(pc.utf8_slice_codeunits(column, 8, 11), value_set=_MONTHS), 1
            )
            iso = pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(column, 12, 16),
                "-",
                pc.utf8_lpad(pc.cast(month, pa.string()), 2, "0"),
                "-",
                pc.utf8_slice_codeunits(column, 5, 7),
                " ",
                pc.utf8_slice_codeunits(column, 17, 25),
                "",
            )
            stamps = pc.cast(iso, pa.timestamp("s"))
            if stamps.null_count == column.null_count:
                return pc.assume_timezone(stamps, "UTC").cast(TIMESTAMP)
        stamps = pc.strptime(
            pc.utf8_slice_codeunits(column, 5), format="%d %b %Y %H:%M:%S %z", unit="s"
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column
    return stamps.cast(TIMESTAMP)


def _to_utc(value: date | datetime | str, *, end: bool) -> datetime:
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (
                date.fromisoformat(text)
                if len(text) == 10
                else datetime.fromisoformat(text.replace("Z", "+00:00"))
            )
        except ValueError:
            raise UserError(
                f"not a date or timestamp: {value!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)"
            ) from None
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(UTC).replace(microsecond=0)
    moment = datetime(value.year, value.month, value.day, tzinfo=UTC)
    return moment + timedelta(days=1, seconds=-1) if end else moment


def plan_slices(first: int, last: int, slice_seconds: int) -> list[tuple[int, int]]:
    """Cut [first, last] (epoch seconds, inclusive) into non-overlapping inclusive slices.

    Boundaries fall on multiples of ``slice_seconds`` since 1970, so a slice length that
    divides a day never crosses midnight UTC.
    """
    if last < first:
        return []
    step = max(1, int(slice_seconds))
    slices = []
    lo = first
    while lo <= last:
        hi = min(last, (lo // step + 1) * step - 1)
        slices.append((lo, hi))
        lo = hi + 1
    return slices


def _auto_slice(first: int, last: int, concurrency: int) -> int:
    span = last - first + 1
    for seconds in _AUTO_SLICES:
        if span / seconds >= 4 * concurrency:
            return seconds
    return _AUTO_SLICES[-1]


def _stamp(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def list_accounts(fetcher: _Fetcher) -> list[str]:
    """The SIDs of the credentials' account and its subaccounts that are not closed."""

    def parse(body: bytes) -> dict[str, Any]:
        payload = json.loads(body)
        if not isinstance(payload, dict) or not isinstance(payload.get("accounts"), list):
            raise ValueError("not an Accounts list page")
        return payload

    sids = [fetcher.credentials.account_sid]
    url: str | None = f"{fetcher.base_url}/2010-04-01/Accounts.json"
    params: dict[str, object] | None = {"PageSize": 1000}
    while url:
        payload = fetcher.get(url, params, parse)
        for account in payload["accounts"]:
            sid = account.get("sid")
            if sid and sid not in sids and account.get("status") != "closed":
                sids.append(sid)
        nxt = payload.get("next_page_uri")
        url, params = (fetcher.base_url + nxt if nxt else None), None
    return sids


def _fetch_slice(
    fetcher: _Fetcher,
    account: str,
    lo: int,
    hi: int,
    page_size: int,
    progress: Callable[[int], None] | None,
) -> pa.Table:
    """Every record of one account with date_sent in [lo, hi] (epoch seconds, inclusive)."""
    url: str | None = f"{fetcher.base_url}/2010-04-01/Accounts/{account}/Messages.json"
    params: dict[str, object] | None = {
        "DateSent>": _stamp(lo),
        "DateSent<": _stamp(hi),
        "PageSize": page_size,
    }
    tables = []
    counters = fetcher.counters
    while url:
        table, nxt = fetcher.get(url, params, page_to_table)
        tables.append(table)
        with counters.lock:
            counters.pages += 1
            counters.fetched += table.num_rows
            if progress is not None:
                progress(counters.fetched)
        url, params = (fetcher.base_url + nxt if nxt else None), None
    table = pa.concat_tables(tables) if tables else MESSAGE_SCHEMA.empty_table()
    # A server that reads the bounds coarser than a second must not leak records
    # into a neighbouring slice.
    sent = table["date_sent"]
    inside = pc.and_(
        pc.greater_equal(sent, pa.scalar(datetime.fromtimestamp(lo, UTC), sent.type)),
        pc.less_equal(sent, pa.scalar(datetime.fromtimestamp(hi, UTC), sent.type)),
    )
    return table.filter(pc.fill_null(inside, False))


class _DayBuffer:
    """Records waiting for their date_created day to be complete enough to write."""

    def __init__(self, dataset: Path, result: ExportResult, grace: int) -> None:
        self.dataset = dataset
        self.result = result
        self.grace = grace
        self.tables: dict[str, list[pa.Table]] = {}

    def add(self, table: pa.Table) -> None:
        created = pc.fill_null(table["date_created"], table["date_sent"])
        table = table.set_column(
            table.schema.get_field_index("date_created"), "date_created", created
        ).filter(pc.is_valid(created))
        if table.num_rows == 0:
            return
        days = pc.strftime(table["date_created"], format="%Y-%m-%d")
        for day in pc.unique(days).to_pylist():
            self.tables.setdefault(day, []).append(table.filter(pc.equal(days, day)))

    def flush(self, frontier: float) -> None:
        """Write the buffered days that end at least ``grace`` before ``frontier``.

        ``frontier`` is the start of the earliest slice still being listed.
        """
        ready = [
            day for day in sorted(self.tables) if _day_start(day) + _DAY - 1 + self.grace < frontier
        ]
        if not ready:
            return
        batch = pa.concat_tables([t for day in ready for t in self.tables.pop(day)])
        written = write_messages(self.dataset, batch, lock=False)
        days = pc.strftime(batch["date_created"], format="%Y-%m-%d")
        counts = (
            pa.table({"day": days, "sid": batch["sid"]})
            .group_by("day")
            .aggregate([("sid", "count_distinct")])
        )
        result = self.result
        for day, count in zip(
            counts["day"].to_pylist(), counts["sid_count_distinct"].to_pylist(), strict=True
        ):
            result.days[day] = result.days.get(day, 0) + count
            result.records += count
        result.inserted += written.inserted
        result.updated += written.updated
        result.unchanged += written.unchanged


def _day_start(day: str) -> int:
    return int(datetime.fromisoformat(day).replace(tzinfo=UTC).timestamp())


def export_messages(
    dataset: str | Path,
    start: date | datetime | str,
    end: date | datetime | str,
    *,
    credentials: Credentials,
    api_base_url: str | None = None,
    concurrency: int = 8,
    slice_hours: float | None = None,
    lag: timedelta = timedelta(minutes=15),
    include_subaccounts: bool = False,
    page_size: int = 1000,
    progress: Callable[[int], None] | None = None,
    now: datetime | None = None,
    retry: RetryPolicy | None = None,
    flush_grace: timedelta = timedelta(hours=1),
) -> ExportResult:
    """Export the messages whose date_sent lies in [start, end] into ``dataset``.

    ``start``/``end`` are inclusive UTC days or UTC timestamps; the end is clamped to
    ``now - lag`` because the newest records are not listed yet. Records are upserted
    by sid, so exporting a range again only brings in what changed. ``progress`` is
    called (serialised, from worker threads) with the running count of records fetched.
    ``slice_hours`` (default: chosen from the range and ``concurrency``) sets how the
    range is cut for concurrent listing; a day is written once every slice up to
    ``flush_grace`` past its end is done.

    The base URL and the dataset folder are checked before any request (UserError).
    Transient failures are retried (see RetryPolicy), each new backoff step logged at
    INFO on this module's logger. An export that fails removes the dataset folder (and
    parents) it created, as long as nothing but the lock file is in it.
    """
    if not 1 <= page_size <= 1000:
        raise UserError("page size must be between 1 and 1000")
    if concurrency < 1:
        raise UserError("concurrency must be at least 1")
    base_url = check_api_base_url(api_base_url or DEFAULT_BASE_URL, [credentials.secret])
    root = Path(dataset)
    check_output_folder(root, "dataset", parents=True)
    began = time.monotonic()
    first_dt = _to_utc(start, end=False)
    last_dt = _to_utc(end, end=True)
    if last_dt < first_dt:
        raise UserError(f"the end ({last_dt:%Y-%m-%d %H:%M:%S}) is before the start")
    limit = _to_utc(now or datetime.now(UTC), end=False) - lag
    last_dt = min(last_dt, limit)
    first, last = int(first_dt.timestamp()), int(last_dt.timestamp())
    step = (
        max(1, round(slice_hours * 3600)) if slice_hours else _auto_slice(first, last, concurrency)
    )
    slices = plan_slices(first, last, step)

    counters, stop = _Counters(), threading.Event()
    fetcher = _Fetcher(credentials, base_url, retry or RetryPolicy(), counters, stop)
    result = ExportResult(
        accounts=[credentials.account_sid],
        start=first_dt,
        end=last_dt if slices else None,
        slices=len(slices),
    )
    created = missing_folders(root)
    with dataset_lock(root, blocking=False):
        try:
            if include_subaccounts:
                result.accounts = list_accounts(fetcher)
            buffer = _DayBuffer(root, result, int(flush_grace.total_seconds()))
            _run(fetcher, result.accounts, slices, page_size, concurrency, progress, buffer)
        except BaseException:
            # A failed first export leaves no empty dataset (with only its lock) behind.
            remove_created_folders(created)
            raise
        finally:
            result.fetched, result.pages = counters.fetched, counters.pages
            result.retries = counters.retries
            result.elapsed = time.monotonic() - began
    return result


def _run(
    fetcher: _Fetcher,
    accounts: Sequence[str],
    slices: Sequence[tuple[int, int]],
    page_size: int,
    concurrency: int,
    progress: Callable[[int], None] | None,
    buffer: _DayBuffer,
) -> None:
    left = {i: len(accounts) for i in range(len(slices))}
    tasks: Iterator[tuple[int, str]] = (
        (i, account) for i in range(len(slices)) for account in accounts
    )
    running: dict[Future[pa.Table], int] = {}
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="twilio-export") as pool:
        try:
            # Submit lazily, oldest slices first, so days complete in order.
            for _ in range(concurrency * 2):
                _submit(pool, fetcher, tasks, slices, page_size, progress, running)
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    index = running.pop(future)
                    buffer.add(future.result())
                    left[index] -= 1
                    if left[index] == 0:
                        del left[index]
                    _submit(pool, fetcher, tasks, slices, page_size, progress, running)
                frontier = slices[min(left)][0] if left else float("inf")
                buffer.flush(frontier)
        except BaseException:
            fetcher.stop.set()
            for future in running:
                future.cancel()
            raise


def _submit(
    pool: ThreadPoolExecutor,
    fetcher: _Fetcher,
    tasks: Iterator[tuple[int, str]],
    slices: Sequence[tuple[int, int]],
    page_size: int,
    progress: Callable[[int], None] | None,
    running: dict[Future[pa.Table], int],
) -> None:
    task = next(tasks, None)
    if task is None:
        return
    index, account = task
    lo, hi = slices[index]
    future = pool.submit(_fetch_slice, fetcher, account, lo, hi, page_size, progress)
    running[future] = index
