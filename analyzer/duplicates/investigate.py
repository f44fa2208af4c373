"""Investigate reported duplicates: 'this recipient got the same SMS twice around then'.

For each report, the Twilio records to that recipient created before it decide:
several records with one body (a duplicate cluster): ``app_side`` or
``twilio_side`` from the request logs, as for any cluster (or ``unverified`` /
``inconclusive``); a single record of each message: ``carrier_side``, the
recipient's carrier or roaming delivered it twice; no record: ``not_found``.

Only records created before the report can be what the recipient saw twice; a
small allowance after it (``after``, 5 minutes by default) absorbs a report time
that is approximate or taken on another clock than Twilio's.
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

from analyzer.duplicates.crossref import DEFAULT_TOLERANCE, cross_reference
from analyzer.duplicates.detect import find_duplicates
from analyzer.errors import InputError
from analyzer.phones import normalize_e164
from analyzer.redact import country_codes
from analyzer.results import duration_text, format_time
from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP
from analyzer.vocabulary import Verdict

DEFAULT_BEFORE = timedelta(hours=6)
#: Records created this long after a report still count as seen before it: report
#: times are approximate ("around 14:00") or taken on another clock than Twilio's.
DEFAULT_AFTER = timedelta(minutes=5)
#: SIDs quoted in the escalation message; the rest are in the reports' ``sids``.
ESCALATION_SIDS = 10


@dataclass
class Investigation:
    """One row per report, and whether the carrier-side ones should go to Twilio support.

    ``reports`` has the complaint's columns (``to`` as E.164 where it can be one,
    ``reported_at``, ``note``, any others) and ``sids`` (the records that explain the
    report, oldest first), ``n_records`` (their number), ``first_created``,
    ``last_created``, ``verdict``, ``reason``, ``cluster_id`` (None unless a duplicate
    cluster explains it) and ``country``.
    """

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
    """Normalise reports: ``to`` as E.164, ``reported_at`` as UTC timestamps.

    ``+1 232-812-8904``, ``12328128904`` and ``0012328128904`` become ``+12328128904``
    (see :func:`analyzer.phones.normalize_e164`); a recipient that cannot be a phone
    number (``whatsapp:+1…``, a short code) is kept as written, without surrounding
    spaces.
    """
    result = frame.copy()
    written = pa.array(
        result["to"].astype(str).str.strip().to_numpy(dtype=object), type=pa.string()
    )
    result["to"] = pc.coalesce(normalize_e164(written), written).to_numpy(zero_copy_only=False)
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
    tolerance: float = DEFAULT_TOLERANCE,
) -> Investigation:
    """Decide each reported duplicate from the records to its recipient before its time.

    ``messages`` needs sid, to, body, direction, date_created (and the detection
    columns); ``complaints`` has ``to`` and ``reported_at`` (see complaints_frame).

    A report is explained by the outbound records to its recipient created from
    ``reported_at - before`` to ``reported_at + after``. ``after`` is an allowance,
    not a search: a record created later cannot be what the recipient saw twice, but
    a report time may be approximate or taken on another clock than Twilio's. A
    duplicate cluster explains a report when at least two of its records fall in that
    period (the latest such cluster, with just those records); two records with one
    body in the period are a duplicate unless ``window`` (seconds) is given: a
    recipient who saw a message twice an hour apart was right to complain. Otherwise
    every record in the period is listed (``carrier_side``), or none (``not_found``).

    Example::

        found = investigate(messages, complaints_frame(pd.DataFrame(
            {"to": ["+447700900123"], "reported_at": ["2026-11-29T14:00:00Z"]})))
        found.reports[["to", "verdict", "sids"]]
    """
    reports = complaints.reset_index(drop=True).copy()
    report_to = pa.array(reports["to"], from_pandas=True).cast(pa.string())
    nearby, pairs = _records_in_periods(messages, reports, report_to, before, after)

    # Duplicate clusters among those records, judged like any other cluster.
    span = window if window is not None else (before + after).total_seconds()
    clusters, cluster_of = _clusters_among(nearby, np.unique(pairs.record), span)
    if clusters.num_rows:
        clusters = cross_reference(
            clusters, requests, messages, formats=formats, skew=skew, tolerance=tolerance
        ).clusters
    chosen = _explaining_clusters(pairs, cluster_of, len(reports))
    sid = nearby["sid"].cast(pa.string()).to_numpy(zero_copy_only=False)
    explained = _explained(pairs, cluster_of, chosen, sid)

    _add_records(reports, explained, sid)
    _add_verdicts(reports, clusters, chosen, before, after)
    reports["country"] = country_codes(report_to).fill_null("").to_pylist()
    escalate, escalation = _escalation(reports)
    by_verdict = reports["verdict"].value_counts()
    return Investigation(
        reports=reports,
        escalate=escalate,
        escalation=escalation,
        by_verdict={str(k): int(v) for k, v in by_verdict.items()},
    )


@dataclass
class _Pairs:
    """(report, record) pairs with one recipient, and the record's creation time (µs)."""

    report: np.ndarray
    record: np.ndarray
    created: np.ndarray


