"""Reports on the results of ``analyzer detect``: HTML, Markdown, CSV, JSON and a
support ticket.

``build_report`` reads a results folder (``clusters.parquet``, ``sensitivity.csv``,
``summary.json`` and, if an investigation wrote it, ``carrier.parquet``) and writes,
each file atomically:

- ``index.html``: one self-contained page (charts inlined as PNG, inline styles, no
  scripts, nothing fetched);
- ``report.md`` with its charts as ``charts/*.png`` beside it;
- ``summary.json`` (stable keys), ``clusters.csv`` (every cluster, worst first);
- with ``ticket=True``, ``ticket.md`` for Twilio support.

No credential appears in any output: environment secrets, URL passwords, Authorization
headers and bare 32-hex tokens are scrubbed from every text written.
"""

from __future__ import annotations

import html
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from analyzer import charts
from analyzer.atomic import ensure_output_dir, write_text, write_with
from analyzer.detect import extra_reached_handset
from analyzer.errors import InputError
from analyzer.redact import (
    mask_numbers_in_text,
    mask_phones,
    scrub_secrets,
    scrub_secrets_array,
    secret_values,
)
from analyzer.results import (
    CARRIER_FILE,
    CLUSTERS_FILE,
    REPORT_CSV_FILE,
    REPORT_HTML_FILE,
    REPORT_MD_FILE,
    SENSITIVITY_FILE,
    SUMMARY_FILE,
    TICKET_FILE,
)
from analyzer.vocabulary import CLUSTER_VERDICTS, LISTED_VERDICTS, Verdict

#: Clusters shown in the HTML and Markdown tables; clusters.csv has them all.
TABLE_ROWS = 500
REPORT_VERSION = 1
APP_SIDE, TWILIO_SIDE, WEBHOOK_SIDE, INCONCLUSIVE, UNVERIFIED = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.WEBHOOK_SIDE,
    Verdict.INCONCLUSIVE,
    Verdict.UNVERIFIED,
)
#: The verdicts of clusters, in the order they are listed.
VERDICTS: tuple[str, ...] = tuple(v for v in LISTED_VERDICTS if v in CLUSTER_VERDICTS)
NO_LOGS_REASON = "no server logs given"

_LIST_COLUMNS = (
    "sids",
    "created",
    "gaps_seconds",
    "from_numbers",
    "messaging_service_sids",
    "account_sids",
    "statuses",
    "error_codes",
    "matched_lines",
    "matched_times",
    "matched_statuses",
)
_KNOWN_SCALARS = (
    "cluster_id",
    "to",
    "body",
    "n_records",
    "first_created",
    "last_created",
    "span_seconds",
    "verdict",
    "verdict_reason",
    "match_mode",
    "posts",
    "records_in_window",
    "covered",
    "skew_seconds",
    "log_kind",
    "hint",
)

# Gap patterns: (name, low, high, what the gaps look like, what that usually means).
_PATTERNS: tuple[tuple[str, float, float, str, str], ...] = (
    (
        "double_submit",
        0.0,
        2.0,
        "the records came at most 2 s apart",
        "the signature of a double submit or two workers taking one job",
    ),
    (
        "timeout_10s",
        10.0,
        13.0,
        "the second send came 10 s after the first",
        "the signature of a retry after a 10 s client timeout",
    ),
    (
        "timeout_15s",
        15.0,
        18.0,
        "the second send came 15 s after the first",
        "the signature of a retry after a 15 s client timeout",
    ),
    (
        "timeout_30s",
        30.0,
        33.0,
        "the second send came 30 s after the first",
        "the signature of a retry after a 30 s client timeout",
    ),
    (
        "timeout_60s",
        60.0,
        63.0,
        "the second send came 60 s after the first",
        "the signature of a retry after a 60 s client timeout",
    ),
    (
        "redelivery_1h",
        3300.0,
        3900.0,
        "the second send came about an hour after the first",
        "the signature of a queue redelivering a job after a 1 h visibility timeout",
    ),
)
_OTHER, _MIXED = "other", "mixed"


@dataclass
class ReportResult:
    """What ``build_report`` wrote and the summary it computed."""

    out_dir: Path
    index_html: Path
    files: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    ticket: Path | None = None


@dataclass
class _Data:
    results: Path
    table: pa.Table  # clusters, worst first
    frame: pd.DataFrame  # scalar columns of ``table``, same order
    summary: dict[str, Any]
    sensitivity: pd.DataFrame
    carrier: pd.DataFrame | None
    logs_given: bool
    key_columns: list[str]


# ------------------------------------------------------------------------ loading


