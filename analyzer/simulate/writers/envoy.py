"""An Envoy sidecar's default access log."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.dates import iso_ms
from analyzer.simulate.text import as_text, counter_bytes, join, pick, uuid4
from analyzer.simulate.writers.common import bytes_sent, request_numbers, url_path, user_agents

#: The upstream hosts Envoy connects to for api.twilio.com.
UPSTREAMS = ("54.172.60.1:443", "54.244.51.3:443", "3.209.162.28:443", "34.203.254.66:443")


def render_envoy(t: pa.Table, seed: int) -> pa.Array:
    """One access log line per request, with durations and a request id."""
    status, duration, is_get, seq = request_numbers(t)
    rnd = counter_bytes(seed, 2, seq).astype(np.int64)
    answered = pa.array(status != 0)
    upstream_time = as_text(np.maximum(1, duration - 1 - rnd[:, 4] % 8))
    # A client that gave up shows as code 0 with DC (downstream connection termination).
    return join(
        [
            "[", iso_ms(t["ms"].to_numpy()), '] "', t["method"], " ", url_path(t["url"]),
            ' HTTP/1.1" ', as_text(status), " ", pc.if_else(answered, "-", "DC"), " ",
            as_text(np.where(is_get, 0, 180 + rnd[:, 5] % 220)), " ",
            as_text(bytes_sent(status, rnd)), " ", as_text(duration), " ",
            pc.if_else(answered, upstream_time, "-"), ' "-" "', user_agents(t), '" "',
            uuid4(counter_bytes(seed, 3, seq)), '" "api.twilio.com" "',
            pick(rnd[:, 6] % len(UPSTREAMS), UPSTREAMS), '"\n',
        ]
    )  # fmt: skip
