"""Plan the match: normalize every record once, train the probabilistic model, split work into partitions.

Streams each source table in batches, so memory stays bounded however large the input:

0. *layout* (``plan_match``): records per table from the snapshots' row counts; record ids run through
   the tables in match order, cut into *slices* of ``slice_records`` records; the partition count;
1. *features*, one ``write_features`` activity per slice (a fan-out: at 10.4 M records planning took
   84.6 s as one activity, measured alone; a slice of 2.5 M records takes 11–12 s): a slice reads its rows
   of the tables and writes them with their normalized features, in record-id order, into its file
   (``match/features/``);
2. the *shared keys* (``write_block_keys``): every blocking key that two block rows or more hold, over all
   slices, to ``match/keys.parquet``, and (probabilistic mode) each term frequency to ``match/tf/`` for the
   slices; beside it and then beside the block rows, *training* (``train_match``): u from random pairs,
   m by EM per blocking rule — on samples or DuckDB aggregates of the features files;
3. *block rows*, one ``write_block_rows`` activity per slice (a fan-out: the step that grew fastest with
   the input, 165 of planning's 221 s at 10.4 M records, measured alone, when it was one activity): for every blocking
   key a record takes part in — a group of rules sharing key columns (``rule_groups``), a rule of its own,
   or a probabilistic blocking rule — one row (rule or group id, side, key hash, record, the features and
   term frequencies its scoring needs) goes to partition ``key hash % partitions``, if another row shares
   its key (29 % of the rows at 1 M customers did not: they pair with nothing). All rows sharing a key
   land in the same partition (one file per slice), so each ``match_partition`` activity is independent.
   Rule groups and blocking rules whose keys share a column write one row per record instead, keyed by
   that column, unless one of its values is too common (``RowFamily``).
"""

from __future__ import annotations

import functools
import glob
import math
import os
import shutil
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from shared.config.model import UnificationConfig
from shared.duck import PARQUET, copy_to_lake, empty_select, lake_duckdb, parquet_source
from shared.lakeio import (
    iter_parquet_batches,
    parquet_files,
    parquet_row_count,
    parquet_sink,
    read_json,
    read_parquet_many,
    write_json,
    write_parquet,
)
from shared.match.normalize import build_alias_map, normalize_values
from shared.match.rules import (
    BOTH,
    LEFT,
    RIGHT,
    CompiledRule,
    Feature,
    RuleGroup,
    compile_condition,
    compile_rules,
    features_by_table,
    rule_groups,
    rule_tables,
)
from shared.match.train import FsBlock, blocking_rules, comparison_specs, train_model
from shared.merge.survivorship import q
from shared.names import Col
from shared.paths import RunPaths
from shared.payloads import MatchPlan, RecordSlice, SliceResult
from shared.ports import Lake
from shared.scratch import scratch
from shared.sql.identifiers import quote_literal

PREFIX_CHARS = 3
SYSTEM_COLUMNS = {Col.SOURCE_KEY, Col.SOURCE_FILE, Col.SOURCE_LINE, Col.RECORD_MODIFIED}
RECORD_COLUMNS = [(Col.RECORD_ID, pa.int64()), ("TableIndex", pa.int16()), (Col.SOURCE_KEY, pa.string()),
                  (Col.RECORD_MODIFIED, pa.timestamp("us", tz="UTC")), ("Filled", pa.int16())]
