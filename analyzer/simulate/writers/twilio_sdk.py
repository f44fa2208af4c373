"""The twilio-python SDK's debug log: 2022+ request blocks, and the older legacy lines."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.dates import rfc2822, sdk_stamp
from analyzer.simulate.text import (
    as_text,
    counter_bytes,
    digits,
    join,
    json_quoted,
    pick,
    present,
    python_repr,
)
from analyzer.simulate.writers.common import (
    SDK_VERSION,
    USER_AGENT,
    bytes_sent,
    cut_text,
    optional_column,
    request_numbers,
)

#: The writer name of the pre-2022 SDK's log (read as LogFormat.TWILIO_SDK).
TWILIO_SDK_LEGACY = "twilio-sdk-legacy"
#: What the application's logging formatter writes after the time (SDK formats).
SDK_LOG_PREFIX = " INFO twilio.http_client: "
_SDK_RESPONSE = re.compile(r" Response: [0-9]+ ")


def _sdk_prefixes(t: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Formatter prefixes at the request's start and at its response."""
    ms = t["ms"].to_numpy()
    duration = np.asarray(pc.fill_null(t["duration_ms"], 0).to_numpy(zero_copy_only=False))
    return (
        join([sdk_stamp(ms), SDK_LOG_PREFIX]),
        join([sdk_stamp(ms + duration.astype(np.int64)), SDK_LOG_PREFIX]),
    )


