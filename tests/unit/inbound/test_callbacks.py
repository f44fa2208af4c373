"""Status callbacks: the final status the application never learned, the callbacks it
refused, and those that disagree with the record."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from analyzer.inbound import check_callbacks, received_requests

T = datetime(2026, 11, 29, 12, tzinfo=UTC)
PROXY = "TwilioProxy/1.1"


def _services() -> pd.DataFrame:
    return pd.DataFrame(
        [("MG1", "https://app.example.com/sms/status"), ("MG2", None)],
        columns=["sid", "status_callback"],
    )


def _outbound() -> pd.DataFrame:
    rows = [
        # sid, service, status, error code, created (min)
        ("SM1", "MG1", "delivered", None, 0),  # delivered, told: fine
        ("SM2", "MG1", "delivered", None, 1),  # final callback missing
        ("SM3", "MG1", "undelivered", 30007, 2),  # told "delivered": disagrees
        ("SM4", "MG1", "failed", 30008, 3),  # its callback was refused
        ("SM5", "MG1", "read", None, 4),  # told "delivered": the same
        ("SM6", "MG2", "delivered", None, 5),  # no callback asked, none came: fine
        ("SM7", "MG1", "sent", None, 6),  # no final status yet: not judged
        ("SM8", "MG1", "delivered", None, 300),  # after the log ends: not judged
    ]
    frame = pd.DataFrame(
        rows, columns=["sid", "messaging_service_sid", "status", "error_code", "minute"]
    )
    created = pd.to_datetime([T + timedelta(minutes=m) for m in frame["minute"]], utc=True)
    return frame.drop(columns=["minute"]).assign(
        to="+15550001",
        **{"from": "+15559999"},
        date_created=created,
        date_updated=created + pd.Timedelta(seconds=20),
    )


def _callback(sid: str, status: str, minute: float, http: int = 200) -> tuple:
    return (T + timedelta(minutes=minute), "/sms/status", http, sid, status, PROXY)


def _requests(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(
        rows, columns=["time", "path", "status", "message_sid", "message_status", "user_agent"]
    )
    return frame.assign(method="POST", is_send=False)


def test_each_problem_once_with_its_message() -> None:
    requests = _requests(
        [
            _callback("SM1", "sent", 0.05),
            _callback("SM1", "delivered", 0.3),
            _callback("SM2", "sent", 1.05),
            _callback("SM3", "delivered", 2.3),
            _callback("SM4", "failed", 3.3, http=500),
            _callback("SM5", "delivered", 4.3),
            # The log goes on until an hour later.
            (T + timedelta(hours=1), "/healthz", 200, None, None, "kube-probe/1.29"),
        ]
    )
    found = check_callbacks(_outbound(), received_requests(requests), _services(), {"/sms/in"})
    got = sorted(zip(found.problems["problem"], found.problems["sid"], strict=True))
    assert got == [("disagrees", "SM3"), ("missing_final", "SM2"), ("refused", "SM4")]
    row = found.problems.set_index("sid").loc["SM3"]
    assert (row["status"], row["callback_status"]) == ("undelivered", "delivered")
    refused = found.problems.set_index("sid").loc["SM4"]
    assert (refused["http_status"], refused["to"]) == (500, "+15550001")
    assert found.logged == 6
    # SM1-SM5 asked for callbacks and ended inside the log's span.
    assert found.judged == 5
    assert found.warnings == []


def test_callbacks_without_their_message_only_count_when_refused() -> None:
    """An access log shows the path and the answer, not MessageSid: refused callbacks are
    listed, nothing is called missing."""
    requests = _requests(
        [
            (T, "/sms/status", 200, None, None, PROXY),
            (T + timedelta(minutes=1), "/sms/status", 502, None, None, PROXY),
            (T + timedelta(hours=1), "/sms/in", 200, None, None, PROXY),
        ]
    )
    found = check_callbacks(_outbound(), received_requests(requests), _services(), {"/sms/in"})
    assert found.problems["problem"].tolist() == ["refused"]
    assert found.problems["sid"].isna().all()
    assert found.logged == 2
    assert found.judged == 0
    assert "only the refused callbacks were checked" in found.warnings[0]


def test_no_callback_in_the_log_is_said_not_judged() -> None:
    requests = _requests([(T, "/sms/in", 200, "SMx", "received", PROXY)])
    found = check_callbacks(_outbound(), received_requests(requests), _services(), {"/sms/in"})
    assert found.problems.empty
    assert found.logged == 0
    assert "/sms/status" in found.warnings[0]


def test_a_service_whose_callbacks_go_to_another_server_is_not_judged() -> None:
    """MG3 sends its callbacks elsewhere: its messages are not missing their final one
    because this log lacks them."""
    services = pd.concat(
        [
            _services(),
            pd.DataFrame(
                [("MG3", "https://other.example.com/hooks/status")],
                columns=["sid", "status_callback"],
            ),
        ],
        ignore_index=True,
    )
    outbound = _outbound()
    outbound.loc[outbound["sid"] == "SM6", "messaging_service_sid"] = "MG3"
    requests = _requests(
        [
            _callback("SM1", "delivered", 0.3),
            _callback("SM3", "undelivered", 2.3),
            _callback("SM4", "failed", 3.3),
            _callback("SM5", "read", 4.3),
            (T + timedelta(hours=1), "/healthz", 200, None, None, "kube-probe/1.29"),
        ]
    )
    found = check_callbacks(outbound, received_requests(requests), services, {"/sms/in"})
    got = sorted(zip(found.problems["problem"], found.problems["sid"], strict=True))
    assert got == [("missing_final", "SM2")]  # MG1's; SM6 (MG3) is not judged
    assert found.judged == 5
