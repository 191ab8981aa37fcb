"""DuckDB as an out-of-core engine over lake files (survivorship, snapshots, enrichment joins).

A fresh in-memory database per use, extension downloads disabled. Local lakes are read in place; files
of a remote lake are first copied to the connection's scratch folder (once each) and read as local
files — DuckDB's random, multi-threaded reads then never go through a Python stream. Results are
copied back into the lake atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextvars import ContextVar

import duckdb
import pyarrow as pa

from shared.ports import Lake
from shared.scratch import make_scratch, scratch
from shared.sql.identifiers import duckdb_value, quote_identifier, quote_literal

MEMORY_LIMIT = "1GB"  # per activity; DuckDB spills to disk beyond it
THREADS = 2  # per activity: an Azure instance of 4 GB has two cores and runs one activity at a time
# every Parquet file DuckDB writes: Zstandard at level 1 (DuckDB's default is 3). At 1 M customers the
# AlternateKey COPY took 8.0 -> 6.6 CPU seconds for a file of 109 -> 103 MB: DuckDB's level 3 bought nothing
PARQUET = "FORMAT PARQUET, COMPRESSION ZSTD, COMPRESSION_LEVEL 1"


class _Mirror:
    """Local copies of remote lake files for one DuckDB session."""

    def __init__(self, lake: Lake, folder: str) -> None:
        self._lake = lake
        self._folder = folder
        self._copies: dict[str, str] = {}
        self._lock = threading.Lock()

    def local(self, path: str) -> str:
        with self._lock:
            if path not in self._copies:
                target = os.path.join(self._folder, f"copy-{len(self._copies)}.parquet")
                with self._lake.open_read(path) as source, open(target, "wb") as sink:
                    shutil.copyfileobj(source, sink, 8 << 20)
                self._copies[path] = target
            return self._copies[path]


_mirror: ContextVar[_Mirror | None] = ContextVar("c360_duck_mirror", default=None)


def fanout_threads() -> int:
    """DuckDB threads for an activity that runs beside the others of its fan-out: the cores shared among the
    ``FUNCTIONS_WORKER_PROCESS_COUNT`` worker processes (the app setting; Azure's default is 1, and there an
    instance runs one activity at a time), at most ``THREADS``. Two workers on 2 cores with 2 threads each
    ran the Customer shards and lineage tables of a 1 M-customer run in 24.2-25.3 CPU seconds, with one
    thread each in 22.1-22.9."""
    workers = max(1, int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or 1))
    return max(1, min(THREADS, (os.cpu_count() or 1) // workers))


@contextlib.contextmanager
def lake_duckdb(lake: Lake, threads: int = THREADS,
                memory_limit: str = MEMORY_LIMIT) -> Iterator[duckdb.DuckDBPyConnection]:
    work = make_scratch("duck")
    connection = duckdb.connect(config={
        "autoinstall_known_extensions": "false", "autoload_known_extensions": "false", "threads": str(threads),
        "memory_limit": memory_limit, "temp_directory": os.path.join(work, "spill"),
        "preserve_insertion_order": "false"})
    token = _mirror.set(_Mirror(lake, work) if lake.kind != "local" else None)
    try:
        yield connection
    finally:
        _mirror.reset(token)
        connection.close()
        shutil.rmtree(work, ignore_errors=True)


def lake_file(lake: Lake, path: str) -> str:
    """How DuckDB names a lake file inside ``lake_duckdb``: its local path, or its local copy."""
    if lake.kind == "local":
        return lake.url(path)
    mirror = _mirror.get()
    if mirror is None:
        raise RuntimeError("remote lake files can only be read inside lake_duckdb()")
    return mirror.local(path)


def parquet_source(lake: Lake, paths: Iterable[str], row_numbers: bool = False, file_column: str | None = None) -> str:
    """``read_parquet([...], union_by_name = true)`` over lake files (SQL text, literals quoted);
    ``row_numbers`` adds each row's position in its file as ``file_row_number``; ``file_column`` names a
    column holding each row's file, as ``lake_file`` names it."""
    numbers = ", file_row_number = true" if row_numbers else ""
    named = f", filename = {quote_literal(file_column, 'duckdb')}" if file_column else ""
    return _read_parquet([lake_file(lake, p) for p in paths], numbers + named)


