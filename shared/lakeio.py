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


@contextlib.contextmanager
def parquet_sink(lake: Lake, path: str, schema: pa.Schema) -> Iterator[pq.ParquetWriter]:
    """Stream record batches into one Parquet file without holding them all in memory."""
    with lake.open_write(path) as handle, pq.ParquetWriter(handle, schema, compression="zstd") as writer:
        yield writer


def write_parquet_split(lake: Lake, path: str, tables: Iterable[pa.Table], schema: pa.Schema,
                        flag: str) -> LakeItem:
    """Write ``tables`` (an iterable, consumed as it comes: never held whole) as one Parquet file whose row
    groups never mix rows with the boolean column ``flag`` false and true, so that a reader of one kind
    skips the other's row groups by their statistics (``iter_parquet_batches(flag=...)``). Each kind keeps
    its rows' order; the two kinds' row groups may alternate. At most a row group of each kind is pending."""
    with parquet_sink(lake, path, schema) as writer:
        pending: dict[bool, list[pa.RecordBatch]] = {False: [], True: []}
        rows = {False: 0, True: 0}

        def flush(value: bool, whole: bool) -> None:
            table = pa.Table.from_batches(pending[value], schema)
            size = len(table) if whole else len(table) // ROW_GROUP_ROWS * ROW_GROUP_ROWS
            if size:
                writer.write_table(table.slice(0, size), row_group_size=ROW_GROUP_ROWS)
            rest = table.slice(size)
            pending[value], rows[value] = rest.to_batches(), len(rest)

        for table in tables:
            for batch in table.to_batches():
                for value in (False, True):
                    kept = batch.filter(pc.equal(batch.column(flag), pa.scalar(value)))
                    if len(kept):
                        pending[value].append(kept)
                        rows[value] += len(kept)
                        if rows[value] >= ROW_GROUP_ROWS:
                            flush(value, whole=False)
        for value in (False, True):
            if rows[value]:
                flush(value, whole=True)
    return lake.info(path)


def parquet_files(lake: Lake, folder: str) -> list[str]:
    """The Parquet files under ``folder``, sorted by path (a table written a file per shard or slice)."""
    return sorted(i.path for i in lake.list(folder) if i.path.endswith(".parquet"))


def read_parquet(lake: Lake, path: str, columns: Sequence[str] | None = None,
                 filters: list[tuple[str, str, object]] | None = None) -> pa.Table:
    """A Parquet file of the lake; ``filters`` (pyarrow's ``(column, op, value)`` triples) drop rows while
    the file is read, before they take memory."""
    with lake.open_read(path) as handle:
        return pq.read_table(handle, columns=list(columns) if columns is not None else None, filters=filters)


def read_parquet_many(lake: Lake, paths: Iterable[str], columns: Sequence[str] | None = None,
                      schema: pa.Schema | None = None) -> pa.Table:
    """Concatenate several Parquet files (missing columns become nulls when a schema is given)."""
    tables = [read_parquet(lake, p, columns) for p in paths]
    if not tables:
        return schema.empty_table() if schema is not None else pa.table({})
    return pa.concat_tables(tables, promote_options="default")


def iter_parquet_batches(lake: Lake, path: str, columns: Sequence[str] | None = None,
                         batch_rows: int = ROW_GROUP_ROWS, flag: tuple[str, bool] | None = None,
                         rows: tuple[int, int] | None = None) -> Iterator[pa.RecordBatch]:
    """The file's rows batch by batch; with ``flag`` (a boolean column and a value) only the rows holding
    that value, skipping the row groups whose statistics show none (see ``write_parquet_split``); with
    ``rows`` (start, stop) only the rows at those positions, reading the row groups that hold them."""
    selected = list(columns) if columns is not None else None
    with lake.open_read(path) as handle:
        file = pq.ParquetFile(handle)
        if rows is not None:
            if flag is not None:
                raise ValueError("iter_parquet_batches: rows and flag do not combine")
            yield from _row_range(file, rows, selected, batch_rows)
            return
        if flag is None:
            yield from file.iter_batches(batch_size=batch_rows, columns=selected)
            return
        name, value = flag
        index = file.schema_arrow.get_field_index(name)
        groups = [g for g in range(file.metadata.num_row_groups)
                  if not _only_other_value(file.metadata.row_group(g).column(index).statistics, value)]
        if not groups:
            return
        wanted = selected if selected is not None else file.schema_arrow.names
        read = wanted if name in wanted else [*wanted, name]
        for batch in file.iter_batches(batch_size=batch_rows, columns=read, row_groups=groups):
            kept = batch.filter(pc.equal(batch.column(name), pa.scalar(value)))
            yield kept.select(wanted) if len(read) > len(wanted) else kept


def _row_range(file: pq.ParquetFile, rows: tuple[int, int], columns: list[str] | None,
               batch_rows: int) -> Iterator[pa.RecordBatch]:
    start, stop = rows
    groups, position, first = [], 0, None
    for group in range(file.metadata.num_row_groups):
        size = file.metadata.row_group(group).num_rows
        if position < stop and position + size > start:
            groups.append(group)
            first = position if first is None else first
        position += size
    if first is None:
        return
    position = first
    for batch in file.iter_batches(batch_size=batch_rows, row_groups=groups, columns=columns):
        low, high = max(start - position, 0), min(stop - position, batch.num_rows)
        if high > low:
            yield batch.slice(low, high - low)
        position += batch.num_rows


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