T = TypeVar("T")
R = TypeVar("R")
BATCH_ROWS = 100_000
FEATURE_THREADS = 2  # batches normalized at once (each holds BATCH_ROWS rows)
BLOCK_ROW_GROUP = 32_768  # rows per row group of a partition file, at most
# rows a partition buffers before the partitioned COPY flushes them (row groups come out at about twice
# that, one flush per thread): at 1 M customers 8,192 wrote the 16 M block rows in 17.8 s and 1.19 GB,
# 32,768 in 22.6 s and 1.22 GB (three runs each); reading a partition back costs the same
BLOCK_FLUSH_ROWS = 8_192
MAX_OPEN_PARTITIONS = 900  # below the usual limit of 1024 open files
# shared keys a slice's block rows may filter on: each slice holds them all in hash tables (the filter's and a
# row family's joins) beside the partitioned COPY's buffers, under DuckDB's 1 GB, and fails at once when they
# do not fit. Bracketed by lowering DuckDB's limit for one slice at a time: the 1 M demo's 3.5 M keys need
# 381-477 MiB, the 2 M demo's 6.9 M 763-858 MiB (both slices), and the 3 M demo's 10.1 M more than the
# 954 MiB of 1 GB (all three slices): about 110 MiB a million keys, so 1 GB holds about 8 M, and 6 M leaves
# about 200 MiB to spare (7 M, the limit before, about 100). Past it the slices write every row (at 5 M
# 14.3 M rows for the largest slice instead of 9.8 M, 1,178 MB): rows alone in their block pair with
# nothing in partitions. Where it fits the filter saves little: the 2 M demo's run, 8.8 M rows in its
# larger slice instead of 13.1 M, took 110.2 s and 195.9 CPU seconds over its steps with it, 110.8 s and
# 198.0 without (one run each)
SHARED_KEYS_MAX = 6_000_000
# records one value of a row family's column may hold for the family to share rows: all of them land in one
# partition (a junk postal code held by a tenth of the records would make one partition of them)
FAMILY_VALUE_RECORDS = 25_000
FIRST_FAMILY_ID = -1000  # family ids count down from here, apart from rule group ids (-1, -2, ...)


@dataclass(frozen=True)
class RowFamily:
    """Rule groups and blocking rules of every table whose key columns share one column (the demo's postal
    code: the rule groups on birth date + postal code and postal code + last name, the blocking rules on
    postal code + first name and postal code + street). Their block rows can be one row per record instead
    of one per member: partitioned by the shared column, every member's key lands in one partition, and the
    row carries each member's key in a column of its own (``member_key``; null where the record's key is
    missing or held by no other record). At 1 M customers the demo's two families (postal code; last name:
    the blocking rules on last name + birth date and first name + last name + city) write 6.1 M block rows
    instead of 9.6 M. Used where no value of the column is too common (``FAMILY_VALUE_RECORDS``)."""

    id: int
    column: str
    members: tuple[int, ...]


def member_key(member: int) -> str:
    """The block row column holding a family member's key (rule group ids are negative)."""
    return f"key_{'g' if member < 0 else 'b'}{abs(member)}"


def row_families(keys: Sequence[tuple[int, tuple[str, ...]]]) -> list[RowFamily]:
    """Families of the (id, key columns) given: repeatedly, the column most of the rest share (two at
    least; ties to the column name), with every one keyed on it."""
    families: list[RowFamily] = []
    rest = list(keys)
    while True:
        counts = Counter(column for _, columns in rest for column in set(columns))
        shared = [c for c, n in counts.items() if n > 1]
        if not shared:
            return families
        column = max(shared, key=lambda c: (counts[c], c))
        families.append(RowFamily(FIRST_FAMILY_ID - len(families), column,
                                  tuple(i for i, columns in rest if column in columns)))
        rest = [(i, columns) for i, columns in rest if column not in columns]


