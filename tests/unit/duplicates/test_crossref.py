"""Cross-reference: every planted cluster gets its planted verdict, or an honest 'inconclusive'."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from analyzer.duplicates.crossref import cross_reference
from analyzer.duplicates.detect import find_duplicates
from analyzer.logs import read_server_logs
from analyzer.simulate import SimulationConfig, simulate
from analyzer.vocabulary import Verdict


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, SimulationConfig(messages=20_000, seed=21, days=2))
    return out


def judged(folder: Path, fields: dict[str, str] | None = None, **options: float) -> pd.DataFrame:
    messages = pq.read_table(folder / "messages.parquet")
    clusters = find_duplicates(messages, window=4000).clusters
    logs = read_server_logs([folder / "server_requests.jsonl"], fields=fields)
    result = cross_reference(
        clusters,
        logs.requests,
        messages,
        formats={f.path: f.format for f in logs.files},
        **options,  # type: ignore[arg-type]
    )
    truth = pq.read_table(folder / "truth.parquet").to_pandas()
    frame = result.clusters.to_pandas()
    return frame.merge(
        truth[["sid", "scenario", "expected_verdict"]],
        left_on="cluster_id",
        right_on="sid",
        how="left",
    )


def test_sid_logs_give_every_planted_verdict(simulated: Path) -> None:
    frame = judged(simulated)
    assert (frame["match_mode"] == "sid").all()
    assert frame["verdict"].tolist() == frame["expected_verdict"].tolist()
    assert {Verdict.APP_SIDE, Verdict.TWILIO_SIDE, Verdict.UNVERIFIED} <= set(frame["verdict"])
    app = frame[frame["verdict"] == Verdict.APP_SIDE]
    assert (app["posts"] >= app["n_records"]).all()
    assert (app["matched_lines"].map(len) >= app["n_records"]).all()
    twilio = frame[frame["verdict"] == Verdict.TWILIO_SIDE]
    assert (twilio["posts"] < twilio["n_records"]).all()
    assert twilio["hint"].str.contains("Twilio support").all()


def test_recipient_and_time_logs_give_every_planted_verdict(simulated: Path) -> None:
    frame = judged(simulated, fields={"message_sid": "not_logged"})
    assert (frame["match_mode"] == "recipient_time").all()
    assert frame["verdict"].tolist() == frame["expected_verdict"].tolist()


def test_time_only_logs_are_never_wrong(simulated: Path) -> None:
    frame = judged(simulated, fields={"message_sid": "not_logged", "to": "not_logged"})
    assert (frame["match_mode"] == "time_only").all()
    decided = frame[frame["verdict"] != Verdict.INCONCLUSIVE]
    assert (decided["verdict"] == decided["expected_verdict"]).all()
    assert (decided["verdict"] == Verdict.APP_SIDE).sum() > 0
    # Gaps in log coverage are never mistaken for inconclusive evidence.
    unverified = frame["expected_verdict"] == Verdict.UNVERIFIED
    assert (frame.loc[unverified, "verdict"] == Verdict.UNVERIFIED).all()


def test_skew_is_estimated_and_can_be_overridden(simulated: Path) -> None:
    sim = pd.read_json(simulated / "simulation.json", typ="series")
    skew = float(sim["config"]["clock_skew_seconds"])
    estimated = judged(simulated)["skew_seconds"].iloc[0]
    assert abs(estimated - skew) < 1.0
    assert (judged(simulated, skew=42.0)["skew_seconds"] == 42.0).all()


def test_a_given_skew_far_from_the_data_is_warned_about(simulated: Path) -> None:
    messages = pq.read_table(simulated / "messages.parquet")
    clusters = find_duplicates(messages, window=60).clusters
    logs = read_server_logs([simulated / "server_requests.jsonl"])
    far = cross_reference(clusters, logs.requests, messages, skew=-30.0)
    assert len(far.warnings) == 1 and "differs from the one the data shows" in far.warnings[0]
    near = cross_reference(clusters, logs.requests, messages, skew=far.skew.estimated)
    assert near.warnings == []


def test_hints_name_the_cause(simulated: Path) -> None:
    frame = judged(simulated)
    app = frame["verdict"] == Verdict.APP_SIDE
    retries = frame[(frame["scenario"] == "app_retry_timeout") & app]
    assert retries["hint"].str.contains(r"retry after a (?:10|15|30) s client timeout").all()
    doubles = frame[(frame["scenario"] == "double_submit") & app]
    assert doubles["hint"].str.contains("double submit").all()
    queued = frame[(frame["scenario"] == "queue_redelivery") & app]
    assert queued["hint"].str.contains("visibility timeout").all()


def test_without_logs_every_cluster_is_unverified(simulated: Path) -> None:
    messages = pq.read_table(simulated / "messages.parquet")
    clusters = find_duplicates(messages, window=60).clusters
    result = cross_reference(clusters, None, messages)
    assert set(result.clusters["verdict"].to_pylist()) == {Verdict.UNVERIFIED}
    assert result.by_verdict == {Verdict.UNVERIFIED: clusters.num_rows}


def test_empty_clusters(simulated: Path) -> None:
    messages = pq.read_table(simulated / "messages.parquet")
    empty = find_duplicates(messages.slice(0, 0), window=60).clusters
    logs = read_server_logs([simulated / "server_requests.jsonl"])
    result = cross_reference(empty, logs.requests, messages)
    assert result.clusters.num_rows == 0 and result.by_verdict == {}
    assert "verdict" in result.clusters.column_names


def test_missing_message_columns_are_named() -> None:
    with pytest.raises(Exception, match="direction"):
        cross_reference(pa.table({}), None, pa.table({"sid": ["SM1"], "to": ["+1"]}))


FORMATS = ["jsonl", "twilio-sdk", "twilio-sdk-legacy", "combined", "envoy"]
#: Formats that carry the recipient or the SID allow an exact verdict for every cluster.
EXACT = {"jsonl", "twilio-sdk-legacy"}


@pytest.fixture(scope="module")
def every_format(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("formats")
    simulate(
        out,
        SimulationConfig(messages=6_000, seed=5, log_formats=tuple(FORMATS)),
    )
    return out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_log_format_gives_planted_verdicts_or_inconclusive(
    every_format: Path, fmt: str
) -> None:
    messages = pq.read_table(every_format / "messages.parquet")
    clusters = find_duplicates(messages, window=4000).clusters
    name = "server_requests.jsonl" if fmt == "jsonl" else f"server_requests.{fmt}.log"
    logs = read_server_logs([every_format / name])  # format detected from the file
    result = cross_reference(
        clusters, logs.requests, messages, formats={f.path: f.format for f in logs.files}
    )
    truth = pq.read_table(every_format / "truth.parquet").to_pandas()
    frame = result.clusters.to_pandas().merge(
        truth[["sid", "expected_verdict"]], left_on="cluster_id", right_on="sid"
    )
    assert len(frame) == clusters.num_rows > 20
    if fmt in EXACT:
        assert frame["verdict"].tolist() == frame["expected_verdict"].tolist()
    else:
        assert result.mode == "time_only"
        decided = frame[frame["verdict"] != Verdict.INCONCLUSIVE]
        assert (decided["verdict"] == decided["expected_verdict"]).all()
        assert len(decided) >= len(frame) // 2
    kinds = set(frame.loc[frame["matched_lines"].map(len) > 0, "log_kind"])
    expected_kind = {"jsonl": "application", "combined": "wire", "envoy": "wire"}.get(fmt, "sdk")
    assert kinds == {expected_kind}
