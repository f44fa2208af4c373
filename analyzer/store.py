"""The message store: a hive-partitioned Parquet dataset, one folder per UTC day.

Layout: ``DATASET/date=YYYY-MM-DD/part-0.parquet`` (day of ``date_created``). Each
day is a single file that is replaced atomically, so readers (pandas, pyarrow,
DuckDB, Spark) only ever see a complete day. Temporary files start with ``.`` and
end with ``.tmp``, which those readers skip.

Records without ``date_created`` (a Console CSV row of a message that failed before
it was sent has no date at all) are kept in ``DATASET/date=undated/part-0.parquet``,
which every reader sees; a record with a date supersedes an undated one of the
same sid.
"""

from __future__ import annotations

import errno
import fcntl
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from analyzer.atomic import write_parquet
from analyzer.errors import EXIT_LOCKED, InputError, SchemaError, UserError
from analyzer.schema import MESSAGE_SCHEMA, check_time_columns, coerce_messages

PART_FILE = "part-0.parquet"
LOCK_FILE = ".lock"
#: The partition value of records without date_created.
UNDATED = "undated"
_DAY_NAME = re.compile(r"\d{4}-\d{2}-\d{2}")
PARTITIONING = ds.partitioning(pa.schema([("date", pa.string())]), flavor="hive")


class LockedError(UserError):
    """Another process holds the dataset's write lock."""

    exit_code = EXIT_LOCKED


@dataclass
class WriteResult:
    """What an upsert changed."""

    days: list[str] = field(default_factory=list)
    rows_in: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


@contextmanager
def dataset_lock(
    dataset: str | Path, *, blocking: bool = True, name: str = LOCK_FILE
) -> Iterator[None]:
    """Hold one of the dataset's exclusive locks (an OS file lock) for the block.

    ``name`` picks the lock: the default one guards writes; jobs that span
    several writes (a nightly run) hold their own. With ``blocking=False`` a held
    lock raises LockedError at once. A dataset path that cannot be a folder or
    cannot be written raises InputError.
    """
    root = Path(dataset)
    _make_root(root)
    try:
        handle = open(root / name, "a+b")  # noqa: SIM115 (closed below)
    except OSError as exc:
        raise InputError(f"cannot write the lock file {root / name}: {_reason(exc)}") from None
    with handle:
        flags = fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB)
        try:
            fcntl.flock(handle.fileno(), flags)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                raise LockedError(f"another run holds the lock on {root}") from None
            raise
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _make_root(root: Path) -> None:
    """Create the dataset folder; InputError when the path cannot be one."""
    if root.exists() and not root.is_dir():
        raise InputError(f"dataset path is a file, not a folder: {root}")
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the dataset folder {root}: {_reason(exc)}") from None


def _reason(exc: BaseException) -> str:
    """The first line of an error, without the path it may repeat."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def _read_day(target: Path) -> pa.Table:
    """A day file, or InputError naming it when it is not a readable message file."""
    try:
        check_time_columns(pq.read_schema(target), where=str(target))
        return pq.read_table(target, schema=MESSAGE_SCHEMA)
    except (pa.ArrowException, OSError) as exc:
        raise _unreadable_day(target, exc) from None


def _unreadable_day(target: Path, exc: BaseException) -> InputError:
    return InputError(
        f"cannot read {target} as Parquet ({_reason(exc)}): restore it, or move it away "
        "and import or export that day again"
    )


def _write_day(table: pa.Table, target: Path) -> None:
    """Replace a day file atomically; InputError naming it when it cannot be written."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        write_parquet(table, target, row_group_size=1_000_000)
    except OSError as exc:
        raise InputError(f"cannot write {target}: {_reason(exc)}") from None


def day_partition(dataset: str | Path, day: str) -> Path:
    """Return the folder that holds one UTC day (``YYYY-MM-DD``)."""
    return Path(dataset) / f"date={day}"


