"""How many duplicate clusters each kind of log decides, and how many it gets wrong.

Usage: python -m benchmarks.bench_verdicts [--rates 0.1,1,10,100] [--messages 20000]
       [--data .bench/verdicts] [--markdown]

For each send rate, simulates an account sending evenly at that rate (at least two
hours of traffic, so that queue redeliveries an hour apart fit), writes every request
log format, and cross-references the duplicate clusters with each kind of log. Prints,
per log kind and rate, the share of covered planted clusters that got a decided
verdict (app_side or twilio_side) and the share that got a wrong one (which must be 0).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pyarrow.parquet as pq

from analyzer.duplicates.crossref import cross_reference
from analyzer.duplicates.detect import find_duplicates
from analyzer.logs import read_server_logs
from analyzer.simulate import PARSER_FORMATS, SimulationConfig, simulate
from analyzer.vocabulary import Verdict

ROOT = Path(__file__).resolve().parents[1]
DECIDED = (Verdict.APP_SIDE, Verdict.TWILIO_SIDE)
MIN_SPAN_SECONDS = 7_200

#: Log kind → (simulated file format, jsonl fields left out, request ids carry the SID).
KINDS: dict[str, tuple[str, dict[str, str], bool]] = {
    "jsonl, SID logged": ("jsonl", {}, False),
    "jsonl, recipient only": ("jsonl", {"message_sid": "not_logged"}, False),
    "jsonl, time only": ("jsonl", {"message_sid": "not_logged", "to": "not_logged"}, False),
    "twilio-sdk 2022+, Request-Id = SID": ("twilio-sdk", {}, True),
    "twilio-sdk 2022+, other Request-Id": ("twilio-sdk", {}, False),
    "twilio-sdk pre-2022": ("twilio-sdk-legacy", {}, False),
    "combined (egress proxy)": ("combined", {}, False),
    "envoy (egress proxy)": ("envoy", {}, False),
}


def measure(folder: Path, kind: str) -> dict[str, float]:
    fmt, fields, honest = KINDS[kind]
    folder = folder / ("request-id-is-sid" if honest else "random-request-id")
    messages = pq.read_table(folder / "messages.parquet")
    clusters = find_duplicates(messages, window=60).clusters
    log = folder / ("server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log")
    logs = read_server_logs([log], format=PARSER_FORMATS[fmt], fields=fields or None)
    t0 = time.perf_counter()
    result = cross_reference(
        clusters, logs.requests, messages, formats={f.path: f.format for f in logs.files}
    )
    seconds = time.perf_counter() - t0
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    frame = result.clusters.to_pandas().merge(
        truth[["sid", "expected_verdict"]], left_on="cluster_id", right_on="sid", how="inner"
    )
    planted = frame[frame["expected_verdict"].isin(DECIDED)]
    decided = planted["verdict"].isin(DECIDED)
    wrong = frame["verdict"].isin(DECIDED) & (frame["verdict"] != frame["expected_verdict"])
    return {
        "clusters": len(planted),
        "decided": float(decided.mean()) if len(planted) else math.nan,
        "wrong": int(wrong.sum()),
        "seconds": seconds,
        "skew": result.skew.seconds,
        "band": result.delay_band or (math.nan, math.nan),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", default="0.1,1,10,100")
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--data", type=Path, default=ROOT / ".bench" / "verdicts")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    results: dict[tuple[str, float], dict[str, float]] = {}
    for rate in rates:
        span = max(MIN_SPAN_SECONDS, math.ceil(args.messages / rate))
        messages = max(args.messages, round(rate * span))
        folder = args.data / f"rate-{rate:g}"
        t0 = time.perf_counter()
        for honest in (False, True):
            formats = {fmt for fmt, _, h in KINDS.values() if h == honest}
            simulate(
                folder / ("request-id-is-sid" if honest else "random-request-id"),
                SimulationConfig(
                    messages=messages,
                    seed=args.seed,
                    days=math.ceil(span / 86_400),
                    span_seconds=span,
                    log_gap=None,
                    log_formats=tuple(sorted(formats)),
                    request_id_is_sid=honest,
                ),
            )
        print(
            f"rate {rate:g}/s: {messages:,} messages over {span:,} s "
            f"(simulated in {time.perf_counter() - t0:.1f} s)",
            flush=True,
        )
        for kind in KINDS:
            m = results[(kind, rate)] = measure(folder, kind)
            print(
                f"  {kind:36s} {m['clusters']:5d} planted  decided {m['decided']:6.1%}  "
                f"wrong {m['wrong']}  band {m['band'][0]:+.1f}..{m['band'][1]:+.1f} s  "
                f"skew {m['skew']:+.2f} s  {m['seconds']:.2f} s",
                flush=True,
            )
    if args.markdown:
        print()
        print("| log kind | " + " | ".join(f"{r:g}/s" for r in rates) + " |")
        print("|---|" + "---|" * len(rates))
        for kind in KINDS:
            cells = [
                f"{results[(kind, r)]['decided']:.0%} decided, {results[(kind, r)]['wrong']} wrong"
                for r in rates
            ]
            print(f"| {kind} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
