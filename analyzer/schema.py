"""The canonical Arrow schema of message records, and coercion into it."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from analyzer.errors import SchemaError

#: The type of every time column: microseconds, UTC.
TIMESTAMP = pa.timestamp("us", tz="UTC")
#: Microseconds in a second (TIMESTAMP values are microseconds).
MICROS_PER_SECOND = 1_000_000

MESSAGE_SCHEMA = pa.schema(
    [
        pa.field("sid", pa.string()),
        pa.field("account_sid", pa.string()),
        pa.field("messaging_service_sid", pa.string()),
        pa.field("from", pa.string()),
        pa.field("to", pa.string()),
        pa.field("body", pa.string()),
        pa.field("status", pa.string()),
        pa.field("direction", pa.string()),
        pa.field("error_code", pa.int64()),
        pa.field("error_message", pa.string()),
        pa.field("num_segments", pa.int64()),
        pa.field("num_media", pa.int64()),
        pa.field("price", pa.float64()),
        pa.field("price_unit", pa.string()),
        pa.field("api_version", pa.string()),
        pa.field("date_created", TIMESTAMP),
        pa.field("date_sent", TIMESTAMP),
        pa.field("date_updated", TIMESTAMP),
        pa.field("source", pa.string()),
    ]
)

MESSAGE_COLUMNS: tuple[str, ...] = tuple(MESSAGE_SCHEMA.names)
DATE_COLUMNS: tuple[str, ...] = ("date_created", "date_sent", "date_updated")
#: Columns every table must have to be stored (upsert key and partition key); a null
#: ``date_created`` is stored apart, see analyzer.store.
KEY_COLUMNS: tuple[str, ...] = ("sid", "date_created")
#: Statuses of a record that reached the recipient's handset, or was handed on to reach it.
HANDSET_STATUSES: tuple[str, ...] = ("sent", "delivered", "read")
#: Statuses of a record that never went out: nobody received it.
NOT_SENT_STATUSES: tuple[str, ...] = ("canceled", "scheduled")

# Twilio's API returns RFC 2822 dates; exports use ISO 8601.
_RFC2822 = "%a, %d %b %Y %H:%M:%S %z"


def coerce_messages(data: pd.DataFrame | pa.Table, *, fill_missing: bool = False) -> pa.Table:
    """Coerce a DataFrame or Arrow table into MESSAGE_SCHEMA.

    Extra columns are dropped and columns are put in schema order. Missing columns
    raise SchemaError naming them, unless ``fill_missing`` is true, in which case
    they become nulls (``sid`` and ``date_created`` are always required). Values
    that cannot be converted raise SchemaError naming the column and a sample value.
    Time columns must be timestamps or text: numbers (epoch seconds or milliseconds)
    and dates without a time raise SchemaError naming the column and its type.
    """
    if isinstance(data, pd.DataFrame):
        table = _table_from_pandas(data)
    elif isinstance(data, pa.Table):
        table = data
    else:
        raise SchemaError(
            f"expected a pandas DataFrame or an Arrow table, got {type(data).__name__}"
        )

    check_time_columns(table.schema, text=True)
    present = set(table.column_names)
    missing = [name for name in MESSAGE_COLUMNS if name not in present]
    required_missing = [name for name in missing if not fill_missing or name in KEY_COLUMNS]
    if required_missing:
        raise SchemaError("missing column(s): " + ", ".join(required_missing))

    columns: list[pa.Array | pa.ChunkedArray] = []
    failures: list[str] = []
    n = table.num_rows
    for field in MESSAGE_SCHEMA:
        if field.name not in present:
            columns.append(pa.nulls(n, field.type))
            continue
        column = table.column(field.name)
        try:
            columns.append(_convert(column, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError, TypeError) as exc:
            failures.append(f"{field.name} ({_sample_failure(column, exc)})")
    if failures:
        raise SchemaError("cannot convert column(s): " + "; ".join(failures))
    return pa.Table.from_arrays(columns, schema=MESSAGE_SCHEMA)


def _table_from_pandas(frame: pd.DataFrame) -> pa.Table:
    arrays = {}
    for name in frame.columns:
        series = frame[name]
        try:
            arrays[str(name)] = pa.Array.from_pandas(series)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            # Mixed Python objects: let the per-type conversion decide on the text.
            text = series.map(lambda v: None if pd.isna(v) else str(v))
            arrays[str(name)] = pa.array(text.tolist(), type=pa.string())
    return pa.table(arrays)


def _convert(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    source = column.type
    if pa.types.is_dictionary(source):
        column = column.cast(source.value_type)
        source = column.type
    if source == target:
        return column
    if pa.types.is_null(source):
        return column.cast(target)
    if pa.types.is_timestamp(target):
        return _to_timestamp(column)
    is_text = pa.types.is_string(source) or pa.types.is_large_string(source)
    if is_text and (pa.types.is_integer(target) or pa.types.is_floating(target)):
        stripped = pc.utf8_trim_whitespace(column)
        blank = pc.equal(stripped, "")
        cleaned = pc.if_else(blank, pa.scalar(None, pa.string()), stripped)
        if pa.types.is_integer(target):
            # "30007.0" from spreadsheets is an integer too.
            as_float = cleaned.cast(pa.float64())
            whole = pc.equal(pc.floor(as_float), as_float)
            if not pc.all(pc.or_kleene(whole, pc.is_null(as_float)), min_count=0).as_py():
                raise ValueError("not an integer")
            return as_float.cast(target)
        return cleaned.cast(target)
    if pa.types.is_integer(target) and pa.types.is_floating(source):
        return column.cast(target)  # raises on fractional values
    return column.cast(target)


def _to_timestamp(column: pa.ChunkedArray) -> pa.ChunkedArray:
    source = column.type
    if pa.types.is_timestamp(source):
        if source.tz is None:
            column = pc.assume_timezone(column, "UTC")
        return column.cast(TIMESTAMP)
    if pa.types.is_string(source) or pa.types.is_large_string(source):
        series = pd.Series(column.to_pandas(), dtype=object)
        series = series.where(series.notna() & (series.astype(str).str.strip() != ""), None)
        parsed = _parse_datetimes(series)
        return pa.chunked_array([pa.Array.from_pandas(parsed).cast(TIMESTAMP)])
    raise TypeError(f"{source} is not a date")


def _parse_datetimes(series: pd.Series) -> pd.Series:
    for fmt in ("ISO8601", _RFC2822):
        try:
            parsed = pd.to_datetime(series, utc=True, format=fmt)
            return parsed.dt.as_unit("us")
        except (ValueError, TypeError):
            continue
    raise ValueError("unrecognised date format; expected ISO 8601 or RFC 2822")


def check_time_columns(schema: pa.Schema, *, where: str = "", text: bool = False) -> None:
    """Raise SchemaError when a time column (``date_created``, ``date_sent``,
    ``date_updated``) of ``schema`` is not a timestamp.

    Epoch numbers are refused rather than guessed (seconds? milliseconds?), and so are
    dates without a time of day. With ``text``, strings pass too (they are parsed, and
    refused value by value). ``where`` (a path) starts the message.
    """
    for name in DATE_COLUMNS:
        index = schema.get_field_index(name)
        if index < 0:
            continue
        kind = schema.field(index).type
        value_type = kind.value_type if pa.types.is_dictionary(kind) else kind
        if pa.types.is_timestamp(value_type) or pa.types.is_null(value_type):
            continue
        if text and (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            continue
        hint = (
            "; convert epoch numbers to timestamps first, e.g. "
            "pd.to_datetime(values, unit='ms', utc=True)"
            if pa.types.is_integer(value_type) or pa.types.is_floating(value_type)
            else ""
        )
        prefix = f"{where}: " if where else ""
        raise SchemaError(f"{prefix}column {name} is {kind}, not a timestamp{hint}")


def _sample_failure(column: pa.ChunkedArray, exc: Exception) -> str:
    message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    sample = next((v for v in column.to_pylist()[:1] if v is not None), None)
    return f"{column.type}: {message}" + (f"; e.g. {sample!r}" if sample is not None else "")


def require_columns(table: pa.Table | pd.DataFrame, columns: Iterable[str]) -> None:
    """Raise SchemaError naming every column of ``columns`` that ``table`` lacks."""
    names = set(table.column_names if isinstance(table, pa.Table) else map(str, table.columns))
    missing = [c for c in columns if c not in names]
    if missing:
        raise SchemaError("missing column(s): " + ", ".join(missing))
