"""A month of messages: `analyzer detect` over a dataset written day by day, in bounded
memory and in time that grows linearly with the days.

Usage: python -m benchmarks.bench_month [--days 30] [--per-day 3333334] [--measure 10 30]

The dataset (``--days`` days of ``--per-day`` messages, 100M by default) is simulated
once, one day per simulator call, and cached under --data (``month-PERDAY``); a build
that was interrupted resumes at the first day it had not finished. Each measured
range runs the command line in its own process, whose peak memory (ru_maxrss) is read
when it ends. Prints seconds per day for each range, their ratio (1.0: linear) and the
peak memory, each beside its target.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from benchmarks.bench_detect import ROOT

FIRST_DAY = date(2026, 10, 1)
#: Peak memory of one run, MB (issue 16: a month in under 2.5 GB).
PEAK_TARGET_MB = 2500.0
#: The longest range's seconds per day over the shortest's: linear growth.
LINEAR_TARGET = 1.15
BUILT_FILE = "built.json"


def month_dataset(days: int, per_day: int, data: Path) -> Path:
    """Return the dataset folder of ``days`` simulated days, simulating the missing ones."""
    folder = data / f"month-{per_day}"
    dataset = folder / "dataset"
    built_path = folder / BUILT_FILE
    built: list[str] = json.loads(built_path.read_text()) if built_path.exists() else []
    missing = [i for i in range(days) if _day(i).isoformat() not in built]
    if not missing:
        return dataset
    from analyzer.simulate import SimulationConfig, simulate

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".scratch-") as scratch:
        for i in missing:
            day = _day(i)
            print(f"simulating {day} ({per_day:,} messages) into {dataset} ...", flush=True)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            config = SimulationConfig(messages=per_day, days=1, start=start, seed=i, app_log=False)
            simulate(scratch, config, dataset=dataset)
            built.append(day.isoformat())
            built_path.write_text(json.dumps(sorted(built)))
    return dataset


def _day(i: int) -> date:
    return FIRST_DAY + timedelta(days=i)


def measure(dataset: Path, days: int, out: Path) -> dict[str, float]:
    """Run ``analyzer detect`` over the first ``days`` days: seconds and peak MB."""
    command = [
        sys.executable,
        "-m",
        "analyzer",
        "detect",
        str(dataset),
        "--out",
        str(out),
        "--start",
        _day(0).isoformat(),
        "--end",
        _day(days - 1).isoformat(),
        "--quiet",
    ]
    t0 = time.perf_counter()
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - t0
    stderr = proc.stderr.read().decode() if proc.stderr else ""
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"analyzer detect failed ({proc.returncode}):\n{stderr}")
    summary = json.loads((out / "summary.json").read_text())
    return {
        "seconds": elapsed,
        "peak_mb": usage.ru_maxrss / 1024,
        "messages": float(summary.get("messages", 0)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=30, help="days in the dataset")
    parser.add_argument("--per-day", type=int, default=3_333_334, help="messages per day")
    parser.add_argument(
        "--measure", type=int, nargs="+", default=[10, 30], help="ranges to time, in days"
    )
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build_only:
        month_dataset(args.days, args.per_day, args.data)
        return
    # Simulated in another process: a child's peak memory starts from its parent's
    # (Linux keeps it across exec), so this one must stay small.
    subprocess.run(
        [sys.executable, "-m", "benchmarks.bench_month", "--build-only", *sys.argv[1:]],
        cwd=ROOT,
        check=True,
    )
    ranges = sorted({min(n, args.days) for n in args.measure})
    dataset = args.data / f"month-{args.per_day}" / "dataset"
    rows = []
    for days in ranges:
        out = args.data / f"out-month-{args.per_day}" / f"days-{days}"
        out.mkdir(parents=True, exist_ok=True)
        rows.append((days, measure(dataset, days, out)))
    print()
    print(f"{'days':>5} {'messages':>13} {'seconds':>8} {'s/day':>7} {'peak MB':>8}  target")
    for days, got in rows:
        met = "OK" if got["peak_mb"] <= PEAK_TARGET_MB else "NOT met"
        print(
            f"{days:>5} {int(got['messages']):>13,} {got['seconds']:>8.1f} "
            f"{got['seconds'] / days:>7.2f} {got['peak_mb']:>8.0f}  "
            f"peak <= {PEAK_TARGET_MB:g} MB {met}"
        )
    if len(rows) > 1:
        (short, low), (long, high) = rows[0], rows[-1]
        ratio = (high["seconds"] / long) / (low["seconds"] / short)
        met = "OK" if ratio <= LINEAR_TARGET else "NOT met"
        print(
            f"seconds per day, {long} days / {short} days: {ratio:.2f}x "
            f"(target <= {LINEAR_TARGET:g}x, linear) {met}"
        )
    print(f"\n(run at {time.strftime('%Y-%m-%d %H:%M:%S')}; detect = read + cluster + write)")


if __name__ == "__main__":
    main()
