"""The `analyzer` command line: a thin layer that parses arguments and calls the library."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from typer.core import TyperGroup

from analyzer.crossref import DEFAULT_TOLERANCE
from analyzer.detect import DEFAULT_WINDOW
from analyzer.errors import UserError
from analyzer.investigate import DEFAULT_AFTER, DEFAULT_BEFORE
from analyzer.logs import parse_field_map
from analyzer.redact import scrub_secrets
from analyzer.results import CrossrefSummary, DuplicatesSummary

# Typer raises click's exceptions: click's own or, in newer Typer, those of its bundled copy.
_click_exceptions = sys.modules[typer.BadParameter.__module__]


class _ShortErrors(TyperGroup):
    """Usage errors as two plain lines on stderr (the error, where to find help), exit 2."""

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        with _short_usage_errors():
            return super().make_context(*args, **kwargs)

    def invoke(self, ctx: Any) -> Any:
        with _short_usage_errors():
            return super().invoke(ctx)


@contextmanager
def _short_usage_errors() -> Iterator[None]:
    try:
        yield
    except _click_exceptions.UsageError as exc:
        help_only: Any = getattr(_click_exceptions, "NoArgsIsHelpError", ())  # click >= 8.2
        if isinstance(exc, help_only):
            typer.echo(exc.format_message())  # `analyzer` alone: the help, on stdout
            raise typer.Exit(code=exc.exit_code) from None
        typer.echo(f"analyzer: error: {scrub_secrets(exc.format_message())}", err=True)
        if exc.ctx is not None:
            typer.echo(f"Try '{exc.ctx.command_path} --help' for help.", err=True)
        raise typer.Exit(code=exc.exit_code) from None


app = typer.Typer(
    name="analyzer",
    help="Find duplicate SMS in Twilio Programmable Messaging logs and show who caused them.",
    cls=_ShortErrors,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain help: rich markup would eat [dask], [default: ...] and show <bool> for flags.
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        typer.echo(f"analyzer {package_version('analyzer')}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            callback=_show_version,
            is_eager=True,
            help="Print the installed version and exit.",
        ),
    ] = False,
) -> None:
    """Find duplicate SMS in Twilio Programmable Messaging logs and show who caused them."""


def _number(
    minimum: float | None = None, maximum: float | None = None
) -> Callable[[float | None], float | None]:
    """A Typer callback that refuses NaN, infinities and values outside [minimum, maximum]."""

    def check(value: float | None) -> float | None:
        if value is None:
            return value
        if not math.isfinite(value):
            raise typer.BadParameter(f"expected a finite number, got {value}")
        if minimum is not None and value < minimum:
            raise typer.BadParameter(f"expected {minimum:g} or more, got {value:g}")
        if maximum is not None and value > maximum:
            raise typer.BadParameter(f"expected {maximum:g} or less, got {value:g}")
        return value

    return check


_DAY = 86_400
_TEN_YEARS_HOURS = 10 * 366 * 24
window_seconds = _number(minimum=0)
skew_seconds = _number(minimum=-_DAY, maximum=_DAY)
tolerance_seconds = _number(minimum=0, maximum=3600)
search_hours = _number(minimum=0, maximum=_TEN_YEARS_HOURS)
search_minutes = _number(minimum=0, maximum=_TEN_YEARS_HOURS * 60)

# Options that mean the same in several commands, declared once. A command with
# settings of its own precedence (nightly) gives them None as default.
ServerLogOption = Annotated[
    list[str] | None,
    typer.Option(
        "--server-log",
        help="The application's HTTP request log (repeatable; globs and .gz accepted). "
        "Each cluster then gets a verdict: app_side, twilio_side, webhook_side, "
        "unverified or inconclusive.",
    ),
]
LogFormatOption = Annotated[
    str | None, typer.Option("--log-format", help="auto, jsonl, twilio-sdk, combined or envoy.")
]
LogTzOption = Annotated[
    str | None,
    typer.Option("--log-tz", help="Time zone of log times that carry none (IANA name)."),
]
LogFieldOption = Annotated[
    list[str] | None,
    typer.Option(
        "--log-field", help="Rename a jsonl field, NAME=FIELD (repeatable), e.g. to=recipient."
    ),
]
WindowOption = Annotated[
    float | None,
    typer.Option(
        "--window",
        "-w",
        callback=window_seconds,
        help="Largest gap in seconds between records of one cluster (0 or more).",
    ),
]
KeyOption = Annotated[
    list[str] | None,
    typer.Option(
        "--key",
        help="Extra column that must match too (repeatable), e.g. from or "
        "messaging_service_sid. to and body always match.",
    ),
]
SkewOption = Annotated[
    float | None,
    typer.Option(
        "--skew",
        callback=skew_seconds,
        help="Log clock minus Twilio clock in seconds, within a day (-86400 to 86400); "
        "estimated from the data if not given.",
    ),
]
ToleranceOption = Annotated[
    float | None,
    typer.Option(
        "--tolerance",
        callback=tolerance_seconds,
        help="Seconds allowed between a POST and its record when the data cannot tell (0 to 3600).",
    ),
]

QuietOption = Annotated[
    bool,
    typer.Option("--quiet", "-q", help="No progress bars (for cron).", envvar="ANALYZER_QUIET"),
]


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn library errors into one line on stderr and an exit code, never a traceback."""
    try:
        yield
    except UserError as exc:
        typer.echo(f"analyzer: error: {scrub_secrets(str(exc))}", err=True)
        raise typer.Exit(code=exc.exit_code) from None
    except KeyboardInterrupt:
        typer.echo("analyzer: interrupted", err=True)
        raise typer.Exit(code=130) from None
    except (typer.Exit, typer.Abort):
        raise
    except Exception as exc:
        if os.environ.get("ANALYZER_DEBUG"):
            raise
        # Third-party exceptions may quote a request; never echo a credential.
        first_line = scrub_secrets(str(exc).splitlines()[0]) if str(exc) else ""
        typer.echo(
            f"analyzer: unexpected error: {type(exc).__name__}: {first_line} "
            "(set ANALYZER_DEBUG=1 for a traceback)",
            err=True,
        )
        raise typer.Exit(code=1) from None


