"""Every log writer: the requests it writes read back as the same requests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from analyzer.logs import read_server_logs
from analyzer.simulate import CLIENT_CLOSED_STATUS, WRITERS, render_request_log

ACCOUNT = "AC" + "1" * 32
BASE = f"/2010-04-01/Accounts/{ACCOUNT}/Messages"
# (ms after the start, method, status or None for no response, duration ms)
REQUESTS = [
    (1_234, "POST", 201, 310),
    (2_500, "POST", None, 15_021),
    (17_640, "POST", 201, 280),
    (61_007, "GET", 200, 95),
    (3_600_999, "POST", 500, 1_200),
    (3_601_500, "POST", 503, 640),
    (7_200_001, "POST", 429, 150),
    (7_260_450, "GET", 404, 70),
    (86_399_999, "POST", 201, 401),
]


def _requests() -> pd.DataFrame:
    start = datetime(2026, 3, 29, tzinfo=UTC)  # a DST change in Europe: offsets stay fixed
    rows = []
    for i, (after_ms, method, status, duration) in enumerate(REQUESTS):
        sid = f"SM{i:032x}"
        path = f"{BASE}/{sid}.json" if method == "GET" else f"{BASE}.json"
        rows.append(
            {
                "timestamp": start + timedelta(milliseconds=after_ms),
                "method": method,
                "url": f"https://api.twilio.com{path}",
                "status": status,
                "duration_ms": duration,
                "to": f"+1415555{i:04d}" if method == "POST" else None,
                "message_sid": sid if status in (200, 201) else None,
                "request_id": f"RQ{i:032x}" if status else None,
            }
        )
    frame = pd.DataFrame(rows)
    frame["status"] = frame["status"].astype("Int64")
    return frame


def _values(series: pd.Series) -> list[Any]:
    return [None if pd.isna(v) else v for v in series]


@pytest.mark.parametrize("name", sorted(WRITERS))
def test_each_writer_reads_back_as_the_same_requests(tmp_path: Path, name: str) -> None:
    writer = WRITERS[name]
    sent = _requests()
    path = tmp_path / f"requests.{name}.log"
    render_request_log(sent, name, path)

    parsed = read_server_logs(path, format=writer.reads)
    assert parsed.malformed == 0
    auto = read_server_logs(path, format="auto")
    assert auto.files[0].format == writer.reads
    got = parsed.requests.to_pandas()
    assert len(got) == len(sent)

    assert list(got["method"]) == list(sent["method"])
    assert list(got["path"]) == [url.removeprefix("https://api.twilio.com") for url in sent["url"]]
    assert (got["account_sid"] == ACCOUNT).all()
    assert list(got["is_send"]) == list(sent["method"] == "POST")
    # A format stamps milliseconds or whole seconds, the same for every line.
    stamped = pd.to_datetime(sent["timestamp"], utc=True)
    exact = (got["time"] == stamped).all()
    assert exact or (got["time"] == stamped.dt.floor("s")).all()

    answered = sent["status"].notna()
    assert list(got.loc[answered, "status"]) == list(sent.loc[answered, "status"])
    # Without a response: no status, or the proxy's own for a client that gave up.
    assert set(_values(got.loc[~answered, "status"])) <= {None, CLIENT_CLOSED_STATUS}

    # Recipients, SIDs, request ids, durations: where a format shows them, they are the same.
    for column in ("to", "message_sid", "request_id", "duration_ms"):
        shown = got[column].notna()
        assert _values(got.loc[shown, column]) == _values(sent.loc[shown, column]), column
        if shown.any() and column in ("message_sid", "request_id"):
            assert _values(got[column]) == _values(sent[column]), column
    if got["to"].notna().any():
        posts = sent["method"] == "POST"
        assert _values(got.loc[posts, "to"]) == _values(sent.loc[posts, "to"])
