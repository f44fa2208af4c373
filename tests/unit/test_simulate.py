"""The simulator: determinism, schema, planted scenarios, the request log and ground truth."""

from __future__ import annotations

import ast
import contextlib
import csv
import dataclasses
import json
import math
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer import simulate as sim
from analyzer.errors import UserError
from analyzer.logs import detect_format, read_server_logs
from analyzer.schema import MESSAGE_SCHEMA
from analyzer.simulate import SimulationConfig, simulate

# Rates well above the defaults so that a few thousand messages plant every scenario.
RICH = SimulationConfig(
    messages=4000,
    seed=11,
    retry_rate=0.01,
    double_submit_rate=0.008,
    redelivery_rate=0.004,
    twilio_side_rate=0.004,
    carrier_side_rate=0.003,
)
GAP_START, GAP_END = time(2, 0), time(3, 10)
SKEW = 0.8
FILES = (
    "messages.parquet",
    "server_requests.jsonl",
    "truth.parquet",
    "complaints.csv",
    "simulation.json",
)


def _load(out: Path) -> dict[str, Any]:
    messages = pq.read_table(out / "messages.parquet").to_pandas()
    truth = pq.read_table(out / "truth.parquet").to_pandas()
    lines = (out / "server_requests.jsonl").read_text(encoding="utf-8").splitlines()
    parsed, malformed = [], []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except json.JSONDecodeError:
            malformed.append(line)
    log = pd.DataFrame(parsed)
    log["ts"] = pd.to_datetime(log["timestamp"], utc=True, format="ISO8601")
    with (out / "complaints.csv").open(newline="", encoding="utf-8") as handle:
        complaints = list(csv.DictReader(handle))
    return {
        "messages": messages,
        "truth": truth,
        "records": messages.merge(truth, on="sid", validate="one_to_one"),
        "log": log,
        "lines": lines,
        "malformed": malformed,
        "complaints": complaints,
        "meta": json.loads((out / "simulation.json").read_text(encoding="utf-8")),
    }


@pytest.fixture(scope="module")
def rich_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rich")
    simulate(out, RICH)
    return out


@pytest.fixture(scope="module")
def rich(rich_dir: Path) -> dict[str, Any]:
    return _load(rich_dir)


def _groups(records: pd.DataFrame) -> dict[int, pd.DataFrame]:
    planted = records[records["group_id"].notna()]
    return {
        int(g): frame.sort_values(["date_created", "sid"])
        for g, frame in planted.groupby("group_id")
    }


# ------------------------------------------------------------------ determinism


def test_same_seed_gives_identical_files_and_other_seed_differs(
    tmp_path: Path, rich_dir: Path
) -> None:
    again = simulate(tmp_path / "again", RICH)
    for name in FILES:
        assert (tmp_path / "again" / name).read_bytes() == (rich_dir / name).read_bytes(), name
    assert again.records["normal"] > 0

    other = tmp_path / "other"
    simulate(other, SimulationConfig(**{**RICH.__dict__, "seed": 12}))
    for name in ("messages.parquet", "server_requests.jsonl", "truth.parquet"):
        assert (other / name).read_bytes() != (rich_dir / name).read_bytes(), name


def test_output_does_not_depend_on_chunk_size(
    tmp_path: Path, rich_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim, "CHUNK_ROWS", 333)
    calls: list[tuple[int, int]] = []
    simulate(tmp_path, RICH, progress=lambda done, total: calls.append((done, total)))
    for name in ("messages.parquet", "truth.parquet"):
        assert pq.read_table(tmp_path / name).equals(pq.read_table(rich_dir / name)), name
        assert pq.ParquetFile(tmp_path / name).metadata.num_row_groups == math.ceil(4000 / 333)
    for name in ("server_requests.jsonl", "complaints.csv", "simulation.json"):
        assert (tmp_path / name).read_bytes() == (rich_dir / name).read_bytes(), name
    done = [d for d, _ in calls]
    assert done == sorted(done) and len(calls) > 20
    assert calls[-1][0] == calls[-1][1]


# ------------------------------------------------------------------ messages


def test_schema_is_exact_and_counts_add_up(rich: dict[str, Any], rich_dir: Path) -> None:
    schema = pq.read_schema(rich_dir / "messages.parquet")
    assert schema.remove_metadata().equals(MESSAGE_SCHEMA)
    m, truth = rich["messages"], rich["truth"]
    assert len(m) == RICH.messages == len(truth)
    assert list(m["sid"]) == list(truth["sid"]) and m["sid"].is_unique
    assert (m["source"] == "simulator").all()
    assert (m["api_version"] == "2010-04-01").all() and (m["price_unit"] == "USD").all()
    assert m["sid"].str.fullmatch(r"(SM|MM)[0-9a-f]{32}").all()
    assert m["account_sid"].str.fullmatch(r"AC[0-9a-f]{32}").all()
    assert m["account_sid"].nunique() == 1
    services = m["messaging_service_sid"].dropna()
    assert services.str.fullmatch(r"MG[0-9a-f]{32}").all() and services.nunique() in (3, 4)
    assert m["messaging_service_sid"].isna().any()
    assert m["date_created"].is_monotonic_increasing
    assert (m["date_created"].dt.microsecond == 0).all()
    assert m["date_created"].min() >= pd.Timestamp("2026-11-29", tz="UTC")
    counts = truth["scenario"].value_counts().to_dict()
    assert counts == {k: v for k, v in rich["meta"]["records"].items() if v}
    assert rich["meta"]["config"]["seed"] == RICH.seed
    assert rich["meta"]["config"]["log_gap"] == ["02:00:00", "03:10:00"]


