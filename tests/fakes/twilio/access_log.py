"""Access log lines as nginx writes them in its "combined" format."""

from __future__ import annotations

from datetime import datetime

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def combined_line(
    remote: str,
    request_line: str,
    status: int | None,
    sent_bytes: int,
    user_agent: str | None,
    moment: datetime,
) -> str:
    """One nginx "combined" line (with its newline); ``moment`` in the log's zone."""
    local = (
        f"{moment.day:02d}/{_MONTHS[moment.month - 1]}/{moment.year}:"
        f"{moment:%H:%M:%S} {moment:%z}"
    )
    request = request_line.replace('"', "\\x22")
    agent = (user_agent or "-").replace('"', "\\x22")
    return (
        f'{remote} - - [{local}] "{request}" {status if status is not None else 0} '
        f'{sent_bytes} "-" "{agent}"\n'
    )
