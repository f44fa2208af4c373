"""The delivery failures the simulator plants: codes per status, the jump on the last
day, the recipients that fail for good and the POSTs Twilio refused."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analyzer.logs import read_server_logs
from analyzer.simulate import LOG_FORMATS, PARSER_FORMATS, SimulationConfig, simulate
from analyzer.simulate.failures import (
    JUMP_CODE,
    JUMP_FACTOR,
    JUMP_MIN_RECORDS,
    PERMANENT_CODES,
    REJECTIONS,
)
from analyzer.simulate.writers.twilio_sdk import TWILIO_SDK_LEGACY
from analyzer.vocabulary import FAILURE_STATUSES, LogFormat
from tests.unit.simulate.helpers import RICH, load_run, log_path

#: A week long enough for the jump.
WEEK = SimulationConfig(messages=12_000, seed=5, days=6)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    out = tmp_path_factory.mktemp("week")
    simulate(out, WEEK)
    return load_run(out)


def _failures(messages: pd.DataFrame) -> pd.DataFrame:
    return messages[messages["status"].isin(FAILURE_STATUSES)]


@pytest.mark.parametrize("run", ["rich", "week"])
def test_planted_counts_per_code_are_the_records(run: str, request: pytest.FixtureRequest) -> None:
    loaded = request.getfixturevalue(run)
    messages, meta = loaded["messages"], loaded["meta"]
    failures = _failures(messages)
    # Every failure has a code; nothing else has one.
    assert failures["error_code"].notna().all()
    assert messages.loc[~messages.index.isin(failures.index), "error_code"].isna().all()
    assert failures["direction"].str.startswith("outbound").all()
    by_code = failures["error_code"].astype(int).value_counts()
    expected = {str(code): int(by_code[code]) for code in sorted(by_code.index)}
    assert meta["failures_by_error_code"] == expected
    assert meta["failures_by_status"] == {
        "failed": int((failures["status"] == "failed").sum()),
        "undelivered": int((failures["status"] == "undelivered").sum()),
    }
    # Many codes, the common ones most often, fraud rare.
    assert len(by_code) >= 8
    assert by_code.get(30003, 0) > by_code.get(30450, 0)


def test_the_jump_is_on_the_last_day(week: dict[str, Any]) -> None:
    messages, jump = week["messages"], week["meta"]["failure_jump"]
    day = messages["date_created"].dt.strftime("%Y-%m-%d")
    last = max(day)
    jumped = messages["error_code"] == JUMP_CODE
    per_day = jumped.groupby(day).sum()
    baseline = per_day.drop(last).reindex(sorted(set(day) - {last}), fill_value=0).mean()
    assert jump["error_code"] == str(JUMP_CODE) and jump["day"] == last
    assert jump["total"] == per_day[last]
    assert jump["baseline"] == pytest.approx(baseline, abs=1e-3)
    assert jump["count"] >= max(JUMP_MIN_RECORDS, JUMP_FACTOR * baseline)
    assert jump["total"] - jump["count"] <= 3 * max(baseline, 1)
    # The planted ones are sends that had been delivered: undelivered, not duplicates.
    assert (messages.loc[jumped & (day == last), "status"] == "undelivered").all()
    truth = week["records"].set_index("sid")
    scenarios = truth.loc[messages.loc[jumped & (day == last), "sid"], "scenario"]
    assert (scenarios == "normal").sum() >= jump["count"]


def test_no_jump_in_a_short_run(rich: dict[str, Any]) -> None:
    assert rich["meta"]["failure_jump"] is None


@pytest.mark.parametrize("run", ["rich", "week"])
def test_recipients_that_fail_for_good(run: str, request: pytest.FixtureRequest) -> None:
    loaded = request.getfixturevalue(run)
    messages, numbers = loaded["messages"], loaded["meta"]["permanent_failure_recipients"]
    assert len(numbers) >= 3 and len(set(numbers)) == len(numbers)
    for number in numbers:
        theirs = messages[(messages["to"] == number) | (messages["from"] == number)]
        assert len(theirs) >= 2 and (theirs["direction"] == "outbound-api").all()
        assert theirs["status"].isin(FAILURE_STATUSES).all()
        codes = set(theirs["error_code"].astype(int))
        assert len(codes) == 1 and codes <= set(PERMANENT_CODES)
        (code,) = codes
        assert (theirs["status"] == PERMANENT_CODES[code].name.lower()).all()


def test_refused_posts_have_no_record_around_them(week: dict[str, Any]) -> None:
    log, messages = week["log"], week["messages"]
    refused = log[log["error_code"].notna()]
    meta = week["meta"]["rejected_requests"]
    assert meta["rejected"] == len(refused) >= 10
    assert meta["posts"] == (log["method"] == "POST").sum()
    customer = messages["to"].where(messages["direction"] != "inbound", messages["from"])
    for _, row in refused.iterrows():
        near = (messages["date_created"] - row["ts"]).abs() < pd.Timedelta(days=1)
        assert not (near & (customer == row["to"])).any()
    pairs = {(s, c) for s, c, _ in REJECTIONS}
    got = zip(refused["status"].astype(int), refused["error_code"].astype(int), strict=True)
    assert set(got) <= pairs


@pytest.mark.parametrize("fmt", LOG_FORMATS)
def test_refused_posts_parse_back(formats_dir: Path, fmt: str) -> None:
    meta = load_run(formats_dir)["meta"]["rejected_requests"]
    parsed = read_server_logs(log_path(formats_dir, fmt), format=PARSER_FORMATS[fmt])
    requests = parsed.requests.to_pandas()
    # (nginx writes 499 for a client that gave up: no answer from Twilio)
    refused = requests[requests["status"].isin([status for status, _, _ in REJECTIONS])]
    assert refused["is_send"].all() and refused["message_sid"].isna().all()
    # The 2022+ SDK and the proxies do not log the form.
    assert refused["to"].notna().all() == (fmt in (LogFormat.JSONL, TWILIO_SDK_LEGACY))
    by_status = Counter(str(int(s)) for s in refused["status"])
    assert dict(by_status) == meta["by_status"] and len(refused) == meta["rejected"]
    codes = requests["twilio_error_code"].dropna().astype(int)
    if PARSER_FORMATS[fmt] in (LogFormat.JSONL, LogFormat.TWILIO_SDK):
        assert refused["twilio_error_code"].notna().all()
        assert dict(Counter(str(c) for c in codes[refused.index])) == meta["by_error_code"]
        # Other codes only in the legacy SDK's 5xx bodies (Twilio's 20500, 20503).
        others = requests.loc[codes.index.difference(refused.index)]
        assert (others["status"] >= 500).all() and (fmt == TWILIO_SDK_LEGACY or others.empty)
    else:
        assert codes.empty


def test_failures_draw_from_their_own_generator(
    rich_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another failure generator changes the failures only: every other value stays."""
    monkeypatch.setattr(
        "analyzer.simulate.plan.failure_rng", lambda seed: np.random.default_rng([seed, 1])
    )
    simulate(tmp_path, RICH)
    for name in ("truth.parquet", "complaints.csv"):
        assert (tmp_path / name).read_bytes() == (rich_dir / name).read_bytes(), name
    before, after = load_run(rich_dir)["messages"], load_run(tmp_path)["messages"]
    failure_columns = ["status", "error_code", "error_message", "price"]
    assert not after["error_code"].equals(before["error_code"])
    pd.testing.assert_frame_equal(
        after.drop(columns=failure_columns), before.drop(columns=failure_columns)
    )
    # Prices change only with a status (a failed send costs nothing).
    same_status = after["status"] == before["status"]
    pd.testing.assert_series_equal(after["price"][same_status], before["price"][same_status])
    # The log lines but the refused POSTs are the same.
    refused = '"error_code"'
    lines = [line for line in load_run(tmp_path)["lines"] if refused not in line]
    assert lines == [line for line in load_run(rich_dir)["lines"] if refused not in line]