E164 = re.compile(
    r"\+1[2-9]\d{2}[2-9]\d{6}|\+447[1-9]\d{8}|\+491[567]\d{9}|\+33[67]\d{8}|\+614\d{8}"
    r"|\+919\d{9}|\+55119\d{8}"
)


def test_phone_numbers_are_e164_from_several_countries(rich: dict[str, Any]) -> None:
    m = rich["messages"]
    numbers = pd.concat([m["to"], m["from"]])
    assert numbers.map(lambda n: bool(E164.fullmatch(n))).all()
    outbound = m[m["direction"] != "inbound"]
    prefixes = outbound["to"].str[:3].value_counts()
    assert {"+1", "+44", "+49", "+33", "+61", "+91", "+55"} <= {
        p if p.startswith(("+4", "+3", "+6", "+9", "+5")) else p[:2] for p in prefixes.index
    }
    per_recipient = outbound.groupby("to")["body"].nunique()
    assert (per_recipient >= 3).sum() > 50


def _gsm_units(text: str) -> tuple[bool, int]:
    basic = (
        "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡"
        "ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    )
    extended = "^{}\\[~]|€\f"
    if all(c in basic or c in extended for c in text):
        return False, sum(2 if c in extended else 1 for c in text)
    return True, len(text.encode("utf-16-le")) // 2


def _reference_segments(text: str) -> int:
    ucs2, units = _gsm_units(text)
    single, multi = (70, 67) if ucs2 else (160, 153)
    return 1 if units <= single else math.ceil(units / multi)


def test_segments_prices_and_statuses_are_consistent(rich: dict[str, Any]) -> None:
    m = rich["messages"]
    text = m[m["num_media"] == 0]
    expected = text["body"].map(_reference_segments)
    assert (text["num_segments"] == expected).all()
    assert {1, 2} <= set(text["num_segments"]) and text["body"].map(
        lambda b: _gsm_units(b)[0]
    ).any()
    assert text["body"].str.contains("€").any() and text["body"].str.contains("🎉").any()

    assert set(m["status"]) <= {"delivered", "sent", "undelivered", "failed", "queued", "received"}
    assert (m["status"] == "delivered").mean() > 0.85
    no_sent = m["date_sent"].isna()
    assert (no_sent == ((m["status"] == "queued") | (m["error_code"] == 21610))).all()
    assert (
        (m.loc[~no_sent, "date_sent"] - m.loc[~no_sent, "date_created"])
        .between(pd.Timedelta(0), pd.Timedelta(seconds=3))
        .all()
    )
    assert (m["date_updated"] >= m["date_sent"].fillna(m["date_created"])).all()
    codes = m.groupby("status")["error_code"].agg(lambda s: set(s.dropna().astype(int)))
    assert codes["undelivered"] <= {30003, 30005, 30006, 30007} and codes["undelivered"]
    assert codes["failed"] <= {30008, 21610} and not codes["delivered"]
    priced = m["status"].isin(["delivered", "sent", "undelivered", "received"])
    assert (m.loc[priced, "price"] < 0).all() and m.loc[~priced, "price"].isna().all()
    us_text = text[text["to"].str.startswith("+1") & priced[text.index]]
    assert np.allclose(us_text["price"], -0.0079 * us_text["num_segments"])


def test_diurnal_volume(tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(messages=20_000, seed=3, log_gap=None))
    created = pq.read_table(tmp_path / "messages.parquet", columns=["date_created"]).to_pandas()
    per_hour = created["date_created"].dt.hour.value_counts().reindex(range(24), fill_value=0)
    assert per_hour[10:17].mean() > 4 * per_hour[1:5].mean()


def test_media_only_and_inbound_records(rich: dict[str, Any]) -> None:
    r = rich["records"]
    media = r[r["scenario"] == "media_only"]
    assert len(media) == round(RICH.media_only_rate * RICH.messages)
    assert (media["num_media"] == 1).all() and media["sid"].str.startswith("MM").all()
    assert media["body"].fillna("").eq("").all()
    assert media["body"].isna().any() and media["body"].eq("").any()
    assert (media["direction"] == "outbound-api").all() and (media["posts"] == 1).all()
    assert ((r["num_media"] == 1) == (r["scenario"] == "media_only")).all()

    inbound = r[r["scenario"] == "inbound"]
    assert len(inbound) == round(RICH.inbound_rate * RICH.messages)
    assert (inbound["direction"] == "inbound").all() and (inbound["status"] == "received").all()
    ours = set(r.loc[r["direction"] != "inbound", "from"])
    assert set(inbound["to"]) <= ours and not set(inbound["from"]) & ours
    assert (inbound["posts"] == 0).all()
    assert set(r["direction"]) == {"outbound-api", "outbound-reply", "inbound"}
    assert (r.loc[r["direction"] == "outbound-reply", "posts"] == 0).all()


# ------------------------------------------------------------------ the invariant


def _check_invariant(records: pd.DataFrame) -> None:
    """Same (to, body) among outbound texts only inside one planted group, and a planted
    group has one (to, body) of its own."""
    by_key: dict[tuple[str, str], list[Any]] = defaultdict(list)
    for row in records.itertuples(index=False):
        if row.direction.startswith("outbound") and isinstance(row.body, str) and row.body:
            by_key[(row.to, row.body)].append(row.group_id)
    keys_of_group: dict[int, set[tuple[str, str]]] = defaultdict(set)
    for key, groups in by_key.items():
        if len(groups) > 1:
            assert len(set(groups)) == 1 and not pd.isna(groups[0]), (key, groups)
        for g in groups:
            if not pd.isna(g):
                keys_of_group[int(g)].add(key)
    sizes = records["group_id"].value_counts()
    for g, keys in keys_of_group.items():
        assert len(keys) == 1
        assert len(by_key[next(iter(keys))]) == sizes[g]


def test_duplicates_only_inside_planted_groups(rich: dict[str, Any]) -> None:
    _check_invariant(rich["records"])


def test_invariant_holds_at_default_rates_over_two_days(tmp_path: Path) -> None:
    config = SimulationConfig(messages=30_000, seed=5, days=2)
    result = simulate(tmp_path, config)
    records = pd.read_parquet(tmp_path / "messages.parquet").merge(
        pd.read_parquet(tmp_path / "truth.parquet"), on="sid"
    )
    _check_invariant(records)
    days = records["date_created"].dt.floor("D").value_counts()
    assert len(days) >= 2 and days.min() > 10_000
    assert result.groups["app_retry_timeout"] == 120


def test_invariant_is_enforced_when_bodies_collide_often(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Twelve possible bodies per template: random draws collide all the time, so only the
    # check-and-fix pass keeps bodies apart.
    monkeypatch.setattr(
        sim, "_TEMPLATES", tuple(dataclasses.replace(t, cardinality=12) for t in sim._TEMPLATES)
    )
    simulate(tmp_path, RICH)
    records = pd.read_parquet(tmp_path / "messages.parquet").merge(
        pd.read_parquet(tmp_path / "truth.parquet"), on="sid"
    )
    _check_invariant(records)
    texts = records[(records["num_media"] == 0) & (records["direction"] != "inbound")]
    assert texts["body"].nunique() <= 12 * len(sim._TEMPLATES)


# ------------------------------------------------------------------ scenarios


def test_planted_group_shapes(rich: dict[str, Any]) -> None:
    seen = defaultdict(int)
    for frame in _groups(rich["records"]).values():
        scenario = frame["scenario"].iloc[0]
        seen[scenario] += 1
        assert frame["scenario"].nunique() == 1
        assert frame["to"].nunique() == 1 and frame["body"].nunique() == 1
        assert frame["messaging_service_sid"].nunique(dropna=False) == 1
        assert (frame["direction"] == "outbound-api").all()
        gaps = frame["date_created"].diff().dt.total_seconds().dropna()
        posts = list(frame["posts"])
        if scenario == "app_retry_timeout":
            assert len(frame) in (2, 3) and posts == [1] * len(frame)
            timeouts = {t for t in (10, 15, 30) if gaps.between(t, t + 2).all()}
            assert timeouts, gaps.tolist()
        elif scenario == "double_submit":
            assert len(frame) == 2 and gaps.between(0, 2).all() and posts == [1, 1]
        elif scenario == "queue_redelivery":
            assert len(frame) == 2 and gaps.between(3500, 3600).all() and posts == [1, 1]
        elif scenario == "twilio_side":
            assert len(frame) == 2 and gaps.between(0, 1).all() and sorted(posts) == [0, 1]
            assert (
                frame.loc[frame["posts"] == 1, "date_created"].iloc[0]
                == frame["date_created"].min()
            )
        else:
            assert scenario == "carrier_side" and len(frame) == 1 and posts == [1]
    groups = rich["meta"]["groups"]
    assert dict(seen) == {s: groups[s] for s in sim.PLANTED}
    assert all(seen[s] >= 5 for s in sim.PLANTED)


def test_legit_repeats_share_recipient_with_different_bodies(rich: dict[str, Any]) -> None:
    r = rich["records"]
    legit = r[r["scenario"] == "legit_repeat"]
    assert legit["group_id"].isna().all() and legit["expected_verdict"].isna().all()
    for _, frame in legit.groupby("to"):
        assert len(frame) >= 2 and frame["body"].is_unique
    close = (
        legit.sort_values("date_created")
        .groupby("to")["date_created"]
        .agg(lambda s: s.diff().dt.total_seconds().min())
    )
    assert close.between(3, 90).mean() > 0.9


def test_expected_verdicts(rich: dict[str, Any]) -> None:
    r = rich["records"]
    verdict_of = {
        "app_retry_timeout": "app_side",
        "double_submit": "app_side",
        "queue_redelivery": "app_side",
        "twilio_side": "twilio_side",
        "carrier_side": "carrier_side",
    }
    planted = r["scenario"].isin(list(verdict_of))
    assert r["group_id"].notna().eq(planted).all()
    assert r.loc[~planted, "expected_verdict"].isna().all()
    p = r[planted]
    expected = p["scenario"].map(verdict_of).where(p["covered"], "unverified")
    assert (p["expected_verdict"] == expected).all()
    assert (p["expected_verdict"] == "unverified").sum() >= 1
    # A group lies entirely inside or entirely outside the log gap.
    assert (p.groupby("group_id")["covered"].nunique() == 1).all()
    group_ids = p["group_id"].drop_duplicates()
    assert list(group_ids) == list(range(1, len(group_ids) + 1))


# ------------------------------------------------------------------ request log


def _in_gap(ts: pd.Series) -> pd.Series:
    tod = ts.dt.hour * 3600 + ts.dt.minute * 60 + ts.dt.second + ts.dt.microsecond / 1e6
    start = GAP_START.hour * 3600 + GAP_START.minute * 60
    end = GAP_END.hour * 3600 + GAP_END.minute * 60
    return (tod >= start) & (tod < end)


def test_log_lines_are_well_formed_sorted_and_outside_the_gap(rich: dict[str, Any]) -> None:
    log, lines = rich["log"], rich["lines"]
    assert log["timestamp"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z").all()
    assert log["ts"].is_monotonic_increasing
    assert not _in_gap(log["ts"]).any()
    assert 1 <= len(rich["malformed"]) <= max(1, len(lines) // 2000)
    assert set(log.columns) >= {
        "timestamp",
        "method",
        "url",
        "status",
        "duration_ms",
        "to",
        "message_sid",
        "request_id",
        "error",
    }
    account = rich["messages"]["account_sid"].iloc[0]
    base = f"https://api.twilio.com/2010-04-01/Accounts/{account}/Messages"
    post, get = log[log["method"] == "POST"], log[log["method"] == "GET"]
    assert len(post) + len(get) == len(log) and len(get) > 0
    assert (post["url"] == base + ".json").all()
    assert (get["url"] == base + "/" + get["message_sid"] + ".json").all()
    assert get["to"].isna().all() and (get["status"] == 200).all()
    answered = log["status"].notna()
    assert log.loc[answered, "request_id"].str.fullmatch(r"RQ[0-9a-f]{32}").all()
    assert log.loc[~answered, "request_id"].isna().all()
    assert set(post["status"].dropna().astype(int)) <= {201, 500, 503}
    assert (post["status"].isin([500, 503]).sum()) <= len(post) // 100


def test_post_lines_account_for_truth(rich: dict[str, Any]) -> None:
    r, log = rich["records"], rich["log"]
    post = log[log["method"] == "POST"]
    assert len(post) == r.loc[r["covered"], "posts"].sum()
    # Records not covered have no line at all.
    assert not set(log["message_sid"].dropna()) & set(r.loc[~r["covered"], "sid"])
    ok = post[post["status"] == 201].set_index("message_sid")
    posted = r[(r["posts"] == 1) & r["covered"]].set_index("sid")
    answered = posted.index.intersection(ok.index)
    assert len(answered) == len(ok)
    delta = (ok.loc[answered, "ts"] - posted.loc[answered, "date_created"]).dt.total_seconds()
    assert delta.between(SKEW - 0.3, SKEW + 1.0).all()
    assert (ok.loc[answered, "to"] == posted.loc[answered, "to"]).all()
    unanswered = posted.index.difference(ok.index)
    assert set(r.loc[r["sid"].isin(unanswered), "scenario"]) == {"app_retry_timeout"}


def test_retry_groups_time_out_before_the_last_attempt(rich: dict[str, Any]) -> None:
    log = rich["log"]
    post = log[log["method"] == "POST"]
    checked = 0
    for frame in _groups(rich["records"]).values():
        if frame["scenario"].iloc[0] != "app_retry_timeout" or not frame["covered"].all():
            continue
        start = frame["date_created"].min() - timedelta(seconds=5)
        end = frame["date_created"].max() + timedelta(seconds=5)
        attempts = post[(post["to"] == frame["to"].iloc[0]) & post["ts"].between(start, end)]
        assert len(attempts) == len(frame)
        failed, last = attempts.iloc[:-1], attempts.iloc[-1]
        assert last["status"] == 201 and last["message_sid"] == frame["sid"].iloc[-1]
        assert failed["message_sid"].isna().all()
        timed_out = failed["error"] == "ReadTimeout"
        assert (failed["status"].isna() == timed_out).all()
        gap = frame["date_created"].diff().dt.total_seconds().iloc[1]
        assert ((failed.loc[timed_out, "duration_ms"] / 1000 - gap).between(-2.1, 0.1)).all()
        checked += 1
    assert checked >= 5


def test_twilio_side_has_one_post_carrying_the_first_sid(rich: dict[str, Any]) -> None:
    log = rich["log"]
    post = log[log["method"] == "POST"]
    for frame in _groups(rich["records"]).values():
        if frame["scenario"].iloc[0] != "twilio_side" or not frame["covered"].all():
            continue
        lines = post[post["to"] == frame["to"].iloc[0]]
        near = lines[(lines["ts"] - frame["date_created"].min()).abs() < pd.Timedelta("1min")]
        assert len(near) == 1
        assert near["message_sid"].iloc[0] == frame.loc[frame["posts"] == 1, "sid"].iloc[0]


def test_complaints_point_at_carrier_and_app_side_recipients(rich: dict[str, Any]) -> None:
    r, complaints = rich["records"], rich["complaints"]
    assert complaints and set(complaints[0]) == {"to", "reported_at", "note"}
    carrier = r[r["scenario"] == "carrier_side"]
    app = r[
        r["expected_verdict"].eq("app_side")
        | (r["scenario"].isin(["app_retry_timeout", "double_submit", "queue_redelivery"]))
    ]
    first_seen = r.groupby("to")["date_created"].min()
    kinds = defaultdict(int)
    for row in complaints:
        reported = datetime.strptime(row["reported_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        assert reported > first_seen[row["to"]]
        if row["to"] in set(carrier["to"]):
            kinds["carrier"] += 1
        else:
            assert row["to"] in set(app["to"])
            kinds["app"] += 1
        assert row["note"]
    assert kinds["carrier"] == len(carrier) and kinds["app"] == 2
    assert [c["reported_at"] for c in complaints] == sorted(c["reported_at"] for c in complaints)


def test_no_gap_means_everything_covered(tmp_path: Path) -> None:
    simulate(tmp_path, SimulationConfig(messages=3000, seed=2, log_gap=None, days=2))
    truth = pd.read_parquet(tmp_path / "truth.parquet")
    assert truth["covered"].all() and not (truth["expected_verdict"] == "unverified").any()
    lines = (tmp_path / "server_requests.jsonl").read_text().splitlines()
    parsed = [json.loads(line) for line in lines if line.endswith("}")]
    posts = sum(1 for p in parsed if p["method"] == "POST")
    assert posts == truth["posts"].sum()


def test_gap_across_midnight(tmp_path: Path) -> None:
    config = SimulationConfig(messages=4000, seed=4, log_gap=(time(23, 30), time(0, 40)))
    simulate(tmp_path, config)
    data = _load(tmp_path)
    tod = data["log"]["ts"].dt.hour * 60 + data["log"]["ts"].dt.minute
    assert not ((tod >= 23 * 60 + 30) | (tod < 40)).any()
    r = data["records"]
    assert (r.loc[r["group_id"].notna()].groupby("group_id")["covered"].nunique() == 1).all()
    assert (r["expected_verdict"] == "unverified").any()


# ------------------------------------------------------------------ config and errors


@pytest.mark.parametrize(
    "config, message",
    [
        (SimulationConfig(messages=0), "messages"),
        (SimulationConfig(messages=100, days=0), "days"),
        (SimulationConfig(messages=100, retry_rate=1.5), "retry_rate"),
        (SimulationConfig(messages=100, inbound_rate=0.6, legit_repeat_rate=0.4), "rates"),
        (SimulationConfig(messages=100, log_gap=(time(1), time(1))), "log_gap"),
    ],
)
def test_bad_config_is_a_user_error(tmp_path: Path, config: SimulationConfig, message: str) -> None:
    with pytest.raises(UserError, match=message):
        simulate(tmp_path / "out", config)
    assert not (tmp_path / "out").exists()


def test_out_dir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UserError, match="not a directory"):
        simulate(target, SimulationConfig(messages=10))


def test_tiny_run_and_no_leftover_temp_files(tmp_path: Path) -> None:
    result = simulate(tmp_path, SimulationConfig(messages=1, seed=9))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(FILES)
    assert sum(result.records.values()) == 1
    assert pq.read_table(result.messages_path).num_rows == 1


# ------------------------------------------------------------------ properties of helpers


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=60),
    st.integers(0, 2**32 - 1),
)
def test_resolve_collisions_matches_reference(pairs: list[tuple[int, int]], seed: int) -> None:
    key = np.array([k for k, _ in pairs], dtype=np.int64)
    param = np.array([p for _, p in pairs], dtype=np.int64)
    card = np.full(key.size, 200, dtype=np.int64)
    out = sim._resolve_collisions(key, param, card, np.random.default_rng(seed))
    seen: set[tuple[int, int]] = set()
    for i, (k, p) in enumerate(pairs):
        if (k, p) not in seen:  # the first occurrence keeps its value
            assert out[i] == p
        seen.add((k, p))
    assert len(set(zip(key.tolist(), out.tolist(), strict=True))) == key.size
    assert ((out >= 0) & (out < card)).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 2**63 - 1), max_size=30), st.integers(1, 20))
