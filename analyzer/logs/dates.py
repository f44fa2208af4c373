"""Parsing time values into UTC timestamps: log line times (ISO 8601, epoch numbers) and
Twilio's Date header (RFC 7231 / RFC 2822)."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.logs.columns import apply_where, np_bool, nullify_empty
from analyzer.schema import MICROS_PER_SECOND, TIMESTAMP

#: An ISO 8601 time as logging formatters print it (found anywhere in a line's prefix).
ISO_TIME_RE = (
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?"
    r"(?:\s?(?:Z|[+-]\d{2}(?::?\d{2})?))?"
)
_ZONE_SUFFIX_RE = r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$"
_EPOCH_RE = r"^-?\d+(?:\.\d+)?$"
#: Epochs above this can only be milliseconds (1e11 s is in the year 5138).
_EPOCH_MS_ABOVE = 1e11

# RFC 7231 ("Wed, 08 Apr 2026 09:04:08 GMT") and RFC 2822 ("Fri, 24 May 2019 17:44:46
# +0000") dates; HTTP dates are always GMT, so a missing zone is GMT too.
_HTTP_DATE_EXTRACT = (
    r"(?i)^(?:[A-Za-z]{3},\s*)?(?P<d>[0-9]{1,2}) (?P<mon>[A-Za-z]{3}) (?P<y>[0-9]{4}) "
    r"(?P<hms>[0-9]{2}:[0-9]{2}(?::[0-9]{2})?)(?: (?P<z>GMT|UTC|UT|Z|[+-][0-9]{4}))?$"
)
#: Twilio's Date header exactly as Twilio sends it (fixed width).
HTTP_DATE_FIXED = r"^[A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT$"
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_MONTH_NUMBERS = pa.array([f"{i:02d}" for i in range(1, 13)])


def month_numbers(names: pa.Array) -> pa.Array:
    """Month names ("Jan") as two-digit numbers ("01"); other text → null."""
    return pc.take(_MONTH_NUMBERS, pc.index_in(names, value_set=pa.array(MONTHS)))


def iso_to_timestamps(iso: pa.Array) -> pa.Array:
    """UTC timestamps of zoned ISO 8601 text assembled from parts; impossible dates → null."""
    try:
        return pc.cast(iso, TIMESTAMP)
    except pa.ArrowInvalid:  # e.g. 31 Feb: such values become null one by one
        return parse_times(iso, "UTC")


def parse_times(values: pa.Array, log_tz: str = "UTC") -> pa.TimestampArray:
    """Parse ISO 8601 strings (or epoch seconds/ms) into UTC timestamps; bad ones → null.

    Strings without a zone are local times in ``log_tz``.
    """
    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return _epoch_to_utc(values)
    text = pc.utf8_trim_whitespace(values.cast(pa.string()))
    # Python logging writes "14:03:01,123"; a comma has no other use in a timestamp.
    text = pc.replace_substring(text, ",", ".")
    # Fast paths: all values zoned, or all naive.
    with contextlib.suppress(pa.ArrowInvalid):
        return pc.cast(text, TIMESTAMP)
    with contextlib.suppress(pa.ArrowInvalid):
        return pc.assume_timezone(
            pc.cast(text, pa.timestamp("us")), log_tz, ambiguous="earliest", nonexistent="latest"
        ).cast(TIMESTAMP)
    return _parse_mixed_times(text, log_tz)


def _parse_mixed_times(text: pa.Array, log_tz: str) -> pa.TimestampArray:
    """parse_times for text mixing zoned, naive and epoch values (or holding bad ones)."""
    text = pc.replace_substring_regex(text, r"\s+(Z|[+-]\d{2}(?::?\d{2})?)$", r"\1")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
    present = np_bool(pc.is_valid(text))
    epoch = np_bool(pc.match_substring_regex(text, _EPOCH_RE))
    zoned = np_bool(pc.match_substring_regex(text, _ZONE_SUFFIX_RE)) & ~epoch
    naive = present & ~zoned & ~epoch
    result = np.full(len(text), np.datetime64("NaT"), dtype="datetime64[us]")
    if zoned.any():
        result[zoned] = _iso_to_utc(text.filter(pa.array(zoned)), None)
    if naive.any():
        result[naive] = _iso_to_utc(text.filter(pa.array(naive)), log_tz)
    if epoch.any():
        seconds = _epoch_to_utc(pc.cast(text.filter(pa.array(epoch)), pa.float64()))
        result[epoch] = seconds.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False)
    return pa.array(result, type=pa.timestamp("us"), from_pandas=True).cast(TIMESTAMP)


def parse_twilio_dates(values: pa.Array) -> pa.TimestampArray:
    """Parse Twilio Date header values into UTC timestamps; anything else → null.

    Accepts RFC 7231 / RFC 2822 text (a missing zone is GMT), and ISO 8601 text or epoch
    seconds (a zoneless ISO time is UTC: the header is Twilio's clock).
    """
    n = len(values)
    if values.null_count == n:
        return pa.nulls(n, TIMESTAMP)
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
            return parse_times(values, "UTC")
        values = values.cast(pa.string())
    text = nullify_empty(values)
    # Fast path for the header as Twilio sends it: fixed width, sliced without a regex.
    fixed = pc.fill_null(pc.match_substring_regex(text, HTTP_DATE_FIXED), False)
    if pc.all(pc.or_(fixed, pc.is_null(text))).as_py():
        return _http_date_fixed(text)
    iso = _http_date_to_iso(text)
    out = iso_to_timestamps(iso)
    # Text that is no RFC date: ISO 8601 or epoch seconds.
    rest = pc.and_(pc.is_valid(text), pc.is_null(iso))
    return apply_where(out, rest, lambda _: parse_times(text.filter(rest), "UTC"))


def _http_date_to_iso(text: pa.Array) -> pa.Array:
    """RFC 7231 / RFC 2822 dates rewritten as zoned ISO 8601 text (null: not such a date)."""
    parts = pc.extract_regex(text, _HTTP_DATE_EXTRACT)
    part = functools.partial(pc.struct_field, parts)
    month = month_numbers(pc.utf8_capitalize(part("mon")))
    hms = part("hms")
    hms = pc.if_else(
        pc.equal(pc.utf8_length(hms), 5), pc.binary_join_element_wise(hms, ":00", ""), hms
    )
    zone = pc.if_else(
        pc.match_substring_regex(pc.fill_null(part("z"), "GMT"), "^[+-]"),
        part("z"),
        pa.scalar("+0000"),
    )
    return pc.binary_join_element_wise(
        part("y"), "-", month, "-", pc.utf8_lpad(part("d"), 2, "0"), "T", hms, zone, ""
    )


def _http_date_fixed(text: pa.Array) -> pa.TimestampArray:
    """UTC timestamps of "Wed, 08 Apr 2026 09:04:08 GMT" values (all of that shape or null)."""

    def part(start: int, stop: int) -> pa.Array:
        return pc.utf8_slice_codeunits(text, start, stop)

    month = month_numbers(part(8, 11))
    iso = pc.binary_join_element_wise(
        part(12, 16), "-", month, "-", part(5, 7), "T", part(17, 25), "Z", ""
    )
    return iso_to_timestamps(iso)


def _epoch_to_utc(values: pa.Array) -> pa.Array:
    num = np.asarray(pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)
    num = np.where(np.abs(num) > _EPOCH_MS_ABOVE, num / 1000.0, num)
    ok = np.isfinite(num) & (np.abs(num) < _EPOCH_MS_ABOVE)
    micros = np.where(ok, np.round(num * MICROS_PER_SECOND), 0).astype("int64")
    return pa.array(micros, pa.int64(), mask=~ok).cast(pa.timestamp("us")).cast(TIMESTAMP)


def _iso_to_utc(text: pa.Array, log_tz: str | None) -> np.ndarray:
    """Naive UTC datetime64[us] values of ISO strings (zoned if log_tz is None)."""
    try:
        if log_tz is None:
            stamps = pc.cast(text, TIMESTAMP)
        else:
            stamps = pc.assume_timezone(
                pc.cast(text, pa.timestamp("us")),
                log_tz,
                ambiguous="earliest",
                nonexistent="latest",
            )
        return np.asarray(stamps.cast(pa.timestamp("us")).to_numpy(zero_copy_only=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    series = pd.Series(text.to_pylist(), dtype=object)
    if log_tz is None:
        parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    else:
        naive = pd.to_datetime(series, format="ISO8601", errors="coerce")
        if getattr(naive.dt, "tz", None) is not None:  # pragma: no cover - mixed input
            naive = naive.dt.tz_localize(None)
        parsed = naive.dt.tz_localize(
            log_tz, ambiguous=np.ones(len(naive), dtype=bool), nonexistent="shift_forward"
        ).dt.tz_convert("UTC")
    values = parsed.dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
    return np.asarray(values)
