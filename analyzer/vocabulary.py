"""The stable names the whole project shares: verdicts, gap patterns and log formats.

Written here once and imported everywhere else, so that a name is never retyped.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


class Verdict(StrEnum):
    """Who caused a duplicate; the values are the labels in every output file."""

    APP_SIDE = "app_side"
    TWILIO_SIDE = "twilio_side"
    WEBHOOK_SIDE = "webhook_side"
    CARRIER_SIDE = "carrier_side"
    INCONCLUSIVE = "inconclusive"
    UNVERIFIED = "unverified"
    NOT_FOUND = "not_found"


#: What the cross-reference gives a duplicate cluster.
CLUSTER_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.WEBHOOK_SIDE,
    Verdict.UNVERIFIED,
    Verdict.INCONCLUSIVE,
)
#: What the simulator plants as the truth of a duplicate group.
PLANTED_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.CARRIER_SIDE,
    Verdict.UNVERIFIED,
)
#: The order in which reports and charts list verdicts.
LISTED_VERDICTS: tuple[Verdict, ...] = (
    Verdict.APP_SIDE,
    Verdict.TWILIO_SIDE,
    Verdict.WEBHOOK_SIDE,
    Verdict.CARRIER_SIDE,
    Verdict.INCONCLUSIVE,
    Verdict.UNVERIFIED,
)



class LogFormat(StrEnum):
    """The server request log formats ``analyzer.logs`` reads."""

    JSONL = "jsonl"
    TWILIO_SDK = "twilio-sdk"
    COMBINED = "combined"
    ENVOY = "envoy"


class LogKind(StrEnum):
    """What a log format sees: the application's own calls, the SDK's, or the wire."""

    APPLICATION = "application"
    SDK = "sdk"
    WIRE = "wire"
    UNKNOWN = "unknown"


#: The kind of each log format.
LOG_KIND_OF: dict[LogFormat, LogKind] = {
    LogFormat.JSONL: LogKind.APPLICATION,
    LogFormat.TWILIO_SDK: LogKind.SDK,
    LogFormat.COMBINED: LogKind.WIRE,
    LogFormat.ENVOY: LogKind.WIRE,
}


@dataclass(frozen=True)
class GapPattern:
    """A shape of the gaps between a cluster's records that points at one cause."""

    name: str
    #: Every gap of the cluster lies in [low, high] seconds.
    low: float
    high: float
    #: What the gaps look like, and what that usually means (report text).
    shape: str
    meaning: str
    #: The root-cause hint the cross-reference gives such a cluster.
    hint: str
    #: Where a gap chart marks the pattern, and the mark's label (None: not marked).
    mark: float | None = None
    label: str = ""


def _timeout(seconds: int) -> GapPattern:
    return GapPattern(
        name=f"timeout_{seconds}s",
        low=float(seconds),
        high=float(seconds + 3),
        shape=f"the second send came {seconds} s after the first",
        meaning=f"the signature of a retry after a {seconds} s client timeout",
        hint=f"gaps just over {seconds} s: a retry after a {seconds} s client timeout",
        mark=float(seconds),
        label=f"{seconds} s",
    )


#: Client timeouts common in HTTP libraries and job runners.
COMMON_TIMEOUTS: tuple[int, ...] = (5, 10, 15, 20, 30, 60)
DOUBLE_SUBMIT = GapPattern(
    name="double_submit",
    low=0.0,
    high=2.0,
    shape="the records came at most 2 s apart",
    meaning="the signature of a double submit or two workers taking one job",
    hint="gaps of at most 2 s: a double submit or two workers taking one job",
)
REDELIVERY_1H = GapPattern(
    name="redelivery_1h",
    low=3000.0,
    high=4200.0,
    shape="the second send came about an hour after the first",
    meaning="the signature of a queue redelivering a job after a 1 h visibility timeout",
    hint="gaps of about 1 h: a queue redelivering after its visibility timeout",
    mark=3600.0,
    label="1 h",
)
#: Every gap pattern, none overlapping another.
GAP_PATTERNS: tuple[GapPattern, ...] = (
    DOUBLE_SUBMIT,
    *(_timeout(t) for t in COMMON_TIMEOUTS),
    REDELIVERY_1H,
)
TIMEOUT_PATTERNS: dict[int, GapPattern] = {
    t: GAP_PATTERNS[i + 1] for i, t in enumerate(COMMON_TIMEOUTS)
}
#: A cluster whose gaps fall in no pattern, or in several.
OTHER_GAPS, MIXED_GAPS = "other", "mixed"


