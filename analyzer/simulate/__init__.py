"""Deterministic simulator of a Twilio account's outbound messaging, with ground truth.

``simulate()`` writes, for one or more UTC days: the message records as Twilio holds
them, the application's JSON-lines log of its HTTP requests to Twilio, the ground truth
(which records are planted duplicates and who caused them), recipients' complaints and
a description of the run. Everything derives from one seed; no wall-clock time is used,
so a seed always gives byte-identical files. Generation is vectorized and the output is
written in chunks so that millions of messages fit in bounded memory.

The modules: ``config`` (what to simulate), ``plan`` and ``log_plan`` (every record
and log line as numbers), ``messages`` and ``bodies`` (the records), ``writers`` (one
module per request log format), ``failures`` (the delivery failures planted), ``truth``
(what was planted) and ``dataset`` (the
file set).
"""

from __future__ import annotations

from analyzer.simulate.config import PLANTED, SCENARIOS, VERDICTS, SimulationConfig
from analyzer.simulate.dataset import CHUNK_ROWS, SimulationResult, render_request_log, simulate
from analyzer.simulate.messages import API_VERSION, SOURCE
from analyzer.simulate.truth import METADATA_FILE
from analyzer.simulate.writers import LOG_FORMATS, PARSER_FORMATS, WRITERS, Writer
from analyzer.simulate.writers.combined import CLIENT_CLOSED_STATUS, COMBINED_UTC_OFFSET_MINUTES
from analyzer.simulate.writers.common import SDK_VERSION, USER_AGENT
from analyzer.simulate.writers.twilio_sdk import SDK_LOG_PREFIX

__all__ = [
    "API_VERSION",
    "CHUNK_ROWS",
    "CLIENT_CLOSED_STATUS",
    "COMBINED_UTC_OFFSET_MINUTES",
    "LOG_FORMATS",
    "METADATA_FILE",
    "PARSER_FORMATS",
    "PLANTED",
    "SCENARIOS",
    "SDK_LOG_PREFIX",
    "SDK_VERSION",
    "SOURCE",
    "USER_AGENT",
    "VERDICTS",
    "WRITERS",
    "SimulationConfig",
    "SimulationResult",
    "Writer",
    "render_request_log",
    "simulate",
]
