"""Commands that analyse: detect, investigate, report."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from analyzer.analyses import AnalysisInput
from analyzer.cli.app import BarFeedback, app, progress_bars, user_errors
from analyzer.cli.params import (
    EndOption,
    KeyOption,
    LogFieldOption,
    LogFormatOption,
    LogTzOption,
    QuietOption,
    ServerLogOption,
    SkewOption,
    StartOption,
    ToleranceOption,
    WindowOption,
    option,
)
from analyzer.cli.text import (
    detect_text,
    failures_text,
    inbound_text,
    investigation_text,
    optouts_text,
)
from analyzer.options import (
    DEFAULT_AFTER,
    DEFAULT_BEFORE,
    DEFAULT_TOLERANCE,
    DEFAULT_WINDOW,
    DetectOptions,
    EngineOptions,
    FailuresOptions,
    InvestigateOptions,
    LogOptions,
    OptoutsOptions,
)
from analyzer.results import FailuresSummary, InboundSummary, OptoutsSummary


def _log_options(
    server_log: list[str] | None,
    log_format: str | None,
    log_tz: str | None,
    log_field: list[str] | None,
) -> LogOptions:
    return LogOptions(
        paths=tuple(server_log or ()),
        format=log_format or "auto",
        tz=log_tz or "UTC",
        fields=tuple(log_field or ()),
    )


@app.command()
def detect(
    input: Annotated[
        Path, typer.Argument(help="A Parquet file or a message dataset folder.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    window: WindowOption = DEFAULT_WINDOW,
    key: KeyOption = None,
    start: StartOption = None,
    end: EndOption = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
    skew: SkewOption = None,
    tolerance: ToleranceOption = DEFAULT_TOLERANCE,
    engine: Annotated[str, option("engine")] = "pandas",
    scheduler: Annotated[str | None, option("scheduler", envvar=True)] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="Key partitions of the Dask shuffle."),
    ] = None,
    quiet: QuietOption = False,
) -> None:
    """Find duplicate clusters: records to one recipient with one body, seconds apart."""
    from analyzer.pipeline import run_detect

    with user_errors(), progress_bars(quiet) as progress:
        run = run_detect(
            input,
            out,
            options=DetectOptions(
                window=DEFAULT_WINDOW if window is None else window,
                extra_key=tuple(key or ()),
                skew=skew,
                tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
            ),
            server_logs=_log_options(server_log, log_format, log_tz, log_field),
            start=start,
            end=end,
            engine=EngineOptions(engine, scheduler, partitions),
            feedback=BarFeedback(progress),
        )
    for warning in run.detection.summary.warnings:
        typer.echo(f"analyzer: warning: {warning}", err=True)
    typer.echo(detect_text(run.detection.summary, run.detection.sensitivity))
    typer.echo(f"Results: {run.out_dir}")


@app.command()
def failures(
    input: Annotated[
        Path, typer.Argument(help="A Parquet file or a message dataset folder.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    start: StartOption = None,
    end: EndOption = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
    catalog: Annotated[Path | None, option("catalog")] = None,
    quiet: QuietOption = False,
) -> None:
    """Explain delivery failures: every failed or undelivered message, its category and
    what to do, the recipients to suppress, and the sends Twilio refused (with --server-log)."""
    from analyzer.pipeline import run_analysis

    with user_errors(), progress_bars(quiet) as progress:
        result = run_analysis(
            "failures",
            input,
            out,
            AnalysisInput(
                input,
                start=start,
                end=end,
                logs=_log_options(server_log, log_format, log_tz, log_field),
                failures=FailuresOptions(catalog=catalog),
                feedback=BarFeedback(progress),
            ),
        )
    assert isinstance(result.summary, FailuresSummary)
    typer.echo(failures_text(result.summary))
    typer.echo(f"Results: {out}")


@app.command()
def optouts(
    input: Annotated[
        Path, typer.Argument(help="A Parquet file or a message dataset folder.", show_default=False)
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    start: StartOption = None,
    end: EndOption = None,
    keywords_file: Annotated[Path | None, option("keywords")] = None,
    quiet: QuietOption = False,
) -> None:
    """Rebuild opt-out state (STOP, START, HELP) and find the sends to opted-out recipients:
    blocked by Twilio (21610) or sent anyway."""
    from analyzer.pipeline import run_analysis

    with user_errors(), progress_bars(quiet) as progress:
        result = run_analysis(
            "optouts",
            input,
            out,
            AnalysisInput(
                input,
                start=start,
                end=end,
                optouts=OptoutsOptions(keywords_file=keywords_file),
                feedback=BarFeedback(progress),
            ),
        )
    assert isinstance(result.summary, OptoutsSummary)
    typer.echo(optouts_text(result.summary))
    typer.echo(f"Results: {out}")


@app.command()
def inbound(
    dataset: Annotated[
        Path,
        typer.Argument(
            help="The message dataset, with its exported configuration.", show_default=False
        ),
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the results.")],
    start: StartOption = None,
    end: EndOption = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
) -> None:
    """Check that inbound messages reach the application: each number's webhook, the
    inbound records to it, the server log's requests and Twilio's alerts."""
    from analyzer.pipeline import run_analysis

    with user_errors():
        result = run_analysis(
            "inbound",
            dataset,
            out,
            AnalysisInput(
                dataset,
                start=start,
                end=end,
                logs=_log_options(server_log, log_format, log_tz, log_field),
            ),
        )
    assert isinstance(result.summary, InboundSummary)
    for warning in result.summary.warnings:
        typer.echo(f"analyzer: warning: {warning}", err=True)
    typer.echo(inbound_text(result.summary))
    typer.echo(f"Results: {out}")


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
    complaints: Annotated[Path | None, option("complaints")] = None,
    server_log: ServerLogOption = None,
    log_format: LogFormatOption = "auto",
    log_tz: LogTzOption = "UTC",
    log_field: LogFieldOption = None,
    window: WindowOption = None,
    tolerance: ToleranceOption = DEFAULT_TOLERANCE,
    before_hours: Annotated[float, option("before_hours")] = DEFAULT_BEFORE.total_seconds() / 3600,
    after_minutes: Annotated[float, option("after_minutes")] = DEFAULT_AFTER.total_seconds() / 60,
    skew: SkewOption = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write carrier.parquet and investigation.json here."),
    ] = None,
) -> None:
    """Decide reported duplicates: app_side, twilio_side, carrier_side or not_found."""
    from analyzer.pipeline import load_complaints, run_investigate

    with user_errors():
        found = run_investigate(
            dataset,
            load_complaints(complaints, to, around),
            server_logs=_log_options(server_log, log_format, log_tz, log_field),
            options=InvestigateOptions(
                window=window,
                skew=skew,
                tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
                before=timedelta(hours=before_hours),
                after=timedelta(minutes=after_minutes),
            ),
            out_dir=out,
        )
    typer.echo(investigation_text(found))
    if out is not None:
        typer.echo(f"Results: {out}")