def test_digit_rendering_matches_python(values: list[int], width: int) -> None:
    arr = np.array(values, dtype=np.uint64)
    assert sim._digits(arr, width).to_pylist() == [str(v % 10**width).zfill(width) for v in values]
    assert sim._digits(arr, min(width, 16), 16).to_pylist() == [
        format(v % 16 ** min(width, 16), "x").zfill(min(width, 16)) for v in values
    ]
    raw = np.array([[v % 256] * 16 for v in values], dtype=np.uint8).reshape(-1, 16)
    prefix = np.broadcast_to(np.frombuffer(b"SM", np.uint8), (len(values), 2))
    assert sim._hex_sids(raw, prefix).to_pylist() == [
        "SM" + bytes([v % 256] * 16).hex() for v in values
    ]


@settings(max_examples=100, deadline=None)
@given(
    st.times(), st.times(), st.lists(st.integers(0, 3 * 86_400_000 - 1), min_size=1, max_size=20)
)
def test_gap_membership_matches_reference(start: time, end: time, ms: list[int]) -> None:
    start, end = start.replace(microsecond=0), end.replace(microsecond=0)
    length = datetime.combine(datetime.min, end) - datetime.combine(datetime.min, start)
    seconds = length.total_seconds() % 86_400
    if seconds == 0 or seconds > 43_200:
        with pytest.raises(UserError):
            sim._Gap((start, end))
        return
    gap = sim._Gap((start, end))
    got = gap.contains(np.array(ms, dtype=np.int64)).tolist()
    for value, inside in zip(ms, got, strict=True):
        moment = (datetime(2026, 1, 1) + timedelta(milliseconds=value)).time()
        expected = start <= moment < end if start < end else moment >= start or moment < end
        assert inside == expected


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-30_000_000_000_000, 250_000_000_000_000), max_size=30))
def test_iso_timestamps_match_datetime(ms: list[int]) -> None:
    expected = [
        (datetime(1970, 1, 1) + timedelta(milliseconds=v)).isoformat(timespec="milliseconds") + "Z"
        for v in ms
    ]
    assert sim._iso_ms(np.array(ms, dtype=np.int64)).to_pylist() == expected


