"""The stable names the whole project shares: verdicts, in the order they are listed.

Written here once and imported everywhere else, so that a verdict is never retyped.
"""

from __future__ import annotations

from enum import StrEnum


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
