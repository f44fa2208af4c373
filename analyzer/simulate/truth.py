"""What a simulation planted: the ground truth, the recipients' complaints and the
description of the run."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from analyzer.simulate.config import SCENARIOS, VERDICTS, Scenario, SimulationConfig
from analyzer.simulate.messages import record_sids
from analyzer.simulate.phone_numbers import PhoneNumbers
from analyzer.simulate.plan import Plan
from analyzer.simulate.text import pick

METADATA_FILE = "simulation.json"
_COMPLAINT_NOTES_CARRIER = (
    "Customer says the text arrived twice",
    "Recipient got the same message two times, minutes apart",
    "Duplicate SMS reported by customer (single send in our records?)",
    "User: 'why did I get this twice?'",
)
_COMPLAINT_NOTES_APP = (
    "Customer received the same message twice",
    "Got two identical texts, please check",
)
_APP_SIDE = [Scenario.APP_RETRY_TIMEOUT, Scenario.DOUBLE_SUBMIT, Scenario.QUEUE_REDELIVERY]


def truth_chunk(plan: Plan, rows: np.ndarray) -> pa.Table:
    """The truth of these records: scenario, planted group, expected verdict, coverage."""
    group = plan.group_id[rows]
    verdict = plan.verdict[rows]
    return pa.table(
        {
            "sid": record_sids(plan, rows),
            "scenario": pick(plan.scenario[rows], SCENARIOS),
            "group_id": pa.array(group, mask=group == 0),
            "expected_verdict": pick(
                np.where(verdict < 0, len(VERDICTS), verdict), (*VERDICTS, None)
            ),
            "posts": pa.array(plan.posts[rows]),
            "covered": pa.array(plan.covered[rows]),
        }
    )


def complaints(plan: Plan, numbers: PhoneNumbers, rng: np.random.Generator) -> pd.DataFrame:
    """Recipients' complaints: every carrier_side recipient, and two app-side ones."""
    first = plan.pos == 0
    carrier = np.flatnonzero(first & (plan.scenario == Scenario.CARRIER_SIDE))
    app_first = np.flatnonzero(first & np.isin(plan.scenario, _APP_SIDE))
    app = np.sort(rng.choice(app_first, size=min(2, app_first.size), replace=False))
    # Complaints about an app-side group come after its last record.
    members = np.isin(plan.event, plan.event[app])
    last = pd.Series(plan.created[members]).groupby(plan.event[members]).max()
    rows = np.concatenate([carrier, app])
    base = np.concatenate([plan.created[carrier], last.loc[plan.event[app]].to_numpy()])
    reported = base + np.concatenate(
        [rng.integers(300, 6 * 3600, carrier.size), rng.integers(120, 3 * 3600, app.size)]
    )
    notes = np.concatenate(
        [
            np.array(_COMPLAINT_NOTES_CARRIER)[rng.integers(0, 4, carrier.size)],
            np.array(_COMPLAINT_NOTES_APP)[rng.integers(0, 2, app.size)],
        ]
    )
    frame = pd.DataFrame(
        {
            "to": numbers.recipients.take(pa.array(plan.recipient[rows])).to_pylist(),
            "reported_at": np.datetime_as_string(reported.astype("datetime64[s]"), unit="s"),
            "note": notes,
        }
    )
    frame["reported_at"] = frame["reported_at"] + "Z"
    return frame.sort_values(["reported_at", "to"], kind="stable").reset_index(drop=True)


def describe(
    config: SimulationConfig,
    sids: list[str],
    counts: dict[str, Any],
    files: dict[str, Any],
) -> dict[str, Any]:
    """The run's description (simulation.json): its configuration, the account's SIDs,
    the counts (records, groups, log_lines, complaints) and the files written."""
    described = asdict(config)
    described["start"] = config.start.isoformat()
    described["log_gap"] = (
        None if config.log_gap is None else [t.isoformat() for t in config.log_gap]
    )
    return {
        "generator": "analyzer.simulate",
        "config": described,
        "account_sid": sids[0],
        "messaging_service_sids": sids[1:],
        **counts,
        "files": files,
    }


def listed_files(folder: Path) -> list[Path]:
    """The files of the simulation already in ``folder``, as its description lists them."""
    meta = folder / METADATA_FILE
    try:
        files = json.loads(meta.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    names = [files.get(k) for k in ("messages", "server_requests", "truth", "complaints")]
    names += list((files.get("request_logs") or {}).values())
    return [folder / n for n in names if isinstance(n, str) and "/" not in n] + [meta]
