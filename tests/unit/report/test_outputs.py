"""`analyzer report`: the files written from real detect outputs."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.pipeline import run_detect
from analyzer.redact import mask_phones
from analyzer.report import build_report
from analyzer.report.sections import duplicates
from analyzer.schema import MESSAGE_SCHEMA
from tests.unit.report.helpers import (
    PNG_MAGIC,
    assert_self_contained,
    clusters,
    html_of,
    inline_pngs,
)


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
    assert result.summary.redacted is True
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
    assert result.summary.by_verdict["unverified"] == len(frame) > 0
    assert result.summary.logs_given is False
    assert "unverified (no server logs given" in result.summary.headline
    assert_self_contained(html_of(tmp_path))
    assert "nothing to report" in (tmp_path / "ticket.md").read_text(encoding="utf-8")


def test_zero_duplicates(zero: Path, tmp_path: Path) -> None:
    assert len(clusters(zero)) == 0
    result = build_report(zero, tmp_path, ticket=True)
    assert result.summary.duplicate_clusters == 0
    assert result.summary.extra_messages == 0
    assert result.summary.headline.startswith("No duplicate clusters among")
    page = html_of(tmp_path)
    assert_self_contained(page)
    assert "No duplicate clusters" in page
    assert all(p.startswith(PNG_MAGIC) for p in inline_pngs(page))
    assert len(pd.read_csv(tmp_path / "clusters.csv")) == 0


def test_table_is_capped(with_logs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(duplicates, "TABLE_ROWS", 3)
    build_report(with_logs, tmp_path)
    page = html_of(tmp_path)
    n = len(clusters(with_logs))
    assert f"Showing 3 of {n:,}" in page
    assert len(pd.read_csv(tmp_path / "clusters.csv")) == n


def test_report_says_how_many_extra_messages_reached_a_handset(tmp_path: Path) -> None:
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
    assert result.summary.extra_reached_handset == 1
    assert result.summary.skipped_not_sent == 2
    assert sentence in result.summary.headline
    page = html_of(tmp_path / "report")
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    assert sentence in page and sentence in md
    assert "left out (not sent: canceled or scheduled)" in page
    for text in (page, md):
        assert "1 outbound message without a body" in text
        assert "2 that never went out (canceled or scheduled)" in text