def test_template_bodies_use_only_expected_characters() -> None:
    for name in sim._NAMES:
        assert not _gsm_units(name)[0], name
    assert {_gsm_units(b)[0] for b in sim._INBOUND_BODIES} == {False, True}


# ------------------------------------------------------------------ other log formats

ALL_FORMATS = dataclasses.replace(RICH, log_formats=sim.LOG_FORMATS)
EXTRA_FORMATS = tuple(f for f in sim.LOG_FORMATS if f != "jsonl")


@pytest.fixture(scope="module")
def formats_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats")
    simulate(out, ALL_FORMATS)
    return out


@pytest.fixture(scope="module")
def parsed_jsonl(formats_dir: Path) -> Any:
    return read_server_logs(formats_dir / "server_requests.jsonl", format="jsonl")


def _log_path(out: Path, fmt: str) -> Path:
    return out / ("server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log")


def test_extra_formats_leave_other_files_unchanged(formats_dir: Path, rich_dir: Path) -> None:
    for name in ("messages.parquet", "server_requests.jsonl", "truth.parquet", "complaints.csv"):
        assert (formats_dir / name).read_bytes() == (rich_dir / name).read_bytes(), name
    meta = json.loads((formats_dir / "simulation.json").read_text(encoding="utf-8"))
    assert meta["config"]["log_formats"] == list(sim.LOG_FORMATS)
    assert meta["files"]["request_logs"] == {
        f: _log_path(formats_dir, f).name for f in sim.LOG_FORMATS
    }
    assert sorted(p.name for p in formats_dir.iterdir()) == sorted(
        [*FILES, *(f"server_requests.{f}.log" for f in EXTRA_FORMATS)]
    )