def _response_headers(t: pa.Table, seed: int, status: np.ndarray, duration: np.ndarray) -> pa.Array:
    """str() of the response's headers, as requests holds them."""
    rnd = counter_bytes(seed, 2, t["seq"].to_numpy()).astype(np.int64)
    ms = t["ms"].to_numpy() + duration
    server_ms = np.maximum(8, duration * 7 // 10 - rnd[:, 0] % 20)
    rid = present(
        pc.is_valid(t["request_id"]),
        join(["'Twilio-Request-Id': '", pc.fill_null(t["request_id"], ""), "', "]),
    )
    code = t["error_code"]
    error_code = present(
        pc.is_valid(code), join(["'X-Twilio-Error-Code': '", pc.cast(code, pa.string()), "', "])
    )
    return join(
        [
            "{'Date': '", rfc2822(ms // 1000, "GMT"),
            "', 'Content-Type': 'application/json;charset=utf-8', 'Content-Length': '",
            as_text(np.maximum(bytes_sent(np.maximum(status, 1), rnd) - 40, 0)),
            "', 'Connection': 'keep-alive', ", rid, error_code,
            "'Twilio-Concurrent-Requests': '1', 'Twilio-Request-Duration': '",
            as_text(server_ms // 1000), ".", digits(server_ms % 1000, 3),
            "', 'X-Home-Region': 'us1', 'X-API-Domain': 'api.twilio.com', "
            "'Strict-Transport-Security': 'max-age=31536000'}",
        ]
    )  # fmt: skip


def render_sdk(t: pa.Table, seed: int) -> pa.Array:
    """twilio-python 9.x blocks; a request without a response ends after END."""
    status, duration, is_get, _ = request_numbers(t)
    pre, pre_response = _sdk_prefixes(t)
    post = pa.array(~is_get)
    answered = pa.array(status != 0)
    headers = _response_headers(t, seed, status, duration)
    return join(
        [
            pre, "-- BEGIN Twilio API Request --\n",
            pre, t["method"], " Request: ", t["url"], "\n",
            pre, "Headers:\n",
            present(post, join([pre, "Content-Type : application/x-www-form-urlencoded\n"])),
            pre, "Accept : application/json\n",
            pre, "User-Agent : ", USER_AGENT, "\n",
            pre, f"X-Twilio-Client : python-{SDK_VERSION}\n",
            pre, "Accept-Charset : utf-8\n",
            pre, "-- END Twilio API Request --\n",
            present(answered, join([
                pre_response, "Response Status Code: ", as_text(status), "\n",
                pre_response, "Response Headers: ", headers, "\n",
            ])),
        ]
    )  # fmt: skip


def _payload(t: pa.Table) -> pa.Array:
    """The PAYLOAD dict's str(), null when the request carried no form data."""
    items = []
    for key, name in (
        ("To", "to"),
        ("From", "from"),
        ("MessagingServiceSid", "messaging_service_sid"),
        ("Body", "body"),
    ):
        value = python_repr(optional_column(t, name))
        items.append(pc.binary_join_element_wise(f"'{key}': ", value, ""))
    media = optional_column(t, "media_url")
    items.append(pc.binary_join_element_wise("'MediaUrl': [", python_repr(media), "]", ""))
    # Items joined with ", " (null_handling="skip" drops rows in this pyarrow version).
    pieces: list[str | pa.Array] = ["{"]
    seen = pa.array(np.zeros(t.num_rows, dtype=bool))
    for item in items:
        valid = pc.is_valid(item)
        pieces += [pc.if_else(pc.and_(valid, seen), ", ", ""), pc.fill_null(item, "")]
        seen = pc.or_(seen, valid)
    pieces.append("}")
    post = pc.equal(t["method"], "POST")
    return pc.if_else(pc.and_(seen, post), join(pieces), pa.scalar(None, pa.string()))


_ERROR_MESSAGES = {
    400: "Bad Request",
    401: "Authenticate",
    404: "The requested resource was not found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def _fallback_body(t: pa.Table, status: np.ndarray) -> pa.Array:
    """A response body for rows that carry none: Twilio's error JSON (its code the row's
    ``error_code``, else 20000 + status), or sid/to/status."""
    given = pc.cast(optional_column(t, "error_code"), pa.string())
    code = pc.coalesce(given, as_text(20000 + status))
    known = np.array(list(_ERROR_MESSAGES))
    which = np.where(np.isin(status, known), np.searchsorted(known, status), known.size)
    error = join(
        [
            '{"code": ',
            code,
            ', "message": "',
            pick(which, (*_ERROR_MESSAGES.values(), "Error")),
            '", "more_info": "https://www.twilio.com/docs/errors/',
            code,
            '", "status": ',
            as_text(status),
            "}",
        ]
    )
    ok = join(
        [
            '{"sid": ',
            json_quoted(optional_column(t, "message_sid")),
            ', "status": "queued", "to": ',
            json_quoted(optional_column(t, "to")),
            "}",
        ]
    )
    return pc.if_else(pa.array(status >= 400), error, ok)


def render_sdk_legacy(t: pa.Table, seed: int) -> pa.Array:
    """twilio-python before 2022: request line, PAYLOAD, then response with its body."""
    status, _, _, _ = request_numbers(t)
    pre, pre_response = _sdk_prefixes(t)
    payload = _payload(t)
    body = pc.coalesce(optional_column(t, "response_body"), _fallback_body(t, status))
    payload_line = join([pre, "PAYLOAD: ", pc.fill_null(payload, ""), "\n"])
    return join(
        [
            pre, t["method"], " Request: ", t["url"], "\n",
            present(pc.is_valid(payload), payload_line),
            present(pa.array(status != 0), join(
                [pre_response, t["method"], " Response: ", as_text(status), " ", body, "\n"])),
        ]
    )  # fmt: skip


def cut_sdk(text: str, fraction: float) -> str:
    """A torn write of a 2022+ block: its request line cut before the "Request:" marker."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        marker = line.find(" Request: ")
        if marker >= 0:
            lines[k] = line[: max(1, int((marker + 5) * fraction))]
            return "\n".join(lines)
    return cut_text(text, fraction)


def cut_sdk_legacy(text: str, fraction: float) -> str:
    """A torn write of legacy lines: the long response body is cut (its request line
    stays whole: without it the response would join the previous block)."""
    lines = text.split("\n")
    for k, line in enumerate(lines):
        m = _SDK_RESPONSE.search(line)
        if m:
            body = line[m.end() :]
            lines[k] = line[: m.end()] + body[: max(1, int(len(body) * fraction))]
            return "\n".join(lines)
    return cut_sdk(text, fraction)
