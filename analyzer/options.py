"""The settings of every front door, declared once: their checks, flags, environment
variables and help, and the option objects (logs, detection, export, engine) built
from them and accepted by the CLI, the Python API and nightly alike.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analyzer.duplicates.crossref import DEFAULT_TOLERANCE
from analyzer.duplicates.detect import DEFAULT_KEY, DEFAULT_WINDOW
from analyzer.duplicates.investigate import DEFAULT_AFTER, DEFAULT_BEFORE
from analyzer.errors import UserError
from analyzer.logs import parse_field_map
from analyzer.vocabulary import CLUSTER_VERDICTS, LogFormat

DAY_SECONDS = 86_400.0
#: The most trailing days one nightly run exports again.
MAX_TRAILING_DAYS = 366
_TEN_YEARS_HOURS = 10 * 366 * 24
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
ENGINES = ("pandas", "dask")


# ------------------------------------------------------------------ checks
# Each takes a value as it comes (command line, environment text, TOML) and returns it
# in the setting's type, or raises ValueError saying what was expected.


def number(low: float, high: float, unit: str = "") -> Callable[[Any], float]:
    """A finite number in [low, high] (text accepted, booleans refused)."""
    what = f"a finite number from {_plain(low)} to {_plain(high)}" + (f" {unit}" if unit else "")

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError(f"expected {what}")
        try:
            result = float(value)
        except ValueError:
            raise ValueError(f"expected {what}, got {value!r}") from None
        if not (math.isfinite(result) and low <= result <= high):
            raise ValueError(f"expected {what}, got {result:g}")
        return result

    return check


def _plain(value: float) -> str:
    """A bound as people write it: 5270400, not 5.2704e+06."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def whole(low: int, high: int, unit: str = "") -> Callable[[Any], int]:
    """A whole number in [low, high]."""
    what = f"a whole number from {low} to {high}" + (f" {unit}" if unit else "")

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f"expected {what}")
        try:
            result = int(value)
        except ValueError:
            raise ValueError(f"expected {what}, got {value!r}") from None
        if not low <= result <= high:
            raise ValueError(f"expected {what}, got {result}")
        return result

    return check


def switch(value: Any) -> bool:
    """A yes/no setting: a boolean, or one of the words for true and false."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"expected true or false ({'/'.join(_TRUE)} or {'/'.join(_FALSE)})")


def folder(value: Any) -> Path:
    """A folder path."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError("expected a folder path")
    return Path(value)


def csv_file(value: Any) -> Path:
    """The path of a CSV file."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError("expected the path of a CSV file")
    return Path(value)


def json_file(value: Any) -> Path:
    """The path of a JSON file."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError("expected the path of a JSON file")
    return Path(value)


def toml_file(value: Any) -> Path:
    """The path of a TOML file."""
    if not isinstance(value, str | os.PathLike) or not str(value):
        raise ValueError("expected the path of a TOML file")
    return Path(value)


def paths(value: Any) -> list[str]:
    """One path or a list of paths (globs allowed)."""
    items = [value] if isinstance(value, str | os.PathLike) else value
    if not isinstance(items, list | tuple) or not all(
        isinstance(p, str | os.PathLike) for p in items
    ):
        raise ValueError("expected a path or a list of paths")
    return [str(p) for p in items]


def texts(value: Any) -> list[str]:
    """One text or a list of texts."""
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ValueError("expected a text or a list of texts")
    return list(items)


def field_renames(value: Any) -> list[str]:
    """jsonl field renames, NAME=FIELD each."""
    items = texts(value)
    try:
        parse_field_map(items)
    except UserError as exc:
        raise ValueError(str(exc)) from None
    return items


def log_format(value: Any) -> str:
    """``auto`` or one of the log formats."""
    names = [str(f) for f in LogFormat]
    if value != "auto" and value not in names:
        raise ValueError(f"expected auto or one of {', '.join(names)}")
    return str(value)


def time_zone(value: Any) -> str:
    """An IANA time zone name."""
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone name, e.g. Europe/Berlin") from None
    return str(value)


def utc_day(value: Any) -> date:
    """A UTC day, YYYY-MM-DD."""
    if isinstance(value, datetime) or not isinstance(value, date | str):
        raise ValueError("expected a UTC day, YYYY-MM-DD")
    return value if isinstance(value, date) else date.fromisoformat(value.strip())


def base_url(value: Any) -> str:
    """An http(s) URL with a host (the Twilio API base URL)."""
    from analyzer.sources.twilio_api import check_api_base_url

    if not isinstance(value, str):
        raise ValueError("expected a URL")
    try:
        return check_api_base_url(value)
    except UserError as exc:
        raise ValueError(str(exc)) from None


def engine(value: Any) -> str:
    """A detection engine name."""
    if value not in ENGINES:
        raise ValueError(f"expected {' or '.join(ENGINES)}")
    return str(value)


def text(value: Any) -> str:
    """Any text."""
    return str(value)


# ------------------------------------------------------------------ the settings


