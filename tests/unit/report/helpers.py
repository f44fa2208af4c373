"""What the report tests share: simulation settings and ways to read a report."""

from __future__ import annotations

import base64
import gc
import re
from html import unescape
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
from matplotlib.figure import Figure

from analyzer.simulate import SimulationConfig

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
TOKEN = "f3a9c2e1d4b5a6978877665544332211"

RICH = SimulationConfig(
    messages=4000,
    seed=5,
    retry_rate=0.01,
    double_submit_rate=0.006,
    redelivery_rate=0.002,
    twilio_side_rate=0.003,
    carrier_side_rate=0.002,
)
NONE = SimulationConfig(
    messages=1500,
    seed=6,
    retry_rate=0.0,
    double_submit_rate=0.0,
    redelivery_rate=0.0,
    twilio_side_rate=0.0,
    carrier_side_rate=0.0,
)


def live_figures() -> int:
    """The matplotlib figures alive in this process."""
    gc.collect()
    return sum(isinstance(o, Figure) for o in gc.get_objects())


def clusters(results: Path) -> pd.DataFrame:
    """The clusters a detection wrote."""
    return pq.read_table(results / "clusters.parquet").to_pandas()


def html_of(report: Path) -> str:
    """The report's page."""
    return (report / "index.html").read_text(encoding="utf-8")


def markdown_of(report: Path) -> str:
    """The report's Markdown."""
    return (report / "report.md").read_text(encoding="utf-8")


def assert_self_contained(page: str) -> None:
    """The page fetches nothing and runs nothing."""
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(?i)\b(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert not re.search(r"(?i)url\(\s*['\"]?\s*(https?:)?//", page)
    assert not re.search(r"(?i)@import", page)


def inline_pngs(page: str) -> list[bytes]:
    """The PNG images inlined in the page."""
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [base64.b64decode(u, validate=True) for u in uris]


def headings(text: str) -> tuple[list[str], list[str]]:
    """The section titles of a page and of a Markdown file."""
    page = [unescape(h) for h in re.findall(r"<h2>(.*?)</h2>", text)]
    return page, re.findall(r"^## (.*)$", text, re.M)


def section_of(markdown: str, title: str) -> str:
    """One section of a Markdown report."""
    return markdown.split(f"## {title}\n")[1].split("\n## ")[0]
