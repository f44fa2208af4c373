"""What the simulator's tests share: the configurations and readers of a run's files."""

from __future__ import annotations

import csv
import dataclasses
import json
from datetime import time
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from analyzer.simulate import LOG_FORMATS, SimulationConfig

# Rates well above the defaults so that a few thousand messages plant every scenario.
RICH = SimulationConfig(
    messages=4000,
    seed=11,
    retry_rate=0.01,
    double_submit_rate=0.008,
    redelivery_rate=0.004,
    twilio_side_rate=0.004,
    carrier_side_rate=0.003,
)
GAP_START, GAP_END = time(2, 0), time(3, 10)
SKEW = 0.8
FILES = (
    "messages.parquet",
    "server_requests.jsonl",
    "truth.parquet",
    "complaints.csv",
    "simulation.json",
    "app_requests.jsonl",
    "app_requests.combined.log",
)
ALL_FORMATS = dataclasses.replace(RICH, log_formats=LOG_FORMATS)
EXTRA_FORMATS = tuple(f for f in LOG_FORMATS if f != "jsonl")


def load_run(out: Path) -> dict[str, Any]:
    """Every file of a run, read: records, truth, parsed jsonl log, complaints, metadata."""
    messages = pq.read_table(out / "messages.parquet").to_pandas()
    truth = pq.read_table(out / "truth.parquet").to_pandas()
    lines = (out / "server_requests.jsonl").read_text(encoding="utf-8").splitlines()
    parsed, malformed = [], []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            malformed.append(line)
    log = pd.DataFrame(parsed)
    log["ts"] = pd.to_datetime(log["timestamp"], utc=True, format="ISO8601")
    with (out / "complaints.csv").open(newline="", encoding="utf-8") as handle:
        complaints = list(csv.DictReader(handle))
    return {
        "messages": messages,
        "truth": truth,
        "records": messages.merge(truth, on="sid", validate="one_to_one"),
        "log": log,
        "lines": lines,
        "malformed": malformed,
        "complaints": complaints,
        "meta": json.loads((out / "simulation.json").read_text(encoding="utf-8")),
    }


def planted_groups(records: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """Each planted group's records, by group id, in time order."""
    planted = records[records["group_id"].notna()]
    return {
        int(g): frame.sort_values(["date_created", "sid"])
        for g, frame in planted.groupby("group_id")
    }


def gsm_units(text: str) -> tuple[bool, int]:
    """(is UCS-2, length in encoding units) of a text: an independent reference."""
    basic = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    extended = "^{}\\[~]|€\f"
    if all(c in basic or c in extended for c in text):
        return False, sum(2 if c in extended else 1 for c in text)
    return True, len(text.encode("utf-16-le")) // 2


def log_path(out: Path, fmt: str) -> Path:
    """Where a run writes the request log of this format."""
    return out / ("server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log")
