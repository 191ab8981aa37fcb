"""Plan the match: normalize every record once, train the probabilistic model, split work into partitions.

Streams each source table in batches, so memory stays bounded however large the input:

1. *features*: every record gets a global ``RecordId`` and its normalized features, written once to
   ``match/features.parquet`` (records + features);
2. *training* (probabilistic mode): u from random pairs, m by EM per blocking rule, term frequencies
   — all on samples or DuckDB aggregates of the features file;
3. *block rows*: for every rule a record takes part in, one row (rule, side, key hash, record, the
   features and term frequencies its scoring needs) goes to partition ``key hash % partitions``. All
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
from shared.duck import lake_duckdb, parquet_source
from shared.lakeio import iter_parquet_batches, parquet_row_count, parquet_sink, write_json
from shared.match.normalize import build_alias_map, normalize_values
from shared.match.rules import (
    BOTH,
    LEFT,
    RIGHT,
    CompiledRule,
    Feature,
    compile_condition,
    compile_rules,
    features_by_table,
)
from shared.match.train import FsBlock, blocking_rules, comparison_specs, train_model
from shared.merge.survivorship import q
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake

PREFIX_CHARS = 3
SYSTEM_COLUMNS = {Col.SOURCE_KEY, Col.SOURCE_FILE, Col.SOURCE_LINE, Col.RECORD_MODIFIED}
RECORD_COLUMNS = [(Col.RECORD_ID, pa.int64()), ("TableIndex", pa.int16()), (Col.SOURCE_KEY, pa.string()),
                  (Col.RECORD_MODIFIED, pa.timestamp("us", tz="UTC")), ("Filled", pa.int16())]
BATCH_ROWS = 100_000


@dataclass(frozen=True)
class MatchSetup:
    """Everything scoring needs to know about the rules, derived from the config alone."""

    rules: list[CompiledRule]
    blocks: list[FsBlock]
    features: list[Feature]
    probabilistic_features: frozenset[Feature]
    tf_features: list[Feature]

    @classmethod
    def of(cls, config: UnificationConfig) -> MatchSetup:
        rules = compile_rules(config)
        settings = config.unification.probabilistic
        seen: dict[str, Feature] = {}
        for rule in rules:
            for condition in [*rule.conditions, *(c for e in rule.exceptions for c in e.conditions)]:
                seen.setdefault(condition.left.column, condition.left)
                seen.setdefault(condition.right.column, condition.right)
        probabilistic: set[Feature] = set()
        blocks: list[FsBlock] = []
        tf: list[Feature] = []
        if settings.enabled:
            blocks = blocking_rules(settings, len(rules))
            probabilistic |= {c.feature for c in comparison_specs(settings)}
            probabilistic |= {f for b in blocks for f in b.features}
            probabilistic |= {compile_condition(c).left for e in settings.cannot_link for c in e.conditions}
            tf = [c.feature for c in comparison_specs(settings) if c.term_frequency]
        for feature in probabilistic:
            seen.setdefault(feature.column, feature)
        return cls(rules, blocks, [seen[k] for k in sorted(seen)], frozenset(probabilistic), tf)

    def features_for(self, config: UnificationConfig, table: str) -> set[Feature]:
        return features_by_table(config, self.rules).get(table, set()) | set(self.probabilistic_features)


def block_schema(setup: MatchSetup) -> pa.Schema:
    return pa.schema([("rule", pa.int16()), ("side", pa.int8()), ("key", pa.uint64()), (Col.RECORD_ID, pa.int64()),
                      ("TableIndex", pa.int16()), *[(f.column, pa.string()) for f in setup.features],
                      *[(tf_column(f), pa.float64()) for f in setup.tf_features]])


def tf_column(feature: Feature) -> str:
    return f"tf_{feature.column}"


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
        if pa.types.is_date(raw.type):
            raw = pc.cast(raw, pa.string())
        elif pa.types.is_timestamp(raw.type):
            raw = pc.cast(pc.cast(raw, pa.date32()), pa.string())
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


def _rows(rule_id: int, side: int, parts: list[pa.Array], batch: pa.Table, needed: set[str],
          schema: pa.Schema) -> pa.Table | None:
    keys, present = key_hashes(parts)
    count = int(present.sum())
    if not count:
        return None
    mask = pa.array(present)
    columns: dict[str, pa.Array] = {
        "rule": pa.array(np.full(count, rule_id, np.int16)), "side": pa.array(np.full(count, side, np.int8)),
        "key": pa.array(keys[present]), Col.RECORD_ID: pc.filter(batch.column(Col.RECORD_ID), mask),
        "TableIndex": pc.filter(batch.column("TableIndex"), mask)}
    for field in list(schema)[5:]:
        if field.name in needed and field.name in batch.column_names:
            columns[field.name] = pc.filter(batch.column(field.name), mask)
        else:
            columns[field.name] = pa.nulls(count, field.type)
    return pa.table(columns, schema=schema)


def block_rows(setup: MatchSetup, table: str, batch: pa.Table, schema: pa.Schema) -> Iterator[pa.Table]:
    """The block rows a batch of one table contributes to every CI rule and probabilistic blocking rule."""
    for rule in setup.rules:
        sides = []
        if rule.dedupe and rule.table == table:
            sides.append(BOTH)
        elif not rule.dedupe:
            if table in rule.against:
                sides.append(LEFT)
            if rule.table == table:
                sides.append(RIGHT)
        for side in sides:
            conditions = rule.blocking
            parts = [batch.column((c.left if side == LEFT else c.right).column) for c in conditions]
            if rule.blocks_on_prefix:
                parts = [pc.utf8_slice_codeunits(parts[0], 0, PREFIX_CHARS)]
            needed = {f.column for f in rule.features(side if not rule.dedupe else BOTH)}
            rows = _rows(rule.id, side, [p.combine_chunks() if isinstance(p, pa.ChunkedArray) else p for p in parts],
                         batch, needed, schema)
            if rows is not None:
                yield rows
    everything = {f.column for f in setup.features} | {tf_column(f) for f in setup.tf_features}
    for block in setup.blocks:
        parts = [batch.column(f.column).combine_chunks() for f in block.features]
        rows = _rows(block.id, BOTH, parts, batch, everything, schema)
        if rows is not None:
            yield rows


def partition_count(lake: Lake, config: UnificationConfig, tables: dict[str, str], target_rows: int) -> int:
    setup = MatchSetup.of(config)
    counts = {name: parquet_row_count(lake, path) for name, path in tables.items()}
    estimate = 0
    for rule in setup.rules:
        estimate += counts.get(rule.table, 0)
        if not rule.dedupe:
            estimate += sum(counts.get(t, 0) for t in rule.against)
    estimate += len(setup.blocks) * sum(counts.get(s.name, 0) for s in config.sources)
    return max(1, math.ceil(estimate / max(target_rows, 1)))


def features_schema(setup: MatchSetup) -> pa.Schema:
    return pa.schema([*RECORD_COLUMNS, *[(f.column, pa.string()) for f in setup.features]])


def write_features(lake: Lake, config: UnificationConfig, setup: MatchSetup, paths: RunPaths,
                   tables: dict[str, str]) -> tuple[int, list[int]]:
    """Pass 1: records and their normalized features; returns (records, records per table)."""
    schema = features_schema(setup)
    next_id, sizes = 0, []
    with parquet_sink(lake, paths.match_features(), schema) as sink:
        for table_index, name in enumerate(config.unification.match_order):
            path = tables.get(name)
            start = next_id
            if path is not None:
                needed = setup.features_for(config, name)
                for batch in iter_parquet_batches(lake, path, batch_rows=BATCH_ROWS):
                    table = pa.Table.from_batches([batch])
                    ids = np.arange(next_id, next_id + table.num_rows, dtype=np.int64)
                    next_id += table.num_rows
                    filled = np.zeros(table.num_rows, np.int16)
                    for column in table.column_names:
                        if column not in SYSTEM_COLUMNS:
                            filled += np.asarray(table.column(column).is_valid(), dtype=np.int16)
                    values = compute_features(table, needed, config)
                    columns = {Col.RECORD_ID: ids, "TableIndex": np.full(len(ids), table_index, np.int16),
                               Col.SOURCE_KEY: table.column(Col.SOURCE_KEY),
                               Col.RECORD_MODIFIED: table.column(Col.RECORD_MODIFIED), "Filled": filled}
                    columns.update({f.column: values.get(f.column, pa.nulls(len(ids), pa.string()))
                                    for f in setup.features})
                    sink.write_table(pa.table(columns, schema=schema))
            sizes.append(next_id - start)
    return next_id, sizes


def plan_partitions(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str],
                    target_rows: int) -> tuple[int, list[int]]:
    """Write features, train (probabilistic mode) and write the partition files; (records, rows per partition)."""
    paths = RunPaths(run_id)
    setup = MatchSetup.of(config)
    records, sizes = write_features(lake, config, setup, paths, tables)
    parts = partition_count(lake, config, tables, target_rows)
    schema = block_schema(setup)
    counts = [0] * parts
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM {parquet_source(lake, [paths.match_features()])}")
        settings = config.unification.probabilistic
        if settings.enabled and records:
            model = train_model(con, settings, setup.blocks, records, sizes)
            write_json(lake, paths.match_model(), model.to_dict())
        source = "features"
        for feature in setup.tf_features:  # term frequency of every value, joined to its records
            column = q(feature.column)
            con.execute(f"CREATE TEMP TABLE {q('tf_' + feature.column)} AS SELECT {column} AS v, "
                        f"count(*)::DOUBLE / sum(count(*)) OVER () AS f FROM features WHERE {column} IS NOT NULL "
                        f"GROUP BY {column}")
            source = (f"(SELECT s.*, t.f AS {q(tf_column(feature))} FROM {source} s LEFT JOIN "
                      f"{q('tf_' + feature.column)} t ON s.{column} = t.v)")
        reader = con.sql(f"SELECT * FROM {source} ORDER BY {q(Col.RECORD_ID)}").to_arrow_reader(BATCH_ROWS)
        with ExitStack() as stack:
            writers = [stack.enter_context(parquet_sink(lake, paths.match_partition(i), schema)) for i in range(parts)]
            order = config.unification.match_order
            for batch in reader:
                table = pa.Table.from_batches([batch])
                table_index = np.asarray(table.column("TableIndex"))
                for index in np.unique(table_index):
                    subset = table.filter(pa.array(table_index == index))
                    for rows in block_rows(setup, order[int(index)], subset, schema):
                        target = (np.asarray(rows.column("key")) % np.uint64(parts)).astype(np.int64)
                        for part in np.unique(target):
                            chunk = rows.filter(pa.array(target == part))
                            writers[part].write_table(chunk)
                            counts[part] += chunk.num_rows
    return records, counts
