"""Tests of the proxy formats: combined access logs, Envoy and Istio."""

from __future__ import annotations

from pathlib import Path

from analyzer.logs import detect_format, read_server_logs
from tests.unit.logs.samples import ACC, SEND_PATH, envoy_line, nth_combined_line, rows, utc, write


def test_combined_exact(tmp_path: Path) -> None:
    lines = [
        f'10.0.0.1 - - [29/Nov/2026:14:03:01 +0100] "POST {SEND_PATH} HTTP/1.1" 201 812 "-" '
        '"twilio-python/9.13.0 (Linux x86_64) Python/3.11.7"',
        f'10.0.0.1 - alice [29/Nov/2026:08:03:02 -0500] "POST https://api.twilio.com{SEND_PATH}'
        ' HTTP/1.1" 500 0 "-" "ua with \\"quotes\\""',
        '10.0.0.1 - - [29/Nov/2026:14:03:03 +0000] "CONNECT api.twilio.com:443 HTTP/1.1" 200 '
        '4211 "-" "python-requests/2.32"',
        f'10.0.0.1 - - [29/Nov/2026:14:03:04 +0000] "GET {SEND_PATH}?PageSize=50 HTTP/1.1" 200 '
        '90 "-" "curl" 0.123 extra-field',
        f'10.0.0.1 - - [29/Nov/2026:14:03:05 +0000] "POST {SEND_PATH} HTTP/1.1" 201 812 "-" "cu',
        '10.0.0.1 - - [31/Foo/2026:14:03:06 +0000] "GET / HTTP/1.1" 200 1 "-" "x"',
    ]
    path = write(tmp_path / "access.log", lines, end="\r\n")
    res = read_server_logs([path])
    st_ = res.files[0]
    assert st_.format == "combined"
    assert rows(res, "time", "method", "path", "account_sid", "status", "is_send", "line") == [
        {
            "time": utc(2026, 11, 29, 13, 3, 1),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 201,
            "is_send": True,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 13, 3, 2),
            "method": "POST",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 500,
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 3),
            "method": "CONNECT",
            "path": None,
            "account_sid": None,
            "status": 200,
            "is_send": False,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 4),
            "method": "GET",
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": 200,
            "is_send": False,
            "line": 4,
        },
    ]
    assert (st_.malformed, st_.tunnels, st_.sends) == (2, 1, 2)
    assert [(s.line, s.reason) for s in st_.samples] == [
        (5, "line does not match the format"),
        (6, "unparseable time"),
    ]


def test_envoy_exact(tmp_path: Path) -> None:
    lines = [
        envoy_line("2026-11-29T14:03:01.123Z", "POST", SEND_PATH, 201, "-", "143"),
        envoy_line("2026-11-29T14:03:11.123Z", "POST", SEND_PATH, 504, "UT", "15001"),
        envoy_line("2026-11-29T14:03:12.000Z", "POST", SEND_PATH, 0, "DC", "-"),
        envoy_line("2026-11-29T14:03:13.000Z", "GET", "/2010-04-01/Accounts.json", 200, "-", "5"),
        envoy_line("2026-11-29T14:03:14.000Z", "POST", SEND_PATH, 201, "-", "1")[:-10],
    ]
    path = write(tmp_path / "envoy.log", lines)
    res = read_server_logs([path], format="envoy")
    assert rows(
        res, "time", "method", "path", "status", "duration_ms", "error", "is_send", "line"
    ) == [
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 143.0,
            "error": None,
            "is_send": True,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 11, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 504,
            "duration_ms": 15001.0,
            "error": "UT",
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 12),
            "method": "POST",
            "path": SEND_PATH,
            "status": None,
            "duration_ms": None,
            "error": "DC",
            "is_send": True,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 13),
            "method": "GET",
            "path": "/2010-04-01/Accounts.json",
            "status": 200,
            "duration_ms": 5.0,
            "error": None,
            "is_send": False,
            "line": 4,
        },
    ]
    assert res.files[0].malformed == 1


ISTIO_EXAMPLE = (
    '[2022-04-26T13:23:57.254Z] "GET / HTTP/1.1" 200 - via_upstream - "-" 0 2381 31 29 "-" '
    '"curl/7.68.0" "de3bf1b0-9a3f-4a2b-8c7e-0f0b2a1c3d4e" "httpbin:8000" "10.244.0.7:80" '
    "inbound|80|| 127.0.0.6:58069 10.244.0.7:80 10.244.0.1:54190 "
    "outbound_.8000_._.httpbin.default.svc.cluster.local default"
)


