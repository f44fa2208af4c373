"""Reported duplicates: carrier_side, app_side, twilio_side or not_found."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from analyzer.api import investigate as api_investigate
from analyzer.cli import app
from analyzer.duplicates.investigate import (
    DEFAULT_AFTER,
    complaints_frame,
    investigate,
    read_complaints,
    report_rows,
)
from analyzer.errors import InputError
from analyzer.logs import read_server_logs
from analyzer.phones import SEPARATORS, normalize_e164
from analyzer.pipeline import run_investigate
from analyzer.redact import CALLING_CODES
from analyzer.schema import MESSAGE_SCHEMA

ACCOUNT = "AC" + "0" * 32
T0 = datetime(2026, 11, 29, 10, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def record(sid: str, to: str, body: str, seconds: float) -> dict[str, Any]:
    return {
        "sid": sid,
        "to": to,
        "body": body,
        "direction": "outbound-api",
        "status": "delivered",
        "account_sid": ACCOUNT,
        "from": "+15005550006",
        "date_created": at(seconds),
    }


RECORDS = [
    record("SMa1", "+447700900001", "Your table is booked", 0),  # carrier: one record
    record("SMb1", "+447700900002", "Order shipped", 0),  # app: two POSTs
    record("SMb2", "+447700900002", "Order shipped", 15),
    record("SMc1", "+14155550003", "Code 1234", 100),  # twilio: one POST, two records
    record("SMc2", "+14155550003", "Code 1234", 100),
    record("SMe1", "+4915112345678", "Reminder", 86_400),  # carrier, the next day
]


def post(sid: str | None, to: str, seconds: float) -> str:
    return json.dumps(
        {
            "timestamp": (at(seconds) + timedelta(milliseconds=300)).isoformat(),
            "method": "POST",
            "url": f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            "status": 201 if sid else None,
            "to": to,
            "message_sid": sid,
        }
    )


LOG = [
    post("SMa1", "+447700900001", 0),
    post(None, "+447700900002", 0),  # timed out: no SID
    post("SMb2", "+447700900002", 15),
    post("SMc1", "+14155550003", 100),
    post("SMe1", "+4915112345678", 86_400),
]


@pytest.fixture
def messages() -> pa.Table:
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in RECORDS], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


@pytest.fixture
def log_file(tmp_path: Path) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(LOG) + "\n")
    return path


def reports(*rows: tuple[str, float]) -> pd.DataFrame:
    return complaints_frame(
        pd.DataFrame({"to": [r[0] for r in rows], "reported_at": [at(r[1]) for r in rows]})
    )


def test_each_kind_of_report(messages: pa.Table, log_file: Path) -> None:
    requests = read_server_logs([log_file]).requests
    found = investigate(
        messages,
        reports(
            ("+447700900001", 1800),
            ("+447700900002", 600),
            ("+14155550003", 700),
            ("+33612345678", 0),
        ),
        requests=requests,
    )
    assert found.reports["verdict"].tolist() == [
        "carrier_side",
        "app_side",
        "twilio_side",
        "not_found",
    ]
    assert found.reports["sids"].tolist() == [["SMa1"], ["SMb1", "SMb2"], ["SMc1", "SMc2"], []]
    assert found.by_verdict == {"carrier_side": 1, "app_side": 1, "twilio_side": 1, "not_found": 1}


def test_report_outside_the_searched_period_is_not_found(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900001", 8 * 3600)))
    assert found.reports["verdict"].tolist() == ["not_found"]


def test_without_logs_a_duplicate_is_unverified(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900002", 600)))
    assert found.reports["verdict"].tolist() == ["unverified"]


def test_carrier_reports_across_days_go_to_twilio_support(messages: pa.Table) -> None:
    found = investigate(messages, reports(("+447700900001", 60), ("+4915112345678", 86_460)))
    assert found.reports["verdict"].tolist() == ["carrier_side", "carrier_side"]
    assert found.escalate
    assert "Twilio support" in found.escalation
    assert "SMa1" in found.escalation and "SMe1" in found.escalation
    single = investigate(messages, reports(("+447700900001", 60)))
    assert not single.escalate


def test_complaints_csv_is_validated(tmp_path: Path) -> None:
    good = tmp_path / "c.csv"
    good.write_text("to,reported_at,note\n+447700900001,2026-11-29T10:30:00Z,twice\n")
    assert read_complaints(good)["to"].tolist() == ["+447700900001"]
    bad = tmp_path / "bad.csv"
    bad.write_text("to,reported_at\n+447700900001,yesterday\n")
    with pytest.raises(InputError, match="not ISO 8601"):
        read_complaints(bad)
    with pytest.raises(InputError, match="reported_at"):
        (tmp_path / "x.csv").write_text("to\n+1\n")
        read_complaints(tmp_path / "x.csv")


def test_cli_investigate_writes_carrier_results(
    messages: pa.Table, log_file: Path, tmp_path: Path
) -> None:
    data = tmp_path / "m.parquet"
    pq.write_table(messages, data)
    runner = CliRunner()
    result = runner.invoke(
        app,
        [
            "investigate",
            str(data),
            "--to",
            "+447700900002",
            "--around",
            "2026-11-29T10:10:00Z",
            "--server-log",
            str(log_file),
            "--out",
            str(tmp_path / "inv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "app_side" in result.output
    carrier = pq.read_table(tmp_path / "inv" / "carrier.parquet").to_pylist()
    assert [row["verdict"] for row in carrier] == ["app_side"]
    missing = runner.invoke(app, ["investigate", str(data)])
    assert missing.exit_code == 2 and "--complaints" in missing.stderr


# ------------------------------------------------------------------ no record found


@pytest.mark.filterwarnings("ignore:The 'future.infer_string' option is deprecated")
@pytest.mark.parametrize("infer_string", [False, True], ids=["object", "string-dtype"])
def test_reports_that_find_no_record_are_not_found(messages: pa.Table, infer_string: bool) -> None:
    previous = pd.options.future.infer_string
    pd.options.future.infer_string = infer_string
    try:
        found = investigate(
            messages,
            reports(("+447700900001", 3 * 86_400), ("+33612345678", 0), ("redacted", 0)),
        )
        frame = api_investigate(messages.to_pandas(), "+447700900123", "2026-11-29T14:00Z")
    finally:
        pd.options.future.infer_string = previous
    assert found.reports["verdict"].tolist() == ["not_found"] * 3
    assert found.reports["sids"].tolist() == [[], [], []]
    assert found.reports["n_records"].tolist() == [0, 0, 0]
    assert found.by_verdict == {"not_found": 3}
    assert frame["verdict"].tolist() == ["not_found"]


def test_cli_readme_example_answers_not_found(messages: pa.Table, tmp_path: Path) -> None:
    data = tmp_path / "m.parquet"
    pq.write_table(messages, data)
    result = CliRunner().invoke(
        app, ["investigate", str(data), "--to", "+447700900123", "--around", "2026-11-29T14:00Z"]
    )
    assert result.exit_code == 0, result.output
    assert "not_found" in result.output


# ------------------------------------------------------------------ recipients as E.164


def test_complaint_recipients_are_read_as_e164(messages: pa.Table) -> None:
    frame = complaints_frame(
        pd.DataFrame(
            {
                "to": [" +1 415-555-0003 ", "14155550003", "0014155550003", "+1 (415) 555.0003",
                       "redacted", "whatsapp:+14155550003"],
                "reported_at": [at(700)] * 6,
            }
        )
    )  # fmt: skip
    assert frame["to"].tolist() == ["+14155550003"] * 4 + ["redacted", "whatsapp:+14155550003"]
    found = investigate(messages, frame)
    assert found.reports["verdict"].tolist() == ["unverified"] * 4 + ["not_found"] * 2
    assert found.reports["sids"].tolist()[:4] == [["SMc1", "SMc2"]] * 4


_E164_EXAMPLES = [
    ("+1 232-812-8904", "+12328128904"),
    ("12328128904", "+12328128904"),
    ("0012328128904", "+12328128904"),
    ("+1 (232) 812.8904", "+12328128904"),
    ("\t+44\u00a07700\u2013900123 ", "+447700900123"),
    ("+447700900123", "+447700900123"),
    ("07700 900123", None),  # national: no calling code starts with 0
    ("+0044 7700 900123", None),
    ("redacted", None),
    ("whatsapp:+14155550100", None),
    ("12345", None),  # a short code
    ("+1234567890123456", None),  # 16 digits
    ("+1 232 812 8904 ext 5", None),
    ("++12328128904", None),
    ("", None),
    (None, None),
]


def test_normalize_e164_examples() -> None:
    values = pa.array([v for v, _ in _E164_EXAMPLES], pa.string())
    assert normalize_e164(values).to_pylist() == [e for _, e in _E164_EXAMPLES]
    chunked = pa.chunked_array([values.slice(0, 3), values.slice(3)])
    assert normalize_e164(chunked).to_pylist() == [e for _, e in _E164_EXAMPLES]
    assert normalize_e164(values.dictionary_encode()).to_pylist() == [e for _, e in _E164_EXAMPLES]
    assert normalize_e164(pa.array([], pa.large_string())).to_pylist() == []


def reference_e164(value: str | None) -> str | None:
    """One string at a time, written as plainly as possible."""
    if value is None:
        return None
    kept = "".join(c for c in value if c not in SEPARATORS)
    if kept.startswith("00"):
        kept = "+" + kept[2:]
    digits = kept[1:] if kept.startswith("+") else kept
    if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15):
        return None
    if not any(digits[:n] in CALLING_CODES for n in (1, 2, 3)):
        return None
    return "+" + digits


_PHONE_CHARS = "0123456789+" + SEPARATORS + "/xa#٣"
phone_like = st.one_of(
    st.none(),
    st.text(alphabet=_PHONE_CHARS, max_size=24),
    st.builds(
        lambda prefix, parts, seps: (
            prefix + "".join(p + s for p, s in zip(parts, seps + [""] * len(parts), strict=False))
        ),
        st.sampled_from(["", "+", "00", " +", "+0", "0"]),
        st.lists(st.text(alphabet="0123456789", min_size=1, max_size=5), min_size=1, max_size=5),
        st.lists(st.sampled_from([" ", "-", ".", "(", ")", "\u00a0", "\u2013", "", "/"])),
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(phone_like, max_size=20))
def test_normalize_e164_agrees_with_a_per_string_reference(values: list[str | None]) -> None:
    assert normalize_e164(pa.array(values, pa.string())).to_pylist() == [
        reference_e164(v) for v in values
    ]


# ------------------------------------------------------------------ records after the report


def table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.table(
        {f.name: pa.array([r.get(f.name) for r in rows], type=f.type) for f in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )


# A queue redelivered a login code 59 minutes later; another message came before it.
REDELIVERED = table(
    [
        record("SMg0", "+447700900006", "Your parcel is on its way", 0),
        record("SMf1", "+447700900006", "Your code is 5555", 1000),
        record("SMf2", "+447700900006", "Your code is 5555", 1000 + 3540),
    ]
)


def test_records_created_after_the_report_do_not_explain_it() -> None:
    # Reported between the two copies: the recipient cannot have seen the second yet.
    found = investigate(REDELIVERED, reports(("+447700900006", 1000 + 1800)))
    assert found.reports["verdict"].tolist() == ["carrier_side"]
    assert found.reports["sids"].tolist() == [["SMg0", "SMf1"]]
    assert found.reports["n_records"].tolist() == [2]
    assert found.reports["cluster_id"].isna().all()


def test_the_explaining_cluster_gives_the_sids_and_their_count() -> None:
    found = investigate(REDELIVERED, reports(("+447700900006", 1000 + 3540 + 60)))
    assert found.reports["verdict"].tolist() == ["unverified"]
    assert found.reports["sids"].tolist() == [["SMf1", "SMf2"]]
    assert found.reports["n_records"].tolist() == [2]
    assert found.reports["cluster_id"].tolist() == ["SMf1"]
    assert found.reports["first_created"].tolist() == [pd.Timestamp(at(1000))]
    assert found.reports["last_created"].tolist() == [pd.Timestamp(at(1000 + 3540))]


def test_after_is_a_small_allowance_for_clocks() -> None:
    # Reported 2 minutes before Twilio created the second copy: within the default
    # allowance of 5 minutes, so the duplicate explains it...
    late = reports(("+447700900006", 1000 + 3540 - 120))
    assert timedelta(minutes=5) == DEFAULT_AFTER
    assert investigate(REDELIVERED, late).reports["verdict"].tolist() == ["unverified"]
    # ...and without an allowance it does not.
    strict = investigate(REDELIVERED, late, after=timedelta(0))
    assert strict.reports["verdict"].tolist() == ["carrier_side"]
    assert strict.reports["sids"].tolist() == [["SMg0", "SMf1"]]


def test_cli_counts_and_sids_agree(tmp_path: Path) -> None:
    data = tmp_path / "m.parquet"
    pq.write_table(REDELIVERED, data)
    complaints = tmp_path / "c.csv"
    complaints.write_text(
        "to,reported_at\n+447700900006,2026-11-29T10:26:40Z\n+447700900006,2026-11-29T11:30:00Z\n"
    )
    result = CliRunner().invoke(
        app, ["investigate", str(data), "--complaints", str(complaints), "--out", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "record(s)" in line]
    assert "carrier_side 2 record(s): SMg0, SMf1" in lines[0]
    assert "unverified   2 record(s): SMf1, SMf2" in lines[1]


# ------------------------------------------------------------------ investigation.json


def _no_nan(name: str) -> None:
    raise ValueError(f"not strict JSON: {name}")


def test_investigation_json_is_strict_json(messages: pa.Table, tmp_path: Path) -> None:
    data = tmp_path / "m.parquet"
    pq.write_table(messages, data)
    found = run_investigate(
        data,
        reports(("+447700900001", 1800), ("+447700900002", 600), ("+33612345678", 0)),
        out_dir=tmp_path / "inv",
    )
    text = (tmp_path / "inv" / "investigation.json").read_text()
    document = json.loads(text, parse_constant=_no_nan)
    rows = document["reports"]
    assert [r["verdict"] for r in rows] == ["carrier_side", "unverified", "not_found"]
    assert [r["cluster_id"] for r in rows] == [None, "SMb1", None]
    assert rows[2]["first_created"] is None and rows[2]["last_created"] is None
    assert rows[0]["first_created"] == "2026-11-29T10:00:00Z"
    assert report_rows(found) == rows


# ------------------------------------------------------------------ escalation


def test_escalation_lists_a_few_sids_and_says_where_the_rest_are() -> None:
    rows = [record(f"SM{i:03d}", f"+4477009{i:05d}", "Hello", i * 3600) for i in range(30)]
    found = investigate(
        table(rows), reports(*[(f"+4477009{i:05d}", i * 3600 + 60) for i in range(30)])
    )
    assert found.reports["verdict"].tolist() == ["carrier_side"] * 30
    assert found.escalate
    assert "\n" not in found.escalation
    listed = [f"SM{i:03d}" for i in range(30) if f"SM{i:03d}" in found.escalation]
    assert listed == [f"SM{i:03d}" for i in range(10)]
    assert "… and 20 more" in found.escalation
    assert "carrier.parquet" in found.escalation