class BarFeedback:
    """Shows a job's steps as rich progress bars (records read per step)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("Starting", total=None)

    def step(self, name: str, total: int | None = None) -> None:
        # A fresh task: reset() keeps the old total when given None, and a step of
        # unknown size must not show the previous step's count as its goal.
        self.progress.remove_task(self.task)
        self.task = self.progress.add_task(name, total=total)

    def advance(self, amount: int) -> None:
        self.progress.advance(self.task, amount)


def _progress(quiet: bool) -> Progress:
    console = Console(stderr=True)
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=quiet or not console.is_terminal,
        transient=True,
    )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the simulated data into.")],
    messages: Annotated[
        int, typer.Option("--messages", "-n", min=1, help="Number of message records.")
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 0,
    days: Annotated[int, typer.Option("--days", min=1, help="Number of UTC days covered.")] = 1,
    log_format: Annotated[
        list[str] | None,
        typer.Option(
            "--log-format",
            help="Also write the request log in this format (repeatable): "
            "twilio-sdk, twilio-sdk-legacy, combined, envoy.",
        ),
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(
            "--dataset",
            help="Also store the messages in this message dataset, as analyzer export "
            "would (to try nightly --no-export or detect --start/--end).",
        ),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Write synthetic message logs, server request logs and their ground truth."""
    from analyzer.simulate import SimulationConfig
    from analyzer.simulate import simulate as run_simulation

    with user_errors(), _progress(quiet) as progress:
        task = progress.add_task("Simulating", total=messages)
        result = run_simulation(
            out,
            SimulationConfig(
                messages=messages,
                seed=seed,
                days=days,
                log_formats=tuple(log_format or ("jsonl",)),
            ),
            progress=lambda done, total: progress.update(task, completed=done, total=total),
            dataset=dataset,
        )
    typer.echo(
        f"Wrote {sum(result.records.values()):,} messages, {result.log_lines:,} server log lines "
        f"and {result.complaints:,} complaints to {out}"
        + (f"; the messages are also in the dataset {dataset}" if dataset else "")
    )
    for name, count in sorted(result.records.items()):
        typer.echo(f"  {name:<20} {count:>10,} records")


