"""The application's ingress log: Twilio's webhooks and status callbacks as the
application's server logged them, with the planted problems that simulation.json names."""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import pyarrow.parquet as pq
import pytest

from analyzer.results import CONFIG_DIR, NUMBERS_FILE, SERVICE_NUMBERS_FILE, SERVICES_FILE
from analyzer.simulate import SimulationConfig, SimulationResult, dataset, simulate
from analyzer.simulate.app_log import APP_LOG_FILES
from analyzer.simulate.dataset import render_request_log
from analyzer.vocabulary import (
    FINAL_STATUSES,
    TWILIO_USER_AGENT,
    CallbackProblem,
    InboundVerdict,
)

CONFIG = SimulationConfig(messages=4000, seed=5, log_formats=("jsonl", "combined"))
CALLBACK_PATH = "/sms/status"
#: The files the application's log leaves as they were.
EGRESS = ("messages.parquet", "truth.parquet", "complaints.csv", "server_requests.jsonl",
          "server_requests.combined.log")  # fmt: skip


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("app_log")
    result = simulate(out, CONFIG)
    meta = json.loads((out / "simulation.json").read_text())
    lines = (out / APP_LOG_FILES["jsonl"]).read_text().splitlines()
    log = pd.DataFrame([json.loads(line) for line in lines])
    return {
        "out": out,
        "result": result,
        "meta": meta,
        "inbound": meta["inbound"],
        "log": log,
        "messages": pq.read_table(out / "messages.parquet").to_pandas(),
    }


def _twilio(log: pd.DataFrame) -> pd.Series:
    return log["user_agent"].fillna("").str.startswith(TWILIO_USER_AGENT)


def _webhooks(log: pd.DataFrame) -> pd.DataFrame:
    return log[_twilio(log) & (log["url"] != CALLBACK_PATH)]


def _callbacks(log: pd.DataFrame) -> pd.DataFrame:
    return log[_twilio(log) & (log["url"] == CALLBACK_PATH)]


def test_the_files_are_written_and_listed(run: dict[str, Any]) -> None:
    result: SimulationResult = run["result"]
    out: Path = run["out"]
    assert result.app_logs == {fmt: out / name for fmt, name in APP_LOG_FILES.items()}
    assert set(result.app_logs.values()) <= set(result.paths)
    assert run["meta"]["files"]["app_logs"] == APP_LOG_FILES
    counts = run["inbound"]["app_log_lines"]
    combined = (out / APP_LOG_FILES["combined"]).read_text().splitlines()
    assert len(run["log"]) == len(combined) == sum(counts.values())
    log = run["log"]
    assert counts == {
        "webhook": len(_webhooks(log)),
        "callback": len(_callbacks(log)),
        "other": int((~_twilio(log)).sum()),
    }
    assert counts["other"] > 0 and log["url"].isin(["/healthz"]).any()


def test_lines_are_in_time_order(run: dict[str, Any]) -> None:
    stamps = pd.to_datetime(run["log"]["timestamp"], utc=True, format="ISO8601")
    assert stamps.is_monotonic_increasing


def test_each_handled_inbound_message_has_one_webhook_request(run: dict[str, Any]) -> None:
    messages, log = run["messages"], run["log"]
    inbound = messages[messages["direction"] == "inbound"].set_index("sid")
    unhandled = set(run["inbound"]["unhandled"])
    assert run["inbound"]["unhandled"] == sorted(unhandled) and unhandled <= set(inbound.index)
    hooks = _webhooks(log)
    assert Counter(hooks["message_sid"]) == {sid: 1 for sid in set(inbound.index) - unhandled}
    assert (hooks["method"] == "POST").all() and hooks["user_agent"].eq("TwilioProxy/1.1").all()
    record = inbound.loc[hooks["message_sid"]]
    assert (hooks["to"].to_numpy() == record["to"].to_numpy()).all()
    assert (hooks["from"].to_numpy() == record["from"].to_numpy()).all()
    delay = pd.to_datetime(hooks["timestamp"], utc=True, format="ISO8601").to_numpy() - record[
        "date_created"
    ].dt.tz_convert("UTC").to_numpy()
    assert pd.Series(delay).dt.total_seconds().between(0, 4).all()