def istio_line(
    t: str, method: str, path: str, status: int, flags: str, details: str, dur: str
) -> str:
    return (
        f'[{t}] "{method} {path} HTTP/1.1" {status} {flags} {details} - "-" 512 850 {dur} 140 '
        '"-" "twilio-python/9.3.0 (Linux x86_64) Python/3.11.7" '
        '"0b1c2d3e-aaaa-bbbb-cccc-000000000001" "api.twilio.com" "54.172.60.1:443" '
        "outbound|443||api.twilio.com 10.244.0.9:40122 54.172.60.1:443 10.244.0.9:40120 "
        "api.twilio.com -"
    )


#: Istio's own example line, Istio 1.8+ and older lines, and a TCP proxy connection.
ISTIO_LINES = [
    ISTIO_EXAMPLE,
    istio_line("2026-11-29T14:03:01.123Z", "POST", SEND_PATH, 201, "-", "via_upstream", "143"),
    istio_line(
        "2026-11-29T14:03:11.123Z",
        "POST",
        SEND_PATH,
        504,
        "UT",
        "upstream_response_timeout",
        "15001",
    ),
    # Istio before 1.8: mixer status and transport failure reason, both quoted
    f'[2026-11-29T14:03:12.000Z] "POST {SEND_PATH} HTTP/1.1" 201 - "-" "-" 512 850 99 98 '
    '"-" "twilio-python/9.3.0" "0b1c2d3e" "api.twilio.com" "54.172.60.1:443" '
    "outbound|443||api.twilio.com 10.244.0.9:40122 54.172.60.1:443 10.244.0.9:40120 - -",
    # a TLS passthrough (TCP proxy) connection: no method, no path
    '[2026-11-29T14:03:13.000Z] "- - -" 0 - - - "-" 1532 6012 30021 - "-" "-" "-" "-" '
    '"54.172.60.1:443" PassthroughCluster 10.244.0.9:40124 54.172.60.1:443 '
    "10.244.0.9:40122 api.twilio.com -",
]


def test_envoy_istio_format(tmp_path: Path) -> None:
    path = write(tmp_path / "istio.log", ISTIO_LINES)
    assert detect_format(path) == "envoy"
    res = read_server_logs([path])
    assert rows(
        res, "time", "method", "path", "status", "duration_ms", "error", "is_send", "line"
    ) == [
        {
            "time": utc(2022, 4, 26, 13, 23, 57, 254000),
            "method": "GET",
            "path": "/",
            "status": 200,
            "duration_ms": 31.0,
            "error": None,
            "is_send": False,
            "line": 1,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 1, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 143.0,
            "error": None,
            "is_send": True,
            "line": 2,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 11, 123000),
            "method": "POST",
            "path": SEND_PATH,
            "status": 504,
            "duration_ms": 15001.0,
            "error": "UT",
            "is_send": True,
            "line": 3,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 12),
            "method": "POST",
            "path": SEND_PATH,
            "status": 201,
            "duration_ms": 99.0,
            "error": None,
            "is_send": True,
            "line": 4,
        },
        {
            "time": utc(2026, 11, 29, 14, 3, 13),
            "method": "CONNECT",
            "path": None,
            "status": None,
            "duration_ms": 30021.0,
            "error": None,
            "is_send": False,
            "line": 5,
        },
    ]
    st_ = res.files[0]
    assert (st_.malformed, st_.sends, st_.tunnels) == (0, 3, 1)
    assert st_.warnings == [
        f"1 line in {path} is a TCP tunnel (CONNECT): this proxy cannot see the paths of HTTPS "
        "calls, so it cannot tell message sends from other calls"
    ]