def write_messages(
    dataset: str | Path, data: pa.Table | pd.DataFrame, *, lock: bool = True
) -> WriteResult:
    """Upsert message records into the dataset, atomically per day.

    Records are matched by ``sid``; of two versions the one with the newer
    ``date_updated`` wins, and on a tie the incoming one. Records without
    ``date_created`` go to the ``date=undated`` partition, unless a dated version
    of the sid is stored; writing a dated version removes the undated one.
    """
    table = coerce_messages(data)
    if table.num_rows and pc.any(pc.is_null(table["sid"])).as_py():
        raise SchemaError("records without a sid cannot be stored")
    root = Path(dataset)
    if root.exists() and not root.is_dir():
        raise InputError(f"dataset path is a file, not a folder: {root}")
    result = WriteResult(rows_in=table.num_rows)
    if table.num_rows == 0:
        _make_root(root)
        return result
    with dataset_lock(root) if lock else _nothing():
        dated_mask = pc.is_valid(table["date_created"])
        dated = table.filter(dated_mask)
        days = pc.strftime(dated["date_created"], format="%Y-%m-%d")
        for day in sorted(pc.unique(days).to_pylist()):
            incoming = dated.filter(pc.equal(days, day))
            _upsert_day(root, day, incoming, result)
            result.days.append(day)
        if dated.num_rows:
            _drop_undated(root, dated["sid"], result)
        undated = table.filter(pc.invert(dated_mask))
        if undated.num_rows:
            _upsert_undated(root, undated, result)
    return result


def _drop_undated(root: Path, sids: pa.ChunkedArray, result: WriteResult) -> None:
    """Remove the undated versions of records just stored with a date."""
    target = day_partition(root, UNDATED) / PART_FILE
    if not target.exists():
        return
    existing = _read_day(target)
    superseded = pc.is_in(existing["sid"], value_set=pc.unique(sids))
    moved = _true_count(superseded)
    if not moved:
        return
    # Those sids were counted as new on their day; the dataset held them already.
    moved = min(moved, result.inserted)
    result.inserted -= moved
    result.updated += moved
    remaining = existing.filter(pc.invert(superseded))
    if remaining.num_rows:
        _write_day(remaining, target)
        return
    try:
        target.unlink()
        target.parent.rmdir()
    except OSError as exc:
        raise InputError(f"cannot remove {target}: {_reason(exc)}") from None


def _upsert_undated(root: Path, incoming: pa.Table, result: WriteResult) -> None:
    """Store records without date_created, except sids already stored with a date."""
    files = [day_partition(root, day) / PART_FILE for day in list_days(root)]
    if files:
        wanted = pc.unique(incoming["sid"])
        found = []
        for file in files:  # one day file at a time, so that a bad one can be named
            try:
                found.append(
                    pq.read_table(file, columns=["sid"], filters=ds.field("sid").isin(wanted))
                )
            except (pa.ArrowException, OSError) as exc:
                raise _unreadable_day(file, exc) from None
        sids = pa.concat_tables(found)["sid"]
        dated = pc.is_in(incoming["sid"], value_set=sids)
        result.unchanged += _true_count(dated)
        incoming = incoming.filter(pc.invert(dated))
    if incoming.num_rows:
        _upsert_day(root, UNDATED, incoming, result)


@contextmanager
def _nothing() -> Iterator[None]:
    yield


def _upsert_day(root: Path, day: str, incoming: pa.Table, result: WriteResult) -> None:
    folder = day_partition(root, day)
    target = folder / PART_FILE
    if target.exists():
        existing = _read_day(target)
        merged, inserted, updated, unchanged = _merge(existing, incoming)
        result.inserted += inserted
        result.updated += updated
        result.unchanged += unchanged
        if inserted == 0 and updated == 0:
            return  # nothing changed: leave the file untouched
    else:
        merged = _dedupe(incoming)
        result.inserted += merged.num_rows
    merged = merged.sort_by([("date_created", "ascending"), ("sid", "ascending")])
    _write_day(merged, target)