@dataclass(frozen=True)
class MatchSetup:
    """Everything scoring needs to know about the rules, derived from the config alone."""

    rules: list[CompiledRule]
    groups: list[RuleGroup]  # rules sharing block rows
    alone: list[CompiledRule]  # rules with block rows of their own, per side
    blocks: list[FsBlock]
    training_blocks: list[FsBlock]  # the EM training rules (``training_blocking``, default: ``blocks``)
    features: list[Feature]
    probabilistic_features: frozenset[Feature]
    tf_features: list[Feature]
    # probabilistic blocking rule id → the rule group whose block rows it reads: a group of every table
    # blocking on the same columns already holds exactly its rows (the demo's Email, Phone and PostalCode + LastName)
    block_rows: dict[int, int] = field(default_factory=dict)
    families: list[RowFamily] = field(default_factory=list)

    @classmethod
    def of(cls, config: UnificationConfig) -> MatchSetup:
        rules = compile_rules(config)
        groups, alone = rule_groups(rules, list(config.unification.match_order))
        settings = config.unification.probabilistic
        seen: dict[str, Feature] = {}
        for rule in rules:
            for condition in [*rule.conditions, *(c for e in rule.exceptions for c in e.conditions)]:
                seen.setdefault(condition.left.column, condition.left)
                seen.setdefault(condition.right.column, condition.right)
        probabilistic: set[Feature] = set()
        blocks: list[FsBlock] = []
        training: list[FsBlock] = []
        tf: list[Feature] = []
        if settings.enabled:
            blocks = blocking_rules(settings, len(rules))
            training = blocking_rules(settings, len(rules), training=True)
            probabilistic |= {c.feature for c in comparison_specs(settings)}
            probabilistic |= {f for b in [*blocks, *training] for f in b.features}
            probabilistic |= {compile_condition(c).left for e in settings.cannot_link for c in e.conditions}
            tf = [c.feature for c in comparison_specs(settings) if c.term_frequency]
        for feature in probabilistic:
            seen.setdefault(feature.column, feature)
        everywhere = {g.key_columns: g.id for g in groups
                      if not g.prefix and g.tables == tuple(range(len(config.unification.match_order)))}
        shared = {b.id: everywhere[k] for b in blocks if (k := tuple(f.column for f in b.features)) in everywhere}
        keyed = [(i, k) for k, i in everywhere.items()]
        keyed += [(b.id, tuple(f.column for f in b.features)) for b in blocks if b.id not in shared]
        return cls(rules, groups, alone, blocks, training, [seen[k] for k in sorted(seen)], frozenset(probabilistic),
                   tf, shared, row_families(keyed))

    @property
    def family_of(self) -> dict[int, int]:
        """Member (rule group or blocking rule id) → its row family's id."""
        return {member: family.id for family in self.families for member in family.members}

    @property
    def probabilistic_columns(self) -> set[str]:
        """What probabilistic scoring reads: comparisons, blocking keys (earlier blocks' coverage),
        cannot-links and term frequencies. Block rows carry them; partitions take them."""
        return {f.column for f in self.probabilistic_features} | {tf_column(f) for f in self.tf_features}

    def features_for(self, config: UnificationConfig, table: str) -> set[Feature]:
        return features_by_table(config, self.rules).get(table, set()) | set(self.probabilistic_features)


def block_schema(setup: MatchSetup) -> pa.Schema:
    return pa.schema([("rule", pa.int16()), ("side", pa.int8()), ("key", pa.uint64()), (Col.RECORD_ID, pa.int64()),
                      ("TableIndex", pa.int16()), *[(f.column, pa.string()) for f in setup.features],
                      *[(tf_column(f), pa.float64()) for f in setup.tf_features],
                      *[(member_key(m), pa.uint64()) for family in setup.families for m in family.members]])


def tf_column(feature: Feature) -> str:
    return f"tf_{feature.column}"


def compute_features(batch: pa.Table, features: set[Feature], config: UnificationConfig) -> dict[str, pa.Array]:
    """Normalized values of each feature for a batch of one table (null where the table lacks the field).
    Features of one field share the steps they start with (``normalize_values``' memo)."""
    custom = config.unification.custom
    bypass = frozenset(v.strip().lower() for v in custom.bypass)
    out = {}
    memos: dict[str, dict[tuple[str, ...], pa.Array]] = {}
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
                                               config.unification.default_phone_country,
                                               memos.setdefault(feature.field, {}))
    return out


def _sides(rule: CompiledRule, order: list[str]) -> list[tuple[int, list[int]]]:
    """(side, table indexes on that side) for one CI rule."""
    left, right = rule_tables(rule, order)
    return [(BOTH, left)] if rule.dedupe else [(LEFT, left), (RIGHT, right)]


