"""The nightly job for cron: export, detect, cross-reference, report, alert.

Exit codes: 0 done; 3 done but the duplicate rate is above the threshold;
2 configuration or credentials error; 75 another run holds the lock (EX_TEMPFAIL);
1 unexpected failure.

Every setting is checked before anything is fetched or written: numbers are finite
and in range, the server logs exist, the dataset and reports folders are writable or
can be created. Folders: with the export on, a missing dataset folder is created (the
first run), but only inside an existing folder; with ``--no-export`` the dataset must
exist; a reports folder is created when its parent exists. A path whose parent does
not exist is taken for a typo (exit 2). A failed run removes the dataset folder it
created as long as nothing but its lock files is in it.

A day without messages is not an error (exit 0) but is said so: a warning in the log,
and the day is marked "no messages" in the history page.
"""

from __future__ import annotations

import logging
import math
import os
import shutil
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from html import escape
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from analyzer.atomic import write_text
from analyzer.crossref import DEFAULT_TOLERANCE
from analyzer.detect import DEFAULT_KEY
from analyzer.errors import InputError, UserError
from analyzer.investigate import read_complaints
from analyzer.logs import FORMATS, _expand_paths, parse_field_map
from analyzer.pipeline import run_detect, run_investigate
from analyzer.results import (
    HISTORY_FILE,
    REPORT_HTML_FILE,
    SUMMARY_FILE,
    DuplicatesSummary,
    percent,
)
from analyzer.sources.twilio_api import (
    Credentials,
    ExportResult,
    check_api_base_url,
    check_output_folder,
    missing_folders,
    remove_created_folders,
    scrub,
)
from analyzer.store import LOCK_FILE, LockedError, dataset_lock

Day = date

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_THRESHOLD = 3
EXIT_LOCKED = 75
NIGHTLY_LOCK = ".nightly.lock"
#: The largest window: a nightly report covers one day.
MAX_WINDOW = 86_400.0
MAX_TOLERANCE = 3_600.0
#: The most trailing days one run exports again.
MAX_TRAILING_DAYS = 366

log = logging.getLogger("analyzer.nightly")


@dataclass
class NightlyConfig:
    """Settings of a nightly run (command line, then environment, then TOML file)."""

    dataset: Path
    reports: Path
    server_log: list[str] = field(default_factory=list)
    log_format: str = "auto"
    window: float = 60.0
    threshold: float | None = None
    date: Day | None = None
    api_base_url: str | None = None
    trailing_days: int = 3
    export: bool = True
    log_tz: str = "UTC"
    #: jsonl field renames, NAME=FIELD each (as --log-field).
    log_field: list[str] = field(default_factory=list)
    #: Extra columns that must match too, besides to and body (as detect --key).
    key: list[str] = field(default_factory=list)
    tolerance: float = DEFAULT_TOLERANCE
    #: A complaints CSV: the reports made on the day are investigated into its report.
    complaints: Path | None = None

    def __post_init__(self) -> None:
        # However the settings were made, they hold checked values of the right type.
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                setattr(self, item.name, _convert(item.name, value, f"{item.name} setting"))

    @property
    def day(self) -> Day:
        """The UTC day to analyse: the configured one, else yesterday."""
        return self.date or (datetime.now(UTC).date() - timedelta(days=1))


#: Environment variables for each setting (the command line wins over them).
ENV = {
    "dataset": "ANALYZER_DATASET",
    "reports": "ANALYZER_REPORTS",
    "server_log": "ANALYZER_SERVER_LOG",
    "log_format": "ANALYZER_LOG_FORMAT",
    "window": "ANALYZER_WINDOW",
    "threshold": "ANALYZER_THRESHOLD",
    "date": "ANALYZER_DATE",
    "api_base_url": "TWILIO_API_BASE_URL",
    "trailing_days": "ANALYZER_TRAILING_DAYS",
    "export": "ANALYZER_EXPORT",
    "log_tz": "ANALYZER_LOG_TZ",
    "log_field": "ANALYZER_LOG_FIELD",
    "key": "ANALYZER_KEY",
    "tolerance": "ANALYZER_TOLERANCE",
    "complaints": "ANALYZER_COMPLAINTS",
}
#: Settings that hold lists: separated by commas in the environment (paths by os.pathsep).
_LISTS = ("log_field", "key")