def _load(results: Path) -> _Data:
    if not results.is_dir():
        raise InputError(f"{results}: no such results folder (run `analyzer detect` first)")
    clusters_path = results / CLUSTERS_FILE
    if not clusters_path.is_file():
        raise InputError(f"{results} is not an `analyzer detect` output: no {CLUSTERS_FILE}")
    try:
        table = pq.read_table(clusters_path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(f"cannot read {clusters_path}: {str(exc).splitlines()[0]}") from None
    missing = {"cluster_id", "to", "n_records", "first_created", "sids", "gaps_seconds"}
    missing -= set(table.column_names)
    if missing:
        raise InputError(f"{clusters_path} lacks columns: {', '.join(sorted(missing))}")
    table = table.combine_chunks()
    summary: dict[str, Any] = {}
    summary_path = results / SUMMARY_FILE
    if summary_path.is_file():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise InputError(f"{summary_path} is not valid JSON: {exc}") from None
    sensitivity = pd.DataFrame(
        columns=[
            "window_seconds",
            "duplicate_clusters",
            "extra_messages",
            "records_in_clusters",
            "selected",
        ]
    )
    if (results / SENSITIVITY_FILE).is_file():
        sensitivity = pd.read_csv(results / SENSITIVITY_FILE)
    carrier = None
    if (results / CARRIER_FILE).is_file():
        try:
            carrier = pq.read_table(results / CARRIER_FILE).to_pandas()
        except (pa.ArrowException, OSError) as exc:
            raise InputError(f"cannot read {results / CARRIER_FILE}: {exc}") from None

    logs_given = "verdict" in table.column_names
    n = table.num_rows
    if not logs_given:
        table = table.append_column("verdict", pa.array([Verdict.UNVERIFIED] * n, pa.string()))
        table = table.append_column("verdict_reason", pa.array([NO_LOGS_REASON] * n, pa.string()))
    extra = pc.subtract(table["n_records"], 1).to_numpy()
    first = table["first_created"].cast(pa.int64()).to_numpy(zero_copy_only=False)
    order = (
        np.lexsort(
            (np.asarray(table["cluster_id"].to_pylist(), dtype=object).astype(str), first, -extra)
        )
        if n
        else np.arange(0)
    )
    table = table.take(pa.array(order, pa.int64()))
    key_columns = [
        c
        for c in table.column_names
        if c not in _KNOWN_SCALARS
        and c not in _LIST_COLUMNS
        and not pa.types.is_list(table.schema.field(c).type)
    ]
    scalars = [c for c in table.column_names if c in _KNOWN_SCALARS or c in key_columns]
    frame = table.select(scalars).to_pandas()
    frame["extra"] = frame["n_records"].astype("int64") - 1
    frame["first_created"] = pd.to_datetime(frame["first_created"], utc=True)
    frame["pattern"] = _gap_patterns(table)
    return _Data(results, table, frame, summary, sensitivity, carrier, logs_given, key_columns)


def _gap_patterns(table: pa.Table) -> np.ndarray:
    """Name each cluster's gap pattern: one of _PATTERNS if all its gaps fall in it,
    ``mixed`` if they fall in different ones, else ``other``."""
    n = table.num_rows
    names = np.array([p[0] for p in _PATTERNS] + [_OTHER, _MIXED], dtype=object)
    if n == 0:
        return names[:0]
    gaps_list = table["gaps_seconds"].combine_chunks()
    gaps = pc.list_flatten(gaps_list).to_numpy(zero_copy_only=False).astype(float)
    parents = pc.list_parent_indices(gaps_list).to_numpy()
    code = np.full(gaps.size, len(_PATTERNS), dtype=np.int64)
    for i, (_name, low, high, _shape, _meaning) in reversed(list(enumerate(_PATTERNS))):
        code[(gaps >= low) & (gaps <= high)] = i
    lo = np.full(n, len(_PATTERNS), dtype=np.int64)
    hi = np.full(n, len(_PATTERNS), dtype=np.int64)
    if gaps.size:
        np.minimum.at(lo, parents, code)
        hi[:] = -1
        np.maximum.at(hi, parents, code)
        hi = np.where(hi < 0, len(_PATTERNS), hi)
    result = np.where(lo == hi, lo, len(_PATTERNS) + 1)
    return names[result]


# ------------------------------------------------------------------------ helpers


def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    ts = pd.Timestamp(value)
    if pd.isna(ts):
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    text = ts.strftime("%Y-%m-%dT%H:%M:%S")
    if ts.microsecond:
        text += f".{ts.microsecond // 1000:03d}"
    return text + "Z"


def _pct(part: float, whole: float) -> str:
    if whole <= 0:
        return "0%"
    share = 100.0 * part / whole
    if share == 0:
        return "0%"
    return f"{share:.2g}%" if share < 1 else f"{share:.0f}%"


def _window_text(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g} h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{seconds / 60:g} min"
    return f"{seconds:g} s"


def _join_lists(
    column: pa.ChunkedArray | pa.Array, sep: str = ";", times: str | None = None
) -> pa.Array:
    """Join each list into one string (null items become empty strings)."""
    array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    if isinstance(array, pa.ChunkedArray):
        array = pa.concat_arrays(array.chunks)
    values = pc.list_flatten(array)
    if times:
        # whole seconds for Twilio's records, milliseconds for log times
        unit = "s" if times == "s" else "ms"
        strings = pc.strftime(
            values.cast(pa.timestamp(unit, tz="UTC"), safe=False), format="%Y-%m-%dT%H:%M:%SZ"
        )
    else:
        strings = pc.cast(values, pa.string())
    strings = strings.fill_null("")
    lengths = pc.list_value_length(array).fill_null(0).to_numpy(zero_copy_only=False)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    rebuilt = pa.ListArray.from_arrays(pa.array(offsets), strings)
    return pc.binary_join(rebuilt, sep)


def _masked(values: pd.Series | pa.Array, redact: bool) -> list[str | None]:
    if not redact:
        return [
            None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)
            for v in (values.to_pylist() if isinstance(values, pa.Array) else values)
        ]
    return mask_phones(values).to_pylist()


def _uncovered(summary: dict[str, Any]) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """Stretches of the analysed period that no server log covers."""
    start, end = summary.get("period_start"), summary.get("period_end")
    if not start or not end:
        return []
    start_ts, end_ts = pd.Timestamp(start), pd.Timestamp(end)
    spans = sorted(
        (pd.Timestamp(c["start"]), pd.Timestamp(c["end"]))
        for c in summary.get("log_coverage") or []
    )
    gaps: list[tuple[pd.Timestamp, pd.Timestamp]] = []
    cursor = start_ts
    for lo, hi in spans:
        if lo > cursor:
            gaps.append((cursor, min(lo, end_ts)))
        cursor = max(cursor, hi)
        if cursor >= end_ts:
            break
    if cursor < end_ts:
        gaps.append((cursor, end_ts))
    return [(a, b) for a, b in gaps if b > a]


def _span_text(a: pd.Timestamp, b: pd.Timestamp, multi_day: bool) -> str:
    fmt = "%Y-%m-%d %H:%M" if multi_day else "%H:%M"
    return f"{a.strftime(fmt)}–{b.strftime(fmt)}"


# ------------------------------------------------------------------------ summary


