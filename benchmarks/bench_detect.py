"""Detection speed and peak memory next to an equivalent DuckDB window query.

Usage: python -m benchmarks.bench_detect [--sizes 1000000 10000000] [--data .bench]

Each size is simulated once (cached under --data), then read, clustered and
written by analyzer and by DuckDB, each in its own process so that peak memory
(ru_maxrss) belongs to that run alone. Prints a table of figures.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Issue 16: detection in at most 0.6x the DuckDB query's time, under 2.5 GB.
TIME_TARGET = 0.6
PEAK_TARGET_MB = 2500.0

ANALYZER_RUN = """
import json, resource, sys, time
from analyzer.options import DetectOptions
from analyzer.pipeline import run_detect
t0 = time.perf_counter()
run = run_detect(sys.argv[1], sys.argv[2], options=DetectOptions(window=60))
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "clusters": run.detection.summary.duplicate_clusters,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

# The same definition as analyzer.detect: outbound, non-empty body, key (to, body),
# ordered by (date_created, sid), a new cluster where the gap exceeds the window.
DUCKDB_RUN = """
import json, resource, sys, time
import duckdb
source, target = sys.argv[1], sys.argv[2]
con = duckdb.connect()
t0 = time.perf_counter()
con.execute(f'''
COPY (
  WITH m AS (
    SELECT sid, "to", body, "from", messaging_service_sid, account_sid, status, error_code,
           date_created, epoch_us(date_created) AS us
    FROM read_parquet('{source}')
    WHERE direction LIKE 'outbound%' AND body IS NOT NULL AND body <> ''
  ),
  g AS (
    SELECT *, us - lag(us) OVER (PARTITION BY "to", body ORDER BY us, sid) AS gap FROM m
  ),
  c AS (
    SELECT *, sum(CASE WHEN gap IS NULL OR gap > 60000000 THEN 1 ELSE 0 END)
           OVER (PARTITION BY "to", body ORDER BY us, sid ROWS UNBOUNDED PRECEDING) AS run
    FROM g
  )
  SELECT min_by(sid, us) AS cluster_id, "to", body, count(*) AS n_records,
         list(sid ORDER BY us, sid) AS sids,
         min(date_created) AS first_created, max(date_created) AS last_created,
         (max(us) - min(us)) / 1e6 AS span_seconds,
         list(gap / 1e6 ORDER BY us, sid) AS gaps_seconds,
         list("from" ORDER BY us, sid) AS from_numbers,
         list(messaging_service_sid ORDER BY us, sid) AS messaging_service_sids,
         list(account_sid ORDER BY us, sid) AS account_sids,
         list(status ORDER BY us, sid) AS statuses,
         list(error_code ORDER BY us, sid) AS error_codes
  FROM c GROUP BY "to", body, run HAVING count(*) >= 2
) TO '{target}' (FORMAT parquet)
''')
elapsed = time.perf_counter() - t0
clusters = con.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchall()[0][0]
print(json.dumps({"seconds": elapsed, "clusters": clusters,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def simulated(size: int, data: Path) -> Path:
    """Return the messages.parquet of a simulated account of ``size`` messages."""
    folder = data / f"sim-{size}"
    target = folder / "messages.parquet"
    if not target.exists():
        print(f"simulating {size:,} messages into {folder} ...", flush=True)
        from analyzer.simulate import SimulationConfig, simulate

        # The ingress log (webhooks, callbacks) is not measured here: ~15M lines at 10M.
        simulate(folder, SimulationConfig(messages=size, seed=1, app_log=False))
    return target


def run(script: str, *args: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-c", script, *args], capture_output=True, text=True, check=False, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{proc.stderr}")
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--data", type=Path, default=ROOT / ".bench")
    args = parser.parse_args()
    rows = []
    for size in args.sizes:
        source = simulated(size, args.data)
        out = args.data / f"out-{size}"
        out.mkdir(parents=True, exist_ok=True)
        ours = run(ANALYZER_RUN, str(source), str(out / "analyzer"))
        duck = run(DUCKDB_RUN, str(source), str(out / "duckdb.parquet"))
        if ours["clusters"] != duck["clusters"]:
            raise SystemExit(f"cluster counts differ: {ours['clusters']} vs {duck['clusters']}")
        rows.append((size, ours, duck))
    print()
    print(f"{'messages':>12}  {'engine':<9} {'seconds':>8} {'peak MB':>8} {'clusters':>9}")
    for size, ours, duck in rows:
        for name, figures in (("analyzer", ours), ("duckdb", duck)):
            print(
                f"{size:>12,}  {name:<9} {figures['seconds']:>8.1f} {figures['peak_mb']:>8.0f} "
                f"{int(figures['clusters']):>9,}"
            )
        ratio = ours["seconds"] / duck["seconds"]
        print(
            f"{'':>12}  detection / duckdb: {ratio:.2f}x (target <= {TIME_TARGET:g}x) "
            + ("OK" if ratio <= TIME_TARGET else "NOT met")
        )
        print(
            f"{'':>12}  detection peak: {ours['peak_mb']:.0f} MB (target < {PEAK_TARGET_MB:g} MB) "
            + ("OK" if ours["peak_mb"] < PEAK_TARGET_MB else "NOT met")
        )
    print(f"\n(run at {time.strftime('%Y-%m-%d %H:%M:%S')}; detect = read + cluster + write)")


if __name__ == "__main__":
    main()
