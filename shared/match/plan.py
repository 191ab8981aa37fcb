"""Plan the match: normalize every record once, derive blocking keys, and split the work into partitions.

Streams each source table in batches, so memory stays bounded however large the input: records get a
global ``RecordId``; for every rule a record takes part in, one *block row* (rule, side, key hash,
record, the features its fuzzy conditions need) goes to the partition ``key hash % partitions``. All
rows sharing a key land in the same partition, so each ``match_partition`` activity is independent.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shared.config.model import UnificationConfig
from shared.lakeio import iter_parquet_batches, parquet_row_count, parquet_sink
from shared.match.normalize import build_alias_map, normalize_values
from shared.match.rules import BOTH, LEFT, RIGHT, CompiledRule, Feature, compile_rules, features_by_table
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake

PREFIX_CHARS = 3
RECORDS_SCHEMA = pa.schema([(Col.RECORD_ID, pa.int64()), ("TableIndex", pa.int16()),
                            (Col.SOURCE_KEY, pa.string()), (Col.RECORD_MODIFIED, pa.timestamp("us", tz="UTC")),
                            ("Filled", pa.int16())])
SYSTEM_COLUMNS = {Col.SOURCE_KEY, Col.SOURCE_FILE, Col.SOURCE_LINE, Col.RECORD_MODIFIED}


@dataclass(frozen=True)
class Partitioning:
    count: int
    rows_estimate: int


def block_schema(features: list[Feature]) -> pa.Schema:
    return pa.schema([("rule", pa.int16()), ("side", pa.int8()), ("key", pa.uint64()), (Col.RECORD_ID, pa.int64()),
                      *[(f.column, pa.string()) for f in features]])


def all_features(rules: list[CompiledRule]) -> list[Feature]:
    seen: dict[str, Feature] = {}
    for rule in rules:
        for side in (LEFT, RIGHT):
            for feature in sorted(rule.features(side), key=lambda f: f.column):
                seen.setdefault(feature.column, feature)
        for condition in rule.conditions:
            seen.setdefault(condition.left.column, condition.left)
            seen.setdefault(condition.right.column, condition.right)
    return [seen[k] for k in sorted(seen)]


def compute_features(batch: pa.Table, features: set[Feature], config: UnificationConfig) -> dict[str, pa.Array]:
    """Normalized values of each feature for a batch of one table (null where the table lacks the field)."""
    custom = config.unification.custom
    bypass = frozenset(v.strip().lower() for v in custom.bypass)
    out = {}
    for feature in features:
        if feature.field not in batch.column_names:
            out[feature.column] = pa.nulls(batch.num_rows, pa.string())
            continue
        raw = batch.column(feature.field).combine_chunks()
        if pa.types.is_date(raw.type) or pa.types.is_timestamp(raw.type):
            raw = pc.cast(pc.cast(raw, pa.date32()), pa.string()) if pa.types.is_date(raw.type) else pc.cast(raw, pa.string())
        aliases = None
        if "alias" in feature.steps:
            steps = [s for s in feature.steps if s not in ("alias", "bypass")]
            aliases = build_alias_map(custom.aliases, steps)
        out[feature.column] = normalize_values(raw, feature.steps, aliases, bypass,
                                               config.unification.default_phone_country)
    return out


def key_hashes(values: list[pa.Array]) -> tuple[np.ndarray, np.ndarray]:
    """64-bit hashes of the joined key parts, and which rows have every part present."""
    present = np.ones(len(values[0]), bool)
    for v in values:
        present &= np.asarray(pc.is_valid(v))
    joined = values[0] if len(values) == 1 else pc.binary_join_element_wise(*values, "\x1f")
    text = pd.Series(joined.to_numpy(zero_copy_only=False), dtype=object).fillna("")
    return pd.util.hash_array(text.to_numpy(), categorize=True).astype(np.uint64), present


def _side_rows(rule: CompiledRule, side: int, table: str, record_ids: np.ndarray, features: dict[str, pa.Array],
               schema: pa.Schema) -> pa.Table | None:
    conditions = rule.blocking
    parts = [features[(c.left if side == LEFT else c.right).column] for c in conditions]
    if rule.blocks_on_prefix:
        parts = [pc.utf8_slice_codeunits(parts[0], 0, PREFIX_CHARS)]
    keys, present = key_hashes(parts)
    if not present.any():
        return None
    mask = pa.array(present)
    needed = {f.column for f in rule.features(side if not rule.dedupe else BOTH)}
    columns: dict[str, pa.Array] = {
        "rule": pa.array(np.full(int(present.sum()), rule.id, np.int16)),
        "side": pa.array(np.full(int(present.sum()), side, np.int8)),
        "key": pa.array(keys[present]),
        Col.RECORD_ID: pa.array(record_ids[present]),
    }
    for name in schema.names[4:]:
        columns[name] = pc.filter(features[name], mask) if name in needed and name in features else pa.nulls(
            int(present.sum()), pa.string())
    return pa.table(columns, schema=schema)


def block_rows(rules: list[CompiledRule], table: str, record_ids: np.ndarray, features: dict[str, pa.Array],
               schema: pa.Schema) -> Iterator[pa.Table]:
    """The block rows a batch of ``table`` contributes to every rule it takes part in."""
    for rule in rules:
        sides = []
        if rule.dedupe and rule.table == table:
            sides.append(BOTH)
        elif not rule.dedupe:
            if table in rule.against:
                sides.append(LEFT)
            if rule.table == table:
                sides.append(RIGHT)
        for side in sides:
            rows = _side_rows(rule, side, table, record_ids, features, schema)
            if rows is not None:
                yield rows


def partitioning(lake: Lake, config: UnificationConfig, tables: dict[str, str], target_rows: int) -> Partitioning:
    rules = compile_rules(config)
    counts = {name: parquet_row_count(lake, path) for name, path in tables.items()}
    estimate = 0
    for rule in rules:
        estimate += counts.get(rule.table, 0)
        if not rule.dedupe:
            estimate += sum(counts.get(t, 0) for t in rule.against)
    return Partitioning(max(1, math.ceil(estimate / max(target_rows, 1))), estimate)


def plan_partitions(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str],
                    target_rows: int) -> tuple[int, list[int]]:
    """Write the records file and the partition files; returns (records, rows per partition)."""
    paths = RunPaths(run_id)
    rules = compile_rules(config)
    needed = features_by_table(config, rules)
    features = all_features(rules)
    schema = block_schema(features)
    parts = partitioning(lake, config, tables, target_rows).count
    counts = [0] * parts
    next_id = 0
    with ExitStack() as stack:
        records = stack.enter_context(parquet_sink(lake, paths.match_records(), RECORDS_SCHEMA))
        writers = [stack.enter_context(parquet_sink(lake, paths.match_partition(i), schema)) for i in range(parts)]
        for table_index, name in enumerate(config.unification.match_order):
            path = tables.get(name)
            if path is None:
                continue
            for batch in iter_parquet_batches(lake, path):
                table = pa.Table.from_batches([batch])
                ids = np.arange(next_id, next_id + table.num_rows, dtype=np.int64)
                next_id += table.num_rows
                filled = np.zeros(table.num_rows, np.int16)
                for column in table.column_names:
                    if column not in SYSTEM_COLUMNS:
                        filled += np.asarray(table.column(column).is_valid(), dtype=np.int16)
                records.write_table(pa.table({
                    Col.RECORD_ID: ids, "TableIndex": np.full(len(ids), table_index, np.int16),
                    Col.SOURCE_KEY: table.column(Col.SOURCE_KEY),
                    Col.RECORD_MODIFIED: table.column(Col.RECORD_MODIFIED), "Filled": filled},
                    schema=RECORDS_SCHEMA))
                feature_values = compute_features(table, needed[name], config)
                for rows in block_rows(rules, name, ids, feature_values, schema):
                    target = (np.asarray(rows.column("key")) % np.uint64(parts)).astype(np.int64)
                    for index in np.unique(target):
                        chunk = rows.filter(pa.array(target == index))
                        writers[index].write_table(chunk)
                        counts[index] += chunk.num_rows
    return next_id, counts

