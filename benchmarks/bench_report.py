"""Report speed and peak memory on a detect output with about 100k duplicate clusters.

Usage: python -m benchmarks.bench_report [--messages 2000000] [--data .bench]

Simulates MESSAGES messages over 3 days with duplicate rates far above the defaults
(about 6 % of messages start a duplicate group), runs `detect` with the request log
(both cached under --data), then builds the full report (HTML, Markdown, CSV, JSON,
ticket, charts) in a fresh process so that its peak memory (ru_maxrss) is the report's
alone. Prints the figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PREPARE = """
import sys
from analyzer.pipeline import run_detect
from analyzer.simulate import SimulationConfig, simulate
sim, results, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
simulate(sim, SimulationConfig(messages=n, seed=42, days=3, retry_rate=0.025,
                               double_submit_rate=0.02, redelivery_rate=0.005,
                               twilio_side_rate=0.005, carrier_side_rate=0.002, app_log=False))
run_detect(sim + "/messages.parquet", results, server_logs=[sim + "/server_requests.jsonl"])
"""

REPORT = """
import json, resource, sys, time
from analyzer.report import build_report
t0 = time.perf_counter()
result = build_report(sys.argv[1], sys.argv[2], ticket=True, redact=True)
elapsed = time.perf_counter() - t0
sizes = {p.name: p.stat().st_size for p in result.files if p.parent.name != "charts"}
print(json.dumps({"seconds": elapsed, "clusters": result.summary.duplicate_clusters,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "sizes": sizes}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2_000_000)
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()
    sim = args.data / f"report-sim-{args.messages}"
    results = args.data / f"report-results-{args.messages}"
    if not (results / "clusters.parquet").exists():
        print(f"preparing: simulate {args.messages:,} messages and detect (cached) ...", flush=True)
        subprocess.run(
            [sys.executable, "-c", PREPARE, str(sim), str(results), str(args.messages)],
            check=True,
            cwd=ROOT,
        )
    out = args.data / f"report-out-{args.messages}"
    run = subprocess.run(
        [sys.executable, "-c", REPORT, str(results), str(out)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    print(
        f"report on {figures['clusters']:,} clusters ({args.messages:,} messages): "
        f"{figures['seconds']:.1f} s, peak RSS {figures['peak_mb']:.0f} MB"
    )
    for name, size in sorted(figures["sizes"].items()):
        print(f"  {name:<14} {size / 1e6:8.2f} MB")
    print(f"output: {out / 'index.html'}")


if __name__ == "__main__":
    main()