def _summarise(data: _Data, redact: bool) -> dict[str, Any]:
    f = data.frame
    s = data.summary
    outbound = int(s.get("outbound_messages", 0) or 0)
    by_verdict: dict[str, int] = {v: 0 for v in VERDICTS}
    extra_by_verdict: dict[str, int] = {v: 0 for v in VERDICTS}
    if len(f):
        counts = f.groupby("verdict").agg(n=("extra", "size"), e=("extra", "sum"))
        for verdict, row in counts.iterrows():
            by_verdict[str(verdict)] = int(row["n"])
            extra_by_verdict[str(verdict)] = int(row["e"])
    patterns = {str(k): int(v) for k, v in f["pattern"].value_counts().items()} if len(f) else {}
    uncovered = _uncovered(s) if data.logs_given else []
    out: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "messages": int(s.get("messages", 0) or 0),
        "outbound_messages": outbound,
        "skipped_no_body": int(s.get("skipped_no_body", 0) or 0),
        "skipped_not_sent": int(s.get("skipped_not_sent", 0) or 0),
        "candidate_messages": int(s.get("candidate_messages", 0) or 0),
        "duplicate_clusters": len(f),
        "records_in_clusters": int(f["n_records"].sum()) if len(f) else 0,
        "extra_messages": int(f["extra"].sum()) if len(f) else 0,
        "extra_reached_handset": (
            extra_reached_handset(data.table)
            if "statuses" in data.table.column_names
            else int(s.get("extra_reached_handset", 0) or 0)
        ),
        "extra_share_of_outbound": (
            round(float(f["extra"].sum()) / outbound, 6) if outbound and len(f) else 0.0
        ),
        "by_verdict": by_verdict,
        "extra_by_verdict": extra_by_verdict,
        "gap_patterns": patterns,
        "window_seconds": s.get("window_seconds"),
        "key": s.get("key", ["to", "body"]),
        "period_start": s.get("period_start"),
        "period_end": s.get("period_end"),
        "logs_given": data.logs_given,
        "match_mode": s.get("match_mode"),
        "skew_seconds": s.get("skew_seconds"),
        "skew_method": s.get("skew_method"),
        "skew_pairs": s.get("skew_pairs"),
        "skew_spread_seconds": s.get("skew_spread_seconds"),
        "skew_confidence": s.get("skew_confidence"),
        "delay_band_seconds": s.get("delay_band_seconds"),
        "sends_by_outcome": s.get("sends_by_outcome") or {},
        "request_id_sids": s.get("request_id_sids") or {},
        "log_coverage": s.get("log_coverage", []),
        "uncovered_periods": [{"start": _iso(a), "end": _iso(b)} for a, b in uncovered],
        "warnings": list(s.get("warnings", [])),
        "carrier": _carrier_summary(data.carrier),
        "redacted": redact,
        "source": s.get("source"),
    }
    out["headline"] = _headline(data, out, uncovered)
    return out


def _carrier_summary(carrier: pd.DataFrame | None) -> dict[str, Any] | None:
    if carrier is None:
        return None
    by_verdict: dict[str, int] = {}
    if "verdict" in carrier:
        counts = carrier["verdict"].astype(str).value_counts()
        by_verdict = {str(k): int(v) for k, v in counts.items()}
    return {"reports": len(carrier), "by_verdict": by_verdict}


def _period_text(out: dict[str, Any]) -> str:
    """The period the report covers, or that it had no message at all."""
    if out["period_start"] is None and out["period_end"] is None:
        return "Period: no messages"
    return f"Period {out['period_start']} – {out['period_end']} (UTC)"


def _headline(data: _Data, out: dict[str, Any], uncovered: list[Any]) -> str:
    """The summary in plain words, computed from the data."""
    f = data.frame
    outbound = out["outbound_messages"]
    window = out["window_seconds"]
    key = " + ".join(out["key"]) if isinstance(out["key"], list) else str(out["key"])
    if out["messages"] == 0:
        return (
            "No messages in this period: nothing to analyse. Check that the export ran "
            "and the dataset path."
        )
    if len(f) == 0:
        return (
            f"No duplicate clusters among {outbound:,} outbound messages "
            f"(window {_window_text(float(window or 0))}, key {key})."
        )
    n, extra = len(f), out["extra_messages"]
    head = (
        f"{n:,} duplicate cluster{'s' if n != 1 else ''} with {extra:,} extra "
        f"message{'s' if extra != 1 else ''} ({_pct(extra, outbound)} of {outbound:,} "
        "outbound messages)"
    )
    parts: list[str] = []
    bv = out["by_verdict"]
    if bv[APP_SIDE]:
        app = f[f["verdict"] == APP_SIDE]
        sizes = app["n_records"]
        times = "twice" if sizes.max() == 2 else f"{sizes.min()}–{sizes.max()} times"
        if sizes.min() == sizes.max() and sizes.max() > 2:
            times = f"{sizes.max()} times"
        pattern = _pattern_text(app["pattern"])
        parts.append(
            f"{bv[APP_SIDE]:,} sent {times} by the application"
            + (f" ({pattern})" if pattern else "")
        )
    if bv[TWILIO_SIDE]:
        parts.append(
            f"{bv[TWILIO_SIDE]:,} need{'s' if bv[TWILIO_SIDE] == 1 else ''} "
            "Twilio support (one request, several records)"
        )
    if bv[WEBHOOK_SIDE]:
        parts.append(
            f"{bv[WEBHOOK_SIDE]:,} replies to incoming messages sent twice (the webhook was "
            "answered twice: check its 15 s timeout and fallback URL)"
        )
    if bv[INCONCLUSIVE]:
        parts.append(f"{bv['inconclusive']:,} inconclusive (the logs cannot tell who sent them)")
    if bv[UNVERIFIED]:
        if not data.logs_given:
            pattern = _pattern_text(f["pattern"])
            why = "no server logs given" + (f"; {pattern}" if pattern else "")
        else:
            unverified = f.loc[f["verdict"] == UNVERIFIED, "first_created"]
            why = _uncovered_text(unverified, uncovered, data.summary)
        parts.append(f"{bv['unverified']:,} unverified ({why})")
    return head + ": " + ", ".join(parts) + ". " + _reached_text(out)


def _evidence_text(out: dict[str, Any], host: str) -> str:
    """How the request logs were matched: mode, skew and its confidence, delay band, POSTs."""
    skew = float(out.get("skew_seconds") or 0)
    spread = out.get("skew_spread_seconds")
    text = (
        f"Server logs matched by {out.get('match_mode') or '?'}; clock skew between {host} "
        f"and Twilio {skew:+.3f} s (estimated by {out.get('skew_method') or '?'} from "
        f"{int(out.get('skew_pairs') or 0):,} pairs"
        + (f", interquartile range {float(spread):.2f} s" if spread is not None else "")
        + f"; confidence {out.get('skew_confidence') or 'none'})."
    )
    band = out.get("delay_band_seconds")
    if band:
        text += (
            f" A record was matched to the POSTs made {-float(band[1]):+.1f} s to "
            f"{-float(band[0]):+.1f} s from its creation time (POST minus record, after the "
            "skew; learned from the data, Twilio's times being whole seconds)."
        )
    sends = out.get("sends_by_outcome") or {}
    if sends:
        text += (
            f" POSTs: {int(sends.get('accepted', 0)):,} accepted (2xx), "
            f"{int(sends.get('possible', 0)):,} without a 2xx that may have created a message, "
            f"{int(sends.get('refused', 0)):,} refused (4xx, created nothing)."
        )
    ids = out.get("request_id_sids") or {}
    if ids.get("candidates"):
        used = "used as SIDs" if ids.get("used") else "not used"
        text += (
            f" Twilio-Request-Id: {int(ids.get('found', 0)):,} of "
            f"{int(ids['candidates']):,} successful creates name an exported record ({used})."
        )
    return text


