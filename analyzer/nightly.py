"""The nightly job for cron: export, detect, cross-reference, report, alert.

Exit codes: 0 done; 3 done but the duplicate rate is above the threshold;
2 configuration or credentials error; 75 another run holds the lock (EX_TEMPFAIL);
1 unexpected failure.
"""

from __future__ import annotations

import json
import logging
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

from analyzer.atomic import write_text
from analyzer.errors import UserError
from analyzer.pipeline import run_detect
from analyzer.store import dataset_lock

Day = date

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2
EXIT_THRESHOLD = 3
EXIT_LOCKED = 75
NIGHTLY_LOCK = ".nightly.lock"
HISTORY_FILE = "index.html"

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
}


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
        value = given.get(name)
        if value is None or value == []:
            raw = environ.get(ENV[name])
            value = _from_env(name, raw) if raw not in (None, "") else from_file.get(name)
        if value is not None:
            merged[name] = _convert(name, value)
    for required in ("dataset", "reports"):
        if required not in merged:
            raise UserError(
                f"--{required} is required (or {ENV[required]}, or '{required}' in the config file)"
            )
    return NightlyConfig(**merged)


def _from_env(name: str, raw: str | None) -> Any:
    if raw is None:
        return None
    if name == "server_log":
        return [part for part in raw.split(os.pathsep) if part]
    if name == "export":
        return raw.strip().lower() not in ("0", "false", "no", "off")
    return raw


def _convert(name: str, value: Any) -> Any:
    try:
        if name in ("dataset", "reports"):
            return Path(value)
        if name == "server_log":
            return [str(v) for v in ([value] if isinstance(value, str) else value)]
        if name in ("window", "threshold"):
            return float(value)
        if name == "trailing_days":
            days = int(value)
            if days < 1:
                raise ValueError("must be at least 1")
            return days
        if name == "date":
            return value if isinstance(value, date) else date.fromisoformat(str(value))
        if name == "export":
            return bool(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        raise UserError(f"bad value for {name}: {value!r} ({exc})") from None


@dataclass
class NightlyResult:
    """How a nightly run ended."""

    exit_code: int
    day: date
    report_dir: Path | None = None
    duplicate_rate: float | None = None
    summary: dict[str, Any] = field(default_factory=dict)


def run_nightly(
    config: NightlyConfig,
    *,
    environ: Mapping[str, str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> NightlyResult:
    """Run the whole job for one UTC day and return its exit code.

    Raises LockedError (75) when another run holds the lock and UserError (2) on
    configuration or credential errors.
    """
    day = config.day
    with dataset_lock(config.dataset, blocking=False, name=NIGHTLY_LOCK):
        log.info("nightly run for %s: dataset %s, reports %s", day, config.dataset, config.reports)
        if config.export:
            _export(config, day, environ, progress)
        log.info("finding duplicates on %s (window %g s)", day, config.window)
        config.reports.mkdir(parents=True, exist_ok=True)
        staging = config.reports / f".{day.isoformat()}.{uuid.uuid4().hex}.tmp"
        try:
            run = run_detect(
                config.dataset,
                staging / "results",
                window=config.window,
                server_logs=config.server_log,
                log_format=config.log_format,
                day=day,
                allow_empty=True,
            )
            from analyzer.report import build_report

            build_report(staging / "results", staging, ticket=True)
            target = config.reports / day.isoformat()
            _replace_dir(staging, target)
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
        write_history(config.reports)
    summary = run.detection.summary
    outbound = summary.get("outbound_messages", 0)
    rate = summary["extra_messages"] / outbound * 100 if outbound else 0.0
    log.info(
        "%s: %d duplicate clusters, %d extra messages, rate %.3f%% of %d outbound",
        day,
        summary["duplicate_clusters"],
        summary["extra_messages"],
        rate,
        outbound,
    )
    code = EXIT_OK
    if config.threshold is not None and rate > config.threshold:
        log.warning("duplicate rate %.3f%% is above the threshold %.3f%%", rate, config.threshold)
        code = EXIT_THRESHOLD
    return NightlyResult(
        exit_code=code,
        day=day,
        report_dir=config.reports / day.isoformat(),
        duplicate_rate=rate,
        summary=summary,
    )


def _export(
    config: NightlyConfig,
    day: date,
    environ: Mapping[str, str] | None,
    progress: Callable[[int], None] | None,
) -> None:
    from analyzer.sources.twilio_api import Credentials, export_messages

    credentials = Credentials.from_env(os.environ if environ is None else environ)
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
        summary_file = folder / "summary.json"
        if not summary_file.exists():
            continue
        summary = json.loads(summary_file.read_text(encoding="utf-8"))
        outbound = summary.get("outbound_messages") or 0
        rows.append(
            {
                "day": folder.name,
                "outbound_messages": outbound,
                "duplicate_clusters": summary.get("duplicate_clusters", 0),
                "extra_messages": summary.get("extra_messages", 0),
                "rate": (summary.get("extra_messages", 0) / outbound * 100) if outbound else 0.0,
                "by_verdict": summary.get("by_verdict", {}),
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
        "<tr>"
        f'<td><a href="{escape(r["day"])}/index.html">{escape(r["day"])}</a></td>'
        f"<td>{r['outbound_messages']:,}</td><td>{r['duplicate_clusters']:,}</td>"
        f"<td>{r['extra_messages']:,}</td><td>{r['rate']:.3f}%</td>"
        + "".join(f"<td>{r['by_verdict'].get(v, 0):,}</td>" for v in verdicts)
        + "</tr>"
        for r in reversed(rows)
    )
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Duplicate SMS: history</title>
<style>
body {{ font: 14px/1.5 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }}
table {{ border-collapse: collapse; }}
th, td {{ padding: 4px 10px; border-bottom: 1px solid #ddd; }}
td {{ text-align: right; }} td:first-child {{ text-align: left; }}
img {{ max-width: 100%; }}
</style></head><body>
<h1>Duplicate SMS, day by day</h1>
<p>{len(rows)} day(s) analysed. The rate is extra messages (records beyond the first of each
duplicate cluster) per outbound message. Each day links to its full report.</p>
{images}
<table><thead><tr>{header}</tr></thead><tbody>
{body}
</tbody></table>
</body></html>
"""
    target = reports / HISTORY_FILE
    write_text(html, target)
    return target