@dataclass(frozen=True)
class _BlockSelect:
    """One rule group, rule side or probabilistic blocking rule's block rows: the records of ``tables``
    whose key (``key_columns``, or the first one's prefix) is present, with the ``needed`` features."""

    rule_id: int
    side: int
    tables: tuple[int, ...]
    key_columns: tuple[str, ...]
    prefix: bool
    needed: frozenset[str]

    def sql(self, source: str, features: Sequence[str] | None = None) -> str:
        """The rows as SQL: rule, side, 64-bit key hash; with ``features``, then the record's id and table and
        those feature columns (null where not needed)."""
        values = "" if features is None else ", " + _values(self.needed, features)
        return (f"SELECT {self.rule_id}::SMALLINT AS rule, {self.side}::TINYINT AS side, "
                f"{self._hash()} AS key{values} FROM {source} "
                f"WHERE TableIndex IN ({', '.join(str(t) for t in self.tables)}) AND {self._present()}")

    def key_sql(self) -> str:
        """The key hash where every part of the key is present, else null."""
        return f"CASE WHEN {self._present()} THEN {self._hash()} END"

    def _parts(self) -> list[str]:
        return ([f"substr({q(self.key_columns[0])}, 1, {PREFIX_CHARS})"] if self.prefix
                else [q(c) for c in self.key_columns])

    def _present(self) -> str:
        return " AND ".join(f"{p} IS NOT NULL" for p in self._parts())

    def _hash(self) -> str:
        return f"hash({', '.join(self._parts())})"


def _values(needed: frozenset[str], features: Sequence[str]) -> str:
    """A block row's record id, table and ``features`` (null where not ``needed``), as SQL."""
    return ", ".join([q(Col.RECORD_ID), "TableIndex", *(
        q(c) if c in needed else f"NULL::{'DOUBLE' if c.startswith('tf_') else 'VARCHAR'} AS {q(c)}"
        for c in features)])


def _family_sql(family: RowFamily, members: Sequence[_BlockSelect], source: str, features: Sequence[str],
                keys: Sequence[str], shared: str | None) -> str:
    """A row family's block rows: one per record holding the family's column and a member key that another
    record holds too (with ``shared``; else any member key), keyed by the column, each member's key in its
    ``member_key`` column (null for the other families' members)."""
    joins, held = [], {}
    for index, member in enumerate(members):
        if shared is None:
            held[member_key(member.rule_id)] = member.key_sql()
        else:
            joins.append(f"LEFT JOIN {shared} s{index} ON s{index}.rule = {member.rule_id} "
                         f"AND s{index}.key = {member.key_sql()}")
            held[member_key(member.rule_id)] = f"s{index}.key"
    needed = frozenset().union(*(m.needed for m in members))
    key_values = ", ".join(f"{held[k]} AS {k}" if k in held else f"NULL::UBIGINT AS {k}" for k in keys)
    return (f"SELECT {family.id}::SMALLINT AS rule, {BOTH}::TINYINT AS side, hash(f.{q(family.column)}) AS key, "
            f"{_values(needed, features)}, {key_values} FROM {source} f {' '.join(joins)} "
            f"WHERE f.{q(family.column)} IS NOT NULL AND ({' OR '.join(f'{v} IS NOT NULL' for v in held.values())})")


def _block_selects(setup: MatchSetup, order: list[str]) -> list[_BlockSelect]:
    """For each rule group, rule (and side) or blocking rule a record can take part in, its block rows."""
    probabilistic = frozenset(setup.probabilistic_columns)
    selects = []
    for group in setup.groups:
        needed = frozenset(f.column for rule in group.rules for f in rule.features(BOTH))
        if group.id in setup.block_rows.values():
            needed |= probabilistic
        selects.append(_BlockSelect(group.id, BOTH, tuple(group.tables), tuple(group.key_columns), group.prefix,
                                    needed))
    for rule in setup.alone:
        for side, tables in _sides(rule, order):
            if not tables:
                continue
            columns = tuple((c.left if side == LEFT else c.right).column for c in rule.blocking)
            needed = frozenset(f.column for f in rule.features(side if not rule.dedupe else BOTH))
            selects.append(_BlockSelect(rule.id, side, tuple(tables), columns, rule.blocks_on_prefix, needed))
    for block in setup.blocks:
        if block.id in setup.block_rows:
            continue
        selects.append(_BlockSelect(block.id, BOTH, tuple(range(len(order))), tuple(f.column for f in block.features),
                                    False, probabilistic))
    return selects


