"""Which request rows the cross-reference of some clusters can need, decided while the
log is read (``LogScope``, an analyzer.logs.RowFilter), so that a day's log need not be
held whole.

Kept: every POST to Messages.json that names no SID or no recipient, or a recipient
written otherwise than Twilio writes it (``+``, a calling code and the digits); every
POST to one of the clusters' recipients; and every POST among the first ones the plan
samples (skew pairs, recipient forms). What is left out are POSTs that name a SID and,
as Twilio writes it, a recipient of no cluster. The plan counts them from the log's
timeline, and judging never reaches them: components never cross recipients. Only when
the log's recipients cannot be used, or the log must be matched by time, may they
matter: the plan then says the log must be read whole (plan.planned raises).
Recipients are compared by 64-bit hashes, which may keep a row more, never one less.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.duplicates.crossref.outcomes import OUTCOMES, REFUSED, post_outcomes
from analyzer.duplicates.crossref.records import (
    RECIPIENT_SAMPLE,
    api_mask,
    present,
    record_columns,
    records_in_clusters,
)
from analyzer.duplicates.crossref.skew import SKEW_SAMPLE
from analyzer.duplicates.hashing import hash_column
from analyzer.redact import CALLING_CODES

#: A recipient as Twilio writes it: ``+``, a calling code, 8 to 15 digits in all.
_PLAIN = r"^\+[1-9][0-9]{7,14}$"
#: Whether each number of three digits starts with a calling code (codes are prefix-free).
_CODED = np.array(
    [any(f"{n:03d}"[:k] in CALLING_CODES for k in (1, 2, 3)) for n in range(1000)], dtype=bool
)
#: The sampled columns: each is kept until SKEW_SAMPLE exact POSTs named it (the
#: recipients' sample, RECIPIENT_SAMPLE, is the smaller one).
_SAMPLED = ("to", "message_sid", "twilio_time")
assert RECIPIENT_SAMPLE <= SKEW_SAMPLE


class LogScope:
    """Keeps the request rows the cross-reference of ``clusters`` can need (see the
    module); ``messages`` are the records it is judged against."""

    def __init__(self, clusters: pa.Table, messages: pa.Table) -> None:
        records, api = record_columns(messages), api_mask(messages)
        in_clusters = api & records_in_clusters(records, clusters)
        targets = pc.unique(records["to"].filter(pa.array(in_clusters)))
        #: A cluster recipient written otherwise than Twilio writes it may stand for other
        #: writings of its number: then nothing can be left out.
        self.everything = bool(len(targets)) and not bool(_plain(targets).all())
        self._recipients = _hashes(targets)
        self._seen = dict.fromkeys(_SAMPLED, 0)

    def __call__(self, chunk: pa.Table) -> np.ndarray:
        """Which rows of a parsed chunk (analyzer.logs.model.CORE_SCHEMA) to keep."""
        send = present(chunk["is_send"])
        if self.everything:
            return send
        keep = self._sampled(chunk, send)
        to = chunk["to"]
        keep |= ~present(pc.is_valid(to)) | ~present(pc.is_valid(chunk["message_sid"]))
        rows = np.flatnonzero(send & ~keep)
        if len(rows):
            their_to = to.take(pa.array(rows))
            needed = _member(hash_column(their_to), self._recipients)
            unsure = np.flatnonzero(~needed)
            needed[unsure] = ~_plain(their_to.take(pa.array(unsure)))
            keep[rows] = needed
        return send & keep

    def _sampled(self, chunk: pa.Table, send: np.ndarray) -> np.ndarray:
        """The POSTs among the first that name each sampled column (counted among the
        exact ones: timed, not refused)."""
        keep = np.zeros(chunk.num_rows, dtype=bool)
        named = {
            name: present(pc.is_valid(chunk[name]))
            for name in _SAMPLED
            if self._seen[name] < SKEW_SAMPLE
        }
        named = {name: has for name, has in named.items() if has.any()}
        if not named:
            return keep
        exact = send & present(pc.is_valid(chunk["time"]))
        exact &= post_outcomes(chunk["status"]) != OUTCOMES.index(REFUSED)
        for name, has in named.items():
            counted = exact & has
            if name == "to":
                counted[counted] = _plain(chunk[name].filter(pa.array(counted)))
            before = self._seen[name] + np.cumsum(counted) - counted
            keep |= has & (before < SKEW_SAMPLE)
            self._seen[name] += int(counted.sum())
        return keep


def _plain(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """Which values are recipients as Twilio writes them (recipient_key leaves them as
    they are)."""
    text = values.cast(pa.string())
    plain = present(pc.match_substring_regex(text, _PLAIN))
    if plain.any():
        # The three digits after "+" say whether a calling code starts the number.
        head = pc.utf8_slice_codeunits(text.filter(pa.array(plain)), 1, 4).cast(pa.int16())
        plain[plain] = _CODED[head.to_numpy(zero_copy_only=False)]
    return plain


def _hashes(values: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """The sorted distinct 64-bit hashes of the values."""
    chunked = values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])
    return np.unique(hash_column(chunked.cast(pa.string())))


def _member(hashes: np.ndarray, among: np.ndarray) -> np.ndarray:
    """Whether each hash is one of ``among`` (sorted)."""
    if not len(among):
        return np.zeros(len(hashes), dtype=bool)
    at = np.minimum(np.searchsorted(among, hashes), len(among) - 1)
    return among[at] == hashes