def test_combined_vhost_and_forwarded_for_chain(tmp_path: Path) -> None:
    ua = '"-" "twilio-python/9.3.0 (Linux x86_64) Python/3.11.7"'
    lines = [
        # vhost_combined: host[:port] before the client address
        f'api.twilio.com:443 10.0.0.5 - - [29/Nov/2026:14:03:01 +0000] "POST {SEND_PATH} '
        f'HTTP/1.1" 201 850 {ua}',
        f'api.twilio.com 10.0.0.5 - bob [29/Nov/2026:14:03:02 +0000] "GET {SEND_PATH} '
        f'HTTP/1.1" 200 90 {ua}',
        # an X-Forwarded-For chain as the first field
        f'10.0.0.2, 10.0.0.1, 127.0.0.1 - - [29/Nov/2026:14:03:03 +0000] "POST {SEND_PATH} '
        f'HTTP/1.1" 201 850 {ua}',
        f'10.0.0.2, 10.0.0.1 - - [29/Nov/2026:15:03:04 +0100] "POST {SEND_PATH} HTTP/1.1" '
        f"500 0 {ua}",
    ]
    path = write(tmp_path / "vhost.log", lines)
    assert detect_format(path) == "combined"
    res = read_server_logs([path])
    assert rows(res, "time", "method", "path", "account_sid", "status", "is_send") == [
        {
            "time": utc(2026, 11, 29, 14, 3, s),
            "method": m,
            "path": SEND_PATH,
            "account_sid": ACC,
            "status": code,
            "is_send": m == "POST",
        }
        for s, m, code in ((1, "POST", 201), (2, "GET", 200), (3, "POST", 201), (4, "POST", 500))
    ]
    assert (res.files[0].malformed, res.files[0].sends, res.warnings) == (0, 3, [])


def test_tunnel_lines_are_rows_never_sends_nor_malformed(tmp_path: Path) -> None:
    connect = (
        '10.0.0.1 - - [29/Nov/2026:14:03:0{s} +0000] "CONNECT api.twilio.com:443 HTTP/1.1" 200 '
        '4211 "-" "python-requests/2.32"'
    )
    lines = [connect.format(s=1), connect.format(s=2), nth_combined_line(3)]
    path = write(tmp_path / "proxy.log", lines)
    res = read_server_logs([path])
    assert rows(res, "method", "path", "account_sid", "is_send") == [
        {"method": "CONNECT", "path": None, "account_sid": None, "is_send": False},
        {"method": "CONNECT", "path": None, "account_sid": None, "is_send": False},
        {"method": "POST", "path": SEND_PATH, "account_sid": ACC, "is_send": True},
    ]
    st_ = res.files[0]
    assert (st_.requests, st_.malformed, st_.tunnels, st_.sends) == (3, 0, 2, 1)
    assert st_.warnings == [
        f"2 lines in {path} are TCP tunnels (CONNECT): this proxy cannot see the paths of "
        "HTTPS calls, so it cannot tell message sends from other calls"
    ]


def test_user_agent_of_requests_twilio_makes_to_the_application(tmp_path: Path) -> None:
    """Webhooks and callbacks are told apart by their user agent: read in both proxy
    formats (the istio shape too), "-" read as none."""
    combined = write(
        tmp_path / "access.log",
        [
            '54.1.2.3 - - [29/Nov/2026:14:03:01 +0000] "POST /sms/incoming HTTP/1.1" 200 12 "-" '
            '"TwilioProxy/1.1"',
            '10.0.0.9 - - [29/Nov/2026:14:03:02 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "-"',
            f'10.0.0.1 - - [29/Nov/2026:14:03:03 +0000] "POST {SEND_PATH} HTTP/1.1" 201 812 "-" '
            '"twilio-python/9.13.0"',
            '54.1.2.3 - - [29/Nov/2026:14:03:04 +0000] "POST /sms/status?x=1 HTTP/1.1" 500 0 "-" '
            '"TwilioProxy/1.1" 0.004',
        ],
    )
    res = read_server_logs([combined])
    assert rows(res, "path", "user_agent") == [
        {"path": "/sms/incoming", "user_agent": "TwilioProxy/1.1"},
        {"path": "/healthz", "user_agent": None},
        # Calls to Twilio's API: the agent is ours, never needed.
        {"path": SEND_PATH, "user_agent": None},
        {"path": "/sms/status", "user_agent": "TwilioProxy/1.1"},
    ]
    envoy = write(
        tmp_path / "envoy.log",
        [
            envoy_line("2026-11-29T14:03:01.000Z", "POST", "/sms/incoming", 200, "-", "4")
            .replace("twilio-python/9.13.0", "TwilioProxy/1.1"),
            ISTIO_LINES[0],
        ],
    )
    assert [r["user_agent"] for r in rows(read_server_logs([envoy]), "user_agent")] == [
        "TwilioProxy/1.1",
        "curl/7.68.0",
    ]