@app.command()
def detect(
    input: Annotated[
        Path, typer.Argument(help="A Parquet file or a message dataset folder.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    window: WindowOption = DEFAULT_WINDOW,
    key: KeyOption = None,
    start: Annotated[
        str | None, typer.Option("--start", help="First UTC day (YYYY-MM-DD) to read.")
    ] = None,
    end: Annotated[
        str | None, typer.Option("--end", help="Last UTC day (YYYY-MM-DD) to read.")
    ] = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
    skew: SkewOption = None,
    tolerance: ToleranceOption = DEFAULT_TOLERANCE,
    engine: Annotated[
        str,
        typer.Option(
            "--engine", help="pandas (one machine) or dask (needs pip install -e '.[dask]')."
        ),
    ] = "pandas",
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            envvar="DASK_SCHEDULER_ADDRESS",
            help="Dask scheduler, e.g. tcp://host:8786 [default: a local cluster].",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="Key partitions of the Dask shuffle."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Find duplicate clusters: records to one recipient with one body, seconds apart."""
    from analyzer.pipeline import run_detect

    full_key = ("to", "body", *(key or []))
    with user_errors(), _progress(quiet) as progress:
        fields = parse_field_map(log_field or [])
        run = run_detect(
            input,
            out,
            window=DEFAULT_WINDOW if window is None else window,
            key=full_key,
            start=start,
            end=end,
            server_logs=server_log or [],
            log_format=log_format or "auto",
            log_tz=log_tz or "UTC",
            log_fields=fields or None,
            skew=skew,
            tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
            engine=engine,
            scheduler=scheduler,
            partitions=partitions,
            feedback=BarFeedback(progress),
        )
    for warning in run.detection.summary.warnings:
        typer.echo(f"analyzer: warning: {warning}", err=True)
    typer.echo(format_detect_summary(run.detection.summary, run.detection.sensitivity))
    typer.echo(f"Results: {run.out_dir}")


@app.command()
def report(
    results: Annotated[
        Path,
        typer.Argument(help="The output folder of `analyzer detect`.", show_default=False),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the report.")],
    ticket: Annotated[
        bool,
        typer.Option(
            "--ticket",
            help="Also write ticket.md for Twilio support (twilio_side clusters and "
            "carrier_side reports). It masks recipient numbers and leaves bodies out "
            "unless --no-redact.",
        ),
    ] = False,
    redact: Annotated[
        bool | None,
        typer.Option(
            "--redact/--no-redact",
            help="--redact masks recipient numbers (country code and last 4 digits) in "
            "index.html, report.md, clusters.csv and the charts. --no-redact shows full "
            "numbers and message bodies in ticket.md (masked and left out by default).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Write an HTML report (plus Markdown, CSV, JSON and optionally a support ticket)."""
    from analyzer.report import build_report

    with user_errors():
        result = build_report(
            results,
            out,
            redact=bool(redact),
            ticket=ticket,
            redact_ticket=redact is not False,
        )
    typer.echo(f"Report: {result.index_html}")


@app.command()
def investigate(
    dataset: Annotated[
        Path, typer.Argument(help="The message dataset (or a Parquet file).", show_default=False)
    ],
    to: Annotated[
        str | None, typer.Option("--to", help="The recipient who reported a duplicate (E.164).")
    ] = None,
    around: Annotated[
        str | None,
        typer.Option(
            "--around", help="When it was reported, UTC ISO 8601, e.g. 2026-11-29T14:00Z."
        ),
    ] = None,
    complaints: Annotated[
        Path | None,
        typer.Option("--complaints", help="CSV of many reports: to, reported_at[, note, carrier]."),
    ] = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
    window: WindowOption = None,
    tolerance: ToleranceOption = DEFAULT_TOLERANCE,
    before_hours: Annotated[
        float,
        typer.Option(
            "--before-hours",
            callback=search_hours,
            help="Search this many hours before the report (0 to 87840, ten years).",
        ),
    ] = DEFAULT_BEFORE.total_seconds() / 3600,
    after_minutes: Annotated[
        float,
        typer.Option(
            "--after-minutes",
            callback=search_minutes,
            help="Also count records created up to this many minutes after the report: an "
            "allowance for an approximate report time or another clock (0 to 5270400).",
        ),
    ] = DEFAULT_AFTER.total_seconds() / 60,
    skew: SkewOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write carrier.parquet and investigation.json here."),
    ] = None,
) -> None:
    """Decide reported duplicates: app_side, twilio_side, carrier_side or not_found."""
    from analyzer.investigate import complaints_frame, read_complaints
    from analyzer.pipeline import run_investigate

    with user_errors():
        if complaints is not None:
            reports = read_complaints(complaints)
        elif to and around:
            reports = complaints_frame(pd.DataFrame({"to": [to], "reported_at": [around]}))
        else:
            raise UserError("give --to and --around, or --complaints FILE.csv")
        found = run_investigate(
            dataset,
            reports,
            server_logs=server_log or [],
            log_format=log_format or "auto",
            log_tz=log_tz or "UTC",
            log_fields=parse_field_map(log_field or []) or None,
            window=window,
            tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
            skew=skew,
            before=timedelta(hours=before_hours),
            after=timedelta(minutes=after_minutes),
            out_dir=out,
        )
    for row in found.reports.to_dict("records"):
        listed: list[str] = row["sids"]
        sids = ", ".join(listed[:6]) + (" …" if len(listed) > 6 else "")
        typer.echo(
            f"{row['to']}  reported {row['reported_at']:%Y-%m-%d %H:%M} UTC  "
            f"{row['verdict']:<12} {row['n_records']} record(s): {sids or '-'}"
        )
        typer.echo(f"    {row['reason']}")
    counts = ", ".join(f"{n} {v}" for v, n in found.by_verdict.items())
    typer.echo(f"{len(found.reports)} report(s): {counts}.")
    if found.escalate:
        typer.echo(found.escalation)
    if out is not None:
        typer.echo(f"Results: {out}")


@app.command()
def nightly(
    dataset: Annotated[
        Path | None,
        typer.Option("--dataset", envvar="ANALYZER_DATASET", help="The message dataset folder."),
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option("--reports", envvar="ANALYZER_REPORTS", help="Folder of the daily reports."),
    ] = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = None,
    log_tz: LogTzOption = None,
    log_field: LogFieldOption = None,
    window: WindowOption = None,
    key: KeyOption = None,
    tolerance: ToleranceOption = None,
    complaints: Annotated[
        Path | None,
        typer.Option(
            "--complaints",
            help="CSV of reported duplicates (to, reported_at[, note, carrier]): those "
            "reported on the day are investigated into its report.",
        ),
    ] = None,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            envvar="ANALYZER_THRESHOLD",
            help="Exit 3 when extra messages exceed this percentage of outbound messages.",
        ),
    ] = None,
    day: Annotated[
        str | None,
        typer.Option("--date", envvar="ANALYZER_DATE", help="UTC day YYYY-MM-DD [yesterday]."),
    ] = None,
    api_base_url: Annotated[
        str | None,
        typer.Option("--api-base-url", envvar="TWILIO_API_BASE_URL", help="Twilio API base URL."),
    ] = None,
    no_export: Annotated[
        bool,
        typer.Option("--no-export", help="Skip the export (the dataset is filled otherwise)."),
    ] = False,
    config: Annotated[
        Path | None,
        typer.Option("--config", envvar="ANALYZER_CONFIG", help="TOML file with these settings."),
    ] = None,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log JSON lines on stderr (for log shippers).")
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Run the whole job for one UTC day, for cron: export, detect, report, alert.

    Exit codes: 0 done, 3 duplicate rate above --threshold, 2 configuration or
    credentials error, 75 another run holds the lock, 1 unexpected failure.

    Every setting is checked before the export starts. The first run creates the
    --dataset folder, inside an existing folder only; with --no-export it must exist.
    A day without messages is logged as a warning and marked in the history.
    """
    from analyzer.nightly import load_config, run_nightly

    setup_logging(json_lines=log_json, quiet=quiet)
    given = {
        "dataset": dataset,
        "reports": reports,
        "server_log": server_log,
        "log_format": log_format,
        "log_tz": log_tz,
        "log_field": log_field,
        "window": window,
        "key": key,
        "tolerance": tolerance,
        "complaints": complaints,
        "threshold": threshold,
        "date": day,
        "api_base_url": api_base_url,
        "export": False if no_export else None,
    }
    with user_errors():
        try:
            settings = load_config(given, config_file=config)
            result = run_nightly(settings)
        except (Exception, KeyboardInterrupt) as exc:
            if not log_json or (
                os.environ.get("ANALYZER_DEBUG") and not isinstance(exc, UserError)
            ):
                raise
            # With --log-json the final error is a JSON line like every other one.
            import logging

            from analyzer.nightly import failure

            code, line = failure(exc)
            logging.getLogger("analyzer.nightly").error("%s", line)
            raise typer.Exit(code=code) from None
    typer.echo(f"Report: {result.report_dir / 'index.html' if result.report_dir else '-'}")
    raise typer.Exit(code=result.exit_code)


def setup_logging(*, json_lines: bool, quiet: bool) -> None:
    """Log analyzer's progress to stderr, as plain lines or JSON lines."""
    import json
    import logging

    class JsonLines(logging.Formatter):
        def format(self, record: logging.LogRecord) -> str:
            return json.dumps(
                {
                    "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                    "level": record.levelname.lower(),
                    "logger": record.name,
                    "message": record.getMessage(),
                }
            )

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonLines() if json_lines else logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    )
    logger = logging.getLogger("analyzer")
    logger.handlers = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


