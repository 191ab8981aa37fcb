"""DuckDB as an out-of-core engine over lake files (survivorship, snapshots, enrichment joins).

A fresh in-memory database per use, extension downloads disabled, lake files addressed by local path
or through the registered ``c360lake://`` filesystem; results are copied back into the lake atomically.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator

import duckdb

from shared.adapters.duckdb_endpoint import LAKE_PROTOCOL, lake_fsspec
from shared.ports import Lake
from shared.sql.identifiers import quote_literal

MEMORY_LIMIT = "1GB"  # per activity; DuckDB spills to disk beyond it


@contextlib.contextmanager
def lake_duckdb(lake: Lake, threads: int = 2) -> Iterator[duckdb.DuckDBPyConnection]:
    spill = tempfile.mkdtemp(prefix="c360-duck-")
    connection = duckdb.connect(config={
        "autoinstall_known_extensions": "false", "autoload_known_extensions": "false", "threads": str(threads),
        "memory_limit": MEMORY_LIMIT, "temp_directory": spill, "preserve_insertion_order": "false"})
    if lake.kind != "local":
        connection.register_filesystem(lake_fsspec(lake))
    try:
        yield connection
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)


def lake_file(lake: Lake, path: str) -> str:
    """How DuckDB names a lake file."""
    return lake.url(path) if lake.kind == "local" else f"{LAKE_PROTOCOL}://{path}"


def parquet_source(lake: Lake, paths: Iterable[str]) -> str:
    """``read_parquet([...], union_by_name = true)`` over lake files (SQL text, literals quoted)."""
    files = ", ".join(quote_literal(lake_file(lake, p), "duckdb") for p in paths)
    return f"read_parquet([{files}], union_by_name = true)"


def copy_to_lake(connection: duckdb.DuckDBPyConnection, query: str, lake: Lake, path: str) -> int:
    """Write a query's result as one Parquet file into the lake; returns the row count."""
    with tempfile.TemporaryDirectory(prefix="c360-copy-") as folder:
        local = os.path.join(folder, "out.parquet")
        connection.execute(f"COPY ({query}) TO {quote_literal(local, 'duckdb')} "
                           "(FORMAT PARQUET, COMPRESSION ZSTD, ROW_GROUP_SIZE 122880)")
        rows = connection.execute(f"SELECT count(*) FROM read_parquet({quote_literal(local, 'duckdb')})").fetchone()
        with open(local, "rb") as source, lake.open_write(path) as target:
            shutil.copyfileobj(source, target, 8 << 20)
    return int(rows[0]) if rows else 0
