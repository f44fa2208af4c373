"""The application's own JSON-lines log of its requests to Twilio."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.dates import iso_ms
from analyzer.simulate.text import join, json_escape, json_quoted, present


def render_jsonl(t: pa.Table, seed: int) -> pa.Array:
    """One JSON object per request (seed unused: nothing random is shown); Twilio's
    error code only on the requests it refused."""
    code = t["error_code"]
    return join(
        [
            '{"timestamp": "', iso_ms(t["ms"].to_numpy()), '", "method": "',
            json_escape(t["method"]), '", "url": "', json_escape(t["url"]),
            '", "status": ', pc.fill_null(pc.cast(t["status"], pa.string()), "null"),
            ', "duration_ms": ', pc.fill_null(pc.cast(t["duration_ms"], pa.string()), "null"),
            ', "to": ', json_quoted(t["to"]),
            ', "message_sid": ', json_quoted(t["message_sid"]),
            ', "request_id": ', json_quoted(t["request_id"]),
            ', "error": ', json_quoted(t["error"]),
            present(pc.is_valid(code), join([', "error_code": ', pc.cast(code, pa.string())])),
            "}\n",
        ]
    )  # fmt: skip