def _dedupe(table: pa.Table) -> pa.Table:
    """Keep one row per sid: the newest date_updated, the later row on a tie."""
    n = table.num_rows
    if n == 0:
        return table
    keyed = pa.table(
        {
            "sid": table["sid"],
            "updated": table["date_updated"],
            "row": pa.array(np.arange(n, dtype=np.int64)),
        }
    )
    order = pc.sort_indices(
        keyed,
        # A missing date_updated is older than any known one.
        sort_keys=[
            ("sid", "ascending"),
            ("updated", "ascending", "at_start"),
            ("row", "ascending"),
        ],
    )
    sids = table["sid"].take(order).combine_chunks()
    last = np.ones(n, dtype=bool)
    if n > 1:
        differs = pc.not_equal(sids.slice(0, n - 1), sids.slice(1))
        last[:-1] = np.asarray(differs.to_numpy(zero_copy_only=False), dtype=bool)
    keep = np.sort(order.to_numpy()[last])
    return table.take(pa.array(keep))


def _merge(existing: pa.Table, incoming: pa.Table) -> tuple[pa.Table, int, int, int]:
    incoming = _dedupe(incoming)
    known_mask = pc.is_in(incoming["sid"], value_set=existing["sid"])
    known = incoming.filter(known_mask).sort_by("sid")
    inserted = incoming.num_rows - known.num_rows
    old = existing.filter(pc.is_in(existing["sid"], value_set=known["sid"])).sort_by("sid")
    new_time, old_time = known["date_updated"], old["date_updated"]
    wins = pc.or_kleene(
        pc.is_null(old_time),
        pc.fill_null(pc.greater_equal(new_time, old_time), False),
    )
    differs = pa.chunked_array([pa.array([False] * known.num_rows, pa.bool_())])
    for name in MESSAGE_SCHEMA.names:
        differs = pc.or_(differs, pc.invert(_null_equal(known[name], old[name])))
    updated = _true_count(pc.and_(wins, differs))
    unchanged = known.num_rows - updated
    if inserted == 0 and updated == 0:
        return existing, 0, 0, unchanged
    return _dedupe(pa.concat_tables([existing, incoming])), inserted, updated, unchanged


def _null_equal(left: pa.ChunkedArray, right: pa.ChunkedArray) -> pa.ChunkedArray:
    both_null = pc.and_(pc.is_null(left), pc.is_null(right))
    return pc.or_(pc.fill_null(pc.equal(left, right), False), both_null)


def _true_count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(mask.cast(pa.int64())).as_py() or 0)


def list_days(dataset: str | Path) -> list[str]:
    """Return the UTC days (``YYYY-MM-DD``) that hold data, in order (not ``undated``)."""
    root = Path(dataset)
    names = (p.name.removeprefix("date=") for p in root.glob("date=*") if (p / PART_FILE).exists())
    return sorted(name for name in names if _DAY_NAME.fullmatch(name))


def as_day(value: date | datetime | str | None) -> date | None:
    """The UTC day of a date, a midnight datetime or ``YYYY-MM-DD`` text.

    Ranges of messages are whole UTC days: a time of day other than midnight would be
    silently widened to its day, so it is an InputError, like anything else.
    """
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value if value.tzinfo is None else value.astimezone(UTC)
        if moment.time() != time(0):
            raise InputError(_NOT_A_DAY.format(value=value.isoformat()))
        return moment.date()
    if isinstance(value, date):
        return value
    text = str(value).strip()
    try:
        day = date.fromisoformat(text[:10])
    except ValueError:
        raise InputError(f"not a date (expected YYYY-MM-DD): {value!r}") from None
    if text[10:] and _MIDNIGHT.fullmatch(text[10:]) is None:
        raise InputError(_NOT_A_DAY.format(value=text))
    return day


_MIDNIGHT = re.compile(r"[T ]00:00(?::00(?:\.0+)?)?(?:Z|[+-]00:?00)?")
_NOT_A_DAY = (
    "{value} is not a whole UTC day: message ranges (--start/--end) select days, "
    "YYYY-MM-DD; the clusters of a day are those that start on it"
)


def _day(value: date | datetime | str | None) -> str | None:
    day = as_day(value)
    return None if day is None else day.isoformat()