def block_rows_sql(setup: MatchSetup, order: list[str], source: str, parts: int, shared: str | None = None,
                   families: Sequence[RowFamily] = ()) -> str:
    """Every block row as one SQL query: for each rule group, rule (and side) or blocking rule a record takes
    part in, its id, side, 64-bit key hash, ids and the features scoring needs (others null), with
    ``part = key % parts``.
    All rows sharing a key land in the same partition, so partitions are scored independently. With
    ``shared`` (SQL for the keys that two block rows or more hold, ``block_keys_sql``), only rows whose key
    another row holds too: a row alone in its block pairs with nothing. The ``families`` given write a row
    per record instead of one per member (``RowFamily``)."""
    keys = [member_key(m) for family in setup.families for m in family.members]
    features = [f.name for f in list(block_schema(setup))[5:] if f.name not in keys]
    selects = _block_selects(setup, order)
    in_family = {m for family in families for m in family.members}
    nulls = "".join(f", NULL::UBIGINT AS {k}" for k in keys)
    own = " UNION ALL ".join(s.sql(source, features) for s in selects if s.rule_id not in in_family)
    queries = [_family_sql(family, [s for s in selects if s.rule_id in family.members], source, features, keys,
                           shared) for family in families]
    if own:
        semi = "" if shared is None else f" SEMI JOIN {shared} s ON b.rule = s.rule AND b.key = s.key"
        queries.insert(0, f"SELECT b.*{nulls} FROM ({own}) b{semi}")
    if not queries:  # no rule and no blocking rule: no block rows, in the block rows' schema
        queries = [empty_select(block_schema(setup))]
    return f"SELECT *, (key % {parts})::INTEGER AS part FROM ({' UNION ALL '.join(queries)})"


def block_keys_sql(setup: MatchSetup, order: list[str], source: str) -> str:
    """The (rule, key) pairs that two block rows or more hold, over every record of ``source``: the rows
    worth writing. A key both sides of a rule must share counts rows of either side, so the set is a
    superset of the keys that make pairs, never a subset."""
    union = " UNION ALL ".join(s.sql(source) for s in _block_selects(setup, order))
    if not union:  # no rule and no blocking rule: nothing is blocked (every record its own customer)
        return empty_select(pa.schema([("rule", pa.int16()), ("key", pa.uint64())]))
    return f"SELECT rule, key FROM ({union}) GROUP BY rule, key HAVING count(*) > 1"


def partition_count(config: UnificationConfig, sizes: Sequence[int], target_rows: int) -> int:
    """Partitions for about ``target_rows`` block rows each, estimated from the records per table."""
    setup = MatchSetup.of(config)
    counts = dict(zip(config.unification.match_order, sizes, strict=True))
    estimate = sum(sizes[t] for group in setup.groups for t in group.tables)
    for rule in setup.alone:
        estimate += counts.get(rule.table, 0)
        if not rule.dedupe:
            estimate += sum(counts.get(t, 0) for t in rule.against)
    estimate += (len(setup.blocks) - len(setup.block_rows)) * sum(counts.get(s.name, 0) for s in config.sources)
    return max(1, math.ceil(estimate / max(target_rows, 1)))


def features_schema(setup: MatchSetup) -> pa.Schema:
    return pa.schema([*RECORD_COLUMNS, *[(f.column, pa.string()) for f in setup.features]])


def _featurize(table: pa.Table, needed: set[Feature], config: UnificationConfig) -> tuple[pa.Table, np.ndarray,
                                                                                      dict[str, pa.Array]]:
    """One batch: how many fields each row fills, and its normalized features."""
    filled = np.zeros(table.num_rows, np.int16)
    for column in table.column_names:
        if column not in SYSTEM_COLUMNS:
            filled += np.asarray(table.column(column).is_valid(), dtype=np.int16)
    return table, filled, compute_features(table, needed, config)