def _records_in_periods(
    messages: pa.Table,
    reports: pd.DataFrame,
    report_to: pa.Array,
    before: timedelta,
    after: timedelta,
) -> tuple[pa.Table, _Pairs]:
    """The outbound records to the reports' recipients, and every (report, record) pair
    with one recipient in the report's period."""
    recipients = pc.unique(report_to.drop_null())
    reported = pd.DatetimeIndex(reports["reported_at"]).as_unit("us").asi8
    to = messages["to"].cast(pa.string())
    keep = pc.and_(
        pc.fill_null(pc.starts_with(messages["direction"].cast(pa.string()), "outbound"), False),
        pc.and_(pc.is_in(to, value_set=recipients), pc.is_valid(messages["date_created"])),
    )
    nearby = messages.filter(keep)
    created = _int64(nearby["date_created"])
    pairs = pd.DataFrame(
        {"report": np.arange(len(reports)), "recipient": _positions(report_to, recipients)}
    ).merge(
        pd.DataFrame(
            {
                "record": np.arange(nearby.num_rows),
                "recipient": _positions(nearby["to"].cast(pa.string()), recipients),
            }
        ),
        on="recipient",
    )
    report_of = pairs["report"].to_numpy(dtype=np.int64)
    record_of = pairs["record"].to_numpy(dtype=np.int64)
    lag = created[record_of] - reported[report_of]
    inside = (lag >= -_microseconds(before)) & (lag <= _microseconds(after))
    record_of = record_of[inside]
    return nearby, _Pairs(report_of[inside], record_of, created[record_of])


def _clusters_among(
    nearby: pa.Table, scope: np.ndarray, window: float
) -> tuple[pa.Table, np.ndarray]:
    """The duplicate clusters among the records ``scope`` of ``nearby``, and the cluster
    of each record of ``nearby`` (-1: none)."""
    clusters = find_duplicates(nearby.take(pa.array(scope, type=pa.int64())), window=window)
    table = clusters.clusters
    cluster_of = np.full(nearby.num_rows, -1, dtype=np.int64)
    if table.num_rows:
        members = _positions(pc.list_flatten(table["sids"]), nearby["sid"].take(scope))
        cluster_of[scope[members]] = pc.list_parent_indices(table["sids"]).to_numpy()
    return table, cluster_of


def _explaining_clusters(pairs: _Pairs, cluster_of: np.ndarray, n: int) -> np.ndarray:
    """Per report, the latest cluster with two or more records in its period (-1: none).

    That cluster explains the report, with just those records; else every record in
    the period does.
    """
    in_cluster = pd.DataFrame(
        {"report": pairs.report, "cluster": cluster_of[pairs.record], "created": pairs.created}
    )
    in_cluster = in_cluster[in_cluster["cluster"] >= 0]
    seen = in_cluster.groupby(["report", "cluster"])["created"].agg(["size", "max"]).reset_index()
    seen = seen[seen["size"] >= 2].sort_values(["report", "max", "cluster"])
    latest = seen.groupby("report")["cluster"].last()
    chosen: np.ndarray = np.full(n, -1, dtype=np.int64)
    chosen[latest.index.to_numpy(dtype=np.int64)] = latest.to_numpy(dtype=np.int64)
    return chosen


def _explained(
    pairs: _Pairs, cluster_of: np.ndarray, chosen: np.ndarray, sid: np.ndarray
) -> _Pairs:
    """The pairs whose record explains the report (a record of its chosen cluster, or
    any record when none was chosen), by report, then time, then SID."""
    explains = (chosen[pairs.report] < 0) | (cluster_of[pairs.record] == chosen[pairs.report])
    report_of, record_of = pairs.report[explains], pairs.record[explains]
    created = pairs.created[explains]
    order = np.lexsort((sid[record_of], created, report_of))
    return _Pairs(report_of[order], record_of[order], created[order])