def classify_gaps(gaps: pa.ListArray | pa.ChunkedArray) -> np.ndarray:
    """Name each cluster's gap pattern from its list of gaps (seconds): a GAP_PATTERNS
    name if all its gaps fall in that pattern, ``mixed`` if they fall in different ones,
    ``other`` if any falls in none or there are none."""
    names = np.array([p.name for p in GAP_PATTERNS] + [OTHER_GAPS, MIXED_GAPS], dtype=object)
    if isinstance(gaps, pa.ChunkedArray):
        gaps = gaps.combine_chunks() if gaps.num_chunks else pa.array([], gaps.type)
    n, other = len(gaps), len(GAP_PATTERNS)
    if n == 0:
        return names[:0]
    values = pc.list_flatten(gaps).to_numpy(zero_copy_only=False).astype(float)
    parents = pc.list_parent_indices(gaps).to_numpy()
    code = np.full(values.size, other, dtype=np.int64)
    for i, pattern in enumerate(GAP_PATTERNS):
        code[(values >= pattern.low) & (values <= pattern.high)] = i
    lo = np.full(n, other, dtype=np.int64)
    hi = np.full(n, -1, dtype=np.int64)
    np.minimum.at(lo, parents, code)
    np.maximum.at(hi, parents, code)
    hi = np.where(hi < 0, other, hi)
    return names[np.where(lo == hi, lo, other + 1)]


def gap_hints(pattern_names: np.ndarray) -> np.ndarray:
    """The cross-reference hint of each gap pattern name ("" for other and mixed)."""
    hints = pd.Series(pattern_names, dtype=object).map({p.name: p.hint for p in GAP_PATTERNS})
    return hints.fillna("").to_numpy(dtype=object)


def gap_pattern(name: str) -> GapPattern | None:
    """The pattern of this name, or None for other, mixed and unknown names."""
    return next((p for p in GAP_PATTERNS if p.name == name), None)


class FailureCategory(StrEnum):
    """Why a message was not delivered, by who can act on it; the labels of every output."""

    REQUEST = "request"
    COMPLIANCE = "compliance"
    RATE = "rate"
    CONTENT = "content"
    RECIPIENT = "recipient"
    OPTED_OUT = "opted_out"
    CARRIER = "carrier"
    FRAUD = "fraud"
    UNKNOWN = "unknown"


#: Message statuses that mean the message did not arrive.
FAILED, UNDELIVERED = "failed", "undelivered"
FAILURE_STATUSES: tuple[str, ...] = (FAILED, UNDELIVERED)


class OptoutKind(StrEnum):
    """What an inbound keyword does to a recipient's opt-out state."""

    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"


class OptoutVerdict(StrEnum):
    """What happened to a send to a recipient who had opted out."""

    #: Twilio refused it with 21610 (not charged): wasted work.
    BLOCKED = "blocked"
    #: No 21610: the message went out, a compliance risk to investigate.
    SENT_AFTER_OPT_OUT = "sent_after_opt_out"


#: The error code of a send to an opted-out recipient.
OPTED_OUT_ERROR = 21610


class InboundVerdict(StrEnum):
    """Whether inbound SMS to a number reach the application; in the order the check tries
    them (the first that holds is a number's verdict), worst first."""

    NOT_SMS_CAPABLE = "not_sms_capable"
    NO_WEBHOOK = "no_webhook"
    DEMO_WEBHOOK = "demo_webhook"
    WEBHOOK_ERRORS = "webhook_errors"
    WEBHOOK_NOT_HIT = "webhook_not_hit"
    #: The server log cannot tell: it shows no request the application received, or does
    #: not cover the number's inbound messages.
    INCONCLUSIVE = "inconclusive"
    IDLE = "idle"
    OK = "ok"


class CallbackProblem(StrEnum):
    """What went wrong with the status callbacks of one outbound message."""

    #: The message reached a final status, and no callback told the application so.
    MISSING_FINAL = "missing_final"
    #: The application answered a callback with a non-2xx status.
    REFUSED = "refused"
    #: A callback's final status differs from the record's.
    DISAGREES = "disagrees"


#: The User-Agent Twilio's webhooks and status callbacks carry ("TwilioProxy/1.1").
TWILIO_USER_AGENT = "TwilioProxy"
#: Message statuses after which no further status callback comes.
FINAL_STATUSES: tuple[str, ...] = ("delivered", UNDELIVERED, FAILED, "read", "canceled")
