"""What to simulate: the scenarios, the configuration and its validation."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import IntEnum

import numpy as np

from analyzer.errors import UserError
from analyzer.simulate.timeline import DAY_S, LogGap
from analyzer.simulate.writers import LOG_FORMATS
from analyzer.vocabulary import PLANTED_VERDICTS, LogFormat, Verdict


class Scenario(IntEnum):
    """How a record came about; the value is its code in the plan's arrays."""

    NORMAL = 0
    APP_RETRY_TIMEOUT = 1
    DOUBLE_SUBMIT = 2
    QUEUE_REDELIVERY = 3
    TWILIO_SIDE = 4
    CARRIER_SIDE = 5
    LEGIT_REPEAT = 6
    INBOUND = 7
    MEDIA_ONLY = 8
    #: Records planted for opt-outs (keyword messages and sends after them), on top of
    #: ``messages``.
    OPT_OUT = 9


#: The scenario names, as the truth file writes them, in code order.
SCENARIOS: tuple[str, ...] = tuple(s.name.lower() for s in Scenario)
#: Scenarios whose records form a planted duplicate group (carrier_side: one record
#: in Twilio that the recipient received twice).
PLANTED: tuple[str, ...] = tuple(
    s.name.lower()
    for s in (
        Scenario.APP_RETRY_TIMEOUT,
        Scenario.DOUBLE_SUBMIT,
        Scenario.QUEUE_REDELIVERY,
        Scenario.TWILIO_SIDE,
        Scenario.CARRIER_SIDE,
    )
)
#: Whether each scenario code is planted.
PLANTED_CODES = np.array([s in PLANTED for s in SCENARIOS])
#: The truth's expected verdict of each planted scenario's groups (when the log covers them).
PLANTED_VERDICT_OF: dict[Scenario, Verdict] = {
    Scenario.APP_RETRY_TIMEOUT: Verdict.APP_SIDE,
    Scenario.DOUBLE_SUBMIT: Verdict.APP_SIDE,
    Scenario.QUEUE_REDELIVERY: Verdict.APP_SIDE,
    Scenario.TWILIO_SIDE: Verdict.TWILIO_SIDE,
    Scenario.CARRIER_SIDE: Verdict.CARRIER_SIDE,
}
VERDICTS: tuple[str, ...] = PLANTED_VERDICTS


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate. Rates are fractions of ``messages``: the number of groups
    (events) of each scenario is ``round(rate * messages)``; normal messages fill the
    rest so that ``messages`` records are written in total."""

    messages: int
    seed: int = 0
    start: datetime = datetime(2026, 11, 29, tzinfo=UTC)
    days: int = 1
    retry_rate: float = 0.004
    double_submit_rate: float = 0.003
    redelivery_rate: float = 0.001
    twilio_side_rate: float = 0.0005
    carrier_side_rate: float = 0.0005
    legit_repeat_rate: float = 0.02
    inbound_rate: float = 0.03
    media_only_rate: float = 0.01
    log_gap: tuple[time, time] | None = (time(2, 0), time(3, 10))
    clock_skew_seconds: float = 0.8
    #: Request log formats (LOG_FORMATS); the jsonl log is always written.
    log_formats: tuple[str, ...] = (LogFormat.JSONL.value,)
    #: Spread the events evenly over this many seconds from the first day's midnight,
    #: instead of over ``days`` days with a daily curve (for a chosen send rate).
    span_seconds: int | None = None
    #: Answer each create with a Twilio-Request-Id that carries the created SID's hex
    #: digits, as public logs of the real service show (False: unrelated random ids).
    request_id_is_sid: bool = False
    #: Write the application's ingress log (Twilio's webhooks and status callbacks to it,
    #: about 1.5 lines per message) and its truth; off for very large simulations.
    app_log: bool = True


def validate(config: SimulationConfig) -> tuple[int, LogGap]:
    """Check the configuration; return the first day's midnight (epoch s) and the log gap."""
    if config.messages < 1:
        raise UserError("messages must be at least 1")
    if config.days < 1:
        raise UserError("days must be at least 1")
    if config.span_seconds is not None and not 60 <= config.span_seconds <= config.days * DAY_S:
        raise UserError("span_seconds must be between 60 and the days simulated")
    for name, value in scenario_rates(config).items():
        if not 0 <= value <= 1:
            raise UserError(f"{name} must be between 0 and 1, got {value}")
    if not math.isfinite(config.clock_skew_seconds) or abs(config.clock_skew_seconds) > 3600:
        raise UserError("clock_skew_seconds must be within an hour")
    log_formats(config)
    start = config.start if config.start.tzinfo else config.start.replace(tzinfo=UTC)
    start = start.astimezone(UTC)
    day = datetime(start.year, start.month, start.day, tzinfo=UTC)
    return int(day.timestamp()), LogGap(config.log_gap)


def log_formats(config: SimulationConfig) -> list[str]:
    """The request log formats to write, jsonl first, each once."""
    names = (config.log_formats,) if isinstance(config.log_formats, str) else config.log_formats
    unknown = [str(f) for f in names if f not in LOG_FORMATS]
    if unknown:
        raise UserError(
            f"unknown log format(s) {', '.join(unknown)}; expected some of {', '.join(LOG_FORMATS)}"
        )
    jsonl = LogFormat.JSONL.value
    return [jsonl, *dict.fromkeys(f for f in names if f != jsonl)]


def scenario_rates(config: SimulationConfig) -> dict[str, float]:
    """The rate of each scenario but normal, in scenario code order."""
    return {
        "retry_rate": config.retry_rate,
        "double_submit_rate": config.double_submit_rate,
        "redelivery_rate": config.redelivery_rate,
        "twilio_side_rate": config.twilio_side_rate,
        "carrier_side_rate": config.carrier_side_rate,
        "legit_repeat_rate": config.legit_repeat_rate,
        "inbound_rate": config.inbound_rate,
        "media_only_rate": config.media_only_rate,
    }