def _read_parquet(local_files: Iterable[str], options: str = "") -> str:
    """``read_parquet`` over local files, by column name, with no partitions read from the paths."""
    files = ", ".join(quote_literal(f, "duckdb") for f in local_files)
    return f"read_parquet([{files}], union_by_name = true, hive_partitioning = false{options})"


def copy_to_lake(connection: duckdb.DuckDBPyConnection, query: str, lake: Lake, path: str) -> int:
    """Write a query's result as one Parquet file into the lake; returns the row count."""
    with scratch("copy") as folder:
        local = os.path.join(folder, "out.parquet")
        connection.execute(f"COPY ({query}) TO {quote_literal(local, 'duckdb')} "
                           f"({PARQUET}, ROW_GROUP_SIZE 122880)")
        rows = connection.execute(f"SELECT count(*) FROM read_parquet({quote_literal(local, 'duckdb')})").fetchall()[0]
        with open(local, "rb") as source, lake.open_write(path) as target:
            shutil.copyfileobj(source, target, 8 << 20)
    return int(rows[0]) if rows else 0


def copy_folder_to_lake(connection: duckdb.DuckDBPyConnection, query: str, lake: Lake, folder: str,
                        partition_by: Sequence[str] = (), file_size_mb: int = 256,
                        typing: FolderTyping | None = None) -> tuple[int, list[str]]:
    """Write a query's result as a folder of Parquet files (hive-partitioned by ``partition_by``, the
    partition columns kept in the files too, files split at ``file_size_mb``); returns (rows, lake paths).
    ``typing``, if given, receives the files' schema and the longest value of each text column, read
    from the local files before they go up (what typing the SQL views needs, without reading them back).

    A partitioned table is written one partition at a time, a ``COPY`` per value filtered from the query,
    in the folders DuckDB's ``PARTITION_BY`` would name. ``PARTITION_BY`` itself keeps a buffer per thread
    and partition: a million-customer history with two closed versions per customer (4 M wide rows) ran
    out of the 1 GB limit in it, and a five-million-customer export failed in it in a full run. Written a
    partition at a time, the 4 M rows took 1.3 GB of process.

    The folder holds these files alone afterwards: what was in it is deleted first (readers take every file
    in it, and a retried write that splits into fewer files would otherwise leave an earlier one behind)."""
    lake.delete_prefix(f"{folder.rstrip('/')}/")
    if not partition_by:
        return _copy_files(connection, query, lake, folder, file_size_mb, typing)
    columns = [quote_identifier(c, "duckdb") for c in partition_by]
    values = connection.execute(f"SELECT DISTINCT {', '.join(columns)} FROM ({query}) ORDER BY ALL").fetchall()
    if not values:  # no rows: one empty file keeps the schema
        return _copy_files(connection, query, lake, folder, file_size_mb, typing)
    rows, written = 0, []
    for value in values:
        where = " AND ".join(f"{c} IS NULL" if v is None else f"{c} = {duckdb_value(v)}"
                             for c, v in zip(columns, value, strict=True))
        subfolder = "/".join(f"{name}={_hive_value(v)}" for name, v in zip(partition_by, value, strict=True))
        count, files = _copy_files(connection, f"SELECT * FROM ({query}) WHERE {where}", lake,
                                   f"{folder.rstrip('/')}/{subfolder}", file_size_mb, typing)
        rows += count
        written += files
    return rows, written


def _hive_value(value: object) -> str:
    """A partition value as a folder name, as DuckDB's ``PARTITION_BY`` writes it (booleans, integers,
    plain text; anything needing escapes is refused rather than written under a name readers misparse)."""
    if value is None:
        return "__HIVE_DEFAULT_PARTITION__"  # Hive's name for a null value, DuckDB's too
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    if not text or any(not (ch.isalnum() or ch in "-_.") for ch in text):
        raise ValueError(f"partition value {value!r} cannot name a folder")
    return text


class FolderTyping:
    """What ``copy_folder_to_lake`` measured of the files it wrote: their schema (as DuckDB reads them)
    and, per text column, the longest value in characters (the maximum over all the files)."""

    def __init__(self) -> None:
        self.schema: pa.Schema | None = None
        self.lengths: dict[str, int] = {}

    def measure(self, connection: duckdb.DuckDBPyConnection, source: str) -> None:
        schema, lengths = measure_typing(connection, source)
        self.schema = self.schema or schema
        for column, length in lengths.items():
            self.lengths[column] = max(self.lengths.get(column, 1), length)


