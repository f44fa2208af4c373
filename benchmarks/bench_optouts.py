"""Opt-out analysis: time and peak memory on a simulated day, against targets.

Usage: python -m benchmarks.bench_optouts [--sizes 10000000] [--data .bench]

Each size is simulated once (cached under --data, shared with bench_detect), then
analysed by ``analyzer optouts`` in its own process so that peak memory (ru_maxrss)
belongs to that run alone. Target: a 10M-message day (1 % inbound) in under 15 s
and under 1.5 GB.
"""

from __future__ import annotations

from benchmarks.analysis_bench import bench

if __name__ == "__main__":
    figures = ["inbound_messages", "blocked", "sent_after_opt_out"]
    bench("optouts", __doc__.splitlines()[0], figures, 15.0, 1536.0)