def _reached_text(out: dict[str, Any]) -> str:
    """One sentence on how many extra messages reached a handset."""
    extra, reached = out["extra_messages"], out["extra_reached_handset"]
    statuses = "(sent, delivered or read)"
    if reached == extra:
        every = "The extra message" if extra == 1 else f"All {extra:,} extra messages"
        return f"{every} reached a handset {statuses}."
    return (
        f"Of the {extra:,} extra message{'s' if extra != 1 else ''}, {reached:,} reached a "
        f"handset {statuses}; the rest failed or were undelivered (or had no final status yet)."
    )


def _pattern_text(patterns: pd.Series) -> str:
    """Describe the most telling gap pattern of these clusters, if one stands out."""
    if patterns.empty:
        return ""
    counts = patterns.value_counts()
    meaning = {p[0]: (p[3], p[4]) for p in _PATTERNS}
    top = str(counts.index[0])
    share = counts.iloc[0] / len(patterns)
    timeouts = counts[[str(i).startswith("timeout_") for i in counts.index]]
    timeout_share = timeouts.sum() / len(patterns)
    if top in meaning and share >= 0.5:
        shape, why = meaning[top]
    elif timeout_share >= 0.5:
        share = timeout_share
        listed = " or ".join(
            sorted(
                (str(i).removeprefix("timeout_").replace("s", " s") for i in timeouts.index),
                key=lambda x: float(x[:-2]),
            )
        )
        shape = f"the second send came just after a common client timeout of {listed}"
        why = "the signature of retries after a client timeout"
    elif top in meaning and share >= 0.25:
        shape, why = meaning[top]
    else:
        return ""
    if share == 1:
        return f"in all of them {shape}, {why}"
    return f"in {share:.0%} of them {shape}, {why}"


def _uncovered_text(times: pd.Series, uncovered: list[Any], summary: dict[str, Any]) -> str:
    if not uncovered:
        return "the server logs do not cover them"
    stamps = times.to_numpy(dtype="datetime64[us]").astype(np.int64)
    start = pd.Timestamp(str(summary.get("period_start")))
    end = pd.Timestamp(str(summary.get("period_end")))
    multi_day = start.floor("D") != end.floor("D")
    relevant = []
    for a, b in uncovered:
        lo = a.tz_convert("UTC").tz_localize(None).to_datetime64().astype("datetime64[us]")
        hi = b.tz_convert("UTC").tz_localize(None).to_datetime64().astype("datetime64[us]")
        if np.any((stamps >= lo.astype(np.int64)) & (stamps <= hi.astype(np.int64))):
            relevant.append(_span_text(a, b, multi_day))
    shown = relevant or [_span_text(a, b, multi_day) for a, b in uncovered[:3]]
    more = len(relevant) - 3 if len(relevant) > 3 else 0
    text = "no server logs " + ", ".join(shown[:3]) + " UTC"
    return text + (f" and {more} more gaps" if more else "")


# ------------------------------------------------------------------------ charts


def _build_charts(data: _Data, redact: bool) -> list[charts.Chart]:
    f, t = data.frame, data.table
    made: list[charts.Chart] = []
    if len(f):
        made.append(charts.verdict_breakdown(f["verdict"], f["extra"].to_numpy()))
        made.append(charts.clusters_over_time(f["first_created"], f["verdict"]))
        gaps = pc.list_flatten(t["gaps_seconds"]).to_numpy(zero_copy_only=False)
        made.append(charts.gap_distribution(gaps, data.summary.get("window_seconds")))
        made.append(charts.cluster_sizes(f["n_records"].to_numpy()))
        recipients = pd.Series(_masked(t["to"].combine_chunks(), redact), dtype=object)
        made.append(
            charts.top_counts(
                recipients,
                f["extra"].to_numpy(),
                name="top_recipients",
                title="Recipients with the most extra messages"
                + (" (numbers masked)" if redact else ""),
                what="extra messages",
            )
        )
        for column, name, title in (
            ("from_numbers", "top_senders", "Sender numbers of the extra messages"),
            ("messaging_service_sids", "top_services", "Messaging Services of the extra messages"),
        ):
            if column in t.column_names:
                labels = _extra_record_values(t[column])
                made.append(
                    charts.top_counts(labels, None, name=name, title=title, what="extra messages")
                )
    if not data.sensitivity.empty:
        made.append(charts.window_sensitivity(data.sensitivity))
    return made


def _extra_record_values(column: pa.ChunkedArray) -> pd.Series:
    """The values of a per-record list column for every record but each cluster's first."""
    lists = column.combine_chunks()
    if isinstance(lists, pa.ChunkedArray):
        lists = pa.concat_arrays(lists.chunks)
    values = pc.list_flatten(lists)
    lengths = pc.list_value_length(lists).fill_null(0).to_numpy(zero_copy_only=False)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    keep = np.ones(len(values), dtype=bool)
    keep[starts[lengths > 0]] = False
    picked = values.filter(pa.array(keep))
    if pa.types.is_dictionary(picked.type):
        picked = picked.dictionary_decode()
    return pd.Series(picked.to_numpy(zero_copy_only=False), dtype=object).fillna("(none)")


# ------------------------------------------------------------------------ rows


@dataclass
class _Row:
    rank: int
    first: str
    to: str
    n: int
    gaps: str
    verdict: str
    evidence: str
    hint: str
    sids: list[str]
    senders: str
    services: str
    statuses: str
    body: str


