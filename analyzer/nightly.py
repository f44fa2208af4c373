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
import os
import shutil
import tomllib
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from analyzer.analyses import ANALYSES, AnalysisInput, AnalysisResult
from analyzer.duplicates.crossref import DEFAULT_TOLERANCE
from analyzer.duplicates.investigate import read_complaints
from analyzer.engines import engine_session
from analyzer.errors import EXIT_OK, EXIT_THRESHOLD, InputError, UserError
from analyzer.logs import expand_paths
from analyzer.options import (
    SETTINGS,
    DetectOptions,
    EngineOptions,
    FailuresOptions,
    InvestigateOptions,
    LogOptions,
    OptoutsOptions,
)
from analyzer.pipeline import run_analysis, run_investigate
from analyzer.results import (
    DuplicatesSummary,
    FailureJump,
    FailuresSummary,
    OptoutsSummary,
    percent,
)
from analyzer.sources.twilio_api import (
    Credentials,
    ExportResult,
    check_output_folder,
    missing_folders,
    remove_created_folders,
)
from analyzer.store import LOCK_FILE, LockedError, dataset_lock

Day = date

NIGHTLY_LOCK = ".nightly.lock"

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
    #: Twilio's error catalog (JSON): titles for codes analyzer's table lacks.
    catalog: Path | None = None
    #: Exit 3 when an error code's daily count jumps far above its recent baseline.
    alert_on_failure_jumps: bool = False
    #: Opt-out keywords (TOML: opt_out, opt_in, help lists) replacing the defaults.
    keywords: Path | None = None
    #: Exit 3 when a message went out to a recipient who had opted out.
    alert_on_sent_after_opt_out: bool = False
    #: Where the analyses run: pandas (here) or dask (a cluster).
    engine: str = "pandas"
    #: The Dask scheduler's address; None: a LocalCluster.
    scheduler: str | None = None

    def __post_init__(self) -> None:
        # However the settings were made, they hold checked values of the right type.
        for item in fields(self):
            value = getattr(self, item.name)
            if value is not None:
                setattr(self, item.name, _convert(item.name, value, f"{item.name} setting"))

    @property
    def log_options(self) -> LogOptions:
        """The request logs to read, and how."""
        return LogOptions(
            paths=tuple(self.server_log),
            format=self.log_format,
            tz=self.log_tz,
            fields=tuple(self.log_field),
        )

    @property
    def detect_options(self) -> DetectOptions:
        """How the day's duplicates are found and judged."""
        return DetectOptions(
            window=self.window, extra_key=tuple(self.key), tolerance=self.tolerance
        )

    @property
    def engine_options(self) -> EngineOptions:
        """Where the analyses run."""
        return EngineOptions(self.engine, self.scheduler)

    @property
    def day(self) -> Day:
        """The UTC day to analyse: the configured one, else yesterday."""
        return self.date or (datetime.now(UTC).date() - timedelta(days=1))


#: Environment variables for each setting (the command line wins over them).
ENV: dict[str, str] = {
    f.name: env for f in fields(NightlyConfig) if (env := SETTINGS[f.name].env) is not None
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
        value, origin = given.get(name), _given_origin(name)
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


#: Settings the nightly command line also reads from their variable itself.
CLI_READS_ENV = ("dataset", "reports", "threshold", "date", "api_base_url")


def _given_origin(name: str) -> str:
    """Where a command-line value of setting ``name`` may have come from."""
    if name == "export":
        return "--no-export"
    flag = SETTINGS[name].flags[0]
    return f"{flag} or {ENV[name]}" if name in CLI_READS_ENV else flag


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
    return SETTINGS[name].convert(value, origin)


@dataclass
class NightlyResult:
    """How a nightly run ended."""

    exit_code: int
    day: date
    report_dir: Path | None = None
    duplicate_rate: float | None = None
    summary: DuplicatesSummary = field(default_factory=DuplicatesSummary)
    failures: FailuresSummary | None = None
    optouts: OptoutsSummary | None = None
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
        expand_paths(config.server_log)
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
            results = _report_day(config, day)
        except BaseException:
            _discard_created(config.dataset, created)
            raise
    summary = results["duplicates"].summary
    failures = results["failures"].summary
    assert isinstance(summary, DuplicatesSummary) and isinstance(failures, FailuresSummary)
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
    if _failure_jumps(failures, day) and config.alert_on_failure_jumps:
        code = EXIT_THRESHOLD
    optouts = results["optouts"].summary
    assert isinstance(optouts, OptoutsSummary)
    if optouts.sent_after_opt_out:
        log.warning(
            "%d message(s) went out on %s to recipients who had opted out (see optout_sends)",
            optouts.sent_after_opt_out,
            day,
        )
        if config.alert_on_sent_after_opt_out:
            code = EXIT_THRESHOLD
    return NightlyResult(
        exit_code=code,
        day=day,
        report_dir=config.reports / day.isoformat(),
        duplicate_rate=rate,
        summary=summary,
        failures=failures,
        optouts=optouts,
        empty=not outbound,
    )


def _failure_jumps(failures: FailuresSummary, day: date) -> list[FailureJump]:
    """The error codes that jumped on the day, each logged as a warning."""
    jumps = [jump for jump in failures.jumps if jump.day == day.isoformat()]
    for jump in jumps:
        log.warning(
            "error %s (%s) came %d times on %s, against %.1f a day before",
            jump.error_code,
            jump.category,
            jump.count,
            jump.day,
            jump.baseline,
        )
    return jumps


def _report_day(config: NightlyConfig, day: date) -> dict[str, AnalysisResult]:
    """Run every analysis on the day, write its report and the history; the results."""
    log.info("finding duplicates on %s (window %g s)", day, config.window)
    config.reports.mkdir(exist_ok=True)
    staging = config.reports / f".{day.isoformat()}.{uuid.uuid4().hex}.tmp"
    try:
        given = AnalysisInput(
            config.dataset,
            day=day,
            logs=config.log_options,
            options=config.detect_options,
            engine=config.engine_options,
            failures=FailuresOptions(catalog=config.catalog),
            optouts=OptoutsOptions(keywords_file=config.keywords),
            allow_empty=True,
            log_rows=tuple(a.log_rows for a in ANALYSES.values() if a.log_rows is not None),
        )
        with engine_session(given.engine):
            results = {
                name: run_analysis(name, config.dataset, staging / "results", given)
                for name in ANALYSES
            }
        if config.complaints is not None:
            _investigate_day(config, day, staging / "results")
        from analyzer.report import build_report
        from analyzer.report.history import write_history

        build_report(staging / "results", staging, ticket=True)
        target = config.reports / day.isoformat()
        _replace_dir(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    write_history(config.reports)
    return results


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
            server_logs=config.log_options,
            options=InvestigateOptions(tolerance=config.tolerance),
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
    from analyzer.sources.twilio_api import export_config, export_messages

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
    # Numbers, services and alerts change rarely: once a night, for the inbound check.
    exported = export_config(
        config.dataset, credentials=credentials, api_base_url=config.api_base_url
    )
    log.info("%s", exported.summary())
    return result


def _replace_dir(source: Path, target: Path) -> None:
    """Put ``source`` where ``target`` is; a crash leaves one of them in a known place."""
    trash = target.with_name(f".{target.name}.{uuid.uuid4().hex}.old")
    if target.exists():
        os.rename(target, trash)
    os.rename(source, target)
    if trash.exists():
        shutil.rmtree(trash, ignore_errors=True)
