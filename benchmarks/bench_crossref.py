"""Cross-reference and nightly timings on a simulated large day.

Usage: python -m benchmarks.bench_crossref [--messages 10000000] [--data .bench]

Prints: detection alone (time, peak memory); detection plus the cross-reference, as
`analyzer detect --server-log` runs it (run_detect: detection, the records, the log read
with the cross-reference's LogScope, the judgement), beside the targets (peak <= 2500 MB,
time <= 1.5x detection); and `analyzer nightly --no-export` end to end on the same day
stored as a dataset. Each step runs in its own process so its peak memory (ru_maxrss)
is its own.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Issue 16: detection plus cross-reference within 2.5 GB and 1.5x detection's time.
PEAK_TARGET_MB = 2500
TIME_TARGET = 1.5

DETECT = """
import json, resource, sys, time
from analyzer.engines import detect_path
t0 = time.perf_counter()
d = detect_path(sys.argv[1])
print(json.dumps({"seconds": time.perf_counter() - t0, "clusters": d.clusters.num_rows,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

CROSSREF = """
import json, resource, sys, tempfile, time
from analyzer.pipeline import run_detect
start = time.perf_counter()
with tempfile.TemporaryDirectory() as out:
    run = run_detect(sys.argv[1], out, server_logs=[sys.argv[2]])
total = time.perf_counter() - start
print(json.dumps({"total_seconds": total, "lines": run.logs.lines,
                  "kept": run.logs.requests.num_rows, "by_verdict": run.crossref.by_verdict,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

#: `analyzer nightly ...` in this process, then its peak memory (its exit code kept).
NIGHTLY = """
import json, resource, runpy, sys
sys.argv = ["analyzer", *sys.argv[1:]]
try:
    runpy.run_module("analyzer", run_name="__main__")
    code = 0
except SystemExit as exc:
    code = exc.code or 0
print(json.dumps({"peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
sys.exit(code)
"""

STORE = """
import sys
import pyarrow.parquet as pq
from analyzer.store import write_messages
write_messages(sys.argv[2], pq.read_table(sys.argv[1]))
"""


def run(script: str, *args: str) -> dict[str, object]:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, cwd=ROOT, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{proc.stderr}")
    lines = proc.stdout.strip().splitlines()
    return dict(json.loads(lines[-1])) if lines else {}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()
    folder = args.data / f"sim-{args.messages}"
    if not (folder / "server_requests.jsonl").exists():
        print(f"simulating {args.messages:,} messages into {folder} ...", flush=True)
        from analyzer.simulate import SimulationConfig, simulate

        # The ingress log (webhooks, callbacks) is not measured here: ~15M lines at 10M.
        simulate(folder, SimulationConfig(messages=args.messages, seed=1, app_log=False))
    source = str(folder / "messages.parquet")
    log = str(folder / "server_requests.jsonl")

    detect = run(DETECT, source)
    cross = run(CROSSREF, source, log)
    dataset = folder / "dataset"
    if not dataset.exists():
        run(STORE, source, str(dataset))
    reports = args.data / f"reports-{args.messages}"
    t0 = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            NIGHTLY,
            "nightly",
            "--dataset",
            str(dataset),
            "--reports",
            str(reports),
            "--server-log",
            log,
            "--date",
            "2026-11-29",
            "--no-export",
            "--quiet",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    nightly = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise SystemExit(f"nightly failed ({proc.returncode}):\n{proc.stderr}")
    nightly_mb = json.loads(proc.stdout.strip().splitlines()[-1])["peak_mb"]

    d_s = float(detect["seconds"])  # type: ignore[arg-type]
    total_s = float(cross["total_seconds"])  # type: ignore[arg-type]
    total_mb = float(cross["peak_mb"])  # type: ignore[arg-type]
    print(f"\n{args.messages:,} messages, {cross['lines']:,} request log lines")
    print(f"  detection alone                {d_s:7.1f} s   peak {detect['peak_mb']:.0f} MB")
    print(
        f"  detection + cross-reference    {total_s:7.1f} s   peak {total_mb:.0f} MB "
        f"({cross['kept']:,} request rows kept of {cross['lines']:,})"
    )
    peak_ok, ratio = total_mb <= PEAK_TARGET_MB, total_s / d_s
    print(f"    peak: {total_mb:.0f} MB (target <= {PEAK_TARGET_MB} MB) {_met(peak_ok)}")
    time_ok = ratio <= TIME_TARGET
    print(f"    time: {ratio:.2f}x detection (target <= {TIME_TARGET}x) {_met(time_ok)}")
    print(f"  verdicts {cross['by_verdict']}")
    print(
        f"  analyzer nightly --no-export   {nightly:7.1f} s end to end (target < 180 s), "
        f"peak {nightly_mb:.0f} MB"
    )


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"

if __name__ == "__main__":
    main()