def test_extra_formats_do_not_depend_on_chunk_size(
    tmp_path: Path, formats_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sim, "CHUNK_ROWS", 333)
    result = simulate(tmp_path, ALL_FORMATS)
    assert set(result.request_logs) == set(sim.LOG_FORMATS)
    assert len(result.paths) == len(FILES) + len(EXTRA_FORMATS)
    for fmt, path in result.request_logs.items():
        assert path.read_bytes() == _log_path(formats_dir, fmt).read_bytes(), fmt


@pytest.mark.parametrize("fmt", EXTRA_FORMATS)
def test_each_format_parses_to_the_same_requests(
    formats_dir: Path, parsed_jsonl: Any, fmt: str
) -> None:
    path = _log_path(formats_dir, fmt)
    parsed = read_server_logs(path, format=sim.PARSER_FORMATS[fmt])
    assert detect_format(path) == sim.PARSER_FORMATS[fmt]
    auto = read_server_logs(path, format="auto")
    assert auto.files[0].format == sim.PARSER_FORMATS[fmt]
    assert auto.requests.drop_columns(["source_file"]).equals(
        parsed.requests.drop_columns(["source_file"])
    )

    base = parsed_jsonl.requests.to_pandas()
    got = parsed.requests.to_pandas()
    assert parsed.sends == parsed_jsonl.sends == int(base["is_send"].sum()) > 3000
    b = base[base["is_send"]].reset_index(drop=True)
    g = got[got["is_send"]].reset_index(drop=True)
    assert (g["path"] == b["path"]).all() and (g["account_sid"] == b["account_sid"]).all()
    expected_time = b["time"].dt.floor("s") if fmt == "combined" else b["time"]
    assert (g["time"] == expected_time).all()
    status = b["status"].astype("Int64")
    if fmt == "combined":  # the proxy saw the client give up
        status = status.fillna(sim.CLIENT_CLOSED_STATUS)
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
    text = _log_path(formats_dir, "twilio-sdk").read_text(encoding="utf-8")
    prefix = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO twilio\.http_client: ")
    lines = text.splitlines()
    assert sum(1 for line in lines if prefix.match(line)) == len(lines) - 1  # one torn line
    assert "PAYLOAD" not in text and '"sid"' not in text and "Authorization" not in text
    blocks = text.count("-- BEGIN Twilio API Request --")
    assert blocks == text.count("-- END Twilio API Request --")
    assert blocks - text.count("Response Status Code: ") == sum(
        1
        for line in _log_path(formats_dir, "jsonl").read_text().splitlines()
        if '"status": null' in line
    )