def _add_records(reports: pd.DataFrame, explained: _Pairs, sid: np.ndarray) -> None:
    """Add each report's records (sids, n_records, first_created, last_created)."""
    n = len(reports)
    counts = np.bincount(explained.report, minlength=n)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    sids = pa.ListArray.from_arrays(
        pa.array(offsets), pa.array(sid[explained.record], type=pa.string())
    )
    first = np.full(n, np.nan)
    last = np.full(n, np.nan)
    if len(explained.record):
        found = counts > 0
        first[found] = explained.created[offsets[:-1][found]]
        last[found] = explained.created[offsets[1:][found] - 1]
    reports["sids"] = pd.Series(sids.to_pylist(), index=reports.index, dtype=object)
    reports["n_records"] = counts.astype(np.int64)
    reports["first_created"] = _timestamps(first)
    reports["last_created"] = _timestamps(last)


def _add_verdicts(
    reports: pd.DataFrame,
    clusters: pa.Table,
    chosen: np.ndarray,
    before: timedelta,
    after: timedelta,
) -> None:
    """Add each report's verdict, reason and cluster_id (after its records)."""
    n = len(reports)
    found = reports["n_records"].to_numpy() > 0
    has_cluster = chosen >= 0
    verdict = np.where(found, Verdict.CARRIER_SIDE, Verdict.NOT_FOUND).astype(object)
    reason = np.where(
        found,
        "Twilio holds a single record of each message sent to this recipient before the "
        "report: the carrier (or roaming) delivered it twice",
        f"no message to this recipient from {duration_text(before.total_seconds())} before "
        f"the report to {duration_text(after.total_seconds())} after it",
    ).astype(object)
    cluster_ids: np.ndarray = np.full(n, None, dtype=object)
    if has_cluster.any():
        table = clusters.take(pa.array(chosen[has_cluster]))
        verdict[has_cluster] = table["verdict"].to_numpy(zero_copy_only=False)
        reason[has_cluster] = table["verdict_reason"].to_numpy(zero_copy_only=False)
        cluster_ids[has_cluster] = table["cluster_id"].to_numpy(zero_copy_only=False)
    reports["verdict"] = pd.Series(verdict, index=reports.index, dtype=object)
    reports["reason"] = pd.Series(reason, index=reports.index, dtype=object)
    reports["cluster_id"] = pd.Series(cluster_ids, index=reports.index, dtype=object)


def _positions(values: pa.Array | pa.ChunkedArray, value_set: pa.Array) -> np.ndarray:
    """Where each value is in ``value_set`` (-1: not there)."""
    found = pc.index_in(values, value_set=value_set).fill_null(-1)
    return np.asarray(found.to_numpy(zero_copy_only=False), dtype=np.int64)


def _microseconds(span: timedelta) -> int:
    return round(span.total_seconds() * MICROS_PER_SECOND)


def _int64(times: pa.ChunkedArray) -> np.ndarray:
    """Timestamps as microseconds since the epoch."""
    us = pc.cast(pc.cast(times, TIMESTAMP), pa.int64())
    return np.asarray(us.to_numpy(zero_copy_only=False), dtype=np.int64)


def _timestamps(us: np.ndarray) -> pd.Series:
    """Microseconds (NaN: none) as UTC timestamps (NaT: none)."""
    return pd.Series(pd.to_datetime(us, unit="us", utc=True)).dt.as_unit("us")


def _escalation(reports: pd.DataFrame) -> tuple[bool, str]:
    carrier = reports[reports["verdict"] == Verdict.CARRIER_SIDE]
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
    listed = ", ".join(sids[:ESCALATION_SIDS])
    if len(sids) > ESCALATION_SIDS:
        listed += (
            f" … and {len(sids) - ESCALATION_SIDS} more (every SID is in the reports' sids: "
            "carrier.parquet and investigation.json)"
        )
    return True, (
        f"{len(carrier)} carrier-side reports span {' and '.join(spread)}: this belongs with "
        f"Twilio support. SIDs: {listed}"
    )


def report_rows(investigation: Investigation) -> list[dict[str, Any]]:
    """The reports as JSON-ready dicts: times in ISO 8601, null (never NaN) where empty."""
    frame = investigation.reports.copy()
    for column in ("reported_at", "first_created", "last_created"):
        if column in frame.columns:
            frame[column] = frame[column].map(
                lambda t: format_time(t) if isinstance(t, pd.Timestamp) and not pd.isna(t) else None
            )
    frame = frame.astype(object)
    frame = frame.where(frame.map(_present), None)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _present(value: Any) -> bool:
    return isinstance(value, list | np.ndarray) or not pd.isna(value)