def _table_rows(data: _Data, redact: bool, limit: int) -> list[_Row]:
    t = data.table.slice(0, limit)
    f = data.frame.iloc[:limit]
    if t.num_rows == 0:
        return []
    to = _masked(t["to"].combine_chunks(), redact)
    bodies: list[Any] = [None] * t.num_rows
    if "body" in t.column_names:
        body = t["body"].combine_chunks()
        bodies = (mask_numbers_in_text(body) if redact else body).to_pylist()
    rows = []
    cols = {
        c: t[c].to_pylist()
        for c in ("sids", "gaps_seconds", "from_numbers", "messaging_service_sids", "statuses")
        if c in t.column_names
    }
    for i in range(t.num_rows):
        posts = f["posts"].iloc[i] if "posts" in f else None
        reason = str(f["verdict_reason"].iloc[i] or "")
        if posts is not None and data.logs_given and not pd.isna(posts):
            reason = f"{reason} ({int(posts)} POST{'s' if posts != 1 else ''} logged)"
        rows.append(
            _Row(
                rank=i + 1,
                first=_iso(f["first_created"].iloc[i]) or "",
                to=to[i] or "",
                n=int(f["n_records"].iloc[i]),
                gaps=", ".join(
                    f"{g:g}"
                    for g in (cols.get("gaps_seconds", [[]] * (i + 1))[i] or [])
                    if g is not None
                ),
                verdict=str(f["verdict"].iloc[i]),
                evidence=reason,
                hint=str(f["hint"].iloc[i] or "") if "hint" in f else "",
                sids=[s for s in (cols.get("sids", [[]] * (i + 1))[i] or []) if s],
                senders=", ".join(
                    dict.fromkeys(
                        str(x) for x in cols.get("from_numbers", [[]] * (i + 1))[i] or [] if x
                    )
                ),
                services=", ".join(
                    dict.fromkeys(
                        str(x)
                        for x in cols.get("messaging_service_sids", [[]] * (i + 1))[i] or []
                        if x
                    )
                ),
                statuses=", ".join(str(x) for x in cols.get("statuses", [[]] * (i + 1))[i] or []),
                body=charts.truncate(str(bodies[i] or ""), 80),
            )
        )
    return rows


# ------------------------------------------------------------------------ HTML

_CSS = """
body{font:14px/1.45 -apple-system,'Segoe UI',Helvetica,Arial,sans-serif;color:#222;
margin:2em auto;max-width:1200px;padding:0 1em}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:1px solid #ddd}
.lead{font-size:1.15em;background:#f6f8fa;border-left:4px solid #2E86C1;padding:.8em 1em}
.muted{color:#666}.warn{background:#fff4e5;border-left:4px solid #E07B39;padding:.5em 1em}
table{border-collapse:collapse;margin:.6em 0;font-size:12.5px}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f0f2f4}td.n{text-align:right;font-variant-numeric:tabular-nums}
code,.sid{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:11.5px}
figure{display:inline-block;margin:.5em 1em .5em 0}img{max-width:100%}
.v-app_side{color:#B3541E}.v-twilio_side{color:#C0392B;font-weight:bold}.v-webhook_side{color:#1E8449}
.v-unverified{color:#777}.v-inconclusive{color:#2471A3}.v-carrier_side{color:#8E44AD}
"""


def _e(value: Any) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def _html_table(
    header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()
) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="n">{_e(c)}</td>' if i in numeric else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _sensitivity_rows(data: _Data) -> list[list[Any]]:
    rows = []
    r: Any
    for r in data.sensitivity.itertuples(index=False):
        selected = str(getattr(r, "selected", "")).lower() in ("true", "1")
        rows.append(
            [
                _window_text(float(r.window_seconds)),
                f"{int(r.duplicate_clusters):,}",
                f"{int(r.extra_messages):,}",
                f"{int(r.records_in_clusters):,}" if hasattr(r, "records_in_clusters") else "",
                "← selected" if selected else "",
            ]
        )
    return rows


def _log_rows(summary: dict[str, Any]) -> list[list[Any]]:
    return [
        [
            lg.get("path"),
            lg.get("format"),
            f"{lg.get('lines', 0):,}",
            f"{lg.get('sends', 0):,}",
            f"{lg.get('malformed', 0):,}",
            lg.get("first_time") or "",
            lg.get("last_time") or "",
        ]
        for lg in summary.get("logs") or []
    ]


def _method_items(data: _Data, out: dict[str, Any]) -> list[str]:
    key = out["key"] if isinstance(out["key"], list) else [out["key"]]
    items = [
        f"Outbound messages with the same {' + '.join(map(str, key))} whose records were "
        f"created at most {_window_text(float(out['window_seconds'] or 0))} apart form a "
        "cluster; clusters of two or more records are duplicates. Extra messages are the "
        "records beyond the first of each cluster.",
        f"Period analysed (UTC): {out['period_start'] or '?'} to {out['period_end'] or '?'}.",
        f"Left out of the comparison: {out['skipped_no_body']:,} outbound "
        f"message{'s' if out['skipped_no_body'] != 1 else ''} without a body (media only) "
        f"and {out['skipped_not_sent']:,} that never went out (canceled or scheduled). "
        "Failed and undelivered records stay in: the application did send them.",
    ]
    if data.logs_given:
        items.append(_evidence_text(out, "the application"))
        items.append(
            "Verdicts: app_side = a POST for every record (the application sent it again); "
            "twilio_side = fewer POSTs than records (one request, several messages); "
            "webhook_side = replies to an incoming message, sent twice from the webhook's "
            "answers; inconclusive = the logs cannot separate the cases; unverified = the "
            "logs do not cover that time. Only a 2xx answer created a message; a 4xx created "
            "none; a 5xx or no answer may have."
        )
    else:
        items.append(
            "No server logs were given: every cluster is unverified. Run "
            "`analyzer detect --server-log ...` to learn who sent each duplicate."
        )
    if out["redacted"]:
        items.append(
            "Recipient numbers are masked (country code and last 4 digits); "
            "numbers inside message bodies are replaced by •••."
        )
    return items


def _carrier_rows(
    carrier: pd.DataFrame, redact: bool, *, notes: bool = True
) -> tuple[list[str], list[list[Any]]]:
    """The rows of the carrier investigation table (``carrier.parquet``).

    ``redact`` masks recipients and the numbers inside notes; ``notes=False`` leaves the
    complaints' notes out (free text, kept out of a redacted ticket like bodies are).
    """
    c = carrier.reset_index(drop=True)
    n = len(c)

    def column(name: str) -> list[Any]:
        if name not in c.columns:
            return [None] * n
        values = c[name].astype(object)
        return values.where(values.map(_carrier_present), None).tolist()

    header = [
        "recipient",
        "reported at (UTC)",
        "verdict",
        "SIDs",
        "first record (UTC)",
        "last record (UTC)",
        "reason",
    ]
    columns = [
        _masked(c["to"] if "to" in c else pd.Series([None] * n), redact),
        [_iso(v) for v in column("reported_at")],
        column("verdict"),
        [" ".join(map(str, list(v))) if v is not None else None for v in column("sids")],
        [_iso(v) for v in column("first_created")],
        [_iso(v) for v in column("last_created")],
        column("reason"),
    ]
    if notes:
        header.append("note")
        note = pa.array(column("note"), type=pa.string())
        columns.append((mask_numbers_in_text(note) if redact else note).to_pylist())
    hint_col = next((h for h in ("hint", "carrier_hint", "carrier") if h in c.columns), None)
    if hint_col:
        header.append(hint_col.replace("_", " "))
        columns.append(column(hint_col))
    rows = [["" if v is None else v for v in row] for row in zip(*columns, strict=True)]
    return header, rows


