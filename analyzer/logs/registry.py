"""The log formats read: for each, what it sees, how to recognise it and its parser."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from analyzer.logs.jsonl import JsonlParser, sniff_jsonl
from analyzer.logs.model import Parser
from analyzer.logs.sdk import SdkParser
from analyzer.logs.sdk_lines import sniff_sdk
from analyzer.logs.wire import CombinedParser, EnvoyParser, sniff_combined, sniff_envoy
from analyzer.vocabulary import LOG_KIND_OF, LogFormat, LogKind

#: Non-blank lines read from the head of a file to recognise its format.
DETECT_LINES = 200


@dataclass(frozen=True)
class FormatEntry:
    """One log format."""

    name: LogFormat
    #: How many lines of a sample look like this format.
    sniff: Callable[[Sequence[str]], int]
    parser: type[Parser]

    @property
    def kind(self) -> LogKind:
        """What the format sees: the application's own calls, the SDK's, or the wire."""
        return LOG_KIND_OF[self.name]


#: Every format, in the order detection tries them.
REGISTRY: tuple[FormatEntry, ...] = (
    FormatEntry(LogFormat.JSONL, sniff_jsonl, JsonlParser),
    FormatEntry(LogFormat.TWILIO_SDK, sniff_sdk, SdkParser),
    FormatEntry(LogFormat.COMBINED, sniff_combined, CombinedParser),
    FormatEntry(LogFormat.ENVOY, sniff_envoy, EnvoyParser),
)
FORMATS: tuple[LogFormat, ...] = tuple(entry.name for entry in REGISTRY)
_BY_NAME: dict[LogFormat, FormatEntry] = {entry.name: entry for entry in REGISTRY}


def detect_from_lines(lines: Sequence[str]) -> LogFormat | None:
    """The format of a sample of non-blank lines, None when none fits.

    A format fits when at least half the lines look like it; the first that fits in
    REGISTRY order wins, unless another of its kind fits more lines (ties: the first).
    """
    counts: dict[LogFormat, int] = {}

    def count(entry: FormatEntry) -> int:
        if entry.name not in counts:
            counts[entry.name] = entry.sniff(lines)
        return counts[entry.name]

    for entry in REGISTRY:
        found = count(entry)
        if found > 0 and found * 2 >= len(lines):
            same_kind = [e for e in REGISTRY if e.kind == entry.kind]
            return max(same_kind, key=count).name
    return None


def make_parser(fmt: LogFormat, log_tz: str, fields: Mapping[str, str]) -> Parser:
    """A parser of ``fmt`` for one file."""
    return _BY_NAME[fmt].parser(log_tz, fields)