def read_messages(
    path: str | Path,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    columns: Sequence[str] | None = None,
    dictionary: Sequence[str] = (),
) -> pa.Table:
    """Read message records from a dataset folder or a single Parquet file.

    ``start`` and ``end`` are inclusive UTC days; on a dataset they prune whole
    day partitions, on a single file they filter by ``date_created``. Records
    without ``date_created`` are only read when neither is given. ``columns``
    limits what is read. The result has the message schema's types, except that
    the string columns named in ``dictionary`` come back dictionary-encoded
    (much smaller for repetitive values such as status or direction).
    """
    source = Path(path)
    if not source.exists():
        raise InputError(f"no such file or folder: {source}")
    wanted = list(columns) if columns is not None else list(MESSAGE_SCHEMA.names)
    unknown = [c for c in wanted if c not in MESSAGE_SCHEMA.names]
    if unknown:
        raise SchemaError("unknown column(s): " + ", ".join(unknown))
    first, last = _day(start), _day(end)
    try:
        if source.is_dir():
            dataset = ds.dataset(
                source,
                format=_parquet_format(dictionary),
                partitioning=PARTITIONING,
                exclude_invalid_files=False,
            )
            expr = None
            if first is not None:
                expr = (ds.field("date") >= first) & (ds.field("date") != UNDATED)
            if last is not None:
                cond = ds.field("date") <= last
                expr = cond if expr is None else expr & cond
            if not dataset.files:
                return pa.schema([MESSAGE_SCHEMA.field(c) for c in wanted]).empty_table()
            file_fields = set(dataset.schema.names)
            # The dataset's schema is its first file's; the others would be cast to it.
            for fragment in dataset.get_fragments(filter=expr):
                check_time_columns(fragment.physical_schema, where=fragment.path)
        else:
            dataset = ds.dataset(source, format=_parquet_format(dictionary))
            expr = None
            bounds = _timestamp_bounds(first, last)
            if bounds[0] is not None:
                expr = ds.field("date_created") >= bounds[0]
            if bounds[1] is not None:
                cond = ds.field("date_created") < bounds[1]
                expr = cond if expr is None else expr & cond
            check_time_columns(dataset.schema, where=str(source))
            file_fields = set(dataset.schema.names)
        missing = [c for c in wanted if c not in file_fields]
        if missing:
            raise SchemaError(
                f"{source} is not a message dataset: missing column(s) " + ", ".join(missing)
            )
        table = dataset.to_table(columns=wanted, filter=expr)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"cannot read {source} as Parquet: {str(exc).splitlines()[0]}") from None
    return _cast_columns(table, wanted, dictionary)


@dataclass
class MessageScan:
    """A repeatable, batch-by-batch read of message records (for data larger than memory)."""

    files: list[Path]
    #: date_created limits (microseconds since the epoch, end exclusive) for single files.
    bounds: tuple[int | None, int | None]
    dictionary: tuple[str, ...] = ()
    batch_size: int = 1_000_000

    @property
    def rows(self) -> int:
        """Records in the files (from their metadata; bounds not applied)."""
        return sum(pq.ParquetFile(path).metadata.num_rows for path in self.files)

    def batches(self, columns: Sequence[str]) -> Iterator[pa.RecordBatch]:
        """Yield the records' ``columns`` in the same order on every call."""
        fields = [_read_field(c, self.dictionary) for c in columns]
        schema = pa.schema(fields)
        for path in self.files:
            try:
                reader = pq.ParquetFile(
                    path, read_dictionary=[c for c in self.dictionary if c in columns]
                )
                for batch in reader.iter_batches(batch_size=self.batch_size, columns=list(columns)):
                    yield batch.cast(schema) if batch.schema != schema else batch
            except (pa.ArrowInvalid, OSError) as exc:
                message = str(exc).splitlines()[0]
                raise InputError(f"cannot read {path} as Parquet: {message}") from None

    def take(self, columns: Sequence[str], rows: np.ndarray) -> pa.Table:
        """The records at these positions of the scan (ascending), in that order.

        Only the row groups that hold some of them are read.
        """
        schema = pa.schema([_read_field(c, self.dictionary) for c in columns])
        parts = [schema.empty_table()]
        offset = 0
        for path in self.files:
            try:
                reader = pq.ParquetFile(
                    path, read_dictionary=[c for c in self.dictionary if c in columns]
                )
                for group in range(reader.num_row_groups):
                    size = reader.metadata.row_group(group).num_rows
                    lo, hi = np.searchsorted(rows, [offset, offset + size])
                    if hi > lo:
                        wanted = pa.array(rows[lo:hi] - offset, type=pa.int64())
                        # A column at a time: only one column of the row group in memory.
                        picked = {
                            name: reader.read_row_group(group, [name], use_threads=False)[
                                name
                            ].take(wanted)
                            for name in columns
                        }
                        parts.append(pa.table(picked).cast(schema))
                    offset += size
            except (pa.ArrowInvalid, OSError) as exc:
                message = str(exc).splitlines()[0]
                raise InputError(f"cannot read {path} as Parquet: {message}") from None
        if offset < (rows[-1] + 1 if len(rows) else 0):
            raise InputError("the data changed while it was being read")
        taken = pa.concat_tables(parts).combine_chunks()
        # The row groups read are gone: give their memory back rather than keep it pooled.
        pa.default_memory_pool().release_unused()
        return taken