def _carrier_present(value: Any) -> bool:
    return isinstance(value, list | np.ndarray) or not pd.isna(value)


def _render_html(
    data: _Data, out: dict[str, Any], made: list[charts.Chart], rows: list[_Row]
) -> str:
    s = data.summary
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>Duplicate SMS report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<h1>Duplicate SMS report</h1>",
        f'<p class="muted">{_e(_period_text(out))}'
        + (f" · source <code>{_e(out['source'])}</code>" if out.get("source") else "")
        + "</p>",
        f'<p class="lead">{_e(out["headline"])}</p>',
    ]
    figures = [
        ["messages", f"{out['messages']:,}"],
        ["outbound messages", f"{out['outbound_messages']:,}"],
        ["left out (no body)", f"{out['skipped_no_body']:,}"],
        ["left out (not sent: canceled or scheduled)", f"{out['skipped_not_sent']:,}"],
        ["duplicate clusters", f"{out['duplicate_clusters']:,}"],
        ["extra messages", f"{out['extra_messages']:,}"],
        ["extra messages that reached a handset", f"{out['extra_reached_handset']:,}"],
    ] + [[f"clusters {v}", f"{n:,}"] for v, n in out["by_verdict"].items() if n]
    parts.append(_html_table(["", "count"], figures, numeric=(1,)))
    for warning in out["warnings"]:
        parts.append(f'<p class="warn">{_e(warning)}</p>')

    parts.append("<h2>Charts</h2>")
    if not len(data.frame):
        parts.append("<p>No duplicate clusters: nothing to chart.</p>")
    for chart in made:
        parts.append(f'<figure><img src="{chart.data_uri}" alt="{_e(chart.title)}"></figure>')

    parts.append("<h2>Duplicate clusters</h2>")
    n = len(data.frame)
    if n == 0:
        parts.append("<p>No duplicate clusters.</p>")
    else:
        note = (
            f"Worst first (most extra records, then earliest). Showing {len(rows):,} of "
            f"{n:,}; <code>clusters.csv</code> has them all."
            if n > len(rows)
            else "Worst first (most extra records, then earliest)."
        )
        parts.append(f"<p>{note}</p>")
        header = [
            "#",
            "first record (UTC)",
            "to",
            "records",
            "gaps (s)",
            "verdict",
            "evidence",
            "hint",
            "SIDs",
            "from",
            "Messaging Service",
            "statuses",
            "body",
        ]
        body = []
        for r in rows:
            cells = [
                f'<td class="n">{r.rank}</td>',
                f"<td>{_e(r.first)}</td>",
                f"<td>{_e(r.to)}</td>",
                f'<td class="n">{r.n}</td>',
                f"<td>{_e(r.gaps)}</td>",
                f'<td class="v-{_e(r.verdict)}">{_e(r.verdict)}</td>',
                f"<td>{_e(r.evidence)}</td>",
                f"<td>{_e(r.hint)}</td>",
                '<td class="sid">' + "<br>".join(_e(x) for x in r.sids) + "</td>",
                f"<td>{_e(r.senders)}</td>",
                f'<td class="sid">{_e(r.services)}</td>',
                f"<td>{_e(r.statuses)}</td>",
                f"<td>{_e(r.body)}</td>",
            ]
            body.append("<tr>" + "".join(cells) + "</tr>")
        head = "".join(f"<th>{_e(h)}</th>" for h in header)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>")

    parts.append("<h2>Window sensitivity</h2>")
    parts.append("<p>Clusters and extra messages a shorter or longer window would find.</p>")
    parts.append(
        _html_table(
            ["window", "clusters", "extra messages", "records in clusters", ""],
            _sensitivity_rows(data),
            numeric=(1, 2, 3),
        )
    )

    if data.carrier is not None:
        parts.append("<h2>Carrier investigation</h2>")
        cs = out["carrier"] or {}
        counts = ", ".join(f"{n:,} {v}" for v, n in cs.get("by_verdict", {}).items())
        parts.append(
            f"<p>{cs.get('reports', 0):,} reports of a message received twice"
            + (f": {_e(counts)}" if counts else "")
            + ".</p>"
        )
        header_c, rows_c = _carrier_rows(data.carrier, out["redacted"])
        parts.append(_html_table(header_c, rows_c))

    parts.append("<h2>Server logs</h2>")
    if not data.logs_given:
        parts.append("<p>No server logs given.</p>")
    else:
        coverage = [[c.get("start"), c.get("end")] for c in out["log_coverage"]]
        parts.append("<p>Time covered by the logs (UTC):</p>")
        parts.append(_html_table(["from", "to"], coverage))
        if out["uncovered_periods"]:
            parts.append("<p>Not covered (clusters here are unverified):</p>")
            parts.append(
                _html_table(
                    ["from", "to"], [[u["start"], u["end"]] for u in out["uncovered_periods"]]
                )
            )
        parts.append(
            _html_table(
                ["file", "format", "lines", "message POSTs", "malformed", "first", "last"],
                _log_rows(s),
                numeric=(2, 3, 4),
            )
        )
        for lg in s.get("logs") or []:
            samples = lg.get("samples") or []
            if samples:
                parts.append(
                    f"<p>Malformed lines in <code>{_e(lg.get('path'))}</code> "
                    f"({lg.get('malformed', 0):,}; samples):</p>"
                )
                parts.append(
                    _html_table(
                        ["line", "reason", "text"],
                        [[x.get("line"), x.get("reason"), x.get("text")] for x in samples],
                    )
                )

    parts.append("<h2>Method</h2><ul>")
    parts.extend(f"<li>{_e(item)}</li>" for item in _method_items(data, out))
    parts.append("</ul></body></html>")
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------ Markdown


