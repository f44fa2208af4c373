"""What the reconciliation works on (a graph of records and POSTs) and what it gives."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: What a POST did: ACCEPTED (2xx) created a record; POSSIBLE may have created one.
ACCEPTED = 0
POSSIBLE = 1

UNDECIDED = 0
APP = 1
TWILIO = 2

#: Why a cluster is UNDECIDED (or how it was decided).
REASON_DECIDED = 0
REASON_EITHER = 1  # both answers are feasible
REASON_NO_POST = 2  # a record of the component has no candidate POST
REASON_INFEASIBLE = 3  # the accepted POSTs cannot all be given a record
REASON_CROWDED = 4  # too many POSTs and records within the band of each other


@dataclass
class Reconciled:
    """Per cluster: the outcome, its reason and the evidence that decided it."""

    outcome: np.ndarray  # int8: UNDECIDED, APP or TWILIO
    reason: np.ndarray  # int8: REASON_*
    posts: np.ndarray  # distinct candidate POSTs of the cluster's own records
    possible: np.ndarray  # of those, POSTs that may or may not have created a record
    records: np.ndarray  # records in the cluster's component
    pair_cluster: np.ndarray  # (cluster, POST) pairs: the candidate POSTs of each cluster
    pair_post: np.ndarray


@dataclass
class Graph:
    """Records and POSTs on one millisecond clock (Twilio's), with the delay band."""

    rec_ms: np.ndarray  # int64
    rec_scope: np.ndarray  # int64 >= 0: the recipient (0 for every record when time-only)
    rec_fixed: np.ndarray  # int64: the POST that logged this record's SID, or -1
    rec_failed: np.ndarray  # bool: status failed (a 400 may have created such a record)
    post_ms: np.ndarray  # int64
    post_scope: np.ndarray  # int64: the recipient, or -1 when the log does not say
    post_kind: np.ndarray  # int8: ACCEPTED or POSSIBLE
    post_failed_only: np.ndarray  # bool: a 400, which can only have made a failed record
    lo_ms: int  # record time - POST time, smallest
    hi_ms: int  # and largest
    #: Records that may be a copy Twilio made of another record of the same request
    #: (records of duplicate clusters), and how late such a copy may come (None: hi_ms).
    rec_copy: np.ndarray | None = None
    copy_hi_ms: int | None = None
    #: A POST whose time is known only to an interval was made between post_ms and
    #: post_ms + post_span_ms (None: every time is exact).
    post_span_ms: np.ndarray | None = None

    @property
    def n_records(self) -> int:
        return len(self.rec_ms)

    @property
    def n_posts(self) -> int:
        return len(self.post_ms)

    @property
    def copy_reach(self) -> int:
        return self.hi_ms if self.copy_hi_ms is None else max(self.hi_ms, self.copy_hi_ms)

    def spans(self) -> np.ndarray:
        """How long after post_ms each POST may have been made (0: exactly then)."""
        if self.post_span_ms is None:
            return np.zeros(self.n_posts, dtype=np.int64)
        return np.asarray(self.post_span_ms, dtype=np.int64)

    def copies(self) -> np.ndarray:
        """Which records may come as late as ``copy_reach``."""
        if self.rec_copy is None or self.copy_reach == self.hi_ms:
            return np.zeros(self.n_records, dtype=bool)
        return np.asarray(self.rec_copy, dtype=bool)

