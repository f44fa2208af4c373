"""Opt-out analysis: time and peak memory on a simulated day, against targets.

Usage: python -m benchmarks.bench_optouts [--sizes 10000000] [--data .bench]

Each size is simulated once (cached under --data, shared with bench_detect), then
analysed by ``analyzer optouts`` in its own process so that peak memory (ru_maxrss)
belongs to that run alone. Target: a 10M-message day (1 % inbound) in under 15 s
and under 1.5 GB.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from benchmarks.bench_detect import ROOT, run, simulated

TARGET_SECONDS = 15.0
TARGET_MB = 1536.0

FAILURES_RUN = """
import json, resource, sys, time
from analyzer.analyses import AnalysisInput
from analyzer.pipeline import run_analysis
t0 = time.perf_counter()
result = run_analysis("optouts", sys.argv[1], sys.argv[2], AnalysisInput(sys.argv[1]))
elapsed = time.perf_counter() - t0
summary = result.summary
print(json.dumps({"seconds": elapsed, "inbound": summary.inbound_messages,
                  "sends": summary.blocked + summary.sent_after_opt_out,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()
    print(f"{'messages':>12}  {'seconds':>8} {'peak MB':>8} {'inbound':>9} {'sends':>7}  target")
    for size in args.sizes:
        source = simulated(size, args.data)
        out = args.data / f"out-{size}" / "optouts"
        out.parent.mkdir(parents=True, exist_ok=True)
        figures = run(FAILURES_RUN, str(source), str(out))
        met = figures["seconds"] <= TARGET_SECONDS and figures["peak_mb"] <= TARGET_MB
        print(
            f"{size:>12,}  {figures['seconds']:>8.1f} {figures['peak_mb']:>8.0f} "
            f"{int(figures['inbound']):>9,} {int(figures['sends']):>7,}  "
            f"< {TARGET_SECONDS:g} s, < {TARGET_MB:g} MB: "
            + ("met" if met else "NOT met")
        )
    print(f"\n(run at {time.strftime('%Y-%m-%d %H:%M:%S')}; optouts = read twice + judge + write)")


if __name__ == "__main__":
    main()
