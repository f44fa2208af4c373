"""Investigate reported duplicates: 'this recipient got the same SMS twice around then'.

For each report, the Twilio records to that recipient near that time decide:
several records with one body (a duplicate cluster): ``app_side`` or
``twilio_side`` from the request logs, as for any cluster (or ``unverified`` /
``inconclusive``); a single record: ``carrier_side``, the recipient's carrier or
roaming delivered it twice; no record: ``not_found``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.crossref import cross_reference
from analyzer.detect import find_duplicates
from analyzer.errors import InputError
from analyzer.redact import country_codes

CARRIER_SIDE = "carrier_side"
NOT_FOUND = "not_found"
DEFAULT_BEFORE = timedelta(hours=6)
DEFAULT_AFTER = timedelta(minutes=30)
_US = 1_000_000


@dataclass
class Investigation:
    """One row per report, and whether the carrier-side ones should go to Twilio support."""

    reports: pd.DataFrame
    escalate: bool
    escalation: str = ""
    by_verdict: dict[str, int] = field(default_factory=dict)


def read_complaints(path: str | Path) -> pd.DataFrame:
    """Read a complaints CSV with columns ``to`` and ``reported_at`` (UTC), optional ``note``.

    A ``carrier`` column, when present, is used to tell whether carrier-side
    reports span several carriers.
    """
    source = Path(path)
    if not source.exists():
        raise InputError(f"no such file: {source}")
    try:
        frame = pd.read_csv(source, dtype=str, keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read {source} as CSV: {exc}") from None
    missing = [c for c in ("to", "reported_at") if c not in frame.columns]
    if missing:
        raise InputError(f"{source} lacks column(s): " + ", ".join(missing))
    return complaints_frame(frame)


def complaints_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalise reports: ``to`` as text, ``reported_at`` as UTC timestamps."""
    result = frame.copy()
    result["to"] = result["to"].astype(str).str.strip()
    times = pd.to_datetime(result["reported_at"], utc=True, errors="coerce", format="ISO8601")
    bad = times.isna()
    if bad.any():
        sample = result.loc[bad, "reported_at"].iloc[0]
        raise InputError(f"{int(bad.sum())} report time(s) are not ISO 8601, e.g. {sample!r}")
    result["reported_at"] = times
    if "note" not in result.columns:
        result["note"] = ""
    return result.reset_index(drop=True)