def test_legacy_payload_and_body_match_the_records(formats_dir: Path, rich: dict[str, Any]) -> None:
    records = rich["messages"].set_index("sid")
    lines = _log_path(formats_dir, "twilio-sdk-legacy").read_text(encoding="utf-8").splitlines()
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
        sim.render_request_log(pd.DataFrame(), "syslog", tmp_path / "x.log")


def test_render_request_log_reproduces_the_jsonl_log(formats_dir: Path, tmp_path: Path) -> None:
    lines = (formats_dir / "server_requests.jsonl").read_text(encoding="utf-8").splitlines()
    valid = []
    for line in lines:
        with contextlib.suppress(json.JSONDecodeError):
            valid.append((line, json.loads(line)))
    frame = pd.DataFrame([row for _, row in valid])
    target = tmp_path / "again.jsonl"
    sim.render_request_log(frame, "jsonl", target)
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
@given(rows=REQUEST_ROWS, fmt=st.sampled_from(sim.LOG_FORMATS))
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
    sim.render_request_log(frame, fmt, path)
    parsed = read_server_logs(path, format="auto")
    assert parsed.files[0].format == sim.PARSER_FORMATS[fmt] and parsed.malformed == 0
    got = parsed.requests.to_pandas()
    assert len(got) == len(rows)
    for i, row in enumerate(rows):
        when = pd.Timestamp(start + timedelta(milliseconds=row[0]))
        r = got.iloc[i]
        assert r["time"] == (when.floor("s") if fmt == "combined" else when)
        assert r["method"] == row[1] and r["is_send"] == (row[1] == "POST")
        expected_status = row[2]
        if expected_status is None and fmt == "combined":
            expected_status = sim.CLIENT_CLOSED_STATUS
        assert (None if pd.isna(r["status"]) else int(r["status"])) == expected_status
        if fmt in ("jsonl", "twilio-sdk-legacy"):
            assert _value(r["message_sid"]) == _value(frame["message_sid"][i])
        if fmt == "jsonl" or (fmt == "twilio-sdk-legacy" and row[1] == "POST"):
            assert _value(r["to"]) == _value(frame["to"][i])
        if fmt in ("jsonl", "twilio-sdk"):
            assert _value(r["request_id"]) == _value(frame["request_id"][i])
        if fmt in ("jsonl", "envoy") or (fmt == "twilio-sdk" and row[2] is not None):
            assert r["duration_ms"] == row[3]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(-30_000_000_000, 250_000_000_000), min_size=1, max_size=20))