@dataclass(frozen=True)
class Setting:
    """One setting: how it is checked, its command-line flags, variable and help."""

    name: str
    check: Callable[[Any], Any]
    help: str
    flags: tuple[str, ...] = ()
    #: The environment variable nightly reads it from (and the CLI, where it says so).
    env: str | None = None

    def convert(self, value: Any, origin: str) -> Any:
        """The value checked; one UserError line naming the setting and ``origin`` if bad."""
        from analyzer.redact import scrub_secrets

        try:
            return self.check(value)
        except (TypeError, ValueError) as exc:
            shown = scrub_secrets(repr(value) if isinstance(value, str) else str(value))
            raise UserError(f"bad value for {self.name} ({origin}): {shown}: {exc}") from None


def _s(
    name: str, check: Callable[[Any], Any], help: str, *flags: str, env: str | None = None
) -> Setting:
    return Setting(name, check, help, flags or (f"--{name.replace('_', '-')}",), env)


def _one_of(names: Sequence[str]) -> str:
    """``a, b or c``."""
    return ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else "".join(names)


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        _s("dataset", folder, "The message dataset folder.", env="ANALYZER_DATASET"),
        _s("reports", folder, "Folder of the daily reports.", env="ANALYZER_REPORTS"),
        _s(
            "server_log",
            paths,
            "The application's HTTP request log (repeatable; globs and .gz accepted). Each "
            f"cluster then gets a verdict: {_one_of(CLUSTER_VERDICTS)}.",
            env="ANALYZER_SERVER_LOG",
        ),
        _s(
            "log_format",
            log_format,
            f"{_one_of(['auto', *LogFormat])}.",
            env="ANALYZER_LOG_FORMAT",
        ),
        _s(
            "log_tz",
            time_zone,
            "Time zone of log times that carry none (IANA name).",
            env="ANALYZER_LOG_TZ",
        ),
        _s(
            "log_field",
            field_renames,
            "Rename a jsonl field, NAME=FIELD (repeatable), e.g. to=recipient.",
            env="ANALYZER_LOG_FIELD",
        ),
        _s(
            "window",
            number(0, DAY_SECONDS, "seconds"),
            "Largest gap in seconds between records of one cluster (0 to 86400).",
            "--window",
            "-w",
            env="ANALYZER_WINDOW",
        ),
        _s(
            "key",
            texts,
            "Extra column that must match too (repeatable), e.g. from or "
            "messaging_service_sid. to and body always match.",
            env="ANALYZER_KEY",
        ),
        _s(
            "skew",
            number(-DAY_SECONDS, DAY_SECONDS, "seconds"),
            "Log clock minus Twilio clock in seconds, within a day (-86400 to 86400); "
            "estimated from the data if not given.",
        ),
        _s(
            "tolerance",
            number(0, 3600, "seconds"),
            "Seconds allowed between a POST and its record when the data cannot tell (0 to 3600).",
            env="ANALYZER_TOLERANCE",
        ),
        _s(
            "complaints",
            csv_file,
            "CSV of reported duplicates: to, reported_at[, note, carrier].",
            env="ANALYZER_COMPLAINTS",
        ),
        _s(
            "threshold",
            number(0, 100, "percent"),
            "Exit 3 when extra messages exceed this percentage of outbound messages.",
            env="ANALYZER_THRESHOLD",
        ),
        _s("date", utc_day, "UTC day YYYY-MM-DD [yesterday].", "--date", env="ANALYZER_DATE"),
        _s(
            "api_base_url",
            base_url,
            "Twilio API base URL, e.g. a regional endpoint or a test double "
            "[default: https://api.twilio.com].",
            env="TWILIO_API_BASE_URL",
        ),
        _s(
            "trailing_days",
            whole(1, MAX_TRAILING_DAYS, "days"),
            "Days exported again before the day (late status updates).",
            env="ANALYZER_TRAILING_DAYS",
        ),
        _s("export", switch, "Export the day before detecting.", env="ANALYZER_EXPORT"),
        _s(
            "before_hours",
            number(0, _TEN_YEARS_HOURS, "hours"),
            "Search this many hours before the report (0 to 87840, ten years).",
        ),
        _s(
            "after_minutes",
            number(0, _TEN_YEARS_HOURS * 60, "minutes"),
            "Also count records created up to this many minutes after the report: an "
            "allowance for an approximate report time or another clock (0 to 5270400).",
        ),
        _s(
            "engine",
            engine,
            "pandas (one machine) or dask (needs pip install -e '.[dask]').",
            env="ANALYZER_ENGINE",
        ),
        _s(
            "scheduler",
            text,
            "Dask scheduler, e.g. tcp://host:8786 [default: a local cluster].",
            env="DASK_SCHEDULER_ADDRESS",
        ),
        _s(
            "catalog",
            json_file,
            "Twilio's error catalog (JSON, downloadable from Twilio's docs): titles for "
            "error codes analyzer's own table lacks.",
            env="ANALYZER_CATALOG",
        ),
        _s(
            "keywords",
            toml_file,
            "TOML file of opt-out keywords (opt_out, opt_in, help lists replacing the "
            "defaults), e.g. a Messaging Service's Advanced Opt-Out words.",
            "--keywords-file",
            env="ANALYZER_KEYWORDS",
        ),
        _s(
            "alert_on_sent_after_opt_out",
            switch,
            "Exit 3 when a message went out to a recipient who had opted out (no 21610).",
            env="ANALYZER_ALERT_ON_SENT_AFTER_OPT_OUT",
        ),
        _s(
            "alert_on_failure_jumps",
            switch,
            "Exit 3 when an error code's daily count jumps far above its recent baseline.",
            env="ANALYZER_ALERT_ON_FAILURE_JUMPS",
        ),
    )
}


