"""The simulated message records: schema, numbers, segments, volume, uniqueness."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from analyzer.schema import MESSAGE_SCHEMA
from analyzer.simulate import SimulationConfig, bodies, simulate
from analyzer.simulate.failures import FAILED_CODE_SHARES, UNDELIVERED_CODE_SHARES
from tests.unit.simulate.helpers import RICH, gsm_units


def test_schema_is_exact_and_counts_add_up(rich: dict[str, Any], rich_dir: Path) -> None:
    schema = pq.read_schema(rich_dir / "messages.parquet")
    assert schema.remove_metadata().equals(MESSAGE_SCHEMA)
    m, truth = rich["messages"], rich["truth"]
    # The opt-out records come on top of the messages asked for.
    assert len(m) == RICH.messages + rich["meta"]["records"]["opt_out"] == len(truth)
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


def _reference_segments(text: str) -> int:
    ucs2, units = gsm_units(text)
    single, multi = (70, 67) if ucs2 else (160, 153)
    return 1 if units <= single else math.ceil(units / multi)


def test_segments_prices_and_statuses_are_consistent(rich: dict[str, Any]) -> None:
    m = rich["messages"]
    text = m[m["num_media"] == 0]
    expected = text["body"].map(_reference_segments)
    assert (text["num_segments"] == expected).all()
    assert {1, 2} <= set(text["num_segments"]) and text["body"].map(lambda b: gsm_units(b)[0]).any()
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
    assert codes["undelivered"] <= set(UNDELIVERED_CODE_SHARES) and codes["undelivered"]
    assert codes["failed"] <= {*FAILED_CODE_SHARES, 21610} and not codes["delivered"]
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
        bodies, "TEMPLATES", tuple(dataclasses.replace(t, cardinality=12) for t in bodies.TEMPLATES)
    )
    simulate(tmp_path, RICH)
    records = pd.read_parquet(tmp_path / "messages.parquet").merge(
        pd.read_parquet(tmp_path / "truth.parquet"), on="sid"
    )
    _check_invariant(records)
    texts = records[(records["num_media"] == 0) & (records["direction"] != "inbound")]
    assert texts["body"].nunique() <= 12 * len(bodies.TEMPLATES)
