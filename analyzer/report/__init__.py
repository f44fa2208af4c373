"""Reports on the results of ``analyzer detect``, ``analyzer failures`` and
``analyzer optouts``: HTML, Markdown, CSV, JSON, a support ticket, and nightly's history
page.

``build_report`` reads a results folder (``clusters.parquet``, ``sensitivity.csv``,
``summary.json`` and, if an investigation wrote it, ``carrier.parquet``; and/or the
delivery failures, ``failures_summary.json`` and the files beside it; and/or the
opt-outs, ``optouts_summary.json`` and the files beside it), builds one
:class:`~analyzer.report.document.Document` from the sections in
:mod:`analyzer.report.sections`, and writes, each file atomically:

- ``index.html``: one self-contained page (charts inlined as PNG, inline styles, no
  scripts, nothing fetched), from :mod:`~analyzer.report.html`;
- ``report.md`` with its charts as ``charts/*.png`` beside it, from
  :mod:`~analyzer.report.markdown`: the same document, so the same content;
- ``summary.json`` (:class:`~analyzer.results.ReportSummary`), ``clusters.csv`` (every
  cluster, worst first, :mod:`~analyzer.report.csv`);
- with ``ticket=True``, ``ticket.md`` for Twilio support (:mod:`~analyzer.report.ticket`).

:mod:`~analyzer.report.history` writes nightly's page of every day's figures with the
same renderer and charts. No credential appears in any output: environment secrets, URL
passwords, Authorization headers and bare 32-hex tokens are scrubbed from every text.
"""

from analyzer.report.build import ReportResult, build_report

__all__ = ["ReportResult", "build_report"]
