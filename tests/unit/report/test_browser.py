"""The report as a person sees it: rendered by headless Chromium, every chart loaded."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from analyzer.pipeline import run_detect
from analyzer.report import build_report

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "sample"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# Debian's chromium, as root and offline: no sandbox, and no background connections
# (this machine refuses them, many at a time).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
]

CHECKER = """<script>
window.addEventListener("load", () => {
  const images = Array.from(document.images);
  const loaded = images.filter((i) => i.complete && i.naturalWidth > 0).length;
  document.title = `images ${loaded}/${images.length}`;
});
</script>"""


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.skipif(
    CHROMIUM is None,
    reason="headless Chromium (Debian's chromium package) is not installed; .ci/run installs it",
)
def test_every_chart_image_loads_in_headless_chromium(tmp_path: Path) -> None:
    run_detect(
        SAMPLE / "messages.parquet",
        tmp_path / "detect",
        server_logs=[SAMPLE / "server_requests.jsonl"],
    )
    report = build_report(tmp_path / "detect", tmp_path / "report")
    html = report.index_html.read_text(encoding="utf-8")
    charts = html.count('src="data:image/png;base64,')
    assert charts >= 5
    # The report has no scripts; the check runs on a copy with one added.
    probe = tmp_path / "probe.html"
    probe.write_text(html.replace("</body>", CHECKER + "</body>"), encoding="utf-8")

    dom = chromium(
        tmp_path / "profile", "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()
    )
    assert dom.returncode == 0, dom.stderr[-2000:]
    title = re.search(r"<title>([^<]*)</title>", dom.stdout)
    assert title is not None
    assert title.group(1) == f"images {charts}/{charts}"

    shot = tmp_path / "report.png"
    rendered = chromium(
        tmp_path / "profile",
        "--window-size=1280,2200",
        f"--screenshot={shot}",
        report.index_html.as_uri(),
    )
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert shot.stat().st_size > 20_000
