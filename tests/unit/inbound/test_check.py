"""Each number's webhook and verdict, and the inbound messages no request answered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from analyzer.inbound import check_numbers, received_requests, resolve_webhooks

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
    found = check_numbers(
        _numbers(), services, links, alerts, _inbound(), received_requests(_requests())
    )
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
    reasons = found.numbers.set_index("sid")["reason"]
    assert reasons["PN8"].startswith("routed to a TwiML App")
    assert (reasons.drop("PN8") == "").all()
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


def _judge(requests: pd.DataFrame) -> dict[str, str]:
    services, links = _services()
    alerts = pd.DataFrame(columns=["sid", "error_code", "resource_sid", "request_url"])
    found = check_numbers(
        _numbers(), services, links, alerts, _inbound(), received_requests(requests)
    )
    return dict(zip(found.numbers["sid"], found.numbers["verdict"], strict=True))


def test_a_log_of_calls_to_twilio_only_cannot_say_a_webhook_was_not_hit() -> None:
    """An SDK log or an egress proxy's shows no request the application received: no
    webhook is called not hit, and no message unhandled."""
    send = "/2010-04-01/Accounts/AC1/Messages.json"
    requests = pd.DataFrame(
        {"time": [T, T + timedelta(minutes=1)], "path": [send, send], "status": [201, 201]}
    ).assign(method="POST", is_send=True)
    verdicts = _judge(requests)
    assert verdicts["PN5"] == "inconclusive"
    assert verdicts["PN7"] == "inconclusive"
    services, links = _services()
    alerts = pd.DataFrame(columns=["sid", "error_code", "resource_sid", "request_url"])
    found = check_numbers(
        _numbers(), services, links, alerts, _inbound(), received_requests(requests)
    )
    assert found.unhandled.empty
    assert found.numbers.set_index("sid").loc["PN5", "reason"].startswith("the server log shows")


def test_a_log_that_ends_before_the_messages_cannot_judge_them() -> None:
    early = T - timedelta(hours=3)
    requests = pd.DataFrame(
        {"time": [early, early + timedelta(minutes=5)], "path": ["/healthz", "/service"]}
    ).assign(method=["GET", "POST"], status=200, is_send=False)
    verdicts = _judge(requests)
    assert verdicts["PN5"] == "inconclusive"
    assert verdicts["PN7"] == "inconclusive"
    assert verdicts["PN2"] == "no_webhook"  # decided by the configuration alone


def test_a_request_naming_its_message_answers_that_one_only() -> None:
    """With SIDs logged, a request near a lost one does not hide it; without them, the
    sender (From) narrows the match when logged."""
    services, links = _services()
    alerts = pd.DataFrame(columns=["sid", "error_code", "resource_sid", "request_url"])
    inbound = pd.DataFrame(
        [
            ("SMa", "+4470", "+1007", T),
            ("SMb", "+4471", "+1007", T + timedelta(seconds=2)),  # its request was lost
            ("SMc", "+4472", "+1005", T + timedelta(minutes=5)),
            ("SMd", "+4473", "+1005", T + timedelta(minutes=5, seconds=1)),
        ],
        columns=["sid", "from", "to", "date_created"],
    )
    requests = pd.DataFrame(
        [
            (T + timedelta(seconds=1), "/service", "SMa", None),
            (T + timedelta(minutes=5), "/never", None, "+4472"),  # answers SMc, not SMd
        ],
        columns=["time", "path", "message_sid", "from"],
    ).assign(method="POST", status=200, is_send=False)
    found = check_numbers(
        _numbers(), services, links, alerts, inbound, received_requests(requests)
    )
    assert sorted(found.unhandled["sid"]) == ["SMb", "SMd"]


def test_requests_from_other_clients_are_not_webhook_hits() -> None:
    """A POST to the webhook's path from another user agent (a test with curl) is not
    Twilio's."""
    requests = pd.DataFrame(
        [(T, "/never", "curl/8.5"), (T, "/service", "TwilioProxy/1.1")],
        columns=["time", "path", "user_agent"],
    ).assign(method="POST", status=200, is_send=False)
    verdicts = _judge(requests)
    assert verdicts["PN5"] == "webhook_not_hit"
    assert verdicts["PN7"] == "ok"


def test_a_log_where_twilio_never_shows_cannot_call_a_webhook_not_hit() -> None:
    """Requests the server received, none of them Twilio's (an API's own traffic, health
    checks): the log may be another server's, so nothing is called not hit."""
    requests = pd.DataFrame(
        [
            (T, "GET", "/healthz", "kube-probe/1.29"),
            (T + timedelta(minutes=3), "POST", "/api/orders", None),
            (T + timedelta(hours=1), "GET", "/healthz", "kube-probe/1.29"),
        ],
        columns=["time", "method", "path", "user_agent"],
    ).assign(status=200, is_send=False)
    verdicts = _judge(requests)
    assert verdicts["PN5"] == "inconclusive"
    assert verdicts["PN7"] == "inconclusive"


def test_twilio_reaching_the_server_elsewhere_decides_a_webhook_not_hit() -> None:
    """Twilio's status callbacks reach the server, its webhook requests do not: the
    number's webhook is not hit."""
    requests = pd.DataFrame(
        [
            (T, "/status", "TwilioProxy/1.1"),
            (T + timedelta(hours=1), "/status", "TwilioProxy/1.1"),
            (T + timedelta(minutes=1), "/service", None),
        ],
        columns=["time", "path", "user_agent"],
    ).assign(method="POST", status=200, is_send=False)
    verdicts = _judge(requests)
    assert verdicts["PN5"] == "webhook_not_hit"
    assert verdicts["PN7"] == "ok"