def load_config(
    given: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> NightlyConfig:
    """Merge settings: ``given`` (the command line) over the environment over the file.

    ``given`` holds None for what the command line left unset. ``server_log`` in
    the environment is a list separated by ``os.pathsep``.
    """
    environ = os.environ if environ is None else environ
    from_file: dict[str, Any] = {}
    if config_file is not None:
        path = Path(config_file)
        try:
            from_file = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UserError(f"no such config file: {path}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise UserError(f"{path} is not valid TOML: {exc}") from None
        from_file = dict(from_file.get("analyzer", from_file))
        unknown = sorted(set(from_file) - {f.name for f in fields(NightlyConfig)})
        if unknown:
            raise UserError(f"{path}: unknown setting(s): {', '.join(unknown)}")
    merged: dict[str, Any] = {}
    for item in fields(NightlyConfig):
        name = item.name
        value, origin = given.get(name), _GIVEN.get(name, f"--{name}")
        if value is None or value == []:
            raw = environ.get(ENV[name])
            if raw not in (None, ""):
                value, origin = _from_env(name, raw), ENV[name]
            else:
                value, origin = from_file.get(name), f"{name} in {config_file}"
        if value is not None:
            merged[name] = _convert(name, value, origin)
    for required in ("dataset", "reports"):
        if required not in merged:
            raise UserError(
                f"--{required} is required (or {ENV[required]}, or '{required}' in the config file)"
            )
    return NightlyConfig(**merged)


#: Where the command line's values come from (typer also reads some variables itself).
_GIVEN = {
    "dataset": "--dataset or ANALYZER_DATASET",
    "reports": "--reports or ANALYZER_REPORTS",
    "server_log": "--server-log",
    "log_format": "--log-format",
    "log_tz": "--log-tz",
    "log_field": "--log-field",
    "key": "--key",
    "tolerance": "--tolerance",
    "complaints": "--complaints",
    "window": "--window",
    "threshold": "--threshold or ANALYZER_THRESHOLD",
    "date": "--date or ANALYZER_DATE",
    "api_base_url": "--api-base-url or TWILIO_API_BASE_URL",
    "export": "--no-export",
}
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _from_env(name: str, raw: str | None) -> Any:
    if raw is None:
        return None
    if name == "server_log":
        return [part for part in raw.split(os.pathsep) if part]
    if name in _LISTS:
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def _convert(name: str, value: Any, origin: str) -> Any:
    """``value`` as setting ``name`` wants it; one line naming ``origin`` if it is bad."""
    try:
        if name in ("dataset", "reports"):
            if not isinstance(value, str | os.PathLike) or not str(value):
                raise ValueError("must be a folder path")
            return Path(value)
        if name == "server_log":
            paths = [value] if isinstance(value, str | os.PathLike) else value
            if not isinstance(paths, list | tuple) or not all(
                isinstance(p, str | os.PathLike) for p in paths
            ):
                raise ValueError("must be a path or a list of paths")
            return [str(p) for p in paths]
        if name == "window":
            return _number(value, 0.0, MAX_WINDOW, "a finite number of seconds")
        if name == "tolerance":
            return _number(value, 0.0, MAX_TOLERANCE, "a finite number of seconds")
        if name == "log_tz":
            try:
                ZoneInfo(str(value))
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError("must be an IANA time zone name, e.g. Europe/Berlin") from None
            return str(value)
        if name in _LISTS:
            items = [value] if isinstance(value, str) else value
            if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
                raise ValueError("must be a text or a list of texts")
            if name == "log_field":
                parse_field_map(items)
            return list(items)
        if name == "complaints":
            if not isinstance(value, str | os.PathLike) or not str(value):
                raise ValueError("must be the path of a CSV file")
            return Path(value)
        if name == "threshold":
            return _number(value, 0.0, 100.0, "a finite percentage")
        if name == "trailing_days":
            return _whole(value, 1, MAX_TRAILING_DAYS, "a whole number of days")
        if name == "date":
            if isinstance(value, datetime) or not isinstance(value, date | str):
                raise ValueError("must be a UTC day, YYYY-MM-DD")
            return value if isinstance(value, date) else date.fromisoformat(value.strip())
        if name == "export":
            return _switch(value)
        if name == "log_format":
            if value != "auto" and value not in FORMATS:
                raise ValueError(f"must be auto or one of {', '.join(FORMATS)}")
            return str(value)
        if name == "api_base_url":
            if not isinstance(value, str):
                raise ValueError("must be a URL")
            return check_api_base_url(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        shown = scrub(repr(value) if isinstance(value, str) else str(value))
        raise UserError(f"bad value for {name} ({origin}): {shown}: {exc}") from None


def _number(value: Any, low: float, high: float, what: str) -> float:
    problem = ValueError(f"must be {what} from {low:g} to {high:g}")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise problem
    try:
        number = float(value)
    except ValueError:
        raise problem from None
    if not (math.isfinite(number) and low <= number <= high):
        raise problem
    return number


def _whole(value: Any, low: int, high: int, what: str) -> int:
    problem = ValueError(f"must be {what} from {low} to {high}")
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise problem
    try:
        number = int(value)
    except ValueError:
        raise problem from None
    if not low <= number <= high:
        raise problem
    return number


def _switch(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ValueError(f"must be true or false ({'/'.join(_TRUE)} or {'/'.join(_FALSE)})")


@dataclass
class NightlyResult:
    """How a nightly run ended."""

    exit_code: int
    day: date
    report_dir: Path | None = None
    duplicate_rate: float | None = None
    summary: DuplicatesSummary = field(default_factory=DuplicatesSummary)
    #: No outbound message on the day: the report is empty (a warning was logged).
    empty: bool = False


def check_settings(
    config: NightlyConfig, environ: Mapping[str, str] | None = None
) -> Credentials | None:
    """Check every local setting, and the credentials when exporting, before any work.

    Raises UserError (exit 2) naming the first bad one; returns the credentials.
    """
    dataset = config.dataset
    if config.export or dataset.is_dir():
        check_output_folder(dataset, "dataset", parents=False)
    elif dataset.exists():
        raise InputError(f"the dataset {dataset} is a file, not a folder")
    else:
        raise InputError(
            f"the dataset folder {dataset} does not exist (with --no-export it must hold "
            "the messages already): check --dataset"
        )
    check_output_folder(config.reports, "reports", parents=False)
    if config.server_log:
        _expand_paths(config.server_log)
    if config.complaints is not None:
        read_complaints(config.complaints)
    if not config.export:
        return None
    return Credentials.from_env(os.environ if environ is None else environ)


def run_nightly(
    config: NightlyConfig,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> NightlyResult:
    """Run the whole job for one UTC day and return its exit code.

    Raises LockedError (75) when another run holds the lock and UserError (2) on
    configuration or credential errors, found before anything is fetched or written.
    """
    day = config.day
    credentials = check_settings(config, environ)
    created = missing_folders(config.dataset)
    with dataset_lock(config.dataset, blocking=False, name=NIGHTLY_LOCK):
        try:
            log.info(
                "nightly run for %s: dataset %s, reports %s", day, config.dataset, config.reports
            )
            exported = None
            if credentials is not None:
                exported = _export(config, day, credentials, progress)
            summary = _report_day(config, day)
        except BaseException:
            _discard_created(config.dataset, created)
            raise
    outbound = summary.outbound_messages
    rate = summary.duplicate_rate
    if rate is None:
        log.warning("%s", _empty_day_text(config, day, summary, exported))
    else:
        log.info(
            "%s: %d duplicate clusters, %d extra messages, rate %s of %d outbound",
            day,
            summary.duplicate_clusters,
            summary.extra_messages,
            percent(rate),
            outbound,
        )
    code = EXIT_OK
    # The threshold is given in percent; rates are fractions everywhere else.
    if config.threshold is not None and rate is not None and rate * 100 > config.threshold:
        log.warning(
            "duplicate rate %s is above the threshold %.3f%%", percent(rate), config.threshold
        )
        code = EXIT_THRESHOLD
    return NightlyResult(
        exit_code=code,
        day=day,
        report_dir=config.reports / day.isoformat(),
        duplicate_rate=rate,
        summary=summary,
        empty=not outbound,
    )


def _report_day(config: NightlyConfig, day: date) -> DuplicatesSummary:
    """Detect, cross-reference and write the day's report and the history; the summary."""
    log.info("finding duplicates on %s (window %g s)", day, config.window)
    config.reports.mkdir(exist_ok=True)
    staging = config.reports / f".{day.isoformat()}.{uuid.uuid4().hex}.tmp"
    try:
        fields = parse_field_map(config.log_field) or None
        run = run_detect(
            config.dataset,
            staging / "results",
            window=config.window,
            key=(*DEFAULT_KEY, *config.key),
            server_logs=config.server_log,
            log_format=config.log_format,
            log_tz=config.log_tz,
            log_fields=fields,
            tolerance=config.tolerance,
            day=day,
            allow_empty=True,
        )
        if config.complaints is not None:
            _investigate_day(config, day, staging / "results")
        from analyzer.report import build_report

        build_report(staging / "results", staging, ticket=True)
        target = config.reports / day.isoformat()
        _replace_dir(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    write_history(config.reports)
    return run.detection.summary


def _investigate_day(config: NightlyConfig, day: date, results: Path) -> None:
    """Investigate the complaints reported on ``day`` into the day's results."""
    assert config.complaints is not None
    reports = read_complaints(config.complaints)
    on_day = reports[reports["reported_at"].dt.date == day]
    log.info("investigating %d complaint(s) reported on %s", len(on_day), day)
    if not on_day.empty:
        run_investigate(
            config.dataset,
            on_day,
            server_logs=config.server_log,
            log_format=config.log_format,
            log_tz=config.log_tz,
            log_fields=parse_field_map(config.log_field) or None,
            tolerance=config.tolerance,
            out_dir=results,
        )


def _empty_day_text(
    config: NightlyConfig, day: date, summary: DuplicatesSummary, exported: ExportResult | None
) -> str:
    records = summary.messages
    what = (
        f"no outbound messages on {day} in {config.dataset} ({records:,} other records)"
        if records
        else f"no messages on {day} in {config.dataset}"
    )
    if exported is None:
        source = "the export was off (--no-export)"
    elif exported.end is None:
        source = "the export had nothing to fetch yet (the day is too recent)"
    else:
        source = (
            f"the export found {exported.records:,} records sent "
            f"{exported.start:%Y-%m-%d %H:%M} to {exported.end:%Y-%m-%d %H:%M} UTC"
        )
    return (
        f"{what}: the day's report is empty (marked in the history); {source}. "
        "Check --dataset, --date and the export."
    )


def _discard_created(dataset: Path, created: list[Path]) -> None:
    """After a failed run, remove the dataset folder it created if only its locks are in it."""
    if not created:
        return
    try:
        with dataset_lock(dataset, blocking=False):
            removed = remove_created_folders(created, (LOCK_FILE, NIGHTLY_LOCK))
    except LockedError:
        return  # someone else writes there: it is theirs now
    except (UserError, OSError):
        return  # never hide the error that ended the run
    if removed:
        log.info("removed the dataset folder %s this failed run had created", dataset)


def _export(
    config: NightlyConfig,
    day: date,
    credentials: Credentials,
    progress: Callable[[int], None] | None,
) -> ExportResult:
    from analyzer.sources.twilio_api import export_messages

    first = day - timedelta(days=config.trailing_days - 1)
    last = day + timedelta(days=1)  # the next morning, to see clusters that cross midnight
    log.info("exporting messages sent %s to %s", first, last)
    result = export_messages(
        config.dataset,
        first,
        last,
        credentials=credentials,
        api_base_url=config.api_base_url,
        progress=progress,
    )
    log.info(
        "exported %d records: %d new, %d updated, %d unchanged",
        result.records,
        result.inserted,
        result.updated,
        result.unchanged,
    )
    return result


def failure(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one line (credentials scrubbed) for an error that ended a run.

    The same words the command line prints, for the JSON log (``--log-json``).
    """
    if isinstance(exc, UserError):
        return exc.exit_code, scrub(str(exc))
    if isinstance(exc, KeyboardInterrupt):
        return 130, "interrupted"
    text = str(exc)
    first = scrub(text.splitlines()[0]) if text else ""
    return (
        EXIT_FAILURE,
        f"unexpected error: {type(exc).__name__}: {first} (set ANALYZER_DEBUG=1 for a traceback)",
    )


def _replace_dir(source: Path, target: Path) -> None:
    """Put ``source`` where ``target`` is; a crash leaves one of them in a known place."""
    trash = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    if target.exists():
        os.rename(target, trash)
    os.rename(source, target)
    if trash.exists():
        shutil.rmtree(trash, ignore_errors=True)


def history(reports: Path) -> list[dict[str, Any]]:
    """One entry per day that has a finished report, oldest first."""
    rows = []
    for folder in sorted(p for p in reports.iterdir() if p.is_dir() and _is_day(p.name)):
        summary_file = folder / SUMMARY_FILE
        if not summary_file.exists():
            continue
        summary = DuplicatesSummary.read(summary_file)
        rate = summary.duplicate_rate
        rows.append(
            {
                "day": folder.name,
                "outbound_messages": summary.outbound_messages,
                "duplicate_clusters": summary.duplicate_clusters,
                "extra_messages": summary.extra_messages,
                # No rate without messages: NaN leaves a gap in the chart, not a zero.
                "rate": math.nan if rate is None else rate,
                "by_verdict": summary.by_verdict,
                "empty": rate is None,
            }
        )
    return rows


def _is_day(name: str) -> bool:
    try:
        date.fromisoformat(name)
    except ValueError:
        return False
    return len(name) == 10


def write_history(reports: Path) -> Path:
    """Write REPORTS/index.html: the duplicate rate and verdict mix per day, with links."""
    from analyzer import charts

    rows = history(reports)
    with charts.house_style():
        made = [charts.history_rate(rows), charts.history_verdicts(rows)]
    images = "\n".join(
        f'<figure><img alt="{escape(c.title)}" src="{c.data_uri}"></figure>' for c in made
    )
    verdicts = sorted({v for r in rows for v in r["by_verdict"]})
    header = "".join(
        f"<th>{escape(h)}</th>"
        for h in ["day", "outbound", "clusters", "extra messages", "rate", *verdicts]
    )
    body = "\n".join(
        ('<tr class="empty">' if r["empty"] else "<tr>")
        + f'<td><a href="{escape(r["day"])}/{REPORT_HTML_FILE}">{escape(r["day"])}</a>'
        + (' <span class="mark">⚠ no messages</span>' if r["empty"] else "")
        + "</td>"
        f"<td>{r['outbound_messages']:,}</td><td>{r['duplicate_clusters']:,}</td>"
        f"<td>{r['extra_messages']:,}</td>"
        + f"<td>{percent(None if r['empty'] else r['rate'])}</td>"
        + "".join(f"<td>{r['by_verdict'].get(v, 0):,}</td>" for v in verdicts)
        + "</tr>"
        for r in reversed(rows)
    )
    empty = sum(1 for r in rows if r["empty"])
    warning = (
        f'<p class="warning">⚠ {empty} day(s) without any message (no outbound message in '
        "the dataset): their reports are empty. Check that the export ran for them.</p>"
        if empty
        else ""
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duplicate SMS: history</title>
<style>
body {{ font: 14px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; }}
td {{ text-align: right; }} td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
tr.empty td {{ background: #fff4d6; }}
.mark, .warning {{ color: #8a5a00; font-weight: 600; }}
</style></head><body>
<h1>Duplicate SMS, day by day</h1>
<p>{len(rows)} day(s) analysed. The rate is extra messages (records beyond the first of each
duplicate cluster) per outbound message. Each day links to its full report.</p>
{warning}
{images}
<table><thead><tr>{header}</tr></thead><tbody>
{body}
</tbody></table>
</body></html>
"""
    target = reports / HISTORY_FILE
    write_text(html, target)
    return target