def investigate(
    messages: pa.Table,
    complaints: pd.DataFrame,
    *,
    requests: pa.Table | None = None,
    formats: dict[str, str | None] | None = None,
    window: float | None = None,
    before: timedelta = DEFAULT_BEFORE,
    after: timedelta = DEFAULT_AFTER,
    skew: float | None = None,
) -> Investigation:
    """Decide each reported duplicate from the records to its recipient near its time.

    ``messages`` needs sid, to, body, direction, date_created (and the detection
    columns); ``complaints`` has ``to`` and ``reported_at`` (see read_complaints).
    Records from ``reported_at - before`` to ``reported_at + after`` are considered;
    two records with one body in that period are a duplicate unless ``window``
    (seconds) is given: a recipient who saw a message twice an hour apart was
    right to complain.

    Example::

        found = investigate(messages, complaints_frame(pd.DataFrame(
            {"to": ["+447700900123"], "reported_at": ["2026-11-29T14:00:00Z"]})))
        found.reports[["to", "verdict", "sids"]]
    """
    reports = complaints.reset_index(drop=True).copy()
    reports["report"] = np.arange(len(reports))
    outbound = pc.fill_null(
        pc.starts_with(messages["direction"].cast(pa.string()), "outbound"), False
    )
    wanted = pc.is_in(messages["to"].cast(pa.string()), value_set=pa.array(reports["to"].unique()))
    nearby = messages.filter(pc.and_(outbound, wanted))

    records = pd.DataFrame(
        {
            "sid": nearby["sid"].to_numpy(zero_copy_only=False),
            "to": nearby["to"].cast(pa.string()).to_numpy(zero_copy_only=False),
            "created": pd.to_datetime(
                pc.cast(nearby["date_created"], pa.int64()).to_numpy(zero_copy_only=False),
                unit="us",
                utc=True,
            ),
        }
    )
    pairs = reports[["report", "to", "reported_at"]].merge(records, on="to")
    pairs = pairs[
        (pairs["created"] >= pairs["reported_at"] - before)
        & (pairs["created"] <= pairs["reported_at"] + after)
    ]

    # Duplicate clusters among those records, judged like any other cluster.
    in_scope = nearby.filter(pc.is_in(nearby["sid"], value_set=pa.array(pairs["sid"].unique())))
    span = window if window is not None else (before + after).total_seconds()
    clusters = find_duplicates(in_scope, window=span).clusters
    if clusters.num_rows:
        clusters = cross_reference(
            clusters, requests, messages, formats=formats, skew=skew
        ).clusters
    flat = pd.DataFrame(
        {
            "sid": pc.list_flatten(clusters["sids"]).to_numpy(zero_copy_only=False),
            "cluster": pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False),
        }
    )
    pairs = pairs.merge(flat, on="sid", how="left")

    # The latest cluster in each report's window explains it; else the records do.
    clustered = pairs.dropna(subset=["cluster"]).sort_values("created")
    chosen = clustered.groupby("report")["cluster"].last().astype(np.int64)
    latest = pairs.sort_values("created", ascending=False)
    candidates = latest.groupby("report").agg(
        sids=("sid", list), n_records=("sid", "size"), last_created=("created", "first")
    )

    reports = reports.join(candidates, on="report")
    reports["n_records"] = reports["n_records"].fillna(0).astype(np.int64)
    reports["cluster"] = reports["report"].map(chosen)
    has_cluster = reports["cluster"].notna()
    verdict = np.where(reports["n_records"] > 0, CARRIER_SIDE, NOT_FOUND).astype(object)
    reason = np.where(
        reports["n_records"] > 0,
        "Twilio holds a single record of each message sent to this recipient then: "
        "the carrier (or roaming) delivered it twice",
        "no message to this recipient in the searched period",
    ).astype(object)
    cluster_ids = np.full(len(reports), None, dtype=object)
    if has_cluster.any():
        picked = reports.loc[has_cluster, "cluster"].astype(np.int64).to_numpy()
        table = clusters.take(pa.array(picked))
        verdict[has_cluster.to_numpy()] = table["verdict"].to_numpy(zero_copy_only=False)
        reason[has_cluster.to_numpy()] = table["verdict_reason"].to_numpy(zero_copy_only=False)
        cluster_ids[has_cluster.to_numpy()] = table["cluster_id"].to_numpy(zero_copy_only=False)
        cluster_sids = table["sids"].to_pylist()
        reports.loc[has_cluster, "sids"] = pd.Series(cluster_sids, index=reports.index[has_cluster])
    reports["verdict"] = verdict
    reports["reason"] = reason
    reports["cluster_id"] = cluster_ids
    reports["sids"] = reports["sids"].map(lambda v: v if isinstance(v, list) else [])
    reports["country"] = country_codes(reports["to"].astype(str)).fill_null("").to_pylist()
    reports = reports.drop(columns=["report", "cluster"])

    escalate, escalation = _escalation(reports)
    counts = reports["verdict"].value_counts()
    return Investigation(
        reports=reports,
        escalate=escalate,
        escalation=escalation,
        by_verdict={str(k): int(v) for k, v in counts.items()},
    )


def _escalation(reports: pd.DataFrame) -> tuple[bool, str]:
    carrier = reports[reports["verdict"] == CARRIER_SIDE]
    if len(carrier) < 2:
        return False, ""
    days = carrier["reported_at"].dt.strftime("%Y-%m-%d").nunique()
    networks = carrier["carrier"].nunique() if "carrier" in carrier.columns else 0
    countries = carrier["country"].nunique()
    spread: list[str] = []
    if days > 1:
        spread.append(f"{days} days")
    if networks > 1:
        spread.append(f"{networks} carriers")
    elif countries > 1:
        spread.append(f"{countries} destination countries")
    if not spread:
        return False, ""
    sids = sorted({s for group in carrier["sids"] for s in group})
    return True, (
        f"{len(carrier)} carrier-side reports span {' and '.join(spread)}: this belongs with "
        f"Twilio support. SIDs: {', '.join(sids)}"
    )


def report_rows(investigation: Investigation) -> list[dict[str, Any]]:
    """The reports as JSON-ready dicts."""
    frame = investigation.reports.copy()
    frame["reported_at"] = frame["reported_at"].map(lambda t: t.isoformat())
    frame["last_created"] = frame["last_created"].map(
        lambda t: t.isoformat() if isinstance(t, pd.Timestamp) else None
    )
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]