def checked(name: str, value: Any, origin: str | None = None) -> Any:
    """``value`` as setting ``name`` wants it (None stays None)."""
    if value is None:
        return None
    setting = SETTINGS[name]
    return setting.convert(value, origin or setting.flags[0])


# ------------------------------------------------------------------ option objects


@dataclass(frozen=True)
class LogOptions:
    """Which request logs to read, and how."""

    paths: tuple[str, ...] = ()
    format: str = "auto"
    tz: str = "UTC"
    #: jsonl field renames, NAME=FIELD each.
    fields: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "paths", tuple(checked("server_log", list(self.paths)) or ()))
        checked("log_format", self.format)
        checked("log_tz", self.tz)
        object.__setattr__(self, "fields", tuple(checked("log_field", list(self.fields)) or ()))

    @classmethod
    def of(cls, value: LogOptions | Sequence[str | Path] | str | Path | None) -> LogOptions:
        """Options as given, or the defaults for these paths."""
        if isinstance(value, LogOptions):
            return value
        if value is None:
            return cls()
        return cls(paths=tuple(paths(value)))

    @property
    def field_map(self) -> dict[str, str]:
        """The field renames as a mapping (our name → the log's field)."""
        return parse_field_map(self.fields)


@dataclass(frozen=True)
class DetectOptions:
    """How duplicates are found and judged."""

    window: float = DEFAULT_WINDOW
    #: Columns that must match too, besides to and body.
    extra_key: tuple[str, ...] = ()
    #: Log clock minus Twilio clock, seconds; None: estimated from the data.
    skew: float | None = None
    tolerance: float = DEFAULT_TOLERANCE

    def __post_init__(self) -> None:
        object.__setattr__(self, "window", checked("window", self.window))
        object.__setattr__(self, "extra_key", tuple(checked("key", list(self.extra_key))))
        checked("skew", self.skew)
        object.__setattr__(self, "tolerance", checked("tolerance", self.tolerance))

    @property
    def key(self) -> tuple[str, ...]:
        """The columns every record of a cluster shares."""
        return tuple(dict.fromkeys((*DEFAULT_KEY, *self.extra_key)))


@dataclass(frozen=True)
class InvestigateOptions:
    """How reported duplicates are looked up."""

    #: Largest gap within a cluster, seconds; None: the whole search span.
    window: float | None = None
    skew: float | None = None
    tolerance: float = DEFAULT_TOLERANCE
    #: How far before and after each report to search.
    before: timedelta = DEFAULT_BEFORE
    after: timedelta = DEFAULT_AFTER

    def __post_init__(self) -> None:
        checked("window", self.window)
        checked("skew", self.skew)
        checked("tolerance", self.tolerance)
        checked("before_hours", self.before.total_seconds() / 3600)
        checked("after_minutes", self.after.total_seconds() / 60)


@dataclass(frozen=True)
class FailuresOptions:
    """How delivery failures are explained and alerted on."""

    #: Twilio's downloadable error catalog (JSON), for titles of codes our table lacks.
    catalog: Path | None = None
    #: nightly: exit 3 when an error code's daily count jumps above its baseline.
    alert_on_jumps: bool = False

    def __post_init__(self) -> None:
        if self.catalog is not None:
            object.__setattr__(self, "catalog", checked("catalog", self.catalog))
        checked("alert_on_failure_jumps", self.alert_on_jumps)


@dataclass(frozen=True)
class OptoutsOptions:
    """Which keywords change opt-out state, and whether sends after opt-out alert."""

    #: A TOML file with opt_out, opt_in and help lists that replace the defaults.
    keywords_file: Path | None = None
    #: nightly: exit 3 when a message went out to a recipient who had opted out.
    alert_on_sent_after_opt_out: bool = False

    def __post_init__(self) -> None:
        if self.keywords_file is not None:
            object.__setattr__(self, "keywords_file", checked("keywords", self.keywords_file))
        checked("alert_on_sent_after_opt_out", self.alert_on_sent_after_opt_out)


@dataclass(frozen=True)
class EngineOptions:
    """Where detection runs: pandas on this machine, or a Dask cluster."""

    name: str = "pandas"
    #: The Dask scheduler's address; None: a local cluster.
    scheduler: str | None = None
    partitions: int | None = None

    def __post_init__(self) -> None:
        checked("engine", self.name)


@dataclass(frozen=True)
class ExportOptions:
    """How messages are fetched from the Twilio API."""

    api_base_url: str | None = None
    concurrency: int = 8
    lag: timedelta = field(default=timedelta(minutes=15))
    include_subaccounts: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_base_url", checked("api_base_url", self.api_base_url))