def _in_order(pool: ThreadPoolExecutor, items: Iterable[T], work: Callable[[T], R]) -> Iterator[R]:
    """``work`` over ``items`` on the pool, results in input order, at most one item per thread ahead."""
    pending: deque[Future[R]] = deque()
    for item in items:
        pending.append(pool.submit(work, item))
        if len(pending) > FEATURE_THREADS:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def slice_count(records: int, slice_records: int) -> int:
    return max(1, math.ceil(records / max(slice_records, 1)))


def slice_ranges(records: int, slice_records: int) -> list[tuple[int, int]]:
    """(first record id, records) of each slice; one empty slice when there are no records, so that
    readers always find a features file."""
    size = max(slice_records, 1)
    return [(first, min(size, records - first)) for first in
            (index * size for index in range(slice_count(records, slice_records)))]


def table_records(lake: Lake, config: UnificationConfig, tables: dict[str, str]) -> list[int]:
    """Records per table in match order (0 for a table without a snapshot): record ids run through the
    tables in that order, so a slice knows which rows of which tables it holds from these counts alone."""
    return [parquet_row_count(lake, tables[name]) if name in tables else 0
            for name in config.unification.match_order]


def feature_files(lake: Lake, run_id: str) -> list[str]:
    """The run's features files (one per slice), in record-id order."""
    return parquet_files(lake, RunPaths(run_id).match_features_folder)


def write_slice_features(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str],
                         sizes: Sequence[int], slice_index: int, first: int, count: int) -> int:
    """One slice: records ``first`` to ``first + count`` (ids run through the tables in match order, each
    table in its snapshot's row order) with their normalized features, into the slice's features file;
    returns the records written.

    Batches are normalized on ``FEATURE_THREADS`` threads (the Arrow kernels run without the GIL) and
    written in their input order, so record ids do not depend on which thread finished first."""
    setup, paths = MatchSetup.of(config), RunPaths(run_id)
    schema = features_schema(setup)
    written, start = 0, 0
    with parquet_sink(lake, paths.match_features(slice_index), schema) as writer, \
            ThreadPoolExecutor(FEATURE_THREADS, thread_name_prefix="features") as pool:
        for table_index, (name, size) in enumerate(zip(config.unification.match_order, sizes, strict=True)):
            low, high = max(first, start), min(first + count, start + size)
            if high > low:
                batches = (pa.Table.from_batches([b]) for b in iter_parquet_batches(
                    lake, tables[name], batch_rows=BATCH_ROWS, rows=(low - start, high - start)))
                featurize = functools.partial(_featurize, needed=setup.features_for(config, name), config=config)
                for table, filled, values in _in_order(pool, batches, featurize):
                    ids = np.arange(first + written, first + written + table.num_rows, dtype=np.int64)
                    columns = {Col.RECORD_ID: ids, "TableIndex": np.full(len(ids), table_index, np.int16),
                               Col.SOURCE_KEY: table.column(Col.SOURCE_KEY),
                               Col.RECORD_MODIFIED: table.column(Col.RECORD_MODIFIED), "Filled": filled}
                    columns.update({f.column: values.get(f.column, pa.nulls(len(ids), pa.string()))
                                    for f in setup.features})
                    writer.write_table(pa.table(columns, schema=schema))
                    written += table.num_rows
            start += size
    if written != count:
        raise RuntimeError(f"features slice {slice_index}: {written} records written, {count} planned "
                           "(a snapshot changed after planning?)")
    return written


def write_features(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str],
                   layout: MatchLayout) -> None:
    """Every slice's features in turn, as the ``write_features`` fan-out writes them."""
    for index, (first, count) in enumerate(layout.slices):
        write_slice_features(lake, config, run_id, tables, layout.sizes, index, first, count)


