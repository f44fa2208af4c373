"""`analyzer report`: the files written from real detect outputs, privacy and chart hygiene."""

from __future__ import annotations

import base64
import gc
import html
import json
import re
import shutil
import sys
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.figure import Figure

from analyzer import charts
from analyzer.errors import InputError
from analyzer.investigate import read_complaints
from analyzer.pipeline import run_detect, run_investigate
from analyzer.redact import mask_phones
from analyzer.report import _PATTERNS, _gap_patterns, build_report
from analyzer.simulate import SimulationConfig, simulate

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


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, RICH)
    return out


@pytest.fixture(scope="module")
def with_logs(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect_logs")
    run_detect(sim / "messages.parquet", out, server_logs=[sim / "server_requests.jsonl"])
    return out


@pytest.fixture(scope="module")
def without_logs(sim: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("detect_plain")
    run_detect(sim / "messages.parquet", out)
    return out


@pytest.fixture(scope="module")
def zero(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = tmp_path_factory.mktemp("sim0")
    simulate(data, NONE)
    out = tmp_path_factory.mktemp("detect0")
    run_detect(data / "messages.parquet", out, server_logs=[data / "server_requests.jsonl"])
    return out


@pytest.fixture(scope="module")
def report_logs(with_logs: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report_logs")
    build_report(with_logs, out, ticket=True)
    return out


def clusters(results: Path) -> pd.DataFrame:
    return pq.read_table(results / "clusters.parquet").to_pandas()


def html_of(report: Path) -> str:
    return (report / "index.html").read_text(encoding="utf-8")


def assert_self_contained(page: str) -> None:
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    assert not re.search(r"""(?i)\b(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert not re.search(r"(?i)url\(\s*['\"]?\s*(https?:)?//", page)
    assert not re.search(r"(?i)@import", page)


def inline_pngs(page: str) -> list[bytes]:
    uris = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    return [base64.b64decode(u, validate=True) for u in uris]


# --------------------------------------------------------------------- files and content


def test_writes_every_file_and_a_self_contained_page(report_logs: Path) -> None:
    for name in ("index.html", "report.md", "summary.json", "clusters.csv", "ticket.md"):
        assert (report_logs / name).is_file(), name
    page = html_of(report_logs)
    assert_self_contained(page)
    pngs = inline_pngs(page)
    assert len(pngs) >= 6
    assert all(p.startswith(PNG_MAGIC) for p in pngs)
    # the Markdown report references the same charts as files beside it
    md = (report_logs / "report.md").read_text(encoding="utf-8")
    refs = re.findall(r"\]\((charts/[a-z_]+\.png)\)", md)
    assert len(refs) == len(pngs)
    for ref in refs:
        assert (report_logs / ref).read_bytes().startswith(PNG_MAGIC)
    assert not list(report_logs.glob(".*.tmp"))


def test_summary_json_is_consistent_with_clusters(with_logs: Path, report_logs: Path) -> None:
    frame = clusters(with_logs)
    source = json.loads((with_logs / "summary.json").read_text())
    summary = json.loads((report_logs / "summary.json").read_text())
    assert summary["duplicate_clusters"] == len(frame) > 0
    assert summary["extra_messages"] == int((frame["n_records"] - 1).sum())
    assert summary["records_in_clusters"] == int(frame["n_records"].sum())
    counts = frame["verdict"].value_counts().to_dict()
    assert {k: v for k, v in summary["by_verdict"].items() if v} == counts
    assert sum(summary["by_verdict"].values()) == len(frame)
    for key in (
        "messages",
        "outbound_messages",
        "window_seconds",
        "period_start",
        "period_end",
        "skew_seconds",
        "match_mode",
    ):
        assert summary[key] == source[key], key
    assert summary["logs_given"] is True
    assert summary["uncovered_periods"], "the simulated log has a gap"
    assert f"{len(frame):,} duplicate clusters" in summary["headline"]
    assert summary["headline"] in html_of(report_logs).replace("&#x27;", "'")


def test_headline_names_causes_and_log_gap(report_logs: Path, with_logs: Path) -> None:
    summary = json.loads((report_logs / "summary.json").read_text())
    frame = clusters(with_logs)
    headline = summary["headline"]
    assert f"{(frame['verdict'] == 'app_side').sum():,} sent" in headline
    assert f"{(frame['verdict'] == 'twilio_side').sum():,} need" in headline
    if (frame["verdict"] == "unverified").any():
        assert re.search(r"unverified \(no server logs \d\d:\d\d–\d\d:\d\d UTC\)", headline)


def test_clusters_csv_has_every_cluster_worst_first(with_logs: Path, report_logs: Path) -> None:
    frame = clusters(with_logs)
    csv = pd.read_csv(report_logs / "clusters.csv", dtype=str, keep_default_na=False)
    assert len(csv) == len(frame)
    assert set(csv["cluster_id"]) == set(frame["cluster_id"])
    extra = csv["extra_messages"].astype(int).to_numpy()
    assert (np.diff(extra) <= 0).all()
    first = frame.set_index("cluster_id").loc[csv["cluster_id"].iloc[0]]
    assert csv["sids"].iloc[0].split(";") == list(first["sids"])
    assert csv["to"].iloc[0] == first["to"]


def test_ticket_lists_every_twilio_side_sid_masked_without_bodies(
    with_logs: Path, report_logs: Path
) -> None:
    frame = clusters(with_logs)
    ticket = (report_logs / "ticket.md").read_text(encoding="utf-8")
    twilio = frame[frame["verdict"] == "twilio_side"]
    assert len(twilio) > 0
    for sids in twilio["sids"]:
        for sid in sids:
            assert sid in ticket
    for number in frame["to"]:
        assert number not in ticket
    for masked in mask_phones(twilio["to"]).to_pylist():
        assert masked in ticket
    for body in twilio["body"]:
        assert body not in ticket
    assert "server_requests.jsonl:" in ticket  # the matched log lines are quoted
    assert "POST requests in our log: 1" in ticket


def test_ticket_shows_numbers_and_bodies_with_no_redact(with_logs: Path, tmp_path: Path) -> None:
    build_report(with_logs, tmp_path, ticket=True, redact_ticket=False)
    ticket = (tmp_path / "ticket.md").read_text(encoding="utf-8")
    twilio = clusters(with_logs).query("verdict == 'twilio_side'")
    for number, body in zip(twilio["to"], twilio["body"], strict=True):
        assert number in ticket
        assert body in ticket


def test_redact_masks_numbers_in_html_md_and_csv(with_logs: Path, tmp_path: Path) -> None:
    frame = clusters(with_logs)
    plain = tmp_path / "plain"
    build_report(with_logs, plain)
    assert any(number in html_of(plain) for number in frame["to"])  # the check can fail
    redacted = tmp_path / "redacted"
    result = build_report(with_logs, redacted, redact=True)
    assert result.summary["redacted"] is True
    for name in ("index.html", "report.md", "clusters.csv", "summary.json"):
        text = (redacted / name).read_text(encoding="utf-8")
        for number in frame["to"]:
            assert number not in text, name
    assert "+" in pd.read_csv(redacted / "clusters.csv")["to"].iloc[0]


def test_report_without_logs_calls_everything_unverified(
    without_logs: Path, tmp_path: Path
) -> None:
    result = build_report(without_logs, tmp_path, ticket=True)
    frame = clusters(without_logs)
    assert "verdict" not in frame.columns
    assert result.summary["by_verdict"]["unverified"] == len(frame) > 0
    assert result.summary["logs_given"] is False
    assert "unverified (no server logs given" in result.summary["headline"]
    assert_self_contained(html_of(tmp_path))
    assert "nothing to report" in (tmp_path / "ticket.md").read_text(encoding="utf-8")


def test_zero_duplicates(zero: Path, tmp_path: Path) -> None:
    assert len(clusters(zero)) == 0
    result = build_report(zero, tmp_path, ticket=True)
    assert result.summary["duplicate_clusters"] == 0
    assert result.summary["extra_messages"] == 0
    assert result.summary["headline"].startswith("No duplicate clusters among")
    page = html_of(tmp_path)
    assert_self_contained(page)
    assert "No duplicate clusters" in page
    assert all(p.startswith(PNG_MAGIC) for p in inline_pngs(page))
    assert len(pd.read_csv(tmp_path / "clusters.csv")) == 0


def test_table_is_capped(with_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("analyzer.report.TABLE_ROWS", 3)
    build_report(with_logs, tmp_path)
    page = html_of(tmp_path)
    n = len(clusters(with_logs))
    assert f"Showing 3 of {n:,}" in page
    assert len(pd.read_csv(tmp_path / "clusters.csv")) == n


# --------------------------------------------------------------------- privacy and escaping


def test_no_secret_or_markup_from_inputs_reaches_any_output(
    with_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", TOKEN)
    monkeypatch.setenv("TWILIO_API_SECRET", "s3cr3t-Api-Secret-Value")
    results = tmp_path / "results"
    shutil.copytree(with_logs, results)
    summary = json.loads((results / "summary.json").read_text())
    summary["source"] = f"https://ACx:{TOKEN}@api.twilio.com/s3cr3t-Api-Secret-Value"
    summary["logs"][0]["samples"] = [
        {
            "line": 7,
            "reason": "bad <b>line</b>",
            "text": f"<script>alert(1)</script> Authorization: Basic {TOKEN}",
        }
    ]
    summary["logs"][0]["malformed"] = 1
    (results / "summary.json").write_text(json.dumps(summary))
    table = pq.read_table(results / "clusters.parquet")
    bodies = table["body"].to_pylist()
    bodies[0] = f"your key is {TOKEN} (s3cr3t-Api-Secret-Value)"
    table = table.set_column(table.column_names.index("body"), "body", pa.array(bodies))
    pq.write_table(table, results / "clusters.parquet")
    out = tmp_path / "out"
    build_report(results, out, ticket=True, redact_ticket=False)
    files = [p for p in out.rglob("*") if p.is_file()]
    assert len(files) >= 8
    for path in files:
        data = path.read_bytes()
        assert TOKEN.encode() not in data, path
        assert b"s3cr3t-Api-Secret-Value" not in data, path
    page = html_of(out)
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "bad &lt;b&gt;line&lt;/b&gt;" in page


# --------------------------------------------------------------------- carrier results


def test_carrier_results_are_reported_and_ticketed(with_logs: Path, tmp_path: Path) -> None:
    results = tmp_path / "results"
    shutil.copytree(with_logs, results)
    carrier = pa.table(
        {
            "to": ["+447700900123", "+14155550123"],
            "reported_at": pa.array(
                pd.to_datetime(["2026-11-29T15:10:00Z", "2026-11-29T16:00:00Z"])
            ),
            "verdict": ["carrier_side", "not_found"],
            "sids": [["SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"], []],
            "first_created": pa.array(pd.to_datetime(["2026-11-29T15:00:00Z", None])),
            "hint": ["roaming", None],
        }
    )
    pq.write_table(carrier, results / "carrier.parquet")
    out = tmp_path / "out"
    result = build_report(results, out, ticket=True)
    assert result.summary["carrier"] == {
        "reports": 2,
        "by_verdict": {"carrier_side": 1, "not_found": 1},
    }
    assert "Carrier investigation" in html_of(out)
    ticket = (out / "ticket.md").read_text(encoding="utf-8")
    assert "SMaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" in ticket
    assert "+44 ••••••0123" in ticket
    assert "+447700900123" not in ticket
    assert "+14155550123" not in ticket  # not_found is not for Twilio


def test_carrier_table_shows_record_times_reason_and_note(
    sim: Path, with_logs: Path, tmp_path: Path
) -> None:
    results = tmp_path / "results"
    shutil.copytree(with_logs, results)
    complaints = read_complaints(sim / "complaints.csv")
    found = run_investigate(
        sim / "messages.parquet",
        complaints,
        server_logs=[sim / "server_requests.jsonl"],
        out_dir=results,
    )
    reports = found.reports
    i = int(np.flatnonzero(reports["verdict"] == "carrier_side")[0])
    note = "Saw it twice <b>, call me on +44 7700 900123"
    reports.loc[i, "note"] = note
    frame = reports.copy()
    frame["reported_at"] = frame["reported_at"].dt.as_unit("us")
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), results / "carrier.parquet")
    row = reports.iloc[i]
    first = row["first_created"].strftime("%Y-%m-%dT%H:%M:%SZ")
    last = row["last_created"].strftime("%Y-%m-%dT%H:%M:%SZ")

    out = tmp_path / "out"
    build_report(results, out, ticket=True)
    page = html_of(out).split("<h2>Carrier investigation</h2>")[1].split("<h2>")[0]
    for name in ("first record (UTC)", "last record (UTC)", "reason", "note"):
        assert f"<th>{name}</th>" in page
    html_row = page.split("<tr>")[i + 2]
    assert f"<td>{first}</td><td>{last}</td>" in html_row
    assert f"<td>{html.escape(row['reason'])}</td>" in html_row
    assert f"<td>{html.escape(note)}</td>" in html_row
    markdown = (out / "report.md").read_text(encoding="utf-8")
    table = markdown.split("## Carrier investigation")[1].split("\n## ")[0]
    md_row = table.strip().splitlines()[i + 2]
    assert f"| {first} | {last} | {row['reason']} | {note} |" in md_row
    # The ticket is redacted by default: the note is free text, left out like bodies.
    ticket = (out / "ticket.md").read_text(encoding="utf-8")
    assert row["reason"] in ticket and first in ticket
    assert "call me on" not in ticket

    redacted = tmp_path / "redacted"
    build_report(results, redacted, redact=True)
    page = html_of(redacted).split("<h2>Carrier investigation</h2>")[1].split("<h2>")[0]
    assert "call me on •••" in page
    assert "7700 900123" not in page


def test_missing_results_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such results folder"):
        build_report(tmp_path / "nope", tmp_path / "out")
    with pytest.raises(InputError, match="clusters.parquet"):
        build_report(tmp_path, tmp_path / "out")


# --------------------------------------------------------------------- matplotlib hygiene


def _figures() -> int:
    gc.collect()
    return sum(isinstance(o, Figure) for o in gc.get_objects())


def test_charts_leave_no_state_behind(with_logs: Path, tmp_path: Path) -> None:
    before = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    with charts.house_style():
        assert matplotlib.rcParams["axes.spines.top"] is False  # the style is applied
    figures = _figures()
    build_report(with_logs, tmp_path)
    after = {k: v for k, v in matplotlib.rcParams.items() if k != "backend"}
    assert after == before
    assert _figures() == figures
    pyplot = sys.modules.get("matplotlib.pyplot")
    assert pyplot is None or not pyplot.get_fignums()


def test_rcparams_restored_after_an_error() -> None:
    before = matplotlib.rcParams["font.size"]
    with pytest.raises(RuntimeError), charts.house_style():
        raise RuntimeError("boom")
    assert matplotlib.rcParams["font.size"] == before


@pytest.mark.parametrize("n", [0, 1, 5000])
def test_each_chart_renders_empty_and_large_inputs(n: int) -> None:
    rng = np.random.default_rng(n)
    times = pd.Series(
        pd.Timestamp("2026-11-29", tz="UTC")
        + pd.to_timedelta(rng.integers(0, 5 * 86400, n), unit="s")
    )
    verdict = pd.Series(rng.choice(["app_side", "twilio_side", "unverified"], n))
    sizes = rng.integers(2, 14, n)
    made = [
        charts.clusters_over_time(times, verdict),
        charts.gap_distribution(rng.exponential(30, n)),
        charts.cluster_sizes(sizes),
        charts.top_counts(
            pd.Series([f"MG{'x' * 40}{i % 13}" for i in range(n)], dtype=object),
            sizes - 1,
            name="top",
            title="t",
            what="extra messages",
        ),
        charts.verdict_breakdown(verdict, sizes - 1),
    ]
    for chart in made:
        assert chart.png.startswith(PNG_MAGIC)
        assert chart.data_uri.startswith("data:image/png;base64,")


def test_truncate_keeps_labels_short() -> None:
    assert charts.truncate("x" * 50) == "x" * 27 + "…"
    assert charts.truncate("short") == "short"


# --------------------------------------------------------------------- gap patterns


def reference_pattern(gaps: list[float]) -> str:
    names = set()
    for g in gaps:
        name = next((p[0] for p in _PATTERNS if p[1] <= g <= p[2]), "other")
        names.add(name)
    if not names:
        return "other"
    return names.pop() if len(names) == 1 else "mixed"


gap_values = st.sampled_from(
    [
        0.0,
        1.0,
        2.0,
        2.5,
        10.0,
        12.0,
        13.5,
        15.0,
        16.0,
        18.0,
        30.0,
        33.0,
        45.0,
        60.0,
        3300.0,
        3600.0,
        4000.0,
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(gap_values, min_size=1, max_size=4), max_size=12))
def test_gap_patterns_match_reference(lists: list[list[float]]) -> None:
    table = pa.table({"gaps_seconds": pa.array(lists, pa.list_(pa.float64()))})
    assert list(_gap_patterns(table)) == [reference_pattern(g) for g in lists]


def test_report_says_how_many_extra_messages_reached_a_handset(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from analyzer.schema import MESSAGE_SCHEMA

    base = datetime(2026, 11, 29, 12, tzinfo=UTC)
    rows = [
        ("SMa1", "+14155550101", "hi", "delivered", 0),
        ("SMa2", "+14155550101", "hi", "failed", 5),
        ("SMa3", "+14155550101", "hi", "read", 9),
        ("SMb1", "+14155550102", "hi", "failed", 0),
        ("SMb2", "+14155550102", "hi", "undelivered", 3),
        ("SMc1", "+14155550103", "hi", "canceled", 0),
        ("SMc2", "+14155550103", "hi", "scheduled", 1),
        ("SMd1", "+14155550104", "", "delivered", 0),
    ]
    records = [
        {
            "sid": sid,
            "to": to,
            "body": body,
            "status": status,
            "direction": "outbound-api",
            "date_created": base + timedelta(seconds=sec),
        }
        for sid, to, body, status, sec in rows
    ]
    table = pa.table(
        {f.name: pa.array([r.get(f.name) for r in records], f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )
    pq.write_table(table, tmp_path / "m.parquet")
    run_detect(tmp_path / "m.parquet", tmp_path / "detect")
    detected = json.loads((tmp_path / "detect" / "summary.json").read_text())
    assert (detected["skipped_not_sent"], detected["skipped_no_body"]) == (2, 1)
    assert (detected["extra_messages"], detected["extra_reached_handset"]) == (3, 1)

    result = build_report(tmp_path / "detect", tmp_path / "report")
    sentence = (
        "Of the 3 extra messages, 1 reached a handset (sent, delivered or read); the rest "
        "failed or were undelivered (or had no final status yet)."
    )
    assert result.summary["extra_reached_handset"] == 1
    assert result.summary["skipped_not_sent"] == 2
    assert sentence in result.summary["headline"]
    page = html_of(tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert sentence in page and sentence in md
    assert "left out (not sent: canceled or scheduled)" in page
    for text in (page, md):
        assert "1 outbound message without a body" in text
        assert "2 that never went out (canceled or scheduled)" in text
