"""The request log writers, one module per log format, and their registry.

Each writer renders a request table (see ``analyzer.simulate.request_table``) as the
text of one log format, one string per request, and names the ``analyzer.logs``
format that reads it back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.writers.combined import render_combined
from analyzer.simulate.writers.common import cut_text
from analyzer.simulate.writers.envoy import render_envoy
from analyzer.simulate.writers.jsonl import render_jsonl
from analyzer.simulate.writers.twilio_sdk import (
    TWILIO_SDK_LEGACY,
    cut_sdk,
    cut_sdk_legacy,
    render_sdk,
    render_sdk_legacy,
)
from analyzer.vocabulary import LogFormat


@dataclass(frozen=True)
class Writer:
    """One request log format the simulator writes."""

    name: str
    #: The text of each request of a request table, given the simulation's seed.
    render: Callable[[pa.Table, int], pa.Array]
    #: The ``analyzer.logs`` format that reads this log.
    reads: LogFormat
    #: A torn write of one rendered request: its text and the share kept.
    cut: Callable[[str, float], str] = cut_text


#: Every writer, by name.
WRITERS: dict[str, Writer] = {
    writer.name: writer
    for writer in (
        Writer(LogFormat.JSONL.value, render_jsonl, LogFormat.JSONL),
        Writer(LogFormat.TWILIO_SDK.value, render_sdk, LogFormat.TWILIO_SDK, cut_sdk),
        Writer(TWILIO_SDK_LEGACY, render_sdk_legacy, LogFormat.TWILIO_SDK, cut_sdk_legacy),
        Writer(LogFormat.COMBINED.value, render_combined, LogFormat.COMBINED),
        Writer(LogFormat.ENVOY.value, render_envoy, LogFormat.ENVOY),
    )
}
#: Request log formats the simulator writes.
LOG_FORMATS: tuple[str, ...] = tuple(WRITERS)
#: The ``analyzer.logs`` format that reads each of LOG_FORMATS.
PARSER_FORMATS: dict[str, LogFormat] = {name: writer.reads for name, writer in WRITERS.items()}


def log_file_name(name: str) -> str:
    """The file a simulation writes the log of this writer to."""
    return "server_requests.jsonl" if name == LogFormat.JSONL else f"server_requests.{name}.log"


def render(name: str, table: pa.Table, seed: int) -> pa.Array:
    """The text of each request of ``table`` in this writer's format, rows with a
    ``cut`` above 0 torn."""
    writer = WRITERS[name]
    text = writer.render(table, seed)
    cut = table["cut"].to_numpy()
    broken = np.flatnonzero(cut > 0)
    if broken.size:
        # Few rows (about 1 in 10,000): a plain loop is fine here.
        originals = text.take(pa.array(broken)).to_pylist()
        replaced = [writer.cut(s, float(c)) for s, c in zip(originals, cut[broken], strict=True)]
        mask = np.zeros(len(text), dtype=bool)
        mask[broken] = True
        text = pc.replace_with_mask(text, pa.array(mask), pa.array(replaced, pa.string()))
    return text