def _write_partitions(con: duckdb.DuckDBPyConnection, lake: Lake, paths: RunPaths, slice_index: int, query: str,
                      parts: int) -> list[int]:
    """COPY one slice's block rows into one folder per partition (DuckDB, out of core), then into the lake
    (a file per partition that has rows); returns the rows per partition."""
    counts = [0] * parts
    # one open file per partition, flushed in small batches: DuckDB's defaults (100 open files, 512 k
    # buffered rows) made the 1 GB-limited COPY at 1 M customers spill and take 66 s instead of 39 s
    con.execute(f"SET partitioned_write_max_open_files = {min(max(parts, 100), MAX_OPEN_PARTITIONS)}")
    con.execute(f"SET partitioned_write_flush_threshold = {BLOCK_FLUSH_ROWS}")
    with scratch("blocks") as work:
        folder = os.path.join(work, "blocks")
        # Parquet 2 pages: strings delta-encoded rather than dictionaries that high-cardinality columns
        # (e-mail, phone, street) outgrow; at 1 M customers the COPY alone took 21.5 -> 19.8 s (three runs
        # each), the slice 27.5 -> 24.1 s, its files 667 -> 659 MB. Only match partitions read them (Arrow).
        # Zstandard at level 1 (``PARQUET``): at 1 M customers the COPY took 41.3 -> 33.3 CPU seconds
        # (21.2 -> 16.9 s) for files of 484 -> 497 MB.
        con.execute(f"COPY ({query}) TO {quote_literal(folder, 'duckdb')} ({PARQUET}, PARQUET_VERSION V2, "
                    f"PARTITION_BY (part), ROW_GROUP_SIZE {BLOCK_ROW_GROUP}, FILENAME_PATTERN 'rows-{{i}}')")
        for index in range(parts):
            files = sorted(glob.glob(os.path.join(folder, f"part={index}", "*.parquet")))
            if len(files) == 1:  # the usual case: hand the file over as written
                counts[index] = pq.ParquetFile(files[0]).metadata.num_rows
                with open(files[0], "rb") as handle, lake.open_write(paths.match_partition(index, slice_index)) as sink:
                    shutil.copyfileobj(handle, sink, 8 << 20)
            elif files:
                table = pa.concat_tables([pq.read_table(f) for f in files])
                counts[index] = table.num_rows
                write_parquet(lake, paths.match_partition(index, slice_index), table)
    return counts


@dataclass(frozen=True)
class MatchLayout:
    """What planning decided, from the snapshots' row counts alone: records (per table, in match order),
    partitions, and the slices of records whose features and block rows one activity each writes."""

    sizes: tuple[int, ...]
    partitions: int
    slices: tuple[tuple[int, int], ...]  # (first record id, records)

    @property
    def records(self) -> int:
        return sum(self.sizes)

    def match_plan(self, run_id: str) -> MatchPlan:
        return MatchPlan(run_id, self.records, self.partitions,
                         tuple(RecordSlice(run_id, i, first, count) for i, (first, count) in enumerate(self.slices)))


def plan_match(lake: Lake, config: UnificationConfig, tables: dict[str, str], target_rows: int,
               slice_records: int) -> MatchLayout:
    sizes = table_records(lake, config, tables)
    return MatchLayout(tuple(sizes), partition_count(config, sizes, target_rows),
                       tuple(slice_ranges(sum(sizes), slice_records)))


def train_match(lake: Lake, config: UnificationConfig, run_id: str, sizes: Sequence[int]) -> None:
    """Probabilistic mode: train the model on every slice's features (the term frequencies are
    ``write_block_keys``')."""
    settings = config.unification.probabilistic
    if not settings.enabled:
        return
    paths, setup = RunPaths(run_id), MatchSetup.of(config)
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM {parquet_source(lake, feature_files(lake, run_id))}")
        if sum(sizes):
            model = train_model(con, settings, setup.blocks, sum(sizes), list(sizes), training=setup.training_blocks)
            write_json(lake, paths.match_model(), model.to_dict())


