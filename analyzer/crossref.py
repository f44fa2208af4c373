"""Cross-reference duplicate clusters with the application's HTTP request logs.

For each duplicate cluster, count the POSTs the application made for its records
and compare with the records Twilio holds, using the best evidence the log carries:

- ``sid``: requests that logged the returned Message SID match records exactly;
  attempts without a SID (timeouts, 5xx) are matched by recipient and time;
- ``recipient_time``: requests to the cluster's recipient within a tolerance,
  reconciled against every record to that recipient in the same window;
- ``time_only``: every POST in the window against every record created in it.

Verdicts are stable labels: ``app_side``, ``twilio_side``, ``unverified`` and
``inconclusive``. Time is compared in Twilio's clock: log times minus the skew.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import InputError

APP_SIDE = "app_side"
TWILIO_SIDE = "twilio_side"
UNVERIFIED = "unverified"
INCONCLUSIVE = "inconclusive"
VERDICTS: tuple[str, ...] = (APP_SIDE, TWILIO_SIDE, UNVERIFIED, INCONCLUSIVE)

#: What a log format sees: the application's own calls, or the wire.
LOG_KINDS: dict[str, str] = {
    "jsonl": "application",
    "twilio-sdk": "sdk",
    "combined": "wire",
    "envoy": "wire",
}
COMMON_TIMEOUTS: tuple[int, ...] = (5, 10, 15, 20, 30, 60)
DEFAULT_TOLERANCE = 3.0
DEFAULT_COVERAGE_GAP = 900.0
_US = 1_000_000
_MAX_SKEW = 300


@dataclass
class SkewEstimate:
    """Clock skew: log time minus Twilio time, in seconds."""

    seconds: float
    method: str
    pairs: int = 0
    estimated: float | None = None


@dataclass
class CrossReference:
    """Clusters with verdicts and evidence, and what the logs covered."""

    clusters: pa.Table
    skew: SkewEstimate
    mode: str
    coverage: pd.DataFrame
    by_verdict: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def cross_reference(
    clusters: pa.Table,
    requests: pa.Table | None,
    messages: pa.Table,
    *,
    formats: Mapping[str, str | None] | None = None,
    skew: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    coverage_gap: float = DEFAULT_COVERAGE_GAP,
) -> CrossReference:
    """Give every duplicate cluster a verdict backed by the request log.

    ``requests`` is the canonical request table (None: no logs given); ``messages``
    holds at least sid, to, direction and date_created of every record around the
    clusters. ``formats`` maps each log file to its format, for the log kind.
    ``skew`` overrides the estimate (log clock minus Twilio clock, seconds).
    """
    for name in ("sid", "to", "direction", "date_created"):
        if name not in messages.column_names:
            raise InputError(f"cross-reference needs the messages' {name} column")
    if tolerance < 0 or coverage_gap <= 0:
        raise InputError("tolerance must be >= 0 and the coverage gap > 0")
    n = clusters.num_rows
    if requests is None or requests.num_rows == 0:
        columns = _empty_evidence(n, "no server logs given")
        return CrossReference(
            clusters=_attach(clusters, columns),
            skew=SkewEstimate(seconds=float(skew or 0.0), method="none"),
            mode="none",
            coverage=pd.DataFrame({"start": [], "end": []}),
            by_verdict={UNVERIFIED: n} if n else {},
        )

    api = _api_records(messages)
    # Filtering copies: take only the columns the evidence uses, then the sends.
    needed = ["time", "to", "message_sid", "status", "source_file", "line"]
    usable = pc.and_(pc.fill_null(requests["is_send"], False), pc.is_valid(requests["time"]))
    sends = requests.select(needed).filter(usable)
    has_sid = bool(sends.num_rows) and pc.any(pc.is_valid(sends["message_sid"])).as_py()
    has_to = bool(sends.num_rows) and pc.any(pc.is_valid(sends["to"])).as_py()
    mode = "sid" if has_sid else "recipient_time" if has_to else "time_only"

    estimate = estimate_skew(sends, api, mode)
    used = float(skew) if skew is not None else estimate.seconds
    skew_info = SkewEstimate(
        seconds=used,
        method="given" if skew is not None else estimate.method,
        pairs=estimate.pairs,
        estimated=estimate.seconds,
    )
    warnings = []
    if skew is not None and estimate.method != "none" and abs(skew - estimate.seconds) > tolerance:
        warnings.append(
            f"the given skew ({skew:+.1f} s) differs from the one the data shows "
            f"({estimate.seconds:+.1f} s, {estimate.method}) by more than the tolerance: "
            "POSTs may fall outside their clusters' windows"
        )
    coverage = _coverage(requests, used, coverage_gap)
    if mode != "time_only":
        # Only the requests and records of the clusters' recipients (or SIDs) matter.
        recipients = pc.unique(clusters["to"].cast(pa.string()))
        sids = pc.list_flatten(clusters["sids"])
        near = pc.or_(
            pc.fill_null(pc.is_in(sends["to"], value_set=recipients), False),
            pc.fill_null(pc.is_in(sends["message_sid"], value_set=sids), False),
        )
        sends = sends.filter(near)
        api = api.filter(pc.fill_null(pc.is_in(api["to"], value_set=recipients), False))
    records = _records_frame(api, strings=mode != "time_only")
    evidence = _judge(clusters, sends, records, mode, used, tolerance, coverage)
    cluster_of, send_row = evidence.pop("matched_rows")
    evidence.update(_matched_lists(n, sends, cluster_of, send_row))
    evidence["skew_seconds"] = np.full(n, used)
    evidence["log_kind"] = _log_kinds(n, sends, cluster_of, send_row, formats)
    table = _attach(clusters, evidence)
    counts = pd.Series(table["verdict"].to_numpy(zero_copy_only=False)).value_counts()
    by_verdict = {v: int(counts[v]) for v in VERDICTS if v in counts}
    return CrossReference(
        clusters=table,
        skew=skew_info,
        mode=mode,
        coverage=coverage,
        by_verdict=by_verdict,
        warnings=warnings,
    )


def _api_records(messages: pa.Table) -> pa.Table:
    """Records that stand for a POST by the application: outbound-api, with a creation time."""
    direction = pc.fill_null(
        pc.equal(messages["direction"].cast(pa.string()), "outbound-api"), False
    )
    subset = messages.filter(pc.and_(direction, pc.is_valid(messages["date_created"])))
    return pa.table(
        {
            "sid": subset["sid"].cast(pa.string()),
            "to": subset["to"].cast(pa.string()),
            "us": pc.cast(subset["date_created"], pa.int64()),
        }
    )


def _records_frame(api: pa.Table, *, strings: bool) -> pd.DataFrame:
    us = api["us"].to_numpy(zero_copy_only=False)
    if not strings:
        return pd.DataFrame({"us": us, "to": np.full(len(us), None), "sid": np.full(len(us), None)})
    return pd.DataFrame(
        {
            "sid": api["sid"].to_numpy(zero_copy_only=False),
            "to": api["to"].to_numpy(zero_copy_only=False),
            "us": us,
        }
    )


def _send_frame(sends: pa.Table, skew: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "us": pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
            - int(round(skew * _US)),
            "to": sends["to"].to_numpy(zero_copy_only=False),
            "sid": sends["message_sid"].to_numpy(zero_copy_only=False),
        }
    )


_SKEW_SAMPLE = 200_000


def estimate_skew(sends: pa.Table, records: pa.Table, mode: str) -> SkewEstimate:
    """Estimate log clock minus Twilio clock from the data.

    ``records`` are the outbound-api records (sid, to, us). Uses SID-matched pairs
    where the log has SIDs, the nearest record to the same recipient where it has
    recipients, and otherwise lines up per-second POST counts with per-second
    record counts. Pairs come from a sample of at most 200,000 requests.
    """
    if sends.num_rows == 0 or records.num_rows == 0:
        return SkewEstimate(seconds=0.0, method="none")
    send_us = pc.cast(sends["time"], pa.int64()).to_numpy(zero_copy_only=False)
    record_us = records["us"].to_numpy(zero_copy_only=False)
    # Twilio truncates date_created to the second: its mid-point is half a second on.
    if mode == "sid":
        with_sid = sends.filter(pc.is_valid(sends["message_sid"])).slice(0, _SKEW_SAMPLE)
        position = pc.index_in(records["sid"], value_set=with_sid["message_sid"])
        matched = pc.is_valid(position)
        if pc.any(matched).as_py():
            picked = position.filter(matched).to_numpy(zero_copy_only=False)
            sample_us = pc.cast(with_sid["time"], pa.int64()).to_numpy(zero_copy_only=False)
            twilio_us = records["us"].filter(matched).to_numpy(zero_copy_only=False)
            sid_diffs = (sample_us[picked] - twilio_us) / _US - 0.5
            sid_diffs = sid_diffs[np.abs(sid_diffs) <= _MAX_SKEW]
            if len(sid_diffs):
                return SkewEstimate(float(np.median(sid_diffs)), "sid_pairs", len(sid_diffs))
    if mode in ("sid", "recipient_time"):
        with_to = sends.filter(pc.is_valid(sends["to"])).slice(0, _SKEW_SAMPLE)
        recipients = pc.unique(with_to["to"])
        near = records.filter(pc.fill_null(pc.is_in(records["to"], value_set=recipients), False))
        diffs = _nearest_recipient_diffs(
            _send_frame(with_to, 0.0), _records_frame(near, strings=True)
        )
        if len(diffs):
            return SkewEstimate(float(np.median(diffs)) - 0.5, "recipient_pairs", len(diffs))
    return _skew_by_counts(send_us, record_us)


def _bool(mask: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False).to_numpy(zero_copy_only=False), dtype=bool)


def _nearest_recipient_diffs(frame: pd.DataFrame, records: pd.DataFrame) -> np.ndarray:
    if frame.empty:
        return np.zeros(0)
    left = frame[["to", "us"]].sort_values("us")
    right = records[["to", "us"]].rename(columns={"us": "us_tw"}).sort_values("us_tw")
    merged = pd.merge_asof(
        left,
        right,
        left_on="us",
        right_on="us_tw",
        by="to",
        direction="nearest",
        tolerance=_MAX_SKEW * _US,
    ).dropna(subset=["us_tw"])
    return np.asarray((merged["us"] - merged["us_tw"]) / _US, dtype=float)


def _skew_by_counts(log_us: np.ndarray, twilio_us: np.ndarray) -> SkewEstimate:
    """Line up per-second POST counts with per-second record counts."""
    start = min(int(log_us.min()), int(twilio_us.min())) // _US - _MAX_SKEW
    end = max(int(log_us.max()), int(twilio_us.max())) // _US + _MAX_SKEW
    size = end - start + 1
    posts = np.bincount(log_us // _US - start, minlength=size).astype(float)
    made = np.bincount(twilio_us // _US - start, minlength=size).astype(float)
    lags = np.arange(-_MAX_SKEW, _MAX_SKEW + 1)
    scores = np.array(
        [
            np.dot(posts[_MAX_SKEW + k : size - _MAX_SKEW + k], made[_MAX_SKEW : size - _MAX_SKEW])
            for k in lags
        ]
    )
    if not scores.any():
        return SkewEstimate(seconds=0.0, method="none")
    return SkewEstimate(float(lags[int(np.argmax(scores))]), "count_alignment", len(log_us))


def _coverage(requests: pa.Table, skew: float, gap: float) -> pd.DataFrame:
    """Periods (Twilio clock) in which the log has lines no more than ``gap`` seconds apart."""
    times = requests["time"]
    times = pc.cast(times.filter(pc.is_valid(times)), pa.int64())
    us = np.sort(times.to_numpy(zero_copy_only=False)) - int(round(skew * _US))
    if len(us) == 0:
        return pd.DataFrame(
            {"start": pd.Series([], dtype="int64"), "end": pd.Series([], dtype="int64")}
        )
    breaks = np.flatnonzero(np.diff(us) > gap * _US)
    starts = np.concatenate(([us[0]], us[breaks + 1]))
    ends = np.concatenate((us[breaks], [us[-1]]))
    return pd.DataFrame({"start": starts, "end": ends})


def _covered(lo: np.ndarray, hi: np.ndarray, coverage: pd.DataFrame) -> np.ndarray:
    if coverage.empty:
        return np.zeros(len(lo), dtype=bool)
    starts = coverage["start"].to_numpy()
    ends = coverage["end"].to_numpy()
    idx = np.searchsorted(starts, lo, side="right") - 1
    ok = idx >= 0
    result = np.zeros(len(lo), dtype=bool)
    result[ok] = ends[idx[ok]] >= hi[ok]
    return result


class _Index:
    """Rows sorted by (scope code, time) for counting and listing the rows inside windows."""

    def __init__(self, scope: np.ndarray, ms: np.ndarray) -> None:
        keys = _composite(scope, ms)
        self.order = np.argsort(keys, kind="stable")
        self.keys = keys[self.order]

    def bounds(
        self, scope: np.ndarray, lo_ms: np.ndarray, hi_ms: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Positions [first, last) of the rows of each scope with lo <= time <= hi."""
        first = np.searchsorted(self.keys, _composite(scope, lo_ms), side="left")
        last = np.searchsorted(self.keys, _composite(scope, hi_ms), side="right")
        return first, np.maximum(last, first)

    def count(self, scope: np.ndarray, lo_ms: np.ndarray, hi_ms: np.ndarray) -> np.ndarray:
        """Rows of each scope with lo <= time <= hi."""
        first, last = self.bounds(scope, lo_ms, hi_ms)
        return last - first


