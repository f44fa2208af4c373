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

#: Twilio's demo reply, where new numbers point until someone sets a webhook.
DEMO_URLS = (
    "https://demo.twilio.com/welcome/sms/reply",
    "http://demo.twilio.com/welcome/sms/reply",
)
#: Monitor alerts that mean a webhook failed (unreachable, timed out, bad answer).
WEBHOOK_ALERTS = (11200, 11205, 11206, 11210, 11215, 12100, 12300)
#: The verdicts, in the order they are tried: the first that holds is a number's.
VERDICTS = (
    "not_sms_capable",
    "no_webhook",
    "demo_webhook",
    "webhook_errors",
    "webhook_not_hit",
    "idle",
    "ok",
)
NUMBER_COLUMNS = (
    "phone_number",
    "sid",
    "sms_capable",
    "webhook",
    "inbound_messages",
    "webhook_hits",
    "alerts",
    "verdict",
)


@dataclass
class InboundCheck:
    """One row per number, and the inbound messages no webhook request answered."""

    numbers: pd.DataFrame
    unhandled: pd.DataFrame


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
    requests: pd.DataFrame | None,
    tolerance: float = 30.0,
) -> InboundCheck:
    """Judge every number; ``requests`` is the parsed server log (None: not given)."""
    frame = numbers.copy()
    frame["webhook"] = resolve_webhooks(numbers, services, links)
    frame["path"] = frame["webhook"].map(webhook_path)
    frame["inbound_messages"] = frame["phone_number"].map(inbound["to"].value_counts()).fillna(0)
    failing = alerts[alerts["error_code"].isin(WEBHOOK_ALERTS)]
    # An alert names its number, else only the URL that failed: count each alert once.
    named = failing["resource_sid"].isin(frame["sid"])
    by_sid = failing.loc[named, "resource_sid"].value_counts()
    by_url = failing.loc[~named, "request_url"].value_counts()
    frame["alerts"] = frame["sid"].map(by_sid).fillna(0) + frame["webhook"].map(by_url).fillna(0)
    posts = _posts(requests)
    frame["webhook_hits"] = frame["path"].map(posts["path"].value_counts()).fillna(0)
    refused = posts[posts["status"].fillna(0) >= 300]
    errors = frame["path"].map(refused["path"].value_counts()).fillna(0)
    frame = frame.astype({"inbound_messages": "int64", "alerts": "int64", "webhook_hits": "int64"})
    conditions = [
        ~frame["sms_capable"].fillna(False).astype(bool),
        (frame["webhook"] == "") & (frame["inbound_messages"] > 0),
        frame["webhook"].isin(DEMO_URLS),
        (frame["alerts"] > 0) | (errors > 0),
        (requests is not None)
        & (frame["inbound_messages"] > 0)
        & (frame["path"] != "")
        & (frame["webhook_hits"] == 0),
        frame["inbound_messages"] == 0,
    ]
    frame["verdict"] = np.select(conditions, VERDICTS[:-1], default=VERDICTS[-1])
    unhandled = (
        _unhandled(frame, inbound, posts, tolerance) if requests is not None else inbound[:0]
    )
    return InboundCheck(numbers=frame[list(NUMBER_COLUMNS)], unhandled=unhandled)


def _posts(requests: pd.DataFrame | None) -> pd.DataFrame:
    """The POSTs the application's server received (Twilio's webhooks among them)."""
    columns = ["time", "path", "status", "message_sid"]
    if requests is None or requests.empty:
        return pd.DataFrame(columns=columns)
    posts = requests[(requests["method"] == "POST") & ~requests["is_send"].astype(bool)]
    return posts[columns]


def _unhandled(
    numbers: pd.DataFrame, inbound: pd.DataFrame, posts: pd.DataFrame, tolerance: float
) -> pd.DataFrame:
    """Inbound messages with no webhook request for them: none with their SID, and none
    to their webhook's path within ``tolerance`` seconds."""
    by_number = numbers.set_index("phone_number")
    webhook = inbound["to"].map(by_number["webhook"]).fillna("")
    # An SMS application's URL is not exported: its messages cannot be judged here.
    judged = inbound[~webhook.astype(str).str.startswith("application:").to_numpy()]
    messages = judged.assign(path=judged["to"].map(by_number["path"]).fillna(""))
    by_sid = messages["sid"].isin(posts["message_sid"].dropna())
    left = messages.assign(row=np.arange(len(messages))).sort_values("date_created")
    right = posts.dropna(subset=["time"]).rename(columns={"time": "date_created"})
    right = right.assign(hit=True).sort_values("date_created")[["date_created", "path", "hit"]]
    if right.empty:
        near = np.zeros(len(messages), dtype=bool)
    else:
        matched = pd.merge_asof(
            left.astype({"path": object}),
            right.astype({"path": object}),
            on="date_created",
            by="path",
            direction="nearest",
            tolerance=pd.Timedelta(seconds=tolerance),
        ).sort_values("row")
        near = matched["hit"].fillna(False).astype(bool).to_numpy()
    return messages[~(by_sid.to_numpy() | near)].drop(columns=["path"]).reset_index(drop=True)
