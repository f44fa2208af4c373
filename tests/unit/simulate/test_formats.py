"""The other request log formats: what they hold, and that they parse back."""

from __future__ import annotations

import ast
import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer.errors import UserError
from analyzer.logs import detect_format, read_server_logs
from analyzer.results import CONFIG_DIR
from analyzer.simulate import (
    CLIENT_CLOSED_STATUS,
    LOG_FORMATS,
    PARSER_FORMATS,
    SimulationConfig,
    dataset,
    render_request_log,
    simulate,
)
from tests.unit.simulate.helpers import ALL_FORMATS, EXTRA_FORMATS, FILES, log_path


def test_extra_formats_leave_other_files_unchanged(formats_dir: Path, rich_dir: Path) -> None:
    for name in ("messages.parquet", "server_requests.jsonl", "truth.parquet", "complaints.csv"):
        assert (formats_dir / name).read_bytes() == (rich_dir / name).read_bytes(), name
    meta = json.loads((formats_dir / "simulation.json").read_text(encoding="utf-8"))
    assert meta["config"]["log_formats"] == list(LOG_FORMATS)
    assert meta["files"]["request_logs"] == {f: log_path(formats_dir, f).name for f in LOG_FORMATS}
    assert sorted(p.name for p in formats_dir.iterdir()) == sorted(
        [*FILES, CONFIG_DIR, *(f"server_requests.{f}.log" for f in EXTRA_FORMATS)]
    )


def test_extra_formats_do_not_depend_on_chunk_size(
    tmp_path: Path, formats_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset, "CHUNK_ROWS", 333)
    result = simulate(tmp_path, ALL_FORMATS)
    assert set(result.request_logs) == set(LOG_FORMATS)
    assert len(result.paths) == len(FILES) + len(EXTRA_FORMATS)
    for fmt, path in result.request_logs.items():
        assert path.read_bytes() == log_path(formats_dir, fmt).read_bytes(), fmt


@pytest.mark.parametrize("fmt", EXTRA_FORMATS)
def test_each_format_parses_to_the_same_requests(
    formats_dir: Path, parsed_jsonl: Any, fmt: str
) -> None:
    path = log_path(formats_dir, fmt)
    parsed = read_server_logs(path, format=PARSER_FORMATS[fmt])
    assert detect_format(path) == PARSER_FORMATS[fmt]
    auto = read_server_logs(path, format="auto")
    assert auto.files[0].format == PARSER_FORMATS[fmt]
    assert auto.requests.drop_columns(["source_file"]).equals(
        parsed.requests.drop_columns(["source_file"])
    )

    base = parsed_jsonl.requests.to_pandas()
    got = parsed.requests.to_pandas()
    assert parsed.sends == parsed_jsonl.sends == int(base["is_send"].sum()) > 3000
    b = base[base["is_send"]].reset_index(drop=True)
    g = got[got["is_send"]].reset_index(drop=True)
    for column in ("path", "account_sid"):
        assert g[column].astype(str).tolist() == b[column].astype(str).tolist()
    expected_time = b["time"].dt.floor("s") if fmt == "combined" else b["time"]
    assert (g["time"] == expected_time).all()
    status = b["status"].astype("Int64")
    if fmt == "combined":  # the proxy saw the client give up
        status = status.fillna(CLIENT_CLOSED_STATUS)
    assert (g["status"].astype("Int64").fillna(0) == status.fillna(0)).all()
    assert b["status"].isna().sum() >= 5 and (b["status"].isin([500, 503])).any()

    if fmt == "twilio-sdk-legacy":
        assert (g["to"] == b["to"]).all()
        assert (g["message_sid"].fillna("") == b["message_sid"].fillna("")).all()
    else:
        assert g["to"].isna().all() and g["message_sid"].isna().all()
    if fmt == "twilio-sdk":
        assert (g["request_id"].fillna("") == b["request_id"].fillna("")).all()
    if fmt in ("twilio-sdk", "envoy"):
        answered = b["status"].notna()
        assert (g.loc[answered, "duration_ms"] == b.loc[answered, "duration_ms"]).all()
    if fmt == "envoy":
        timed_out = b["error"] == "ReadTimeout"
        assert (g.loc[timed_out, "error"] == "DC").all() and g.loc[~timed_out, "error"].isna().all()
        assert (g.loc[timed_out, "duration_ms"] == b.loc[timed_out, "duration_ms"]).all()

    # The same GET is damaged in every format. Only the legacy SDK parser cannot tell: its
    # torn response body still gives a row.
    n_gets = int((~base["is_send"]).sum())
    assert parsed_jsonl.malformed >= 1
    if fmt == "twilio-sdk-legacy":
        assert parsed.malformed == 0
        assert int((~got["is_send"]).sum()) == n_gets + parsed_jsonl.malformed
    else:
        assert parsed.malformed == parsed_jsonl.malformed
        assert int((~got["is_send"]).sum()) == n_gets
        g_get = got[~got["is_send"]].reset_index(drop=True)
        b_get = base[~base["is_send"]].reset_index(drop=True)
        assert (g_get["path"] == b_get["path"]).all() and (g_get["status"] == 200).all()


def test_sdk_lines_carry_the_app_clock_and_prefix(formats_dir: Path) -> None:
    text = log_path(formats_dir, "twilio-sdk").read_text(encoding="utf-8")
    prefix = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO twilio\.http_client: ")
    lines = text.splitlines()
    assert sum(1 for line in lines if prefix.match(line)) == len(lines) - 1  # one torn line
    assert "PAYLOAD" not in text and '"sid"' not in text and "Authorization" not in text
    blocks = text.count("-- BEGIN Twilio API Request --")
    assert blocks == text.count("-- END Twilio API Request --")
    assert blocks - text.count("Response Status Code: ") == sum(
        1
        for line in log_path(formats_dir, "jsonl").read_text().splitlines()
        if '"status": null' in line
    )


