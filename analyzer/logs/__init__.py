"""Parsers for the application's HTTP logs of its calls to Twilio.

Four formats (``analyzer.vocabulary.LogFormat``) are read into one canonical request table
(``REQUEST_SCHEMA``):

- ``jsonl``: JSON-lines application logs (field names remappable);
- ``twilio-sdk``: the twilio-python ``twilio.http_client`` logger at INFO, the 2022+
  ``-- BEGIN Twilio API Request --`` blocks and the older ``POST Request:`` /
  ``PAYLOAD:`` / ``POST Response: 201 {...}`` lines, behind any formatter prefix;
- ``combined``: nginx/Apache combined access logs of an egress proxy (also with a
  ``vhost[:port]`` field or an X-Forwarded-For chain before the client address);
- ``envoy``: Envoy's default access log format, and Istio's (response code details,
  termination details and trailing fields).

Files are streamed in chunks (plain or gzip), each chunk parsed with vectorized
pyarrow/pandas operations. Malformed lines are counted and sampled, never fatal.

Twilio's ``Date`` response header (Twilio's clock, to the second), which twilio-python
7.8.2+ logs in ``Response Headers: {...}``, fills ``twilio_time``. It also gives the time of
SDK blocks whose lines carry none (``logging.basicConfig()``), and, once a whole file is
read, reveals a log written in local time without a zone (the median of
``time - twilio_time`` is whole quarter hours away from zero): the file's line times are
then corrected and a warning says so.

Proxy tunnels (``CONNECT host:443`` lines, Envoy's ``"- - -"`` TCP proxy lines) are request
rows with method ``CONNECT`` and no path: never sends, counted in ``FileStats.tunnels``.

Each format has its module (``jsonl``, ``sdk``, ``wire``) and its entry in ``registry``.
"""

from analyzer.logs.columns import np_bool
from analyzer.logs.dates import parse_times, parse_twilio_dates
from analyzer.logs.files import expand_paths
from analyzer.logs.jsonl import DEFAULT_JSONL_FIELDS, parse_field_map
from analyzer.logs.model import (
    MAX_SAMPLES,
    REQUEST_SCHEMA,
    SAMPLE_CHARS,
    TIMELINE_SCHEMA,
    FileStats,
    LogParseResult,
    MalformedSample,
    RowFilter,
    empty_requests,
    timeline_of,
)
from analyzer.logs.reader import detect_format, read_server_logs
from analyzer.logs.registry import FORMATS, REGISTRY, FormatEntry

__all__ = [
    "DEFAULT_JSONL_FIELDS",
    "FORMATS",
    "MAX_SAMPLES",
    "REGISTRY",
    "REQUEST_SCHEMA",
    "SAMPLE_CHARS",
    "FileStats",
    "FormatEntry",
    "LogParseResult",
    "RowFilter",
    "TIMELINE_SCHEMA",
    "MalformedSample",
    "detect_format",
    "empty_requests",
    "expand_paths",
    "np_bool",
    "parse_field_map",
    "parse_times",
    "parse_twilio_dates",
    "read_server_logs",
    "timeline_of",
]