def scan_messages(
    path: str | Path,
    start: date | datetime | str | None = None,
    end: date | datetime | str | None = None,
    *,
    columns: Sequence[str] = (),
    dictionary: Sequence[str] = (),
    batch_size: int = 1_000_000,
) -> MessageScan:
    """Prepare a batch-by-batch read of a dataset folder or a Parquet file.

    Day partitions outside [start, end] are skipped, and so is the undated one
    (records without date_created); on a single file the bounds are applied to
    ``date_created`` by the consumer. ``columns`` are checked to
    exist in every file.
    """
    source = Path(path)
    if not source.exists():
        raise InputError(f"no such file or folder: {source}")
    first, last = _day(start), _day(end)
    if source.is_dir():
        files = [
            day_partition(source, day) / PART_FILE
            for day in list_days(source)
            if (first is None or day >= first) and (last is None or day <= last)
        ]
        bounds: tuple[int | None, int | None] = (None, None)
    else:
        files = [source]
        lo, hi = _timestamp_bounds(first, last)
        bounds = (
            None if lo is None else lo.cast(pa.int64()).as_py(),
            None if hi is None else hi.cast(pa.int64()).as_py(),
        )
    for file in files:
        try:
            schema = pq.read_schema(file)
        except (pa.ArrowInvalid, OSError) as exc:
            message = str(exc).splitlines()[0]
            raise InputError(f"cannot read {file} as Parquet: {message}") from None
        check_time_columns(schema, where=str(file))
        names = set(schema.names)
        missing = [c for c in columns if c not in names]
        if missing:
            raise SchemaError(
                f"{file} is not a message dataset: missing column(s) " + ", ".join(missing)
            )
    return MessageScan(
        files=files, bounds=bounds, dictionary=tuple(dictionary), batch_size=batch_size
    )


def _read_field(name: str, dictionary: Sequence[str]) -> pa.Field:
    field = MESSAGE_SCHEMA.field(name)
    if name in dictionary and pa.types.is_string(field.type):
        return field.with_type(pa.dictionary(pa.int32(), pa.string()))
    return field


def _timestamp_bounds(
    first: str | None, last: str | None
) -> tuple[pa.Scalar | None, pa.Scalar | None]:
    def ts(day: str) -> pa.Scalar:
        return pa.scalar(datetime.fromisoformat(day).replace(tzinfo=None), pa.timestamp("us")).cast(
            MESSAGE_SCHEMA.field("date_created").type
        )

    lo = ts(first) if first else None
    hi = ts((date.fromisoformat(last) + timedelta(days=1)).isoformat()) if last else None
    return lo, hi


def _parquet_format(dictionary: Sequence[str]) -> ds.ParquetFileFormat:
    return ds.ParquetFileFormat(read_options=ds.ParquetReadOptions(dictionary_columns=dictionary))


def _cast_columns(table: pa.Table, columns: Sequence[str], dictionary: Sequence[str]) -> pa.Table:
    fields = [_read_field(name, dictionary) for name in columns]
    try:
        return table.cast(pa.schema(fields))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise SchemaError(f"columns do not match the message schema: {exc}") from None