def test_legacy_payload_and_body_match_the_records(formats_dir: Path, rich: dict[str, Any]) -> None:
    records = rich["messages"].set_index("sid")
    lines = log_path(formats_dir, "twilio-sdk-legacy").read_text(encoding="utf-8").splitlines()
    payloads = [
        ast.literal_eval(line.split("PAYLOAD: ", 1)[1]) for line in lines if "PAYLOAD: " in line
    ]
    created = [
        json.loads(line.split("POST Response: 201 ", 1)[1])
        for line in lines
        if "POST Response: 201 " in line
    ]
    assert len(payloads) == int((rich["log"]["method"] == "POST").sum())
    assert all(
        set(p) <= {"To", "From", "MessagingServiceSid", "Body", "MediaUrl"} for p in payloads
    )
    assert any("MediaUrl" in p and "Body" not in p for p in payloads)
    assert len(created) > 3000
    for body in created:
        record = records.loc[body["sid"]].map(lambda v: None if pd.isna(v) else v)
        assert body["to"] == record["to"] and body["body"] == record["body"]
        assert body["status"] in ("queued", "accepted") and body["date_sent"] is None
        assert (body["from"] is None) == (body["status"] == "accepted")
        assert body["date_created"] == record["date_created"].strftime(
            "%a, %d %b %Y %H:%M:%S +0000"
        )
        assert body["messaging_service_sid"] == record["messaging_service_sid"]
    texts = {p.get("Body") for p in payloads}
    assert {b["body"] for b in created} <= texts


def test_unknown_log_format_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="syslog"):
        simulate(tmp_path / "out", SimulationConfig(messages=10, log_formats=("jsonl", "syslog")))
    assert not (tmp_path / "out").exists()
    with pytest.raises(UserError, match="log format"):
        render_request_log(pd.DataFrame(), "syslog", tmp_path / "x.log")


def test_render_request_log_reproduces_the_jsonl_log(formats_dir: Path, tmp_path: Path) -> None:
    lines = (formats_dir / "server_requests.jsonl").read_text(encoding="utf-8").splitlines()
    valid = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):
            valid.append((line, json.loads(line)))
    frame = pd.DataFrame([row for _, row in valid])
    target = tmp_path / "again.jsonl"
    render_request_log(frame, "jsonl", target)
    assert target.read_text(encoding="utf-8").splitlines() == [line for line, _ in valid]
    assert [p.name for p in tmp_path.iterdir()] == ["again.jsonl"]


REQUEST_ROWS = st.lists(
    st.tuples(
        st.integers(0, 2 * 86_400_000),  # ms after the start
        st.sampled_from(["POST", "GET"]),
        st.sampled_from([None, 200, 201, 400, 429, 500, 503]),
        st.integers(1, 40_000),
        st.booleans(),
    ),
    min_size=1,
    max_size=25,
)


def _value(v: Any) -> Any:
    return None if pd.isna(v) else v


@settings(max_examples=25, deadline=None)
@given(rows=REQUEST_ROWS, fmt=st.sampled_from(LOG_FORMATS))
def test_rendered_requests_parse_back(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[int, str, int | None, int, bool]],
    fmt: str,
) -> None:
    start = datetime(2026, 3, 29, tzinfo=UTC)  # a DST change in Europe: offsets stay fixed
    account = "AC" + "0" * 32
    rows = sorted(rows, key=lambda r: r[0])
    frame = pd.DataFrame(
        {
            "timestamp": [start + timedelta(milliseconds=r[0]) for r in rows],
            "method": [r[1] for r in rows],
            "url": [
                f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages"
                + ("/SM" + f"{i:032x}" if r[1] == "GET" else "")
                + ".json"
                for i, r in enumerate(rows)
            ],
            "status": pd.array([r[2] for r in rows], dtype="Int64"),
            "duration_ms": [r[3] for r in rows],
            "to": [f"+1415555{i:04d}" if r[4] else None for i, r in enumerate(rows)],
            "message_sid": [
                f"SM{i:032x}" if r[2] in (200, 201) else None for i, r in enumerate(rows)
            ],
            "request_id": [f"RQ{i:032x}" if r[2] else None for i, r in enumerate(rows)],
        }
    )
    path = tmp_path_factory.mktemp("render") / "log"
    render_request_log(frame, fmt, path)
    parsed = read_server_logs(path, format="auto")
    assert parsed.files[0].format == PARSER_FORMATS[fmt] and parsed.malformed == 0
    got = parsed.requests.to_pandas()
    assert len(got) == len(rows)
    for i, row in enumerate(rows):
        when = pd.Timestamp(start + timedelta(milliseconds=row[0]))
        r = got.iloc[i]
        assert r["time"] == (when.floor("s") if fmt == "combined" else when)
        assert r["method"] == row[1] and r["is_send"] == (row[1] == "POST")
        expected_status = row[2]
        if expected_status is None and fmt == "combined":
            expected_status = CLIENT_CLOSED_STATUS
        assert (None if pd.isna(r["status"]) else int(r["status"])) == expected_status
        if fmt in ("jsonl", "twilio-sdk-legacy"):
            assert _value(r["message_sid"]) == _value(frame["message_sid"][i])
        if fmt == "jsonl" or (fmt == "twilio-sdk-legacy" and row[1] == "POST"):
            assert _value(r["to"]) == _value(frame["to"][i])
        if fmt in ("jsonl", "twilio-sdk"):
            assert _value(r["request_id"]) == _value(frame["request_id"][i])
        if fmt in ("jsonl", "envoy") or (fmt == "twilio-sdk" and row[2] is not None):
            assert r["duration_ms"] == row[3]
