"""An nginx combined access log: the egress proxy's, or the one in front of the application."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.simulate.dates import clf_time
from analyzer.simulate.text import as_text, counter_bytes, join
from analyzer.simulate.writers.common import (
    bytes_sent,
    optional_column,
    request_numbers,
    url_path,
    user_agents,
)

#: Where the egress proxy's ``$time_local`` is (combined format), minutes east of UTC.
COMBINED_UTC_OFFSET_MINUTES = 60
#: nginx's status for a request whose client closed the connection before the answer.
CLIENT_CLOSED_STATUS = 499


def render_combined(t: pa.Table, seed: int) -> pa.Array:
    """One access log line per request, in the proxy's local time (whole seconds); the
    client is the row's remote_addr, else one of the application's hosts."""
    status, _, _, seq = request_numbers(t)
    rnd = counter_bytes(seed, 2, seq).astype(np.int64)
    shown = np.where(status == 0, CLIENT_CLOSED_STATUS, status)
    host = join(["10.0.", as_text(1 + rnd[:, 0] % 3), ".", as_text(10 + rnd[:, 1] % 40)])
    return join(
        [
            pc.coalesce(optional_column(t, "remote_addr"), host), " - - [",
            clf_time(t["ms"].to_numpy(), COMBINED_UTC_OFFSET_MINUTES), '] "', t["method"], " ",
            url_path(t["url"]), ' HTTP/1.1" ', as_text(shown), " ",
            as_text(bytes_sent(status, rnd)), ' "-" "', user_agents(t), '"\n',
        ]
    )  # fmt: skip