def write_block_keys(lake: Lake, config: UnificationConfig, run_id: str) -> int:
    """The keys that two block rows or more hold, over every slice's features, into one file for the slices'
    block rows to keep only theirs; returns how many. When it was written, at 1 M customers 4.1 M of 8.8 M
    keys (3.5 M at the current blocking): the other 4.75 M of the 16.1 M block rows sat alone in their block
    (29 %), and were written and read for nothing.
    More than ``SHARED_KEYS_MAX`` are not kept: every slice would hold them all. In probabilistic mode, also
    each term frequency, once, for the slices' block rows to join: with both here, the block rows need nothing
    from training, which runs beside them."""
    paths, setup = RunPaths(run_id), MatchSetup.of(config)
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM {parquet_source(lake, feature_files(lake, run_id))}")
        for feature in setup.tf_features:  # none unless the probabilistic mode is on
            column = q(feature.column)
            copy_to_lake(con, f"SELECT {column} AS v, count(*)::DOUBLE / sum(count(*)) OVER () AS f "
                              f"FROM features WHERE {column} IS NOT NULL GROUP BY {column}",
                         lake, paths.match_term_frequencies(feature.column))
        usable = []
        for family in setup.families:  # a family whose column has a value held by too many records keeps its
            column = q(family.column)  # members' rows apart: one partition would take all of that value's records
            (largest,) = con.execute(f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM features "
                                     f"WHERE {column} IS NOT NULL GROUP BY {column})").fetchall()[0]
            if largest <= FAMILY_VALUE_RECORDS:
                usable.append(family.id)
        write_json(lake, paths.match_families, usable)
        shared = copy_to_lake(con, block_keys_sql(setup, list(config.unification.match_order), "features"), lake,
                              paths.match_shared_keys)
        if shared > SHARED_KEYS_MAX:  # too many for a slice to filter on (``SHARED_KEYS_MAX``)
            lake.delete(paths.match_shared_keys)
        return shared


def write_slice_block_rows(lake: Lake, config: UnificationConfig, run_id: str, slice_index: int,
                           parts: int) -> list[int]:
    """One slice's block rows, a file per partition; returns the rows per partition."""
    paths = RunPaths(run_id)
    setup = MatchSetup.of(config)
    with lake_duckdb(lake) as con:
        source = parquet_source(lake, [paths.match_features(slice_index)])
        for feature in setup.tf_features:  # the term frequency of each record's value
            column = q(feature.column)
            frequencies = parquet_source(lake, [paths.match_term_frequencies(feature.column)])
            source = (f"(SELECT s.*, t.f AS {q(tf_column(feature))} FROM {source} s LEFT JOIN {frequencies} t "
                      f"ON s.{column} = t.v)")
        # a view, term frequencies joined in each select that reads it: at 1 M customers 12.3 CPU seconds for
        # the step against 13.8-14.4 with the joined features materialized once as a table (the rows alike)
        con.execute(f"CREATE TEMP VIEW slice_features AS SELECT * FROM {source}")
        usable = set(read_json(lake, paths.match_families))
        keys = paths.match_shared_keys  # absent where there were too many to filter on (``write_block_keys``)
        query = block_rows_sql(setup, list(config.unification.match_order), "slice_features", parts,
                               shared=parquet_source(lake, [keys]) if lake.exists(keys) else None,
                               families=[f for f in setup.families if f.id in usable])
        return _write_partitions(con, lake, paths, slice_index, query, parts)


def read_partition(lake: Lake, setup: MatchSetup, files: Sequence[str]) -> pa.Table:
    """One partition's block rows: its slices' files, in slice order."""
    return read_parquet_many(lake, files, schema=block_schema(setup))


def plan_partitions(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str], target_rows: int,
                    slice_records: int = 1 << 40) -> tuple[int, list[list[str]]]:
    """Plan, write every slice's features, train, count the shared keys, and write every slice's block rows,
    one after another, as the orchestrator's fan-outs do; (records, each partition's files)."""
    layout = plan_match(lake, config, tables, target_rows, slice_records)
    write_features(lake, config, run_id, tables, layout)
    train_match(lake, config, run_id, layout.sizes)
    write_block_keys(lake, config, run_id)
    plan = layout.match_plan(run_id)
    written = tuple(SliceResult(run_id, s.index, tuple(write_slice_block_rows(lake, config, run_id, s.index,
                                                                              s.partitions)))
                    for s in plan.block_slices())
    return layout.records, [list(p.paths) for p in plan.partitions(written)]
