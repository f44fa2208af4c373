"""The evidence columns the cross-reference adds to the clusters table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates import reconcile as rc
from analyzer.duplicates.crossref.hints import hints
from analyzer.duplicates.crossref.judge import ClusterEvidence
from analyzer.duplicates.crossref.matching import Model
from analyzer.schema import TIMESTAMP
from analyzer.vocabulary import CLUSTER_VERDICTS, LOG_KIND_OF, LogFormat, LogKind


def _own_records(model: Model, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per cluster: its records in the model, and how many of them have a logged SID."""
    own = model.rec_cluster >= 0
    mine = np.bincount(model.rec_cluster[own], minlength=n)
    mine_fixed = np.bincount(
        model.rec_cluster[own], weights=model.rec_fixed[own] >= 0, minlength=n
    ).astype(np.int64)
    return mine, mine_fixed


def reconciled_evidence(
    result: rc.Reconciled,
    model: Model,
    covered: np.ndarray,
    replies: np.ndarray,
    records: np.ndarray,
) -> ClusterEvidence:
    """The evidence of each cluster once its records and the logged POSTs are reconciled."""
    mine, mine_fixed = _own_records(model, len(records))
    return ClusterEvidence(
        records=records,
        replies=replies,
        logs_given=True,
        covered=covered,
        all_sids_logged=(mine > 0) & (mine_fixed == mine),
        outcome=result.outcome,
        undecided_reason=result.reason,
        possible_posts=result.possible,
    )


def logged_columns(
    judged: tuple[np.ndarray, np.ndarray],
    mode: str,
    result: rc.Reconciled,
    model: Model,
    matched: tuple[pa.Table, np.ndarray, np.ndarray],
    covered: np.ndarray,
    skew_seconds: float,
    formats: Mapping[str, str | None] | None,
) -> dict[str, Any]:
    """The evidence columns when logs were given; ``matched`` holds the sends, and the
    (cluster, send row) pairs of the POSTs near each cluster."""
    verdict, reason = judged
    sends, cluster_of, send_row = matched
    n = len(verdict)
    mine, _ = _own_records(model, n)
    return {
        "verdict": verdict,
        "verdict_reason": reason,
        "match_mode": np.full(n, mode, dtype=object),
        "posts": result.posts,
        "possible_posts": result.possible,
        "records_in_window": np.maximum(result.records, mine),
        **_matched_lists(n, sends, cluster_of, send_row),
        "covered": covered,
        "skew_seconds": np.full(n, skew_seconds),
        "log_kind": _log_kinds(n, sends, cluster_of, send_row, formats),
    }


def unlogged_columns(judged: tuple[np.ndarray, np.ndarray]) -> dict[str, Any]:
    """The evidence columns when no logs were given."""
    verdict, reason = judged
    n = len(verdict)
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return {
        "verdict": verdict,
        "verdict_reason": reason,
        "match_mode": np.full(n, "none", dtype=object),
        "posts": np.zeros(n, dtype=np.int64),
        "possible_posts": np.zeros(n, dtype=np.int64),
        "records_in_window": np.zeros(n, dtype=np.int64),
        "covered": np.zeros(n, dtype=bool),
        "matched_lines": pa.ListArray.from_arrays(offsets, pa.array([], pa.string())),
        "matched_times": pa.ListArray.from_arrays(offsets, pa.array([], TIMESTAMP)),
        "matched_statuses": pa.ListArray.from_arrays(offsets, pa.array([], pa.int32())),
        "skew_seconds": np.zeros(n),
        "log_kind": np.full(n, "", dtype=object),
    }


def _matched_lists(
    n: int, sends: pa.Table, cluster_of: np.ndarray, send_row: np.ndarray
) -> dict[str, pa.Array]:
    """The log lines, times and statuses of the POSTs near each cluster, as lists."""
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(np.bincount(cluster_of, minlength=n), out=offsets[1:])
    rows = pa.array(send_row, type=pa.int64())
    picked = sends.take(rows)
    files = picked["source_file"].cast(pa.string())
    lines = pc.binary_join_element_wise(files, picked["line"].cast(pa.string()), ":")
    times = picked["time"]
    return {
        "matched_lines": pa.ListArray.from_arrays(
            pa.array(offsets),
            lines.combine_chunks() if isinstance(lines, pa.ChunkedArray) else lines,
        ),
        "matched_times": pa.ListArray.from_arrays(pa.array(offsets), times.combine_chunks()),
        "matched_statuses": pa.ListArray.from_arrays(
            pa.array(offsets), picked["status"].combine_chunks()
        ),
    }


def _log_kinds(
    n: int,
    sends: pa.Table,
    cluster_of: np.ndarray,
    send_row: np.ndarray,
    formats: Mapping[str, str | None] | None,
) -> np.ndarray:
    """The kind of log (application, sdk, wire) whose lines matched each cluster."""
    kinds = np.full(n, "", dtype=object)
    if not len(send_row):
        return kinds
    picked = sends["source_file"].take(pa.array(send_row, pa.int64()))
    files = picked.cast(pa.string()).to_numpy(zero_copy_only=False)
    known = {
        name: LOG_KIND_OF[LogFormat(fmt)] if fmt in LOG_KIND_OF else LogKind.UNKNOWN
        for name, fmt in (formats or {}).items()
    }
    first = np.ones(len(cluster_of), dtype=bool)
    first[1:] = cluster_of[1:] != cluster_of[:-1]
    kinds[cluster_of[first]] = [known.get(f, LogKind.UNKNOWN) for f in files[first]]
    return kinds


def attach(clusters: pa.Table, evidence: dict[str, Any]) -> pa.Table:
    """Add the evidence columns and the root-cause hints to the clusters table."""
    hint = hints(clusters, evidence["matched_statuses"], evidence["verdict"])
    table = clusters
    for name, values in {**evidence, "hint": hint}.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, array)
    return table


def count_verdicts(table: pa.Table) -> dict[str, int]:
    """Clusters per verdict, in the order of CLUSTER_VERDICTS."""
    counts = pd.Series(table["verdict"].to_numpy(zero_copy_only=False)).value_counts()
    return {v: int(counts[v]) for v in CLUSTER_VERDICTS if v in counts}