def _md(value: Any) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("\r", " ")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [
        "| " + " | ".join(_md(h) for h in header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(_md(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _render_md(data: _Data, out: dict[str, Any], made: list[charts.Chart], rows: list[_Row]) -> str:
    s = data.summary
    parts = [
        "# Duplicate SMS report",
        "",
        _period_text(out) + (f" · source `{out['source']}`" if out.get("source") else ""),
        "",
        f"**{_md(out['headline'])}**",
        "",
    ]
    for warning in out["warnings"]:
        parts += [f"> ⚠ {_md(warning)}", ""]
    parts += ["## Charts", ""]
    if not len(data.frame):
        parts += ["No duplicate clusters: nothing to chart.", ""]
    for chart in made:
        parts += [f"![{_md(chart.title)}](charts/{chart.name}.png)", ""]
    parts += ["## Duplicate clusters", ""]
    n = len(data.frame)
    if n == 0:
        parts += ["No duplicate clusters.", ""]
    else:
        if n > len(rows):
            parts += [
                f"Worst first. Showing {len(rows):,} of {n:,}; `clusters.csv` has them all.",
                "",
            ]
        parts.append(
            _md_table(
                [
                    "#",
                    "first record (UTC)",
                    "to",
                    "records",
                    "gaps (s)",
                    "verdict",
                    "evidence",
                    "hint",
                    "SIDs",
                    "from",
                    "body",
                ],
                [
                    [
                        r.rank,
                        r.first,
                        r.to,
                        r.n,
                        r.gaps,
                        r.verdict,
                        r.evidence,
                        r.hint,
                        " ".join(r.sids),
                        r.senders,
                        r.body,
                    ]
                    for r in rows
                ],
            )
        )
        parts.append("")
    parts += [
        "## Window sensitivity",
        "",
        _md_table(
            ["window", "clusters", "extra messages", "records in clusters", ""],
            _sensitivity_rows(data),
        ),
        "",
    ]
    if data.carrier is not None:
        header_c, rows_c = _carrier_rows(data.carrier, out["redacted"])
        parts += ["## Carrier investigation", "", _md_table(header_c, rows_c), ""]
    parts += ["## Server logs", ""]
    if not data.logs_given:
        parts += ["No server logs given.", ""]
    else:
        parts += [
            "Covered (UTC): "
            + "; ".join(f"{c.get('start')} – {c.get('end')}" for c in out["log_coverage"]),
            "",
        ]
        if out["uncovered_periods"]:
            parts += [
                "Not covered: "
                + "; ".join(f"{u['start']} – {u['end']}" for u in out["uncovered_periods"]),
                "",
            ]
        parts += [
            _md_table(
                ["file", "format", "lines", "message POSTs", "malformed", "first", "last"],
                _log_rows(s),
            ),
            "",
        ]
        for lg in s.get("logs") or []:
            if lg.get("samples"):
                parts += [
                    f"Malformed lines in `{_md(lg.get('path'))}`:",
                    "",
                    _md_table(
                        ["line", "reason", "text"],
                        [
                            [x.get("line"), x.get("reason"), f"`{x.get('text')}`"]
                            for x in lg["samples"]
                        ],
                    ),
                    "",
                ]
    parts += ["## Method", ""] + [f"- {_md(item)}" for item in _method_items(data, out)]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------------ CSV


def _formula_safe(array: pa.Array) -> pa.Array:
    """Prefix cells a spreadsheet would run as a formula (=, +, -, @) with a quote."""
    return pc.replace_substring_regex(array, r"^([=+\-@\t\r])", r"'\1")


def _clusters_csv(data: _Data, redact: bool, secrets: list[str]) -> bytes:
    t = data.table
    columns: dict[str, pa.Array] = {}

    def add(name: str, array: pa.Array | pa.ChunkedArray) -> None:
        columns[name] = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array

    add("cluster_id", t["cluster_id"])
    add("verdict", t["verdict"])
    to = t["to"].combine_chunks()
    add("to", mask_phones(to) if redact else to)
    for c in data.key_columns:
        add(c, t[c].cast(pa.string()) if not pa.types.is_string(t.schema.field(c).type) else t[c])
    add("n_records", t["n_records"])
    add("extra_messages", pa.array(data.frame["extra"].to_numpy()))
    for c in ("first_created", "last_created"):
        if c in t.column_names:
            seconds = t[c].cast(pa.timestamp("s", tz="UTC"), safe=False)
            add(c, pc.strftime(seconds, format="%Y-%m-%dT%H:%M:%SZ"))
    for c in (
        "span_seconds",
        "posts",
        "records_in_window",
        "covered",
        "skew_seconds",
        "match_mode",
        "log_kind",
    ):
        if c in t.column_names:
            add(c, t[c])
    add("gap_pattern", pa.array(data.frame["pattern"].astype(str).to_numpy(), pa.string()))
    for c in _LIST_COLUMNS:
        if c in t.column_names:
            unit = {"created": "s", "matched_times": "ms"}.get(c)
            add(c, _join_lists(t[c], times=unit))
    for c in ("hint", "verdict_reason"):
        if c in t.column_names:
            add(c, _formula_safe(t[c].combine_chunks().cast(pa.string())))
    if "body" in t.column_names:
        body = t["body"].combine_chunks()
        add("body", _formula_safe(mask_numbers_in_text(body) if redact else body))
    for name, array in columns.items():
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            columns[name] = scrub_secrets_array(array, secrets)
    buffer = io.BytesIO()
    pacsv.write_csv(pa.table(columns), buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------------ ticket


def _render_ticket(data: _Data, out: dict[str, Any], redact_ticket: bool) -> str:
    f, t = data.frame, data.table
    twilio = np.flatnonzero(f["verdict"].to_numpy() == TWILIO_SIDE)
    accounts = sorted(
        {
            a
            for lst in (
                t["account_sids"].take(pa.array(twilio)).to_pylist()
                if "account_sids" in t.column_names
                else []
            )
            for a in (lst or [])
            if a
        }
    )
    carrier = data.carrier
    carrier_side = (
        carrier[carrier["verdict"].astype(str) == Verdict.CARRIER_SIDE]
        if carrier is not None and "verdict" in carrier
        else None
    )
    lines = ["# Duplicate messages: one API request, several Message records", ""]
    if len(twilio) == 0 and (carrier_side is None or carrier_side.empty):
        lines += [
            "No twilio_side clusters and no carrier-side reports in these results: "
            "nothing to report to Twilio support.",
            "",
        ]
        return "\n".join(lines)
    records = int(f["n_records"].to_numpy()[twilio].sum()) if len(twilio) else 0
    lines += [
        f"Account{'s' if len(accounts) != 1 else ''}: {', '.join(accounts) or 'see SIDs'}  ",
        f"Period analysed (UTC): {out['period_start']} to {out['period_end']}  ",
        "",
        f"Our application made **one** API request (POST /2010-04-01/Accounts/…/Messages.json) "
        f"for each of the {len(twilio):,} cases below, but your Message log shows "
        f"{records:,} records for them: {records - len(twilio):,} messages we did not "
        "request, with the same recipient and body, created within seconds. Our request log "
        "lines are quoted for each case; please tell us why several messages were created "
        "and whether the recipients were charged or received them twice.",
        "",
        "Evidence: " + _evidence_text(out, "our server") + " All times are UTC.",
        "",
    ]
    if len(twilio):
        sub = t.take(pa.array(twilio))
        cols = {
            c: sub[c].to_pylist()
            for c in sub.column_names
            if c in _LIST_COLUMNS
            or c in ("to", "body", "posts", "n_records", "records_in_window", "verdict_reason")
        }
        to = _masked(sub["to"].combine_chunks(), redact_ticket)
        for i in range(sub.num_rows):
            sids = cols["sids"][i] or []
            created = [_iso(x) for x in cols.get("created", [[]] * sub.num_rows)[i] or []]
            lines.append(
                f"## {i + 1}. {len(sids)} records for one request, {created[0] if created else ''}"
            )
            lines.append("")
            lines.append(f"- To: {to[i]}")
            if not redact_ticket and cols.get("body") is not None:
                lines.append(f"- Body: {cols['body'][i]}")
            lines.append("- Message SIDs (created, status, from, error):")
            statuses = cols.get("statuses", [[]] * sub.num_rows)[i] or []
            senders = cols.get("from_numbers", [[]] * sub.num_rows)[i] or []
            errors = cols.get("error_codes", [[]] * sub.num_rows)[i] or []
            services = {
                s for s in cols.get("messaging_service_sids", [[]] * sub.num_rows)[i] or [] if s
            }
            for j, sid in enumerate(sids):
                detail = [
                    created[j] if j < len(created) else None,
                    statuses[j] if j < len(statuses) else None,
                    senders[j] if j < len(senders) else None,
                    errors[j] if j < len(errors) else None,
                ]
                lines.append(f"  - {sid} ({', '.join(str(d) for d in detail if d is not None)})")
            if services:
                lines.append(f"- Messaging Service: {', '.join(sorted(services))}")
            posts = cols.get("posts", [None] * sub.num_rows)[i]
            lines.append(
                f"- POST requests in our log: {posts if posts is not None else '?'}; "
                f"records in your log: {cols['n_records'][i]}"
                + (f" ({cols['verdict_reason'][i]})" if cols.get("verdict_reason") else "")
            )
            matched = cols.get("matched_lines", [[]] * sub.num_rows)[i] or []
            times = cols.get("matched_times", [[]] * sub.num_rows)[i] or []
            codes = cols.get("matched_statuses", [[]] * sub.num_rows)[i] or []
            for j, where in enumerate(matched):
                when = _iso(times[j]) if j < len(times) else None
                code = codes[j] if j < len(codes) else None
                lines.append(
                    f"  - request log {where}: POST at {when or '?'} (our clock), "
                    f"HTTP {code if code is not None else 'no response'}"
                )
            lines.append("")
    if carrier_side is not None and not carrier_side.empty:
        lines += [
            "# Recipients who received a message twice (one record, one request)",
            "",
            "For each of these our application made one request and your Message log "
            "shows one record, yet the recipient reported receiving it twice: please "
            "ask the carrier whether their SMSC delivered it again.",
            "",
        ]
        header, rows = _carrier_rows(carrier_side, redact_ticket, notes=not redact_ticket)
        lines += [_md_table(header, rows), ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------ entry point


def build_report(
    results: str | Path,
    out_dir: str | Path,
    *,
    redact: bool = False,
    ticket: bool = False,
    redact_ticket: bool = True,
) -> ReportResult:
    """Write an HTML, Markdown, CSV and JSON report (and optionally a support ticket) on
    the results of ``analyzer detect`` in ``results``.

    ``redact`` masks recipient numbers (and numbers inside bodies) in index.html,
    report.md, clusters.csv and the charts; the ticket masks them and leaves bodies out
    unless ``redact_ticket`` is False. Raises InputError if ``results`` is not a detect
    output.

    >>> result = build_report("results", "report", ticket=True)   # doctest: +SKIP
    >>> result.index_html
    PosixPath('report/index.html')
    """
    data = _load(Path(results))
    out = ensure_output_dir(out_dir)
    secrets = secret_values()

    def clean(text: str) -> str:
        return scrub_secrets(text, secrets)

    summary = _summarise(data, redact)
    made = _build_charts(data, redact)
    rows = _table_rows(data, redact, TABLE_ROWS)
    written: list[Path] = []

    def put(text: str, name: str, scrub: Callable[[str], str] = clean) -> Path:
        path = out / name
        write_text(scrub(text), path)
        written.append(path)
        return path

    index = put(_render_html(data, summary, made, rows), REPORT_HTML_FILE, _scrub_html(secrets))
    put(_render_md(data, summary, made, rows), REPORT_MD_FILE)
    chart_dir = out / "charts"
    chart_dir.mkdir(exist_ok=True)
    for chart in made:
        target = chart_dir / f"{chart.name}.png"
        write_with(_bytes_writer(chart.png), target)
        written.append(target)
    summary_text = json.dumps(json.loads(clean(json.dumps(summary))), indent=2, ensure_ascii=False)
    put(summary_text + "\n", SUMMARY_FILE, lambda x: x)
    # scrubbed column by column (RE2), far faster than a regex over the whole text
    csv_path = out / REPORT_CSV_FILE
    write_with(_bytes_writer(_clusters_csv(data, redact, secrets)), csv_path)
    written.append(csv_path)
    ticket_path = None
    if ticket:
        ticket_path = put(_render_ticket(data, summary, redact_ticket), TICKET_FILE)
    return ReportResult(
        out_dir=out, index_html=index, files=written, summary=summary, ticket=ticket_path
    )


def _bytes_writer(data: bytes) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        path.write_bytes(data)

    return write


_DATA_URI = re.compile(r"(data:image/png;base64,[A-Za-z0-9+/=]+)")


def _scrub_html(secrets: list[str]) -> Callable[[str], str]:
    """Scrub a page's text but not its inlined images (base64 is not text)."""

    def scrub(text: str) -> str:
        pieces = _DATA_URI.split(text)
        return "".join(p if i % 2 else scrub_secrets(p, secrets) for i, p in enumerate(pieces))

    return scrub
