"""Each number's webhook and verdict, and the inbound messages no request answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from analyzer.inbound import check_numbers, resolve_webhooks

T = datetime(2026, 11, 29, 12, tzinfo=UTC)
DEMO = "https://demo.twilio.com/welcome/sms/reply"


def _numbers() -> pd.DataFrame:
    rows = [
        # sid, number, sms capable, sms_url, application
        ("PN1", "+1001", False, "https://app.example.com/sms", None),  # not_sms_capable
        ("PN2", "+1002", True, None, None),  # no_webhook
        ("PN3", "+1003", True, DEMO, None),  # demo_webhook
        ("PN4", "+1004", True, "https://app.example.com/broken", None),  # webhook_errors
        ("PN5", "+1005", True, "https://app.example.com/never", None),  # webhook_not_hit
        ("PN6", "+1006", True, "https://app.example.com/sms", None),  # idle
        ("PN7", "+1007", True, "https://app.example.com/ignored", None),  # service overrides: ok
        ("PN8", "+1008", True, None, "AP8"),  # an SMS application
    ]
    return pd.DataFrame(
        rows, columns=["sid", "phone_number", "sms_capable", "sms_url", "sms_application_sid"]
    )


def _services() -> tuple[pd.DataFrame, pd.DataFrame]:
    services = pd.DataFrame(
        [("MG1", "https://app.example.com/service", False)],
        columns=["sid", "inbound_request_url", "use_inbound_webhook_on_number"],
    )
    links = pd.DataFrame([("MG1", "PN7", "+1007")], columns=["service_sid", "sid", "phone_number"])
    return services, links


def _inbound() -> pd.DataFrame:
    rows = [
        (f"SM{n}{i}", f"+100{n}", T + timedelta(minutes=i))
        for n in (2, 3, 4, 5, 7, 8)  # 8: an SMS application, not judged
        for i in range(2)
    ]
    return pd.DataFrame(rows, columns=["sid", "to", "date_created"])


def _requests() -> pd.DataFrame:
    rows = [
        (T, "/broken", 500, None),
        (T + timedelta(minutes=1), "/broken", 500, None),
        (T + timedelta(seconds=5), "/service", 200, None),
        (T + timedelta(hours=2), "/service", 200, "SM71"),  # late, but names its message
    ]
    frame = pd.DataFrame(rows, columns=["time", "path", "status", "message_sid"])
    return frame.assign(method="POST", is_send=False)


def test_the_service_url_wins_unless_it_defers_to_the_number() -> None:
    services, links = _services()
    assert resolve_webhooks(_numbers(), services, links).tolist()[6:] == [
        "https://app.example.com/service",
        "application:AP8",
    ]
    deferring = services.assign(use_inbound_webhook_on_number=True)
    assert (
        resolve_webhooks(_numbers(), deferring, links).iloc[6] == "https://app.example.com/ignored"
    )


def test_webhook_paths() -> None:
    from analyzer.inbound import webhook_path

    assert webhook_path("https://app.example.com/sms?x=1") == "/sms"
    assert webhook_path("https://app.example.com") == "/"
    assert webhook_path("application:AP8") == ""
    assert webhook_path("") == ""


def test_every_verdict_and_the_unhandled_messages() -> None:
    services, links = _services()
    alerts = pd.DataFrame(
        [("NO1", 11200, "PN4", "https://app.example.com/broken"), ("NO2", 30003, "PN5", "")],
        columns=["sid", "error_code", "resource_sid", "request_url"],
    )
    found = check_numbers(_numbers(), services, links, alerts, _inbound(), _requests())
    verdicts = dict(zip(found.numbers["sid"], found.numbers["verdict"], strict=True))
    assert verdicts == {
        "PN1": "not_sms_capable",
        "PN2": "no_webhook",
        "PN3": "demo_webhook",
        "PN4": "webhook_errors",
        "PN5": "webhook_not_hit",
        "PN6": "idle",
        "PN7": "ok",
        "PN8": "ok",  # inbound arrives; an application URL cannot be checked here
    }
    row = found.numbers.set_index("sid").loc["PN4"]
    assert (row["alerts"], row["webhook_hits"], row["inbound_messages"]) == (1, 2, 2)
    # PN2 and PN3 have no path on our server; PN5's webhook was never hit.
    assert sorted(found.unhandled["sid"]) == ["SM20", "SM21", "SM30", "SM31", "SM50", "SM51"]


def test_without_a_server_log_nothing_is_called_not_hit() -> None:
    services, links = _services()
    alerts = pd.DataFrame(columns=["sid", "error_code", "resource_sid", "request_url"])
    found = check_numbers(_numbers(), services, links, alerts, _inbound(), None)
    assert "webhook_not_hit" not in set(found.numbers["verdict"])
    assert found.unhandled.empty