def test_unhandled_are_the_planted_numbers_and_a_few_lost(run: dict[str, Any]) -> None:
    messages, truth = run["messages"], run["inbound"]
    inbound = messages[messages["direction"] == "inbound"]
    verdict = inbound["to"].map(truth["numbers_with_log"])
    unhandled = inbound["sid"].isin(truth["unhandled"])
    missed = [
        InboundVerdict.WEBHOOK_NOT_HIT,
        InboundVerdict.NO_WEBHOOK,
        InboundVerdict.DEMO_WEBHOOK,
    ]
    assert unhandled[verdict.isin(missed)].all()
    assert not unhandled[verdict == InboundVerdict.WEBHOOK_ERRORS].any()
    lost = inbound[unhandled & (verdict == InboundVerdict.OK)]
    assert 1 <= len(lost) <= 3
    assert set(missed) <= set(verdict[unhandled])


def test_planted_numbers_with_the_log(run: dict[str, Any]) -> None:
    truth, log, out = run["inbound"], run["log"], run["out"]
    without, with_log = truth["numbers"], truth["numbers_with_log"]
    changed = {n: (without[n], v) for n, v in with_log.items() if without[n] != v}
    assert list(changed.values()) == [(InboundVerdict.OK, InboundVerdict.WEBHOOK_NOT_HIT)]
    numbers = pq.read_table(out / CONFIG_DIR / NUMBERS_FILE).to_pandas().set_index("phone_number")
    links = pq.read_table(out / CONFIG_DIR / SERVICE_NUMBERS_FILE).to_pandas()
    services = pq.read_table(out / CONFIG_DIR / SERVICES_FILE).to_pandas()
    (unreached,) = changed
    assert unreached not in set(links["phone_number"])
    path = urlsplit(numbers.loc[unreached, "sms_url"]).path
    assert not log["url"].eq(path).any()
    others = numbers["sms_url"].dropna().drop(unreached)
    assert path not in {urlsplit(url).path for url in others}
    # The failing number's requests are logged, answered 500; every other webhook's 200.
    hooks = _webhooks(log)
    failing = hooks["to"].map(with_log) == InboundVerdict.WEBHOOK_ERRORS
    assert failing.any() and (hooks.loc[failing, "status"] == 500).all()
    assert (hooks.loc[~failing, "status"] == 200).all()
    # A service's inbound URL overrides the own URL of a number that works.
    linked = links.merge(services, left_on="service_sid", right_on="sid")
    own = linked["phone_number"].map(numbers["sms_url"])
    overridden = linked.loc[own != linked["inbound_request_url"], "phone_number"]
    assert overridden.map(with_log).eq(InboundVerdict.OK).any()


def _final_callbacks(log: pd.DataFrame) -> pd.DataFrame:
    calls = _callbacks(log)
    return calls[calls["message_status"].isin(FINAL_STATUSES)]


def test_callbacks_follow_the_records(run: dict[str, Any]) -> None:
    messages, log, truth = run["messages"], run["log"], run["inbound"]["callbacks"]
    assert set(truth) == {str(p) for p in CallbackProblem}
    assert all(len(sids) >= 2 and sids == sorted(sids) for sids in truth.values())
    planted = [set(sids) for sids in truth.values()]
    assert sum(map(len, planted)) == len(set().union(*planted))
    calls = _callbacks(log)
    via = messages[
        (messages["direction"] == "outbound-api")
        & messages["messaging_service_sid"].notna()
        & (messages["status"] != "queued")
    ].set_index("sid")
    assert set(calls["message_sid"]) == set(via.index)
    assert calls["message_status"].notna().all() and (calls["method"] == "POST").all()
    final = _final_callbacks(log).set_index("message_sid")
    assert final.index.is_unique
    ends = via[via["status"].isin(FINAL_STATUSES)]
    assert set(final.index) == set(ends.index) - set(truth[CallbackProblem.MISSING_FINAL])
    usual = final.drop(index=truth[CallbackProblem.REFUSED] + truth[CallbackProblem.DISAGREES])
    assert (usual["message_status"] == ends.loc[usual.index, "status"]).all()
    assert usual["status"].between(200, 299).all()
    codes = ends.loc[usual.index, "error_code"].astype("Int64")
    assert (usual["error_code"].astype("Int64").fillna(0) == codes.fillna(0)).all()
    refused = final.loc[truth[CallbackProblem.REFUSED]]
    assert (refused["status"] == 500).all()
    assert (refused["message_status"] == ends.loc[refused.index, "status"]).all()
    disagrees = final.loc[truth[CallbackProblem.DISAGREES]]
    assert (disagrees["message_status"] != ends.loc[disagrees.index, "status"]).all()


