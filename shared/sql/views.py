"""The view model: what a published view reads and which typed columns it exposes.

One ``ViewSpec`` renders to T-SQL (Synapse serverless ``OPENROWSET``) and to DuckDB (``read_parquet``).
Types are the smallest that hold the observed data: varchar lengths come from the longest UTF-8 value.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import pyarrow.compute as pc

LogicalType = Literal["string", "int32", "int64", "double", "decimal", "boolean", "date", "datetime"]
VARCHAR_MAX = 8000
_LENGTH_STEPS = (4, 8, 16, 32, 36, 64, 128, 256, 512, 1024, 2048, 4000, 8000)


@dataclass(frozen=True)
class ColumnSpec:
    """A typed column; ``max_length`` is the varchar length in bytes for strings (``None``: varchar(max))."""

    name: str
    type: LogicalType
    max_length: int | None = None
    precision: int = 18
    scale: int = 2


@dataclass(frozen=True)
class ViewSpec:
    """A view over Parquet files under ``location`` (a lake folder), optionally hive-partitioned."""

    schema: str
    name: str
    location: str
    columns: tuple[ColumnSpec, ...]
    partitions: tuple[ColumnSpec, ...] = field(default_factory=tuple)
    description: str = ""


def rounded_length(observed: int) -> int | None:
    """A varchar length with head-room: the next step above the longest value (``None`` beyond 8000)."""
    for step in _LENGTH_STEPS:
        if observed <= step:
            return step
    return None


def _logical_type(arrow_type: pa.DataType) -> LogicalType:
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_integer(arrow_type):
        return "int32" if arrow_type.bit_width <= 32 else "int64"
    if pa.types.is_floating(arrow_type):
        return "double"
    if pa.types.is_decimal(arrow_type):
        return "decimal"
    if pa.types.is_date(arrow_type):
        return "date"
    if pa.types.is_timestamp(arrow_type):
        return "datetime"
    return "string"


def column_specs(table: pa.Table, lengths: dict[str, int] | None = None) -> tuple[ColumnSpec, ...]:
    """Columns of a table with the smallest types; string lengths from the data (or ``lengths``)."""
    specs = []
    for column_field in table.schema:
        kind = _logical_type(column_field.type)
        if kind == "string":
            observed = (lengths or {}).get(column_field.name)
            if observed is None:
                column = table.column(column_field.name).cast(pa.string())
                longest = pc.max(pc.binary_length(column)).as_py()
                observed = int(longest or 1)
            specs.append(ColumnSpec(column_field.name, kind, rounded_length(observed)))
        elif kind == "decimal":
            specs.append(ColumnSpec(column_field.name, kind, precision=column_field.type.precision,
                                    scale=column_field.type.scale))
        else:
            specs.append(ColumnSpec(column_field.name, kind))
    return tuple(specs)


def merge_lengths(specs: Sequence[tuple[ColumnSpec, ...]]) -> tuple[ColumnSpec, ...]:
    """Combine the specs of several files of one table: the widest length of each column wins."""
    merged: dict[str, ColumnSpec] = {}
    for group in specs:
        for spec in group:
            known = merged.get(spec.name)
            if known is None:
                merged[spec.name] = spec
            elif spec.type == "string" and known.max_length is not None:
                longer = None if spec.max_length is None else max(spec.max_length, known.max_length)
                merged[spec.name] = ColumnSpec(spec.name, "string", longer)
    return tuple(merged.values())
