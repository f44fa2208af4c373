"""The application's own JSON-lines log of its requests: to Twilio, or received."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.dates import iso_ms
from analyzer.simulate.text import join, json_escape, json_quoted, present
from analyzer.simulate.writers.common import optional_column

#: Fields a line carries only when the row has a value (requests the application received).
RECEIVED_FIELDS = ("user_agent", "from", "message_status")


def render_jsonl(t: pa.Table, seed: int) -> pa.Array:
    """One JSON object per request (seed unused: nothing random is shown); Twilio's
    error code, the user agent, sender and message status only where the row has them."""
    code = t["error_code"]
    optional = []
    for name in RECEIVED_FIELDS:
        values = optional_column(t, name)
        optional.append(present(pc.is_valid(values), join([f', "{name}": ', json_quoted(values)])))
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
            *optional,
            "}\n",
        ]
    )  # fmt: skip
