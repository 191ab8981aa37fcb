"""Parquet and JSON over the lake port: the only place that turns tables into lake files and back."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shared.errors import LakeNotFound
from shared.ports import Lake, LakeItem

ROW_GROUP_ROWS = 128_000


def write_parquet(lake: Lake, path: str, table: pa.Table) -> LakeItem:
    """Write one Parquet file (zstd, statistics on) and return its lake item."""
    with lake.open_write(path) as handle:
        pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)
    return lake.info(path)


def write_parquet_split(lake: Lake, path: str, table: pa.Table, flag: str) -> LakeItem:
    """``write_parquet`` with the rows whose boolean column ``flag`` is false first, then the others, in row
    groups that never mix the two, so that a reader of one kind skips the other's row groups by their
    statistics (``iter_parquet_batches(flag=...)``). Each kind keeps its rows' order; rows are copied a row
    group at a time, not the whole table."""
    with lake.open_write(path) as handle, pq.ParquetWriter(handle, table.schema, compression="zstd") as writer:
        for value in (False, True):
            pending: list[pa.RecordBatch] = []
            rows = 0
            for batch in table.to_batches():
                kept = batch.filter(pc.equal(batch.column(flag), pa.scalar(value)))
                pending.append(kept)
                rows += len(kept)
                if rows >= ROW_GROUP_ROWS:
                    writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
                    pending, rows = [], 0
            if rows:
                writer.write_table(pa.Table.from_batches(pending), row_group_size=ROW_GROUP_ROWS)
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
                         batch_rows: int = ROW_GROUP_ROWS,
                         flag: tuple[str, bool] | None = None) -> Iterator[pa.RecordBatch]:
    """The file's rows batch by batch; with ``flag`` (a boolean column and a value) only the rows holding
    that value, skipping the row groups whose statistics show none (see ``write_parquet_split``)."""
    with lake.open_read(path) as handle:
        file = pq.ParquetFile(handle)
        if flag is None:
            yield from file.iter_batches(batch_size=batch_rows, columns=list(columns) if columns is not None else None)
            return
        name, value = flag
        index = file.schema_arrow.get_field_index(name)
        groups = [g for g in range(file.metadata.num_row_groups)
                  if not _only_other_value(file.metadata.row_group(g).column(index).statistics, value)]
        if not groups:
            return
        wanted = [*(columns if columns is not None else file.schema_arrow.names)]
        read = wanted if name in wanted else [*wanted, name]
        for batch in file.iter_batches(batch_size=batch_rows, columns=read, row_groups=groups):
            kept = batch.filter(pc.equal(batch.column(name), pa.scalar(value)))
            yield kept.select(wanted) if len(read) > len(wanted) else kept


def _only_other_value(stats: pq.Statistics | None, value: bool) -> bool:
    return stats is not None and stats.has_min_max and stats.min == stats.max and stats.min != value


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