@app.command("export")
def export_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write into.")],
    start: Annotated[
        str,
        typer.Option("--start", help="First UTC day (YYYY-MM-DD) or timestamp (…T…Z), inclusive."),
    ],
    end: Annotated[
        str | None,
        typer.Option("--end", help="Last UTC day or timestamp, inclusive [default: now - lag]."),
    ] = None,
    api_base_url: Annotated[
        str | None,
        typer.Option(
            "--api-base-url",
            envvar="TWILIO_API_BASE_URL",
            help="Twilio API base URL, e.g. a regional endpoint or a test double "
            "[default: https://api.twilio.com].",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", min=1, max=64, help="Time slices fetched at once.")
    ] = 8,
    lag_minutes: Annotated[
        float,
        typer.Option("--lag-minutes", min=0, help="Leave out the newest minutes (not listed yet)."),
    ] = 15,
    include_subaccounts: Annotated[
        bool, typer.Option("--include-subaccounts", help="Also export every subaccount.")
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Export messages sent in a date range from the Twilio API into a dataset.

    Credentials come from TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with
    TWILIO_API_KEY and TWILIO_API_SECRET. Messages never sent (no date_sent: queued,
    scheduled, many failed) cannot be listed by date and are not exported.
    """
    from analyzer.sources.twilio_api import Credentials, export_messages

    # Errors, a failure after the retries included (exit 1), go through user_errors:
    # one line, credentials scrubbed.
    with user_errors():
        credentials = Credentials.from_env(os.environ)
        with _progress(quiet) as progress:
            # Retries are logged (one line per backoff), above the bar on a terminal and
            # as plain lines otherwise; --quiet keeps only warnings and errors.
            setup_logging(json_lines=False, quiet=quiet)
            task = progress.add_task("Exporting records", total=None)
            began = time.monotonic()

            def show(done: int) -> None:
                rate = done / max(time.monotonic() - began, 1e-9)
                progress.update(
                    task, completed=done, description=f"Exporting ({rate:,.0f} records/s)"
                )

            result = export_messages(
                out,
                start,
                end if end is not None else datetime.now(UTC),
                credentials=credentials,
                api_base_url=api_base_url,
                concurrency=concurrency,
                lag=timedelta(minutes=lag_minutes),
                include_subaccounts=include_subaccounts,
                progress=show,
            )
    if result.end is None:
        typer.echo("Nothing to export: the range ends within the lag window.")
        return
    typer.echo(
        f"Exported {result.records:,} messages sent {result.start:%Y-%m-%d %H:%M:%S} to "
        f"{result.end:%Y-%m-%d %H:%M:%S} UTC from {len(result.accounts)} account(s) into "
        f"{out}: {result.inserted:,} new, {result.updated:,} updated, "
        f"{result.unchanged:,} unchanged ({result.pages:,} pages, {result.retries:,} retries, "
        f"{result.elapsed:.1f} s, {result.rate:,.0f} records/s)."
    )


@app.command("import")
def import_command(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="Console CSV exports, Bulk Export files (.json.gz), saved API pages (.json) "
            "or Parquet files of messages.",
            show_default=False,
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Dataset folder to write into.")],
    format: Annotated[
        str,
        typer.Option("--format", help="auto, console-csv, bulk-export, api-json or parquet."),
    ] = "auto",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict",
            help="Import nothing if any row is malformed or any value unreadable, instead of "
            "skipping the row or keeping the value empty.",
        ),
    ] = False,
    date_order: Annotated[
        str,
        typer.Option(
            "--date-order",
            help="How to read dates such as 03/04/2026: month-first, day-first, or auto "
            "(decided per file from the values; a file that fits both is refused).",
        ),
    ] = "auto",
) -> None:
    """Import message logs exported from Twilio into a dataset (upsert by sid)."""
    from analyzer.sources.files import import_files

    with user_errors():
        result = import_files(
            files,
            out,
            format=format,  # type: ignore[arg-type]
            strict=strict,
            date_order=date_order,  # type: ignore[arg-type]
        )
    for report in result.files:
        undated = (
            f" ({report.undated:,} without a creation date, kept under date=undated)"
            if report.undated
            else ""
        )
        unreadable = (
            f", {report.unreadable:,} values unreadable, kept as empty" if report.unreadable else ""
        )
        typer.echo(
            f"{report.path}: {report.format}, {report.imported:,} of {report.rows:,} rows "
            f"imported, {report.malformed:,} malformed, {report.no_sent_date:,} never sent "
            f"(no sent date){undated}{unreadable}"
        )
    for note in result.notes:
        typer.echo(f"Note: {note}")
    for sample in result.samples:
        typer.echo(f"analyzer: skipped {sample}", err=True)
    if result.malformed > len(result.samples):
        more = result.malformed - len(result.samples)
        typer.echo(f"analyzer: ... and {more:,} more malformed rows", err=True)
    for sample in result.unreadable_samples:
        typer.echo(f"analyzer: warning: {sample}", err=True)
    if result.unreadable > len(result.unreadable_samples):
        more = result.unreadable - len(result.unreadable_samples)
        typer.echo(f"analyzer: ... and {more:,} more values unreadable", err=True)
    typer.echo(
        f"{result.write.inserted:,} new, {result.write.updated:,} updated, "
        f"{result.write.unchanged:,} unchanged in {out}"
    )


def format_detect_summary(summary: DuplicatesSummary, sensitivity: pd.DataFrame) -> str:
    """Format a detection summary and its sensitivity table for the terminal."""
    lines = [
        f"{summary.messages:,} messages, {summary.outbound_messages:,} outbound "
        f"({summary.skipped_no_body:,} without a body and "
        f"{summary.skipped_not_sent:,} never sent (canceled or scheduled) left out).",
        f"{summary.duplicate_clusters:,} duplicate clusters with "
        f"{summary.extra_messages:,} extra messages "
        f"(window {_seconds(summary.window_seconds)}, key {' + '.join(summary.key)}); "
        f"{summary.extra_reached_handset:,} of the extra messages reached a handset "
        "(sent, delivered or read).",
        "",
        "Window sensitivity:",
        f"  {'window':>8}  {'clusters':>10}  {'extra msgs':>10}",
    ]
    for row in sensitivity.to_dict("records"):
        mark = "  <- selected" if row["selected"] else ""
        lines.append(
            f"  {_seconds(row['window_seconds']):>8}  {row['duplicate_clusters']:>10,}  "
            f"{row['extra_messages']:>10,}{mark}"
        )
    if summary.crossref is not None:
        lines += ["", *_crossref_lines(summary.crossref)]
    return "\n".join(lines)


def _crossref_lines(crossref: CrossrefSummary) -> list[str]:
    verdicts = ", ".join(f"{n:,} {v}" for v, n in crossref.by_verdict.items()) or "none"
    lines = [
        f"Verdicts: {verdicts}.",
        f"Server logs: matched by {crossref.match_mode}, clock skew "
        f"{crossref.skew_seconds:+.1f} s ({crossref.skew_method}, confidence "
        f"{crossref.skew_confidence or 'none'}).",
    ]
    outcomes = crossref.sends_by_outcome
    if outcomes:
        lines.append(
            f"POSTs: {outcomes.get('accepted', 0):,} accepted, {outcomes.get('possible', 0):,} "
            f"without an answer or with a 5xx, {outcomes.get('refused', 0):,} refused (4xx)."
        )
    ids = crossref.request_id_sids
    if ids.get("candidates"):
        lines.append(
            f"Twilio-Request-Id: {ids.get('found', 0):,} of {ids['candidates']:,} successful "
            f"creates name an exported record ({'used' if ids.get('used') else 'not used'} "
            "as SIDs)."
        )
    for log in crossref.logs:
        lines.append(
            f"  {log.path}: {log.format}, {log.lines:,} lines, {log.sends:,} "
            f"message POSTs, {log.malformed:,} malformed"
        )
    return lines


def _seconds(value: float) -> str:
    value = float(value)
    if value >= 3600 and value % 3600 == 0:
        return f"{value / 3600:g} h"
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g} min"
    return f"{value:g} s"


def main() -> None:
    """Entry point of the console script and ``python -m analyzer``."""
    app(prog_name="analyzer")


if __name__ == "__main__":  # pragma: no cover
    main()