def measure_typing(connection: duckdb.DuckDBPyConnection, source: str) -> tuple[pa.Schema, dict[str, int]]:
    """A ``read_parquet`` source's schema and the longest value (characters, at least 1) of each text column."""
    schema = connection.sql(f"SELECT * FROM {source} LIMIT 0").to_arrow_table().schema
    strings = [f.name for f in schema if not fixed_width(f.type)]
    if not strings:
        return schema, {}
    measured = connection.execute("SELECT " + ", ".join(
        f"coalesce(max(strlen(CAST({quote_identifier(c, 'duckdb')} AS VARCHAR))), 1)" for c in strings)
        + f" FROM {source}").fetchall()[0]
    return schema, {c: int(n) for c, n in zip(strings, measured, strict=True)}


def duckdb_type(arrow_type: pa.DataType) -> str:
    """The DuckDB type of an Arrow type (text for any other)."""
    mapping = {pa.string(): "VARCHAR", pa.int8(): "TINYINT", pa.int16(): "SMALLINT", pa.int64(): "BIGINT",
               pa.uint64(): "UBIGINT", pa.float64(): "DOUBLE", pa.bool_(): "BOOLEAN", pa.date32(): "DATE"}
    if arrow_type in mapping:
        return mapping[arrow_type]
    if isinstance(arrow_type, pa.TimestampType):
        return "TIMESTAMPTZ"
    if isinstance(arrow_type, pa.Decimal128Type):
        return f"DECIMAL({arrow_type.precision},{arrow_type.scale})"
    return "VARCHAR"


def empty_select(schema: pa.Schema) -> str:
    """SQL for no rows, typed as ``schema``: where a query has nothing to read from."""
    return ("SELECT " + ", ".join(f"NULL::{duckdb_type(f.type)} AS {quote_identifier(f.name, 'duckdb')}"
                                  for f in schema) + " WHERE false")


def fixed_width(arrow_type: pa.DataType) -> bool:
    """A type whose SQL column needs no length."""
    return (pa.types.is_boolean(arrow_type) or pa.types.is_integer(arrow_type) or pa.types.is_floating(arrow_type)
            or pa.types.is_decimal(arrow_type) or pa.types.is_temporal(arrow_type))


def _copy_files(connection: duckdb.DuckDBPyConnection, query: str, lake: Lake, folder: str,
                file_size_mb: int, typing: FolderTyping | None = None) -> tuple[int, list[str]]:
    options = [PARQUET, "ROW_GROUP_SIZE 122880", "FILENAME_PATTERN 'part-{i}'",
               f"FILE_SIZE_BYTES '{int(file_size_mb)}MB'"]
    with scratch("copy") as work:
        local = os.path.join(work, "out")
        connection.execute(f"COPY ({query}) TO {quote_literal(local, 'duckdb')} ({', '.join(options)})")
        if not any(names for _, _, names in os.walk(local)):  # no rows: one empty file keeps the schema
            os.makedirs(local, exist_ok=True)
            connection.execute(f"COPY ({query}) TO {quote_literal(os.path.join(local, 'part-0.parquet'), 'duckdb')} "
                               f"({PARQUET})")
        if typing is not None:
            parts = [os.path.join(root, name) for root, _, names in os.walk(local) for name in names]
            typing.measure(connection, _read_parquet(sorted(parts)))
        written: list[str] = []
        rows = 0
        for root, _, names in sorted(os.walk(local)):
            for name in sorted(names):
                source = os.path.join(root, name)
                relative = os.path.relpath(source, local).replace(os.sep, "/")
                count = connection.execute(f"SELECT count(*) FROM read_parquet({quote_literal(source, 'duckdb')}, "
                                           "hive_partitioning = false)").fetchall()[0][0]
                rows += int(count)
                target = f"{folder.rstrip('/')}/{relative}"
                with open(source, "rb") as handle, lake.open_write(target) as sink:
                    shutil.copyfileobj(handle, sink, 8 << 20)
                written.append(target)
    return rows, written
