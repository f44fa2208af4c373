"""Status callbacks: whether the application learned each outbound message's final
status. Twilio POSTs a callback for every status after the first (``MessageSid``,
``MessageStatus``, ``ErrorCode`` on failure) to the StatusCallback URL of the request or
of the Messaging Service; it does not retry one the application refused."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from analyzer.inbound.received import Received, is_in
from analyzer.vocabulary import FINAL_STATUSES, CallbackProblem

#: One row per problem of one message (or per refused callback naming none).
CALLBACK_COLUMNS = (
    "sid",
    "to",
    "from",
    "status",
    "error_code",
    "problem",
    "callback_status",
    "http_status",
    "time",
)
#: Statuses an inbound webhook may carry (SmsStatus): never a status callback.
INBOUND_STATUSES = ("received", "receiving")
#: A record's status and a callback's that say the same: a read message was delivered.
SAME_STATUS = (("read", "delivered"),)


@dataclass
class CallbackCheck:
    """The callback problems, and what they were judged on."""

    problems: pd.DataFrame
    #: Status callbacks the server log shows.
    logged: int = 0
    #: Outbound messages whose final callback was looked for.
    judged: int = 0
    warnings: list[str] = field(default_factory=list)


def callback_paths(services: pd.DataFrame) -> set[str]:
    """The paths of the Messaging Services' status callback URLs."""
    urls = services.get("status_callback", pd.Series(dtype=object)).dropna().astype(str)
    return {urlsplit(u).path or "/" for u in urls if u.startswith(("http://", "https://"))}


def callback_requests(received: Received, paths: set[str], webhooks: set[str]) -> pd.DataFrame:
    """Twilio's POSTs that are status callbacks: those carrying a message status (not an
    inbound one), and those to a service's callback path that is no inbound webhook's."""
    posts = received.twilio_posts
    status = posts["message_status"].astype("string").str.lower()
    with_status = status.notna().to_numpy() & ~is_in(status, INBOUND_STATUSES)
    to_path = is_in(posts["path"], paths - webhooks) & status.isna().to_numpy()
    return posts.assign(message_status=status)[with_status | to_path]


def check_callbacks(
    outbound: pd.DataFrame,
    received: Received,
    services: pd.DataFrame,
    webhooks: set[str],
    tolerance: float = 30.0,
) -> CallbackCheck:
    """The outbound messages whose final status never reached the application, the
    callbacks it refused, and the final callbacks that disagree with the record."""
    paths = callback_paths(services)
    callbacks = callback_requests(received, paths, webhooks)
    check = CallbackCheck(_empty(), logged=len(callbacks))
    if callbacks.empty:
        if paths and received.shows_any:
            check.warnings.append(
                "the server log shows no status callback, though Messaging Services send "
                f"them to {', '.join(sorted(paths))}: give the log of that server"
            )
        return check
    refused = callbacks[callbacks["status"].fillna(0).astype(float) >= 300]
    rows = [_refused(refused, outbound)]
    named = callbacks.dropna(subset=["message_sid", "message_status"])
    if named.empty:
        check.warnings.append(
            "the server log's status callbacks do not name their message and status "
            "(MessageSid, MessageStatus): only the refused callbacks were checked"
        )
    else:
        expected = _expected(outbound, named, services, received, tolerance)
        check.judged = len(expected)
        rows += _final_problems(expected, named)
    problems = pd.concat([r for r in rows if not r.empty] or [_empty()], ignore_index=True)
    check.problems = problems.sort_values(["problem", "time", "sid"], kind="stable")[
        list(CALLBACK_COLUMNS)
    ].reset_index(drop=True)
    return check


def _expected(
    outbound: pd.DataFrame,
    named: pd.DataFrame,
    services: pd.DataFrame,
    received: Received,
    tolerance: float,
) -> pd.DataFrame:
    """The outbound messages that had to get a final callback the log would show: a final
    status, callbacks asked for (some of their own arrived, or their service sends them
    to a path this log shows callbacks on: another service's may go to another server),
    and created and last updated within the log's span."""
    seen = set(named["path"].dropna().astype(str))
    urls = services["status_callback"].astype(object)
    to_here = [
        isinstance(url, str) and (urlsplit(url).path or "/") in seen for url in urls
    ]  # one per service
    asked = is_in(outbound["messaging_service_sid"], services.loc[to_here, "sid"]) | is_in(
        outbound["sid"], named["message_sid"]
    )
    inside = received.covers(outbound["date_created"], tolerance) & received.covers(
        outbound["date_updated"].fillna(outbound["date_created"]), 0.0
    )
    final = is_in(outbound["status"], FINAL_STATUSES)
    return outbound[asked & inside.to_numpy() & final]


def _final_problems(expected: pd.DataFrame, named: pd.DataFrame) -> list[pd.DataFrame]:
    """missing_final and disagrees rows of the expected messages."""
    finals = named[is_in(named["message_status"], FINAL_STATUSES)]
    last = finals.sort_values("time", kind="stable").drop_duplicates("message_sid", keep="last")
    last = last.set_index("message_sid")
    said = finals["message_sid"].astype(str) + "|" + finals["message_status"].astype(str)
    sids, statuses = expected["sid"].astype(str), expected["status"].astype(str)
    agrees = is_in(sids + "|" + statuses, said)
    for record_status, callback_status in SAME_STATUS:
        agrees |= (statuses == record_status).to_numpy() & is_in(sids + "|" + callback_status, said)
    has_final = is_in(expected["sid"], last.index)
    missing = expected[~has_final].assign(problem=CallbackProblem.MISSING_FINAL.value)
    missing = missing.assign(callback_status=None, http_status=np.nan, time=missing["date_updated"])
    wrong = expected[has_final & ~agrees]
    if wrong.empty:
        return [missing]
    wrong = wrong.assign(
        problem=CallbackProblem.DISAGREES.value,
        callback_status=wrong["sid"].map(last["message_status"]),
        http_status=wrong["sid"].map(last["status"]),
        time=wrong["sid"].map(last["time"]),
    )
    return [missing, wrong]


def _refused(refused: pd.DataFrame, outbound: pd.DataFrame) -> pd.DataFrame:
    """One row per callback the application answered non-2xx."""
    records = outbound.drop_duplicates("sid").set_index("sid")
    sid = refused["message_sid"]
    frame = pd.DataFrame(
        {
            "sid": sid,
            "to": sid.map(records["to"]),
            "from": sid.map(records["from"]),
            "status": sid.map(records["status"]),
            "error_code": sid.map(records["error_code"]),
            "problem": CallbackProblem.REFUSED.value,
            "callback_status": refused["message_status"],
            "http_status": refused["status"],
            "time": refused["time"],
        }
    )
    return frame.reset_index(drop=True)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=object) for name in CALLBACK_COLUMNS})