def test_date_renderings_match_strftime(seconds: list[int]) -> None:
    moments = [datetime(1970, 1, 1) + timedelta(seconds=s) for s in seconds]
    ms = np.array(seconds, dtype=np.int64) * 1000 + 7
    assert sim._rfc2822(np.array(seconds)).to_pylist() == [
        m.strftime("%a, %d %b %Y %H:%M:%S +0000") for m in moments
    ]
    assert sim._sdk_stamp(ms).to_pylist() == [m.strftime("%Y-%m-%d %H:%M:%S,007") for m in moments]
    assert sim._clf_time(ms, -330).to_pylist() == [
        (m - timedelta(minutes=330)).strftime("%d/%b/%Y:%H:%M:%S -0530") for m in moments
    ]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=12), min_size=1, max_size=10))
def test_json_quoting_matches_python(texts: list[str]) -> None:
    quoted = sim._quoted(pa.array([*texts, None], pa.string())).to_pylist()
    assert [json.loads(q) for q in quoted] == [*texts, None]


PRINTABLE = st.text(
    st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Co", "Cn"))
    | st.sampled_from("\n\t\r'\"\\"),
    max_size=12,
)


@settings(max_examples=100, deadline=None)
@given(st.lists(PRINTABLE, min_size=1, max_size=10))
def test_python_repr_matches_python(texts: list[str]) -> None:
    texts = [
        t for t in texts if t.replace("\n", "").replace("\r", "").replace("\t", "").isprintable()
    ]
    got = sim._py_repr(pa.array(texts, pa.string())).to_pylist()
    assert got == [repr(t) for t in texts]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.binary(min_size=16, max_size=16), min_size=1, max_size=10))
