"""The verdict of each duplicate cluster, from the evidence gathered for it.

The rules are one list in priority order: a cluster gets the verdict (and the
reason) of the first rule whose condition holds for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.duplicates import reconcile as rc
from analyzer.vocabulary import Verdict

#: Why the reconciliation left a cluster undecided, by its reason code.
UNDECIDED_REASONS: dict[int, str] = {
    rc.REASON_EITHER: "the POSTs near the cluster explain its records either way "
    "(one POST each, or one request making several)",
    rc.REASON_NO_POST: "a record of the cluster has no POST in the log shortly before it",
    rc.REASON_INFEASIBLE: "the logged POSTs and the records near the cluster do not reconcile",
    rc.REASON_CROWDED: "too many POSTs and messages within seconds of each other "
    "for this log to tell them apart",
}

#: (which clusters, verdict, reason: one text, or one per cluster)
Rule = tuple[np.ndarray, Verdict, str | np.ndarray]


@dataclass
class ClusterEvidence:
    """What is known of each duplicate cluster when its verdict is given, one entry each."""

    #: Records in the cluster, and how many of them are replies to an incoming message
    #: (sent from a TwiML answer, not by a POST).
    records: np.ndarray
    replies: np.ndarray
    #: Whether any server log was given at all.
    logs_given: bool
    #: The log has lines all through the cluster, from its first record to its last.
    covered: np.ndarray
    #: Every record's SID was logged with the POST that created it.
    all_sids_logged: np.ndarray
    #: The reconciliation's outcome (rc.UNDECIDED, rc.APP, rc.TWILIO) and, when it is
    #: undecided, why (rc.REASON_*).
    outcome: np.ndarray
    undecided_reason: np.ndarray
    #: Candidate POSTs of the cluster's records that got no answer or a 5xx.
    possible_posts: np.ndarray

    @classmethod
    def without_logs(cls, records: np.ndarray, replies: np.ndarray) -> ClusterEvidence:
        """The evidence when no server log was given."""
        n = len(records)
        nothing = np.zeros(n, dtype=bool)
        undecided = np.full(n, rc.UNDECIDED, dtype=np.int8)
        reason = np.full(n, rc.REASON_DECIDED, dtype=np.int8)
        none = np.zeros(n, dtype=np.int64)
        return cls(records, replies, False, nothing, nothing, undecided, reason, none)


def verdict_rules(evidence: ClusterEvidence) -> list[Rule]:
    """The verdict rules, the first that holds for a cluster deciding it."""
    e = evidence
    n = len(e.records)
    all_replies = e.replies >= e.records
    app = e.outcome == rc.APP
    unanswered = app & (e.possible_posts > 0)
    return [
        (
            all_replies,
            Verdict.WEBHOOK_SIDE,
            "replies to an incoming message (TwiML), not API sends: the webhook was answered twice",
        ),
        (
            (e.replies > 0) & ~all_replies,
            Verdict.INCONCLUSIVE,
            "the cluster mixes replies to an incoming message with API sends",
        ),
        (np.full(n, not e.logs_given), Verdict.UNVERIFIED, "no server logs given"),
        (
            ~e.all_sids_logged & ~e.covered,
            Verdict.UNVERIFIED,
            "the server log does not cover this time",
        ),
        (
            e.outcome == rc.TWILIO,
            Verdict.TWILIO_SIDE,
            "fewer POSTs than records: one request made several messages",
        ),
        (
            app & e.all_sids_logged,
            Verdict.APP_SIDE,
            "every record's SID was logged with its POST",
        ),
        (unanswered, Verdict.APP_SIDE, _unanswered_reasons(e.possible_posts, unanswered)),
        (app, Verdict.APP_SIDE, "a POST for every record"),
        *(
            (e.undecided_reason == code, Verdict.INCONCLUSIVE, text)
            for code, text in UNDECIDED_REASONS.items()
        ),
    ]


def _unanswered_reasons(possible_posts: np.ndarray, where: np.ndarray) -> np.ndarray:
    texts = np.full(len(possible_posts), "", dtype=object)
    texts[where] = [
        f"a POST for every record; {k} of them got no answer or a 5xx but must have "
        "created a record, since no other POST can have"
        for k in possible_posts[where]
    ]
    return texts


def judge(evidence: ClusterEvidence) -> tuple[np.ndarray, np.ndarray]:
    """The verdict and its reason for every cluster (inconclusive, without a reason,
    where no rule holds)."""
    n = len(evidence.records)
    rules = verdict_rules(evidence)
    conditions = [np.asarray(condition, dtype=bool) for condition, _, _ in rules]

    def column(value: object) -> np.ndarray:
        if isinstance(value, np.ndarray):
            return value.astype(object)
        return np.full(n, value, dtype=object)

    verdict = np.select(
        conditions,
        [column(v) for _, v, _ in rules],
        column(Verdict.INCONCLUSIVE),
    )
    reason = np.select(conditions, [column(r) for _, _, r in rules], column(""))
    return verdict, reason
