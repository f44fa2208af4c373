"""An egress proxy's nginx combined access log."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from analyzer.simulate.dates import clf_time
from analyzer.simulate.text import as_text, counter_bytes, join
from analyzer.simulate.writers.common import USER_AGENT, bytes_sent, request_numbers, url_path

#: Where the egress proxy's ``$time_local`` is (combined format), minutes east of UTC.
COMBINED_UTC_OFFSET_MINUTES = 60
#: nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_STATUS = 499


def render_combined(t: pa.Table, seed: int) -> pa.Array:
    """One access log line per request, in the proxy's local time (whole seconds)."""
    status, _, _, seq = request_numbers(t)
    rnd = counter_bytes(seed, 2, seq).astype(np.int64)
    shown = np.where(status == 0, CLIENT_CLOSED_STATUS, status)
    return join(
        [
            "10.0.", as_text(1 + rnd[:, 0] % 3), ".", as_text(10 + rnd[:, 1] % 40), " - - [",
            clf_time(t["ms"].to_numpy(), COMBINED_UTC_OFFSET_MINUTES), '] "', t["method"], " ",
            url_path(t["url"]), ' HTTP/1.1" ', as_text(shown), " ",
            as_text(bytes_sent(status, rnd)), ' "-" "', USER_AGENT, '"\n',
        ]
    )  # fmt: skip