def test_sent_callbacks_come_before_the_final_one(run: dict[str, Any]) -> None:
    calls = _callbacks(run["log"])
    sent = calls[calls["message_status"] == "sent"].set_index("message_sid")["timestamp"]
    final = _final_callbacks(run["log"]).set_index("message_sid")["timestamp"]
    both = sent.index.intersection(final.index)
    assert len(both) > 100 and sent.index.is_unique
    assert (sent.loc[both] < final.loc[both]).all()


def test_the_combined_log_shows_the_same_requests(run: dict[str, Any]) -> None:
    lines = (run["out"] / APP_LOG_FILES["combined"]).read_text().splitlines()
    log = run["log"]
    for line, (_, row) in zip(lines, log.iterrows(), strict=True):
        client, rest = line.split(" - - [", 1)
        assert f'"{row["method"]} {row["url"]} HTTP/1.1" {row["status"]} ' in rest
        assert rest.endswith(f'"{row["user_agent"]}"')
        assert client.startswith("54.") == row["user_agent"].startswith(TWILIO_USER_AGENT)


def test_without_the_app_log_nothing_else_changes(run: dict[str, Any], tmp_path: Path) -> None:
    result = simulate(tmp_path, dataclasses.replace(CONFIG, app_log=False))
    assert result.app_logs == {}
    for name in EGRESS:
        assert (tmp_path / name).read_bytes() == (run["out"] / name).read_bytes(), name
        if name.startswith("server_requests"):
            assert TWILIO_USER_AGENT not in (tmp_path / name).read_text()
    assert not any((tmp_path / name).exists() for name in APP_LOG_FILES.values())
    meta = json.loads((tmp_path / "simulation.json").read_text())
    assert meta["inbound"] == {"numbers": run["inbound"]["numbers"]}
    assert "app_logs" not in meta["files"]
    for key in ("records", "groups", "log_lines", "optouts"):
        assert meta[key] == run["meta"][key], key


def test_the_app_log_does_not_depend_on_chunk_size(
    run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dataset, "CHUNK_ROWS", 1000)
    simulate(tmp_path, CONFIG)
    for name in APP_LOG_FILES.values():
        assert (tmp_path / name).read_bytes() == (run["out"] / name).read_bytes(), name


def test_rendered_requests_carry_what_twilio_sent(tmp_path: Path) -> None:
    requests = pd.DataFrame(
        {
            "timestamp": ["2026-11-29T10:00:00.000Z", "2026-11-29T10:00:01.500Z"],
            "method": ["POST", "POST"],
            "url": ["/sms/status", "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"],
            "status": [204, 201],
            "message_sid": ["SM" + "a" * 32, "SM" + "b" * 32],
            "user_agent": ["TwilioProxy/1.1", None],
            "from": ["+15550001111", None],
            "message_status": ["delivered", None],
            "remote_addr": ["54.172.60.10", None],
        }
    )
    render_request_log(requests, "jsonl", tmp_path / "log.jsonl")
    first, second = map(json.loads, (tmp_path / "log.jsonl").read_text().splitlines())
    assert first["user_agent"] == "TwilioProxy/1.1" and first["from"] == "+15550001111"
    assert first["message_status"] == "delivered" and first["status"] == 204
    assert not {"user_agent", "from", "message_status"} & set(second)
    render_request_log(requests, "combined", tmp_path / "log.combined")
    proxy, app = (tmp_path / "log.combined").read_text().splitlines()
    assert proxy.startswith("54.172.60.10 - - [") and proxy.endswith('"TwilioProxy/1.1"')
    assert '"POST /sms/status HTTP/1.1" 204 0 ' in proxy
    assert app.startswith("10.0.") and '"twilio-python/' in app
    render_request_log(requests, "envoy", tmp_path / "log.envoy")
    proxy, app = (tmp_path / "log.envoy").read_text().splitlines()
    assert '"TwilioProxy/1.1"' in proxy and '"twilio-python/' in app
