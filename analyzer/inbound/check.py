"""Whether inbound messages can reach the application: for every number, the webhook
that handles an inbound SMS to it, how many arrived, whether the server log saw
requests for them, and what Twilio's alerts say.

Twilio calls the Messaging Service's inbound URL unless the service defers to the
number's own webhook; the number's webhook is its SMS application, else its SMS URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import pandas as pd

from analyzer.inbound.received import Received, is_in
from analyzer.vocabulary import InboundVerdict

#: Twilio's demo reply, where new numbers point until someone sets a webhook.
DEMO_URLS = (
    "https://demo.twilio.com/welcome/sms/reply",
    "http://demo.twilio.com/welcome/sms/reply",
)
#: Monitor alerts that mean a webhook failed (unreachable, timed out, bad answer).
WEBHOOK_ALERTS = (11200, 11205, 11206, 11210, 11215, 12100, 12300)
#: The verdicts, in the order they are tried: the first that holds is a number's.
VERDICTS: tuple[InboundVerdict, ...] = tuple(InboundVerdict)
NUMBER_COLUMNS = (
    "phone_number",
    "sid",
    "sms_capable",
    "webhook",
    "inbound_messages",
    "webhook_hits",
    "alerts",
    "verdict",
    "reason",
)
#: Why a number's verdict is inconclusive, or was reached without the server log.
NO_RECEIVED_REQUESTS = (
    "the server log shows no request from Twilio (no TwilioProxy user agent, no POST to a "
    "webhook's path): it is not the log of the server the webhooks point at (an SDK log or "
    "an egress proxy's shows only calls to Twilio), or no webhook request reaches that "
    "server at all; give that server's log, and check its URL and firewall"
)
NOT_COVERED = "the server log does not cover the time of its inbound messages"
APPLICATION_UNCHECKED = "routed to a TwiML App, whose URL is not exported: not checked"


@dataclass
class InboundCheck:
    """One row per number, and the inbound messages no webhook request answered."""

    numbers: pd.DataFrame
    unhandled: pd.DataFrame
    #: Whether the server log could judge the inbound messages (it shows Twilio reaching
    #: the server); False without a log.
    judged: bool = False


def resolve_webhooks(
    numbers: pd.DataFrame, services: pd.DataFrame, links: pd.DataFrame
) -> pd.Series:
    """The webhook Twilio calls for an inbound SMS to each number (empty: none)."""
    service = links.merge(
        services, left_on="service_sid", right_on="sid", suffixes=("", "_service")
    )
    by_number = service.drop_duplicates("phone_number").set_index("phone_number")
    joined = numbers.join(
        by_number[["inbound_request_url", "use_inbound_webhook_on_number"]], on="phone_number"
    )
    application = joined["sms_application_sid"].fillna("").astype(str)
    own = ("application:" + application).where(application != "", joined["sms_url"].fillna(""))
    in_service = joined["inbound_request_url"].notna()
    defers = joined["use_inbound_webhook_on_number"].fillna(False).astype(bool)
    service_url = joined["inbound_request_url"].fillna("")
    return pd.Series(np.where(in_service & ~defers, service_url, own), index=numbers.index)


def webhook_path(url: str) -> str:
    """The path a webhook URL reaches on the application's server."""
    if not url.startswith(("http://", "https://")):
        return ""  # none, or an SMS application (TwiML App): not a path of ours to look for
    return urlsplit(url).path or "/"


