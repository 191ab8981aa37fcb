"""Parquet and JSON over the lake port: the only place that turns tables into lake files and back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from shared.errors import LakeNotFound
from shared.ports import Lake, LakeItem

ROW_GROUP_ROWS = 128_000


def write_parquet(lake: Lake, path: str, table: pa.Table) -> LakeItem:
    """Write one Parquet file (zstd, statistics on) and return its lake item."""
    with lake.open_write(path) as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return lake.info(path)


@contextlib.contextmanager
def parquet_sink(lake: Lake, path: str, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """Stream record batches into one Parquet file without holding them all in memory."""
    with lake.open_write(path) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        yield writer


def read_parquet(lake: Lake, path: str, columns: Sequence[str] | None = None) -> pa.Table:
    with lake.open_read(path) as handle:
        return pq.read_table(handle, columns=list(columns) if columns is not None else None)


def read_parquet_many(lake: Lake, paths: Iterable[str], columns: Sequence[str] | None = None,
                      schema: pa.Schema | None = None) -> pa.Table:
    """Concatenate several Parquet files (missing columns become nulls when a schema is given)."""
    tables = [read_parquet(lake, p, columns) for p in paths]
    if not tables:
        return schema.empty_table() if schema is not None else pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def iter_parquet_batches(lake: Lake, path: str, columns: Sequence[str] | None = None,
                         batch_rows: int = ROW_GROUP_ROWS) -> Iterator[pa.RecordBatch]:
    with lake.open_read(path) as handle:
        yield from pq.ParquetFile(handle).iter_batches(batch_size=batch_rows,
                                                       columns=list(columns) if columns is not None else None)


def read_parquet_schema(lake: Lake, path: str) -> pa.Schema:
    with lake.open_read(path) as handle:
        return pq.ParquetFile(handle).schema_arrow


def parquet_row_count(lake: Lake, path: str) -> int:
    with lake.open_read(path) as handle:
        return int(pq.ParquetFile(handle).metadata.num_rows)


def write_json(lake: Lake, path: str, value: Any) -> LakeItem:
    return lake.write_bytes(path, json.dumps(value, indent=2, sort_keys=True, default=str).encode("utf-8"))


def read_json(lake: Lake, path: str, default: Any = LakeNotFound) -> Any:
    """Read a JSON document; with a ``default``, a missing file returns it instead of raising."""
    try:
        return json.loads(lake.read_bytes(path))
    except LakeNotFound:
        if default is LakeNotFound:
            raise
        return default
