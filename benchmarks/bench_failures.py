"""Delivery-failures analysis: time and peak memory on a simulated day, against targets.

Usage: python -m benchmarks.bench_failures [--sizes 10000000] [--data .bench]

Each size is simulated once (cached under --data, shared with bench_detect), then
analysed by ``analyzer failures`` in its own process so that peak memory (ru_maxrss)
belongs to that run alone. Target: a 10M-message day in under 10 s and under 1 GB.
"""

from __future__ import annotations

from benchmarks.analysis_bench import bench

if __name__ == "__main__":
    bench("failures", __doc__.splitlines()[0], ["failed", "undelivered"], 10.0, 1024.0)