_TIME_BITS = 38  # milliseconds: about 8 years of range per scope


def _composite(scope: np.ndarray, ms: np.ndarray) -> np.ndarray:
    return (scope.astype(np.int64) << _TIME_BITS) + ms.astype(np.int64)


def _pairs(first: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expand per-cluster position ranges into (cluster, position) pairs."""
    counts = last - first
    clusters = np.repeat(np.arange(len(first)), counts)
    starts = np.repeat(first - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    return clusters, starts + np.arange(int(counts.sum()))


def _judge(
    clusters: pa.Table,
    sends: pa.Table,
    records: pd.DataFrame,
    mode: str,
    skew: float,
    tolerance: float,
    coverage: pd.DataFrame,
) -> dict[str, Any]:
    n = clusters.num_rows
    sizes = clusters["n_records"].to_numpy(zero_copy_only=False).astype(np.int64)
    first_us = pc.cast(clusters["first_created"], pa.int64()).to_numpy(zero_copy_only=False)
    last_us = pc.cast(clusters["last_created"], pa.int64()).to_numpy(zero_copy_only=False)
    frame = _send_frame(sends, skew)
    tol_us = int(tolerance * _US)
    # Twilio's date_created is truncated to the second: the record was made within it.
    lo_us, hi_us = first_us - tol_us, last_us + _US + tol_us
    margin = tol_us + _US
    wide_lo_us, wide_hi_us = lo_us - margin, hi_us + margin
    # The log is alive around the cluster: from within the tolerance after its
    # first record to within the tolerance before its last one.
    covered = _covered(first_us + tol_us, last_us - tol_us, coverage)

    base = min(
        [
            int(x.min())
            for x in (records["us"].to_numpy(), frame["us"].to_numpy(), wide_lo_us)
            if len(x)
        ]
        or [0]
    )

    def ms(us: np.ndarray) -> np.ndarray:
        return (np.asarray(us, dtype=np.int64) - base) // 1000

    by_recipient = mode != "time_only"
    total = len(records) + len(frame) + n
    if by_recipient:
        to_values = pd.concat(
            [records["to"], frame["to"], pd.Series(clusters["to"].to_numpy(zero_copy_only=False))],
            ignore_index=True,
        )
        codes = pd.factorize(to_values, use_na_sentinel=True)[0].astype(np.int64)
    else:
        codes = np.zeros(total, dtype=np.int64)
    codes = codes + 1  # -1 (missing recipient) becomes its own scope, 0
    rec_scope = codes[: len(records)]
    send_scope = codes[len(records) : len(records) + len(frame)]
    cl_scope = codes[len(records) + len(frame) :]

    verdict = np.full(n, INCONCLUSIVE, dtype=object)
    reason = np.full(n, "", dtype=object)
    posts = np.zeros(n, dtype=np.int64)
    in_window = sizes.copy()
    pair_cluster: list[np.ndarray] = []
    pair_send: list[np.ndarray] = []

    if mode == "sid":
        flat = pd.DataFrame(
            {
                "sid": pc.list_flatten(clusters["sids"]).to_numpy(zero_copy_only=False),
                "cluster": pc.list_parent_indices(clusters["sids"]).to_numpy(zero_copy_only=False),
            }
        )
        with_sid = frame["sid"].notna().to_numpy()
        sid_sends = pd.DataFrame({"sid": frame["sid"][with_sid], "row": np.flatnonzero(with_sid)})
        matched = sid_sends.merge(flat, on="sid")
        sid_posts = np.bincount(matched["cluster"], minlength=n)
        sid_records = np.bincount(
            matched.drop_duplicates(["cluster", "sid"])["cluster"], minlength=n
        )
        pair_cluster.append(matched["cluster"].to_numpy())
        pair_send.append(matched["row"].to_numpy())

        loose = np.flatnonzero(~with_sid)
        loose_index = _Index(send_scope[loose], ms(frame["us"].to_numpy()[loose]))
        avail = loose_index.count(cl_scope, ms(lo_us), ms(hi_us))
        avail_wide = loose_index.count(cl_scope, ms(wide_lo_us), ms(wide_hi_us))
        f, l_ = loose_index.bounds(cl_scope, ms(lo_us), ms(hi_us))
        c, pos = _pairs(f, l_)
        pair_cluster.append(c)
        pair_send.append(loose[loose_index.order[pos]])

        logged = pa.array(sid_sends["sid"].to_numpy(dtype=object), type=pa.string())
        record_sids = pa.array(records["sid"].to_numpy(dtype=object), type=pa.string())
        has_post = _bool(pc.is_in(record_sids, value_set=logged))
        orphan = np.flatnonzero(~has_post)
        orphan_index = _Index(rec_scope[orphan], ms(records["us"].to_numpy()[orphan]))
        own_orphans = sizes - sid_records
        other = orphan_index.count(cl_scope, ms(lo_us), ms(hi_us)) - own_orphans
        other_wide = orphan_index.count(cl_scope, ms(wide_lo_us), ms(wide_hi_us)) - own_orphans
        need = sizes - sid_records
        posts = sid_posts + avail
        in_window = sizes + np.maximum(other, 0)
        clean = (avail == avail_wide) & (other == other_wide)

        verdict[:] = INCONCLUSIVE
        reason[:] = "requests near the cluster could belong to other messages"
        alone = clean & (other <= 0)
        verdict[alone & (sid_records + avail >= sizes)] = APP_SIDE
        reason[alone & (sid_records + avail >= sizes)] = "a POST for every record"
        short = alone & (sid_records + avail < sizes) & (sid_records + avail >= 1)
        verdict[short] = TWILIO_SIDE
        reason[short] = "fewer POSTs than records"
        none = alone & (sid_records + avail == 0)
        reason[none] = "no POST found for these records in a period the log covers"
        shared = clean & (other > 0) & (avail >= need + other)
        verdict[shared] = APP_SIDE
        reason[shared] = "a POST for every record"
        exact = sid_records >= sizes
        verdict[exact] = APP_SIDE
        reason[exact] = "every record's SID was logged with its POST"
        undecided = ~exact & ~covered
    else:
        send_index = _Index(send_scope, ms(frame["us"].to_numpy()))
        rec_index = _Index(rec_scope, ms(records["us"].to_numpy()))
        window = (cl_scope, ms(lo_us), ms(hi_us))
        wide = (cl_scope, ms(wide_lo_us), ms(wide_hi_us))
        posts = send_index.count(*window)
        in_window = rec_index.count(*window)
        posts_wide, in_wide = send_index.count(*wide), rec_index.count(*wide)
        clean = (posts == posts_wide) & (in_window == in_wide)
        # Balanced in the window and in the wider one: every record had its POST,
        # whichever way the requests near the edges are assigned.
        balanced = (posts >= 1) & (posts >= in_window) & (posts_wide >= in_wide)
        f, l_ = send_index.bounds(*window)
        c, pos = _pairs(f, l_)
        pair_cluster.append(c)
        pair_send.append(send_index.order[pos])

        reason[:] = "requests near the window's edges make the count ambiguous"
        decided = clean & (posts >= 1)
        app = balanced | (decided & (posts >= in_window))
        verdict[app] = APP_SIDE
        reason[app] = "a POST for every record in the window"
        alone = in_window <= sizes if mode == "time_only" else np.ones(n, dtype=bool)
        tw = decided & (posts < in_window) & alone
        verdict[tw] = TWILIO_SIDE
        reason[tw] = "fewer POSTs than records"
        crowded = decided & (posts < in_window) & ~alone
        reason[crowded] = "other messages in the same seconds: a time-only log cannot tell"
        reason[clean & (posts == 0)] = "no POST found for these records in a period the log covers"
        undecided = ~covered

    verdict[undecided] = UNVERIFIED
    reason[undecided] = "the server log does not cover this time"

    cluster_of = np.concatenate(pair_cluster) if pair_cluster else np.zeros(0, dtype=np.int64)
    send_row = np.concatenate(pair_send) if pair_send else np.zeros(0, dtype=np.int64)
    order = np.lexsort((frame["us"].to_numpy()[send_row], cluster_of))
    cluster_of, send_row = cluster_of[order], send_row[order]
    keep = np.ones(len(send_row), dtype=bool)
    keep[1:] = (cluster_of[1:] != cluster_of[:-1]) | (send_row[1:] != send_row[:-1])
    cluster_of, send_row = cluster_of[keep], send_row[keep]
    return {
        "verdict": verdict,
        "verdict_reason": reason,
        "match_mode": np.full(n, mode, dtype=object),
        "posts": posts,
        "records_in_window": np.maximum(in_window, sizes),
        "covered": covered,
        "matched_rows": (cluster_of, send_row),
    }


def _matched_lists(
    n: int, sends: pa.Table, cluster_of: np.ndarray, send_row: np.ndarray
) -> dict[str, pa.Array]:
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
    files = sends["source_file"].cast(pa.string()).to_numpy(zero_copy_only=False)[send_row]
    known = {name: LOG_KINDS.get(fmt or "", "unknown") for name, fmt in (formats or {}).items()}
    first = np.ones(len(cluster_of), dtype=bool)
    first[1:] = cluster_of[1:] != cluster_of[:-1]
    kinds[cluster_of[first]] = [known.get(f, "unknown") for f in files[first]]
    return kinds


def _empty_evidence(n: int, why: str) -> dict[str, Any]:
    offsets = pa.array(np.zeros(n + 1, dtype=np.int32))
    return {
        "verdict": np.full(n, UNVERIFIED, dtype=object),
        "verdict_reason": np.full(n, why, dtype=object),
        "match_mode": np.full(n, "none", dtype=object),
        "posts": np.zeros(n, dtype=np.int64),
        "records_in_window": np.zeros(n, dtype=np.int64),
        "covered": np.zeros(n, dtype=bool),
        "matched_lines": pa.ListArray.from_arrays(offsets, pa.array([], pa.string())),
        "matched_times": pa.ListArray.from_arrays(
            offsets, pa.array([], pa.timestamp("us", tz="UTC"))
        ),
        "matched_statuses": pa.ListArray.from_arrays(offsets, pa.array([], pa.int32())),
        "skew_seconds": np.zeros(n),
        "log_kind": np.full(n, "", dtype=object),
    }


def _attach(clusters: pa.Table, evidence: dict[str, Any]) -> pa.Table:
    """Add the evidence columns and the root-cause hints to the clusters table."""
    table = clusters
    for name, values in {**evidence, "hint": _hints(clusters, evidence)}.items():
        array = values if isinstance(values, pa.Array) else pa.array(values)
        if name in table.column_names:
            table = table.drop_columns([name])
        table = table.append_column(name, array)
    return table


def _hints(clusters: pa.Table, evidence: dict[str, Any]) -> np.ndarray:
    """Root-cause hints from the gaps and the first attempt's outcome, one text per cluster."""
    n = clusters.num_rows
    hints = np.full(n, "", dtype=object)
    if n == 0:
        return hints
    gaps = clusters["gaps_seconds"]
    values = pc.list_flatten(gaps).to_numpy(zero_copy_only=False)
    offsets = np.concatenate(([0], np.cumsum(clusters["n_records"].to_numpy() - 1)[:-1]))
    low = np.minimum.reduceat(values, offsets)
    high = np.maximum.reduceat(values, offsets)
    hints[high <= 2] = "gaps of at most 2 s: a double submit or two workers taking one job"
    for timeout in sorted(COMMON_TIMEOUTS, reverse=True):
        near = (low >= timeout) & (high <= timeout + 3) & (hints == "")
        hints[near] = f"gaps just over {timeout} s: a retry after a {timeout} s client timeout"
    hour = (low >= 3000) & (high <= 4200) & (hints == "")
    hints[hour] = "gaps of about 1 h: a queue redelivering after its visibility timeout"

    statuses = evidence["matched_statuses"]
    first_status = (
        pc.list_element(
            pc.if_else(
                pc.greater(pc.list_value_length(statuses), 0),
                statuses,
                pa.scalar(None, statuses.type),
            ),
            0,
        )
        if len(statuses)
        else pa.array([], pa.int32())
    )
    first = np.asarray(pc.fill_null(first_status, -1).to_numpy(zero_copy_only=False))
    has_posts = np.asarray(pc.list_value_length(statuses).to_numpy(zero_copy_only=False)) > 1
    failed = has_posts & ((first == -1) | (first >= 500))
    suffix = "the first attempt timed out or got a 5xx: a retried non-idempotent POST"
    hints[failed] = np.where(hints[failed] == "", suffix, hints[failed] + "; " + suffix)
    twilio = evidence["verdict"] == TWILIO_SIDE
    escalate = "one request, several messages: send the SIDs to Twilio support"
    hints[twilio] = escalate  # the gap pattern says nothing about the application here
    return hints