def check_numbers(
    numbers: pd.DataFrame,
    services: pd.DataFrame,
    links: pd.DataFrame,
    alerts: pd.DataFrame,
    inbound: pd.DataFrame,
    received: Received | None,
    tolerance: float = 30.0,
) -> InboundCheck:
    """Judge every number; ``received`` is what the server log shows the application
    received (None: no log given)."""
    frame = numbers.copy()
    frame["webhook"] = resolve_webhooks(numbers, services, links)
    frame["path"] = frame["webhook"].map(webhook_path)
    frame["inbound_messages"] = frame["phone_number"].map(inbound["to"].value_counts()).fillna(0)
    frame["alerts"] = _alerts(frame, alerts)
    posts = received.twilio_posts if received is not None else _no_posts()
    frame["webhook_hits"] = frame["path"].map(posts["path"].value_counts()).fillna(0)
    refused = posts[posts["status"].fillna(0).astype(float) >= 300]
    errors = frame["path"].map(refused["path"].value_counts()).fillna(0)
    frame = frame.astype({"inbound_messages": "int64", "alerts": "int64", "webhook_hits": "int64"})
    covered = (
        inbound["to"][received.covers(inbound["date_created"], tolerance)].value_counts()
        if received is not None
        else pd.Series(dtype="int64")
    )
    judged = (
        (received is not None)
        & (frame["inbound_messages"] > 0)
        & (frame["path"] != "")
        & ~frame["webhook"].isin(DEMO_URLS)
    )
    shows_twilio = received is not None and received.shows_twilio(set(frame["path"]) - {""})
    not_covered = frame["phone_number"].map(covered).fillna(0) == 0
    cannot_tell = judged & ((not shows_twilio) | not_covered)
    conditions = [
        ~frame["sms_capable"].fillna(False).astype(bool),
        (frame["webhook"] == "") & (frame["inbound_messages"] > 0),
        frame["webhook"].isin(DEMO_URLS),
        (frame["alerts"] > 0) | (errors > 0),
        judged & ~cannot_tell & (frame["webhook_hits"] == 0),
        cannot_tell,
        frame["inbound_messages"] == 0,
    ]
    frame["verdict"] = np.select(conditions, VERDICTS[:-1], default=VERDICTS[-1])
    reasons = [
        (frame["verdict"] == InboundVerdict.INCONCLUSIVE) & (not shows_twilio),
        frame["verdict"] == InboundVerdict.INCONCLUSIVE,
        (frame["verdict"] == InboundVerdict.OK) & frame["webhook"].str.startswith("application:"),
    ]
    frame["reason"] = np.select(
        reasons, [NO_RECEIVED_REQUESTS, NOT_COVERED, APPLICATION_UNCHECKED], default=""
    )
    unhandled = (
        _unhandled(frame, inbound, posts, received, tolerance)
        if received is not None and shows_twilio
        else inbound[:0]
    )
    return InboundCheck(
        numbers=frame[list(NUMBER_COLUMNS)], unhandled=unhandled, judged=shows_twilio
    )


def _alerts(numbers: pd.DataFrame, alerts: pd.DataFrame) -> pd.Series:
    """Each number's webhook alerts: an alert names its number, else only the URL that
    failed; each counts once."""
    failing = alerts[alerts["error_code"].isin(WEBHOOK_ALERTS)]
    named = failing["resource_sid"].isin(numbers["sid"])
    by_sid = failing.loc[named, "resource_sid"].value_counts()
    by_url = failing.loc[~named, "request_url"].value_counts()
    return numbers["sid"].map(by_sid).fillna(0) + numbers["webhook"].map(by_url).fillna(0)


def _no_posts() -> pd.DataFrame:
    return pd.DataFrame({"time": [], "path": [], "status": [], "message_sid": [], "from": []})


def _unhandled(
    numbers: pd.DataFrame,
    inbound: pd.DataFrame,
    posts: pd.DataFrame,
    received: Received,
    tolerance: float,
) -> pd.DataFrame:
    """Inbound messages within the log's span with no webhook request for them: none with
    their SID, and none to their webhook's path within ``tolerance`` seconds (from their
    sender, when the log names it). A request that names a SID answers that one only."""
    by_number = numbers.set_index("phone_number")
    webhook = inbound["to"].map(by_number["webhook"]).fillna("").astype(str)
    # An SMS application's URL is not exported: its messages cannot be judged here.
    judged = ~webhook.str.startswith("application:") & received.covers(
        inbound["date_created"], tolerance
    )
    messages = inbound[judged.to_numpy()]
    messages = messages.assign(path=messages["to"].map(by_number["path"]).fillna(""))
    named = posts["message_sid"].notna()
    anonymous = posts[~named]
    with_sender = anonymous["from"].notna()
    handled = (
        is_in(messages["sid"], posts.loc[named, "message_sid"])
        | _near(messages, anonymous[with_sender], ["path", "from"], tolerance)
        | _near(messages, anonymous[~with_sender], ["path"], tolerance)
    )
    return messages[~handled].drop(columns=["path"]).reset_index(drop=True)


def _near(
    messages: pd.DataFrame, posts: pd.DataFrame, keys: list[str], tolerance: float
) -> np.ndarray:
    """Whether each message has a request with the same keys within ``tolerance`` s."""
    right = posts.dropna(subset=["time"])
    if right.empty or messages.empty:
        return np.zeros(len(messages), dtype=bool)
    left = messages.assign(row=np.arange(len(messages))).sort_values("date_created")
    left = left[["row", "date_created", *keys]].astype({k: object for k in keys})
    right = right.rename(columns={"time": "date_created"}).assign(hit=True)
    right = right.sort_values("date_created")[["date_created", *keys, "hit"]]
    matched = pd.merge_asof(
        left,
        right.astype({k: object for k in keys}),
        on="date_created",
        by=keys,
        direction="nearest",
        tolerance=pd.Timedelta(seconds=tolerance),
    ).sort_values("row")
    return matched["hit"].fillna(False).astype(bool).to_numpy()
