"""Parsing time values into UTC timestamps: log line times (ISO 8601, epoch numbers) and
Twilio's Date header (RFC 7231 / RFC 2822)."""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable

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
_NAIVE_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?$")
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
    text = values.cast(pa.string())
    naive_first = _looks_naive(text)
    if not naive_first:
        # The common case, first: zoned ISO 8601 as it is (a failed cast costs a pass).
        with contextlib.suppress(pa.ArrowInvalid):
            return pc.cast(text, TIMESTAMP)
    text = pc.utf8_trim_whitespace(text)
    # Python logging writes "14:03:01,123"; a comma has no other use in a timestamp.
    text = pc.replace_substring(text, ",", ".")
    # Fast paths: all values zoned, or all naive (tried first when the first value is).
    casts: list[Callable[[pa.Array], pa.Array]] = [
        _cast_zoned,
        functools.partial(_cast_naive, log_tz=log_tz),
    ]
    for cast in casts[::-1] if naive_first else casts:
        with contextlib.suppress(pa.ArrowInvalid):
            return cast(text)
    return _parse_mixed_times(text, log_tz)


def _looks_naive(text: pa.Array) -> bool:
    """Whether the first value of text is an ISO 8601 time without a zone."""
    valid = text.slice(0, 1000).drop_null()
    if not len(valid):
        valid = text.drop_null()
    if not len(valid):
        return False
    first = str(valid[0].as_py()).strip()
    return _NAIVE_ISO.match(first) is not None


def _cast_zoned(text: pa.Array) -> pa.Array:
    return pc.cast(text, TIMESTAMP)


def _cast_naive(text: pa.Array, log_tz: str) -> pa.Array:
    naive = pc.cast(text, pa.timestamp("us"))
    local = pc.assume_timezone(naive, log_tz, ambiguous="earliest", nonexistent="latest")
    return local.cast(TIMESTAMP)


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


#: Byte positions in a CLF time ("29/Nov/2026:14:03:01 +0100") of its digits, and of
#: each separator.
_CLF_WIDTH = 26
_CLF_DIGITS = [0, 1, 7, 8, 9, 10, 12, 13, 15, 16, 18, 19, 22, 23, 24, 25]
_CLF_SEPARATORS = {2: "/", 6: "/", 11: ":", 14: ":", 17: ":", 20: " "}
_MONTH_CODES = np.array([(ord(m[0]) << 16) | (ord(m[1]) << 8) | ord(m[2]) for m in MONTHS])
_MONTH_CODES_SORTED = np.sort(_MONTH_CODES)
_MONTH_OF_SORTED = np.argsort(_MONTH_CODES) + 1
_MONTH_DAYS = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def clf_times(raw: pa.Array, slow: Callable[[pa.Array], pa.Array]) -> pa.Array:
    """UTC timestamps of CLF times ("29/Nov/2026:14:03:01 +0100"): read from the bytes
    of well-formed values; ``slow`` reads the others (and gives null for what is none)."""
    n = len(raw)
    fixed = np_bool(pc.equal(pc.binary_length(raw), _CLF_WIDTH))
    micros = np.zeros(n, dtype=np.int64)
    ok = np.zeros(n, dtype=bool)
    if fixed.any():
        rows = np.flatnonzero(fixed)
        micros[rows], ok[rows] = _clf_micros(raw.filter(pa.array(fixed)))
    out = pa.array(micros, pa.int64(), mask=~ok).cast(pa.timestamp("us")).cast(TIMESTAMP)
    rest = ~ok & np_bool(pc.is_valid(raw))
    if rest.any():
        out = pc.replace_with_mask(out, pa.array(rest), slow(raw.filter(pa.array(rest))))
    return out


def _clf_micros(text: pa.StringArray) -> tuple[np.ndarray, np.ndarray]:
    """Epoch microseconds of fixed-width CLF times, and which are plainly valid."""
    n = len(text)
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)[text.offset : text.offset + n + 1]
    start = int(offsets[0])
    b = np.frombuffer(text.buffers()[2], dtype=np.uint8)[start : start + n * _CLF_WIDTH]
    b = b.reshape(n, _CLF_WIDTH)
    # Bytes below "0" wrap around to large values: one comparison checks for a digit.
    digit = b[:, _CLF_DIGITS] - np.uint8(ord("0"))
    ok = (digit <= 9).all(axis=1)
    for pos, sep in _CLF_SEPARATORS.items():
        ok &= b[:, pos] == ord(sep)
    sign = np.where(b[:, 21] == ord("-"), -1, 1)
    ok &= (b[:, 21] == ord("+")) | (b[:, 21] == ord("-"))
    code = (b[:, 3].astype(np.int64) << 16) | (b[:, 4].astype(np.int64) << 8) | b[:, 5]
    at = np.minimum(np.searchsorted(_MONTH_CODES_SORTED, code), 11)
    ok &= _MONTH_CODES_SORTED[at] == code
    month = _MONTH_OF_SORTED[at]

    def number(*cols: int) -> np.ndarray:
        value = np.zeros(n, dtype=np.int64)
        for c in cols:
            value = value * 10 + digit[:, _CLF_DIGITS.index(c)]
        return value

    day, year = number(0, 1), number(7, 8, 9, 10)
    hour, minute, second = number(12, 13), number(15, 16), number(18, 19)
    zone_h, zone_m = number(22, 23), number(24, 25)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    month_days = _MONTH_DAYS[month - 1] + ((month == 2) & leap)
    ok &= (year >= 1) & (day >= 1) & (day <= month_days)
    ok &= (hour < 24) & (minute < 60) & (second < 60) & (zone_h < 24) & (zone_m < 60)
    seconds = _days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    seconds -= sign * (zone_h * 3600 + zone_m * 60)
    return np.where(ok, seconds * MICROS_PER_SECOND, 0), ok


def _days_from_civil(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 of proleptic Gregorian dates (H. Hinnant's algorithm)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * np.where(month > 2, month - 3, month + 9) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468
