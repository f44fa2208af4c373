"""Commands that move data or run the whole job: nightly, export, import, simulate."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from analyzer.cli.app import app, progress_bars, user_errors
from analyzer.cli.params import (
    ApiBaseUrlOption,
    KeyOption,
    LogFieldOption,
    LogFormatOption,
    LogTzOption,
    QuietOption,
    ServerLogOption,
    ToleranceOption,
    WindowOption,
    option,
)
from analyzer.cli.text import export_text, import_text
from analyzer.errors import UserError, failure
from analyzer.feedback import setup_logging
from analyzer.simulate.writers import LOG_FORMATS
from analyzer.vocabulary import LogFormat

#: Parameters of ``nightly`` that are not settings of the job.
_NOT_SETTINGS = frozenset({"config", "log_json", "quiet"})


@app.command()
def nightly(
    dataset: Annotated[Path | None, option("dataset", envvar=True)] = None,
    reports: Annotated[Path | None, option("reports", envvar=True)] = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = None,
    log_tz: LogTzOption = None,
    log_field: LogFieldOption = None,
    window: WindowOption = None,
    key: KeyOption = None,
    tolerance: ToleranceOption = None,
    complaints: Annotated[
        Path | None,
        option(
            "complaints",
            help="CSV of reported duplicates (to, reported_at[, note, carrier]): those "
            "reported on the day are investigated into its report.",
        ),
    ] = None,
    threshold: Annotated[float | None, option("threshold", envvar=True)] = None,
    catalog: Annotated[Path | None, option("catalog")] = None,
    alert_on_failure_jumps: Annotated[bool | None, option("alert_on_failure_jumps")] = None,
    keywords: Annotated[Path | None, option("keywords")] = None,
    alert_on_sent_after_opt_out: Annotated[
        bool | None, option("alert_on_sent_after_opt_out")
    ] = None,
    day: Annotated[str | None, option("date", envvar=True)] = None,
    api_base_url: ApiBaseUrlOption = None,
    engine: Annotated[str | None, option("engine")] = None,
    scheduler: Annotated[str | None, option("scheduler")] = None,
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

    Exit codes: 0 done, 3 duplicate rate above --threshold (or, with
    --alert-on-failure-jumps, an error code that jumped, or with
    --alert-on-sent-after-opt-out, a send to an opted-out recipient), 2 configuration or
    credentials error, 75 another run holds the lock, 1 unexpected failure.

    Every setting is checked before the export starts. The first run creates the
    --dataset folder, inside an existing folder only; with --no-export it must exist.
    A day without messages is logged as a warning and marked in the history.
    """
    # The settings are the parameters, by name (taken before any other local exists).
    given = {name: value for name, value in locals().items() if name not in _NOT_SETTINGS}
    given["date"] = given.pop("day")
    given["export"] = False if given.pop("no_export") else None
    from analyzer.nightly import load_config, run_nightly

    setup_logging(json_lines=log_json, quiet=quiet)
    with user_errors(), _final_error_as_json(log_json):
        result = run_nightly(load_config(given, config_file=config))
    typer.echo(f"Report: {result.report_dir / 'index.html' if result.report_dir else '-'}")
    raise typer.Exit(code=result.exit_code)


@contextmanager
def _final_error_as_json(log_json: bool) -> Iterator[None]:
    """With --log-json, the error that ends the run is a JSON line like every other one."""
    try:
        yield
    except (Exception, KeyboardInterrupt) as exc:
        if not log_json or (os.environ.get("ANALYZER_DEBUG") and not isinstance(exc, UserError)):
            raise
        from analyzer.sources.twilio_api import scrub

        code, line = failure(exc, scrub)
        logging.getLogger("analyzer.nightly").error("%s", line)
        raise typer.Exit(code=code) from None


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
    api_base_url: ApiBaseUrlOption = None,
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
    config: Annotated[
        bool, typer.Option("--config", help="Also export numbers, services, 30 days of alerts.")
    ] = False,
    quiet: QuietOption = False,
) -> None:
    """Export messages sent in a date range from the Twilio API into a dataset.

    Credentials come from TWILIO_ACCOUNT_SID with TWILIO_AUTH_TOKEN, or with
    TWILIO_API_KEY and TWILIO_API_SECRET. Messages never sent (no date_sent: queued,
    scheduled, many failed) cannot be listed by date and are not exported.
    """
    from analyzer.options import ExportOptions
    from analyzer.sources.twilio_api import Credentials, export_config, export_messages

    # Errors, a failure after the retries included (exit 1), go through user_errors:
    # one line, credentials scrubbed.
    with user_errors():
        credentials = Credentials.from_env(os.environ)
        options = ExportOptions(
            api_base_url=api_base_url,
            concurrency=concurrency,
            lag=timedelta(minutes=lag_minutes),
            include_subaccounts=include_subaccounts,
        )
        with progress_bars(quiet) as progress:
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
                api_base_url=options.api_base_url,
                concurrency=options.concurrency,
                lag=options.lag,
                include_subaccounts=options.include_subaccounts,
                progress=show,
            )
            if config:
                configuration = export_config(
                    out, credentials=credentials, api_base_url=options.api_base_url
                )
    typer.echo(export_text(result, out))
    if config:
        typer.echo(configuration.summary())


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
    lines, errors = import_text(result, out)
    for line in lines[:-1]:
        typer.echo(line)
    for line in errors:
        typer.echo(line, err=True)
    typer.echo(lines[-1])


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", help="Folder to write the simulated data into.")],
    messages: Annotated[
        int,
        typer.Option(
            "--messages",
            "-n",
            min=1,
            help="Number of message records; the opt-out scenarios add their keyword "
            "messages and sends on top, about 1 % more.",
        ),
    ] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed: same seed, same data.")] = 0,
    days: Annotated[int, typer.Option("--days", min=1, help="Number of UTC days covered.")] = 1,
    log_format: Annotated[
        list[str] | None,
        typer.Option(
            "--log-format",
            help="Also write the request log in this format (repeatable): "
            f"{', '.join(f for f in LOG_FORMATS if f != LogFormat.JSONL)}.",
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

    with user_errors(), progress_bars(quiet) as progress:
        task = progress.add_task("Simulating", total=messages)
        result = run_simulation(
            out,
            SimulationConfig(
                messages=messages,
                seed=seed,
                days=days,
                log_formats=tuple(log_format or (LogFormat.JSONL,)),
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
