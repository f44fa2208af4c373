"""analyzer: find duplicate SMS in Twilio Programmable Messaging logs and show who caused them.

The Python API (pandas DataFrames in and out)::

    import analyzer
    messages = analyzer.load_messages("data/sample/messages.parquet")
    clusters = analyzer.find_duplicates(messages, window=60)
    requests = analyzer.read_server_logs("data/sample/server_requests.jsonl")
    judged = analyzer.cross_reference(clusters, requests, messages)
    judged["verdict"].value_counts()

Functions: load_messages, find_duplicates, window_sensitivity, read_server_logs,
cross_reference, investigate, run_detect, run_failures, run_optouts and run_inbound
(what ``analyzer detect``, ``failures``, ``optouts`` and ``inbound`` do) and
build_report. Each has an
example in its docstring. DetectOptions, LogOptions and InvestigateOptions are the settings the
command line, nightly and these share.

Packages, one job each (imports point down this list): ``vocabulary`` and ``results``
(stable names, the results contract), ``store`` (the Parquet message store), ``sources``
(Twilio export, file imports), ``logs`` (server log parsers), ``duplicates`` (clusters,
verdicts, reported duplicates), ``failures``, ``optouts``, ``inbound`` (the other
analyses), ``report`` (HTML/Markdown/ticket), ``options`` (every
setting), ``analyses`` (the registry the jobs run), ``engines`` (local, Dask),
``pipeline`` and ``nightly`` (jobs), ``simulate`` (data with known answers), ``api``
and ``cli``.
"""

from analyzer.api import (
    build_report,
    cross_reference,
    find_duplicates,
    investigate,
    load_messages,
    read_server_logs,
    run_detect,
    run_failures,
    run_inbound,
    run_optouts,
    window_sensitivity,
)
from analyzer.options import DetectOptions, InvestigateOptions, LogOptions

__version__ = "0.1.0"
__all__ = [
    "DetectOptions",
    "InvestigateOptions",
    "LogOptions",
    "build_report",
    "cross_reference",
    "find_duplicates",
    "investigate",
    "load_messages",
    "read_server_logs",
    "run_detect",
    "run_failures",
    "run_inbound",
    "run_optouts",
    "window_sensitivity",
]