def test_uuid4_rendering(raw: list[bytes]) -> None:
    mat = np.frombuffer(b"".join(raw), dtype=np.uint8).reshape(-1, 16)
    got = sim._uuid4(mat).to_pylist()
    for data, text in zip(raw, got, strict=True):
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert parsed == uuid.UUID(bytes=data, version=4)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.none() | st.floats(-50, 50, allow_nan=False), min_size=1, max_size=20))
def test_price_text_matches_format(prices: list[float | None]) -> None:
    got = sim._price_text(pa.array(prices, pa.float64())).to_pylist()
    for price, text in zip(prices, got, strict=True):
        if price is None:
            assert text is None
        else:
            assert float(text) == pytest.approx(round(price, 5), abs=1e-9)
            assert re.fullmatch(r"-?\d+\.\d{5}", text)


def test_an_interrupted_simulation_leaves_the_older_set_whole(tmp_path: Path) -> None:
    old = simulate(
        tmp_path, SimulationConfig(messages=2_000, seed=1, log_formats=("jsonl", "combined"))
    )
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def interrupt(done: int, total: int) -> None:
        if done > total // 2:  # the messages are written, the logs half-way
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        simulate(tmp_path, SimulationConfig(messages=3_000, seed=2), progress=interrupt)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert old.request_logs["combined"].exists()

    simulate(tmp_path, SimulationConfig(messages=3_000, seed=2))
    names = {p.name for p in tmp_path.iterdir()}
    # The new set, whole, and nothing of the older one beside it.
    assert names == {
        "messages.parquet", "server_requests.jsonl", "truth.parquet", "complaints.csv",
        "simulation.json",
    }  # fmt: skip
    assert pq.read_metadata(tmp_path / "messages.parquet").num_rows == 3_000


def test_simulated_messages_can_go_into_a_dataset(tmp_path: Path) -> None:
    from analyzer.pipeline import run_detect
    from analyzer.store import list_days

    sim = simulate(
        tmp_path / "sim", SimulationConfig(messages=4_000, seed=3, days=2), dataset=tmp_path / "ds"
    )
    assert list_days(tmp_path / "ds") == ["2026-11-29", "2026-11-30"]
    whole = run_detect(sim.messages_path, tmp_path / "a").detection.summary
    days = run_detect(
        tmp_path / "ds", tmp_path / "b", start="2026-11-29", end="2026-11-30"
    ).detection.summary
    assert days.messages == whole.messages == 4_000
    assert days.duplicate_clusters == whole.duplicate_clusters > 0


def test_cli_simulate_into_a_dataset_then_detect_a_day(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ds = tmp_path / "ds"
    made = runner.invoke(
        app,
        ["simulate", "--out", str(tmp_path / "sim"), "-n", "3000", "--days", "2"]
        + ["--dataset", str(ds), "--quiet"],
    )
    assert made.exit_code == 0, made.output
    assert f"also in the dataset {ds}" in made.output
    day = runner.invoke(
        app, ["detect", str(ds), "-o", str(tmp_path / "d"), "-q", "--start", "2026-11-30"]
    )
    assert day.exit_code == 0, day.output
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["period_start"].startswith("2026-11-30")
