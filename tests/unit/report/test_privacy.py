"""`analyzer report`: no secret or markup from the inputs in any output; carrier results."""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.duplicates.investigate import read_complaints
from analyzer.errors import InputError
from analyzer.pipeline import run_investigate
from analyzer.report import build_report
from analyzer.results import CarrierSummary
from tests.unit.report.helpers import TOKEN, html_of


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
            "first_created": pa.array(pd.to_datetime(pd.Series(["2026-11-29T15:00:00Z", None]))),
            "hint": ["roaming", None],
        }
    )
    pq.write_table(carrier, results / "carrier.parquet")
    out = tmp_path / "out"
    result = build_report(results, out, ticket=True)
    assert result.summary.carrier == CarrierSummary(
        reports=2, by_verdict={"carrier_side": 1, "not_found": 1}
    )
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
    md_row = [line for line in table.splitlines() if line.startswith("|")][i + 2]
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
