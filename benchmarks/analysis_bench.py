"""The shared part of the analysis benchmarks: run one registered analysis on a cached
simulated day in its own process (so peak memory is its own) and print its figures
beside the targets."""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.bench_detect import ROOT, run, simulated

#: Runs the analysis named by argv[3] on argv[1] into argv[2]; prints seconds, peak MB
#: and the summary's figures named by argv[4:].
ANALYSIS_RUN = """
import json, resource, sys, time
from analyzer.analyses import AnalysisInput
from analyzer.pipeline import run_analysis
t0 = time.perf_counter()
result = run_analysis(sys.argv[3], sys.argv[1], sys.argv[2], AnalysisInput(sys.argv[1]))
elapsed = time.perf_counter() - t0
figures = {name: getattr(result.summary, name) for name in sys.argv[4:]}
print(json.dumps({"seconds": elapsed, **figures,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def bench(
    name: str, description: str, figures: Sequence[str], seconds: float, megabytes: float
) -> None:
    """Benchmark analysis ``name`` at the sizes asked for on the command line."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000_000])
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()
    header = "".join(f" {figure:>12}" for figure in figures)
    print(f"{'messages':>12}  {'seconds':>8} {'peak MB':>8}{header}  target")
    for size in args.sizes:
        source = simulated(size, args.data)
        out = args.data / f"out-{size}" / name
        out.parent.mkdir(parents=True, exist_ok=True)
        got = run(ANALYSIS_RUN, str(source), str(out), name, *figures)
        met = got["seconds"] <= seconds and got["peak_mb"] <= megabytes
        values = "".join(f" {int(got[figure]):>12,}" for figure in figures)
        print(
            f"{size:>12,}  {got['seconds']:>8.1f} {got['peak_mb']:>8.0f}{values}  "
            f"< {seconds:g} s, < {megabytes:g} MB: " + ("met" if met else "NOT met")
        )
    print(f"\n(run at {time.strftime('%Y-%m-%d %H:%M:%S')}; {name}: read, analyse, write)")
