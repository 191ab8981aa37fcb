"""The merge: pairs → groups and profiles → stable CustomerId → merged profiles and lineage tables.

Three kinds of activity, so that the merge fans out like the match:

1. ``cluster_profiles`` (one): clusters the pairs into groups and profiles, assigns the CustomerIds and
   hands its labels to the others as files under the run's ``merge/`` folder (record → group, profile;
   profile → ids). Writes ``clusters.json`` (counts and guarded giant clusters).
2. ``write_customer_shard`` (one per shard of ``C360_MERGE_SHARD_CUSTOMERS`` customers): the merged fields of
   its profiles (survivorship), their source keys, ids and household: ``unified/Customer/part-NNNNN``.
3. ``write_lineage_table`` (one per lineage table, beside the shards): ``AlternateKey`` (every source record
   → CustomerId: the crosswalk kept between runs), the ``Deduplication_{DataSource}_{Table}`` tables (one
   per source) and ``ConflationMatchPairs`` (cross-table pairs with rule, score and whether they linked).

``merge_profiles`` runs the three in one process (the tests' harness).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from shared import procmem
from shared.config.model import KeyPair, RuleException, SourceTable, UnificationConfig
from shared.duck import copy_to_lake, fanout_threads, lake_duckdb, lake_file, parquet_source
from shared.lakeio import iter_parquet_batches, parquet_files, write_json, write_parquet
from shared.match.cluster import (
    ALWAYS,
    Clustering,
    cluster,
    cluster_edges,
    components_of,
    guard,
    index_type,
    priorities,
    probabilistic_edges,
    profiles_of,
)
from shared.match.partition import PAIRS_SCHEMA, cannot_links_within
from shared.match.plan import feature_files
from shared.match.rules import compile_condition, compile_rules
from shared.merge.customer_id import assign_ids_in, uuid5_sql
from shared.merge.survivorship import household_sql, q, reads_every_record, source_keys_sql, survivorship_sql
from shared.names import Col, Lineage
from shared.paths import RunPaths
from shared.ports import Lake
from shared.sql.identifiers import quote_literal

ALTERNATE_KEY = "AlternateKey"
CUSTOMER = "Customer"
MATCH_PAIRS = "ConflationMatchPairs"
# winner rows per survivorship pass: the GROUP BY keeps one arg_min/arg_max state of a struct per merged
# field and profile, and at 1 M customers (1.7 M winner rows) one pass ran out of the 1 GB DuckDB limit
SURVIVORSHIP_ROWS = 400_000
# DuckDB's share of the merge activity: chosen when DuckDB ran beside the run's clustering in Python (at
# 1 M customers 1 GB put the activity at 2.39 GB, 640 MB at 2.04 GB, for 0.5 s more of spilling); the
# clustering is now freed first, and the 10 M-record run needs every query to spill within 640 MB
MERGE_DUCKDB_MEMORY = "640MB"
TRIM_EVERY_FILES = 4  # pair files read between two trims of the C heap (a trim costs about 20 ms)
PAIR_BATCH_ROWS = 1 << 20
CHAIN_PASS_RECORDS = 1_000_000  # records whose features the merge reads at once for cannot-links in chains
SHARD_CUSTOMERS = 250_000  # C360_MERGE_SHARD_CUSTOMERS' default
# the clustering's hand-over to the writing activities, under the run's merge/ folder
MERGE_RECORDS, MERGE_IDS, MERGE_LINKS = "records", "ids", "links"


@dataclass(frozen=True)
class MergeOutcome:
    records: int
    customers: int
    merged_records: int
    new_ids: int
    merges: int
    splits: int
    suspect_clusters: int
    shards: int = 1  # of the Customer table, each written by one activity


def dedup_table_name(config: UnificationConfig, table: str) -> str:
    source = config.source(table)
    return f"Deduplication_{source.data_source}_{source.table}"


def _key_pairs(pairs: list[KeyPair], config: UnificationConfig, ids: dict[tuple[int, str], int]) -> pd.DataFrame:
    order = config.unification.match_order
    rows = []
    for pair in pairs:
        a = ids.get((order.index(pair.table1), pair.key1))
        b = ids.get((order.index(pair.table2), pair.key2))
        if a is not None and b is not None and a != b:
            rows.append((min(a, b), max(a, b)))
    return pd.DataFrame(rows, columns=["left", "right"], dtype=np.int64)


def _named_record_ids(con: duckdb.DuckDBPyConnection, config: UnificationConfig) -> dict[tuple[int, str], int]:
    """(table index, source key) → record id for the keys named by always- and never-match pairs only."""
    custom = config.unification.custom
    order = config.unification.match_order
    named = {(order.index(t), k) for pair in [*custom.always_match, *custom.never_match]
             for t, k in ((pair.table1, pair.key1), (pair.table2, pair.key2)) if t in order}
    if not named:
        return {}
    con.register("named", pa.table({"TableIndex": pa.array([t for t, _ in named], pa.int16()),
                                    "SourceKey": pa.array([k for _, k in named], pa.string())}))
    rows = con.execute(f"SELECT f.TableIndex, f.{q(Col.SOURCE_KEY)}, f.{q(Col.RECORD_ID)} FROM features f JOIN named n "
                       f"ON n.TableIndex = f.TableIndex AND n.SourceKey = f.{q(Col.SOURCE_KEY)}").fetchall()
    con.unregister("named")
    return {(int(t), str(k)): int(r) for t, k, r in rows}


def _winner_rank(con: duckdb.DuckDBPyConnection, config: UnificationConfig, n: int) -> np.ndarray:
    """Per record id, its order inside its group (0 wins): the table's winner policy (most filled, most
    recent, least recent; no date ranks last for most recent, first for least recent), ties to the largest
    key. Sorted in DuckDB: the keys never become Python strings."""
    order = config.unification.match_order
    modified = f"epoch_us({q(Col.RECORD_MODIFIED)})::DOUBLE"
    by_policy = {"most_recent": f"-coalesce({modified}, '-inf'::DOUBLE)",
                 "least_recent": f"coalesce({modified}, '-inf'::DOUBLE)"}
    policies = [config.unification_of(name).deduplication.winner.policy for name in order]
    cases = " ".join(f"WHEN {i} THEN {by_policy.get(policy, '-Filled::DOUBLE')}" for i, policy in enumerate(policies))
    ranked = con.execute(f"SELECT {q(Col.RECORD_ID)} FROM features ORDER BY CASE TableIndex {cases} END, "
                         f"{q(Col.SOURCE_KEY)} DESC, {q(Col.RECORD_ID)}").fetchnumpy()[Col.RECORD_ID]
    rank = np.empty(n, index_type(n))
    rank[ranked] = np.arange(n)
    return rank


def _read_pairs(lake: Lake, paths: list[str], records: int, always: pd.DataFrame | None) -> pd.DataFrame:
    """The run's matched pairs, with the cannot-links that can matter: those inside one component of the
    links (and ``always`` pairs). Only the guard reads cannot-links, and only inside a component: on the
    1 M-customer demo 11.2 M of the 16.1 M pairs written are cannot-links, nearly all between two
    components. Without ``always`` (rules only, where cannot-links are not used) none is kept. Record ids
    are 32-bit integers where they fit. Used by the modes that hold their links at once (rules only, and
    one-to-one linkage); the hybrid mode reads the files as it goes (``cluster_from_files``)."""
    ids = index_type(records)
    chunks = list(_pair_batches(lake, paths, PAIRS_SCHEMA.names, False, ids))
    if always is not None and paths:
        # the batches' ids as they are, never concatenated whole
        edges = ((c["left"], c["right"]) for c in chunks)
        label = components_of(records, itertools.chain(edges, [(always["left"].to_numpy(),
                                                                 always["right"].to_numpy())]))
        chunks.extend(_cannot_links_inside(lake, paths, label, PAIRS_SCHEMA.names, ids))
    return _filled(chunks, {f.name: ids if f.name in ("left", "right") else f.type.to_pandas_dtype()
                            for f in PAIRS_SCHEMA})  # each batch freed once copied


def _pair_batches(lake: Lake, paths: list[str], columns: list[str], cannot: bool,
                  ids: type) -> Iterator[dict[str, np.ndarray]]:
    """The links (``cannot`` False) or the cannot-links of every pair file, a batch at a time, as numpy
    columns with record ids as ``ids``; the C heap trimmed every few files, or the freed batches between
    the kept rows stay resident (0.35 GB of links at 10 M records held 1.4 GB)."""
    for number, path in enumerate(paths, 1):
        for batch in iter_parquet_batches(lake, path, columns, batch_rows=PAIR_BATCH_ROWS, flag=("cannot", cannot)):
            yield {name: batch.column(name).to_numpy(zero_copy_only=False).astype(ids, copy=False)
                   if name in ("left", "right") else batch.column(name).to_numpy(zero_copy_only=False)
                   for name in columns}
        if number % TRIM_EVERY_FILES == 0:
            procmem.release()


def _cannot_links_inside(lake: Lake, paths: list[str], labels: np.ndarray, columns: list[str],
                         ids: type) -> Iterator[dict[str, np.ndarray]]:
    """The pair files' cannot-links that join two records of one component (``labels``), a batch at a time:
    only those can matter to the guard, and nearly all cannot-links join two components."""
    for batch in _pair_batches(lake, paths, columns, True, ids):
        same = labels[batch["left"]] == labels[batch["right"]]
        if same.any():
            yield {name: column[same] for name, column in batch.items()}


def _cannot_links_in_chains(lake: Lake, features: list[str], exceptions: list[RuleException], limit: int,
                            labels: np.ndarray) -> pd.DataFrame:
    """The configured cannot-links between two records of one component of three to ``limit`` records,
    whether blocking paired them or not: a component of two is one link, whose pair was already checked.
    On the 1 M demo, 123 customers held two records with different birth dates that no blocking rule had
    paired, joined through a chain of links; with this check F1 went 0.99268 → 0.99292 (the merge 1 s
    longer; at 5 M 12 s, 1,167 MB). Only the components ``_chain_suspects`` finds are read (at 5 M the
    merge then took 36.5–37.2 s instead of 46.8, 1,140–1,165 MB), their records' features in passes of at most
    ``CHAIN_PASS_RECORDS``, by component number, so memory stays bounded. Pairs (left, right) of record ids."""
    none = pd.DataFrame({"left": np.zeros(0, np.int64), "right": np.zeros(0, np.int64)})
    sizes = np.bincount(labels)
    member = (sizes >= 3) & (sizes <= limit)
    if not exceptions or not member.any():
        return none
    member = _chain_suspects(lake, features, exceptions, labels, member)
    count = int(sizes[member].sum())
    if count == 0:
        return none
    found = [none]
    conditions = [compile_condition(c) for e in exceptions for c in e.conditions]
    columns = sorted({c.left.column for c in conditions} | {c.right.column for c in conditions})
    passes = -(-count // CHAIN_PASS_RECORDS)
    component = np.arange(len(sizes))
    for number in range(passes):
        wanted = member & (component % passes == number)
        parts = []
        for path in features:
            for batch in iter_parquet_batches(lake, path, [Col.RECORD_ID, *columns]):
                keep = wanted[labels[batch.column(Col.RECORD_ID).to_numpy()]]
                if keep.any():
                    parts.append(pa.Table.from_batches([batch.filter(pa.array(keep))]))
        if not parts:  # no component of this pass's numbers is checked
            continue
        rows = pa.concat_tables(parts).combine_chunks()
        record = rows.column(Col.RECORD_ID).to_numpy()
        i, j = cannot_links_within(exceptions, rows, labels[record], limit)
        del rows
        found.append(pd.DataFrame({"left": record[i], "right": record[j]}))
    return pd.concat(found, ignore_index=True)


def _chain_suspects(lake: Lake, features: list[str], exceptions: list[RuleException], labels: np.ndarray,
                    member: np.ndarray) -> np.ndarray:
    """Of the ``member`` components, those where a cannot-link can fire: a ``differ`` exception fires only
    between two different known values, so a component none of whose exceptions sees two different values
    in each of its condition's columns holds no cannot-link. The columns' values are hashed by DuckDB in one
    read of the features, and the smallest and largest hash per component compared (a value hashed to 0
    counts as missing: one chance in 2⁶⁴). ``match`` exceptions, and conditions comparing two different
    columns, can fire on equal values: then every member is a suspect. On the 1 M demo 27 % of the records
    of checked components are left (283 k of 1.04 M), so the check reads fewer rows in fewer passes."""
    compiled = [[compile_condition(c) for c in e.conditions] for e in exceptions]
    if any(e.when != "differ" for e in exceptions) or any(c.left.column != c.right.column
                                                           for conditions in compiled for c in conditions):
        return member
    columns = sorted({c.left.column for conditions in compiled for c in conditions})
    compact = np.cumsum(member) - 1  # a member component's position among the members
    low = np.full((len(columns), int(member.sum())), np.iinfo(np.uint64).max, np.uint64)
    high = np.zeros_like(low)
    hashed = ", ".join(f"CASE WHEN {q(c)} IS NULL THEN 0::UBIGINT ELSE hash({q(c)}) END" for c in columns)
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        query = f"SELECT {q(Col.RECORD_ID)}, {hashed} FROM {parquet_source(lake, features)}"
        for batch in con.sql(query).to_arrow_reader(CHAIN_PASS_RECORDS):
            component = labels[batch.column(0).to_numpy()]
            inside = member[component]
            at = compact[component[inside]]
            for index in range(len(columns)):
                value = batch.column(index + 1).to_numpy()[inside]
                known = value != 0
                np.minimum.at(low[index], at[known], value[known])
                np.maximum.at(high[index], at[known], value[known])
    different = low < high
    del low, high
    suspect = np.zeros(different.shape[1], bool)
    for conditions in compiled:
        suspect |= np.logical_and.reduce([different[columns.index(c.left.column)] for c in conditions])
    out = np.zeros_like(member)
    out[member] = suspect
    return out


def _not_linked(lake: Lake, paths: list[str], pairs: pd.DataFrame, always: tuple[np.ndarray, np.ndarray],
                labels: np.ndarray, ids: type) -> pd.DataFrame:
    """``pairs`` but those a link or an always-match pair joins directly: a rule's link and a custom match
    are must-links, so a cannot-link found in a chain never overrides them (few pairs: one more read of the
    links, a batch at a time, looking only at the links inside the pairs' components)."""
    if len(pairs) == 0:
        return pairs
    n = len(labels)
    left = pairs["left"].to_numpy()
    wanted = _pair_key(left, pairs["right"].to_numpy(), n)
    concerned = np.zeros(int(labels.max()) + 1, bool)
    concerned[labels[left]] = True
    linked = np.isin(wanted, _pair_key(*always, n))
    for batch in _pair_batches(lake, paths, ["left", "right"], False, ids):
        inside = concerned[labels[batch["left"]]]
        linked |= np.isin(wanted, _pair_key(batch["left"][inside], batch["right"][inside], n))
    return pairs[~linked]


def _pair_key(a: np.ndarray, b: np.ndarray, n: int) -> np.ndarray:
    """One int64 per unordered pair of record ids below ``n``."""
    a, b = a.astype(np.int64), b.astype(np.int64)
    return np.minimum(a, b) * n + np.maximum(a, b)


def _cannot_links_among_edges(edges: pd.DataFrame, n: int,
                              chained: Callable[[np.ndarray], pd.DataFrame]) -> pd.DataFrame:
    """One-to-one linkage's cannot-links in chains: a record keeps one link per side of its pairs, so links
    still chain (over three tables, or a rule's link beside a best match); the configured cannot-links inside
    the components its edges make (``chained``), but between records an edge joins directly: those were
    candidates, decided when scored, and rules and custom matches are must-links."""
    left, right = edges["left"].to_numpy(), edges["right"].to_numpy()
    found = chained(components_of(n, [(left, right)]))
    if len(found) == 0:
        return found
    direct = np.isin(_pair_key(found["left"].to_numpy(), found["right"].to_numpy(), n), _pair_key(left, right, n))
    return found[~direct]


def cluster_from_files(lake: Lake, paths: list[str], table_of: np.ndarray, rules: list, always: pd.DataFrame,
                       never: pd.DataFrame, table_names: list[str], include_all: dict[str, bool], limit: int,
                       rank: np.ndarray,
                       chained: Callable[[np.ndarray], pd.DataFrame] | None = None) -> Clustering:
    """The hybrid mode's clustering (``cluster_edges``: every link an edge, guarded) with labels in memory,
    not links: the pair files are read three times, links then cannot-links then the edges of the
    components the guard rebuilds, each a batch at a time (the links a fourth time when ``chained`` finds
    cannot-links inside components, to leave out the pairs a link joins directly). At 10 M records there
    are 24 M links, which held at once took about 0.7 GB of the merge's peak. ``links`` is left to SQL
    (``Clustering.links``)."""
    n = len(table_of)
    ids = index_type(n)
    links = ((b["left"], b["right"]) for b in _pair_batches(lake, paths, ["left", "right"], False, ids))
    always_ends = (always["left"].to_numpy(ids), always["right"].to_numpy(ids))
    labels = components_of(n, itertools.chain(links, [always_ends]))
    inside = [never[["left", "right"]],
              *(pd.DataFrame(b) for b in _cannot_links_inside(lake, paths, labels, ["left", "right"], ids))]
    if chained:
        inside.append(_not_linked(lake, paths, chained(labels), always_ends, labels, ids))

    def edges_in(bad: np.ndarray) -> pd.DataFrame:
        wanted = np.zeros(int(labels.max()) + 1, bool)
        wanted[bad] = True
        parts = []
        for batch in _pair_batches(lake, paths, ["left", "right", "rule", "score"], False, ids):
            keep = wanted[labels[batch["left"]]]
            if keep.any():
                parts.append(pd.DataFrame({"left": batch["left"][keep], "right": batch["right"][keep],
                                           "priority": priorities(batch["rule"][keep], rules),
                                           "score": batch["score"][keep]}))
        keep = wanted[labels[always_ends[0]]]
        parts.append(pd.DataFrame({"left": always_ends[0][keep], "right": always_ends[1][keep],
                                   "priority": np.full(int(keep.sum()), ALWAYS, np.int16),
                                   "score": np.ones(int(keep.sum()), np.float32)}))
        return pd.concat(parts, ignore_index=True)

    component, suspect = guard(labels, edges_in, pd.concat(inside, ignore_index=True), limit)
    return profiles_of(component, table_of, table_names, include_all, rank, None, suspect)


def _filled(chunks: list[dict[str, np.ndarray]], dtypes: dict[str, type]) -> pd.DataFrame:
    """One frame of many batches' columns, in order: numpy columns filled batch by batch, each batch dropped
    from the list once copied, so that the rows are held about once, not twice as a concatenation would."""
    total = sum(len(c["left"]) for c in chunks)
    columns: dict[str, np.ndarray] = {name: np.empty(total, dtype) for name, dtype in dtypes.items()}
    at = 0
    for index in range(len(chunks)):
        chunk, chunks[index] = chunks[index], {}
        size = len(chunk["left"])
        for name, column in columns.items():
            column[at:at + size] = chunk[name]
        at += size
        del chunk
    return pd.DataFrame(columns, copy=False)


def _to_duckdb(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> None:
    con.register(f"{name}_arrow", table)
    con.execute(f"CREATE TEMP TABLE {name} AS SELECT * FROM {name}_arrow")
    con.unregister(f"{name}_arrow")


def _pairs_table(lake: Lake, con: duckdb.DuckDBPyConnection, paths: list[str], ids: str, same_table: bool,
                 by_component: bool = False) -> None:
    """Table ``pairs``: the run's links (no cannot-links) read from the pair files, those inside one table
    (``same_table``) or those across two, with (``by_component``: ``records`` has a ``component``) whether
    both records are of one component."""
    same_component = 'a.component = b.component' if by_component else 'NULL::BOOLEAN'
    if not paths:
        con.execute(f"CREATE TEMP TABLE pairs (\"left\" {ids}, \"right\" {ids}, rule INTEGER, score DOUBLE, "
                    "same_component BOOLEAN)")
        return
    con.execute(f"""
        CREATE TEMP TABLE pairs AS
        SELECT p."left"::{ids} AS "left", p."right"::{ids} AS "right", p.rule::INTEGER AS rule,
               p.score::DOUBLE AS score, {same_component} AS same_component
        FROM {parquet_source(lake, paths)} p JOIN records a ON a.record = p."left"
        JOIN records b ON b.record = p."right"
        WHERE NOT p.cannot AND (a.TableIndex = b.TableIndex) = {str(same_table).lower()}""")


def _previous_crosswalk(lake: Lake, con: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> str | None:
    """View ``previous_crosswalk`` (record_key, CustomerId, is_primary, row: the record's position in the
    files, in order) over the published crosswalk's files, read by DuckDB as it joins, never held in
    Python: 10 M rows at five million customers. None on a first run."""
    if not paths:
        return None
    files = [lake_file(lake, p) for p in paths]
    listed = "[" + ", ".join(quote_literal(f, "duckdb") for f in files) + "]"
    con.execute(f"""CREATE TEMP VIEW previous_crosswalk AS
        SELECT {q(Col.DATA_SOURCE)} || '|' || {q(Col.TABLE)} || '|' || AlternateValue AS record_key,
               {q(Col.CUSTOMER_ID)}, coalesce(IsPrimary::BOOLEAN, false) AS is_primary,
               (list_position({listed}, filename)::BIGINT << 40) + file_row_number AS row
        FROM read_parquet({listed}, filename = true, file_row_number = true, union_by_name = true,
                          hive_partitioning = false)""")
    return "previous_crosswalk"


def _primary_records(table_of: np.ndarray, clustering: Clustering, rank: np.ndarray) -> np.ndarray:
    """Per record: whether it is its profile's primary (the first table's winner, best ranked)."""
    candidates = np.flatnonzero((clustering.group_winner == np.arange(len(table_of))) & (clustering.profile >= 0))
    profile = clustering.profile[candidates]
    order = np.lexsort((rank[candidates], table_of[candidates], profile))
    first = np.r_[True, profile[order][1:] != profile[order][:-1]] if len(order) else np.zeros(0, bool)
    primary = np.zeros(len(table_of), bool)
    primary[candidates[order[first]]] = True
    return primary


def _case(config: UnificationConfig, value: Callable[[SourceTable], str], column: str = "TableIndex") -> str:
    """SQL: per table index (in ``column``), a literal of its source (data source or table name)."""
    order = config.unification.match_order
    return f"CASE {column} " + " ".join(f"WHEN {i} THEN {quote_literal(value(config.source(name)), 'duckdb')}"
                                         for i, name in enumerate(order)) + " END"


def merge_profiles(lake: Lake, config: UnificationConfig, run_id: str, pair_paths: list[str],
                   tables: dict[str, str], previous_crosswalk: Sequence[str],
                   shard_customers: int = SHARD_CUSTOMERS) -> MergeOutcome:
    """The whole merge in this process: the clustering, then the lineage tables and every shard of
    ``Customer`` (which the orchestrator runs as a fan-out of activities)."""
    outcome = cluster_profiles(lake, config, run_id, pair_paths, tables, previous_crosswalk, shard_customers)
    for table in Lineage:
        write_lineage_table(lake, config, run_id, pair_paths, table)
    for shard in range(outcome.shards):
        write_customer_shard(lake, config, run_id, tables, shard, outcome.shards)
    return outcome


def cluster_profiles(lake: Lake, config: UnificationConfig, run_id: str, pair_paths: list[str],
                     tables: dict[str, str], previous_crosswalk: Sequence[str],
                     shard_customers: int = SHARD_CUSTOMERS) -> MergeOutcome:
    """Cluster in Python over record ids and pairs (numbers only), then join keys and ids in DuckDB, which
    spills to disk beyond its share: no source key or id becomes a Python object, so the activity's memory
    grows by tens of bytes per record, not hundreds. Leaves the labels and ids under ``merge/`` for the
    activities that write the unified tables, and a shard of ``Customer`` per ``shard_customers``."""
    with procmem.arrow_on_c_heap():
        return _cluster_profiles(lake, config, run_id, pair_paths, tables, previous_crosswalk, shard_customers)


def _cluster_profiles(lake: Lake, config: UnificationConfig, run_id: str, pair_paths: list[str],
                      tables: dict[str, str], previous_crosswalk: Sequence[str], shard_customers: int) -> MergeOutcome:
    paths = RunPaths(run_id)
    procmem.release()  # what earlier activities of this worker freed: this one holds the most
    order = config.unification.match_order
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        _features_view(lake, con, paths)
        ids = con.execute(f"SELECT {q(Col.RECORD_ID)}, TableIndex FROM features").fetchnumpy()
        n = len(ids[Col.RECORD_ID])
        if not np.array_equal(ids[Col.RECORD_ID], np.arange(n)):  # record ids are positions 0..n-1
            ids["TableIndex"] = ids["TableIndex"][np.argsort(ids[Col.RECORD_ID])]
        table_of = np.asarray(ids["TableIndex"], np.int16)
        del ids  # 10 M record ids: 80 MB held through the merge otherwise
        rank = _winner_rank(con, config, n)
        named = _named_record_ids(con, config)
    records = pd.DataFrame({"TableIndex": table_of})
    custom = config.unification.custom
    rules = compile_rules(config)
    include_all = {name: config.unification_of(name).include_all_records for name in order}
    always, never = _key_pairs(custom.always_match, config, named), _key_pairs(custom.never_match, config, named)
    settings = config.unification.probabilistic
    limit = config.unification.max_cluster_size

    def chained(labels: np.ndarray) -> pd.DataFrame:  # the probabilistic modes' features only
        return _cannot_links_in_chains(lake, feature_files(lake, run_id), settings.cannot_link, limit, labels)

    if settings.enabled and n and not settings.one_to_one:  # the default hybrid mode: labels, not links
        clustering = cluster_from_files(lake, pair_paths, table_of, rules, always, never, order, include_all,
                                        limit, rank, chained)
    elif settings.enabled and n:  # one-to-one linkage compares each record's links: held at once
        pairs = _read_pairs(lake, pair_paths, n, always)
        procmem.release()  # the pair files' buffers
        edges, cannot = probabilistic_edges(pairs, rules, always, settings.one_to_one)
        del pairs  # the edges hold what clustering needs
        procmem.release()
        if settings.cannot_link:
            cannot = pd.concat([cannot, _cannot_links_among_edges(edges, n, chained)], ignore_index=True)
        clustering = cluster_edges(records, edges, cannot, order, include_all, never, limit, rank)
        del edges, cannot
    else:  # rules only, or no records
        pairs = _read_pairs(lake, pair_paths, n, None)
        procmem.release()
        clustering = cluster(records, pairs, rules, order, include_all, always, never,
                             config.unification.max_cluster_size, rank)
        del pairs  # the lineage tables read the links from the pair files, in DuckDB
    procmem.release()  # what clustering freed, before DuckDB takes its share
    primary = _primary_records(table_of, clustering, rank)
    id_type = index_type(n)  # record ids in every table below
    kept = clustering.profile >= 0
    kept_records, sizes, suspect = int(kept.sum()), _size_histogram(clustering.profile[kept]), clustering.suspect
    del kept, records, rank
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        # DuckDB's own tables, which spill to disk: each Arrow table is freed once DuckDB holds its copy
        _features_view(lake, con, paths)
        by_component = clustering.links is None  # links: every cross-table pair inside one component
        columns = {"record": pa.array(np.arange(n, dtype=id_type)), "TableIndex": pa.array(table_of),
                   "profile": pa.array(clustering.profile.astype(id_type, copy=False)),
                   "group_winner": pa.array(clustering.group_winner.astype(id_type, copy=False)),
                   "is_winner": pa.array(clustering.group_winner == np.arange(n)), "is_primary_row": pa.array(primary)}
        if by_component:
            assert clustering.component is not None
            columns["component"] = pa.array(clustering.component.astype(id_type, copy=False))
        _to_duckdb(con, "labels", pa.table(columns))
        del primary, table_of, columns
        if not by_component:  # the linked cross-table pairs, for ConflationMatchPairs
            links = clustering.links
            assert links is not None
            write_parquet(lake, paths.merge_table(MERGE_LINKS),
                          pa.table({"left": links["left"].to_numpy().astype(id_type),
                                    "right": links["right"].to_numpy().astype(id_type)}))
            del links
        del clustering
        procmem.release()
        con.execute(f"""
            CREATE TEMP TABLE records AS
            SELECT l.*, f.{q(Col.SOURCE_KEY)}, {_case(config, lambda s: s.data_source)} AS {q(Col.DATA_SOURCE)},
                   {_case(config, lambda s: s.table)} AS {q(Col.TABLE)}
            FROM labels l JOIN (SELECT {q(Col.RECORD_ID)} AS record, {q(Col.SOURCE_KEY)} FROM features) f
            USING (record)""")
        con.execute("DROP TABLE labels")
        _snapshots_view(lake, con, config, tables)
        _lineage_view(con)
        con.execute("""CREATE TEMP VIEW current_keys AS
            SELECT Identifier AS record_key, profile, IsPrimary AS is_primary FROM lineage WHERE profile >= 0""")
        custom_keys = custom_id_keys(con, config) if config.merge.custom_id_fields else None
        merges, splits, new_ids = assign_ids_in(con, "current_keys", _previous_crosswalk(lake, con, previous_crosswalk),
                                                custom_keys)
        copy_to_lake(con, "SELECT * FROM records", lake, paths.merge_table(MERGE_RECORDS))
        customers = copy_to_lake(con, f"SELECT profile, {q(Col.CUSTOMER_ID)}, {q(Col.PREVIOUS_CUSTOMER_ID)} "
                                 "FROM ids_assigned", lake, paths.merge_table(MERGE_IDS))
    outcome = MergeOutcome(records=kept_records, customers=customers, merged_records=kept_records - customers,
                           new_ids=new_ids, merges=merges, splits=splits, suspect_clusters=len(suspect),
                           shards=max(1, -(-customers // max(1, shard_customers))))
    write_json(lake, paths.unified("clusters").replace(".parquet", ".json"), {
        "records": n, "profiles": customers, "dropped_records": n - kept_records, "suspect_clusters": suspect,
        "merges": merges, "splits": splits, "new_ids": new_ids, "cluster_sizes": sizes})
    return outcome


def write_customer_shard(lake: Lake, config: UnificationConfig, run_id: str, tables: dict[str, str], shard: int,
                         shards: int) -> int:
    """``Customer``'s shard ``shard`` of ``shards`` (the profiles ``profile % shards = shard``): survivorship
    over their winner rows, source keys, ids and household, sorted by CustomerId. Returns its rows."""
    paths = RunPaths(run_id)
    mine = f"profile >= 0 AND profile % {shards} = {shard}"
    with lake_duckdb(lake, fanout_threads(), MERGE_DUCKDB_MEMORY) as con:
        con.execute(f"CREATE TEMP TABLE records AS SELECT * FROM "
                    f"{parquet_source(lake, [paths.merge_table(MERGE_RECORDS)])} WHERE {mine}")
        con.execute(f"CREATE TEMP TABLE ids_assigned AS SELECT * FROM "
                    f"{parquet_source(lake, [paths.merge_table(MERGE_IDS)])} WHERE {mine}")
        _snapshots_view(lake, con, config, tables)
        return _write_customers(lake, con, config, paths.unified_shard(CUSTOMER, shard), shards)


def write_lineage_table(lake: Lake, config: UnificationConfig, run_id: str, pair_paths: list[str],
                        table: Lineage) -> dict[str, int]:
    """One lineage table (``AlternateKey``, the deduplication tables or ``ConflationMatchPairs``) from the
    clustering's labels and ids and, but for ``AlternateKey``, the run's pair files; returns rows per table."""
    paths = RunPaths(run_id)
    with lake_duckdb(lake, fanout_threads(), MERGE_DUCKDB_MEMORY) as con:
        con.execute(f"CREATE TEMP TABLE records AS SELECT * FROM "
                    f"{parquet_source(lake, [paths.merge_table(MERGE_RECORDS)])}")
        _lineage_view(con)
        if table is Lineage.ALTERNATE_KEY:
            con.execute(f"CREATE TEMP VIEW ids_assigned AS SELECT * FROM "
                        f"{parquet_source(lake, [paths.merge_table(MERGE_IDS)])}")
            return {ALTERNATE_KEY: _write_alternate_key(lake, con, paths)}
        types = dict(con.execute("SELECT column_name, column_type FROM (DESCRIBE records)").fetchall())
        by_component = "component" in types  # the hybrid mode: links are the cross-table pairs of a component
        same_table = table is Lineage.DEDUPLICATION  # the deduplication pairs, else the cross-table ones
        _pairs_table(lake, con, pair_paths, types["record"], same_table, by_component)
        _rules_table(con, config)
        if same_table:
            return _write_deduplication(lake, con, config, paths)
        if by_component:  # a pair is linked where its records are of one component: no join needed
            return {MATCH_PAIRS: _write_match_pairs(lake, con, paths, linked="p.same_component")}
        con.execute(f"CREATE TEMP VIEW links AS SELECT * FROM {parquet_source(lake, [paths.merge_table(MERGE_LINKS)])}")
        return {MATCH_PAIRS: _write_match_pairs(lake, con, paths)}


def unified_files(lake: Lake, run_id: str, name: str) -> list[str]:
    """A unified table's files: its shards (``Customer``), else its one file; none if not written."""
    paths = RunPaths(run_id)
    shards = parquet_files(lake, paths.unified_folder(name))
    return shards or ([paths.unified(name)] if lake.exists(paths.unified(name)) else [])


def _features_view(lake: Lake, con: duckdb.DuckDBPyConnection, paths: RunPaths) -> None:
    """View ``features``: the run's records (id, table index, source key, date, filled fields)."""
    con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM {parquet_source(lake, feature_files(lake, paths.run_id))}")


def _lineage_view(con: duckdb.DuckDBPyConnection) -> None:
    """View ``lineage`` over ``records``: the crosswalk's columns, with the record's ``Identifier``
    (``DataSource|Table|SourceKey``), the key that ties a record to the previous run's crosswalk."""
    con.execute(f"""CREATE TEMP VIEW lineage AS
        SELECT record, TableIndex, profile, group_winner, is_primary_row AS IsPrimary, {q(Col.DATA_SOURCE)},
               {q(Col.TABLE)}, {q(Col.SOURCE_KEY)} AS AlternateValue,
               {q(Col.DATA_SOURCE)} || '|' || {q(Col.TABLE)} || '|' || {q(Col.SOURCE_KEY)} AS Identifier
        FROM records""")


def _snapshots_view(lake: Lake, con: duckdb.DuckDBPyConnection, config: UnificationConfig,
                    tables: dict[str, str]) -> None:
    """View ``snapshots``: every source table's current rows with their ``TableIndex``."""
    selects = [f"SELECT {i}::SMALLINT AS TableIndex, * FROM {parquet_source(lake, [tables[name]])}"
               for i, name in enumerate(config.unification.match_order) if name in tables]
    con.execute("CREATE TEMP VIEW snapshots AS " + " UNION ALL BY NAME ".join(selects))


def custom_id_keys(con: duckdb.DuckDBPyConnection, config: UnificationConfig) -> pa.Table:
    """Per profile, the natural key of a custom CustomerId: for each configured field (up to five) the first
    non-null ``TableName`` + value in match order, joined by ``|``; null when every field is empty.
    Reads the views ``snapshots`` and ``records``."""
    columns = {row[0] for row in con.execute("DESCRIBE snapshots").fetchall()}
    table_name = _case(config, lambda s: s.table, "s.TableIndex")
    parts = [f"arg_min({table_name} || CAST(s.{q(f)} AS VARCHAR), s.TableIndex) "
             f"FILTER (WHERE s.{q(f)} IS NOT NULL)" for f in config.merge.custom_id_fields if f in columns]
    if not parts:
        return pa.table({"profile": pa.array([], pa.int64()), "natural_key": pa.array([], pa.string())})
    key = " || '|' || ".join(f"coalesce({p}, '')" for p in parts)
    any_value = " OR ".join(f"s.{q(f)} IS NOT NULL" for f in config.merge.custom_id_fields if f in columns)
    return con.sql(
        f"SELECT m.profile, CASE WHEN bool_or({any_value}) THEN {key} END AS natural_key FROM snapshots s "
        f"JOIN records m ON s.TableIndex = m.TableIndex AND s.{q(Col.SOURCE_KEY)} = m.{q(Col.SOURCE_KEY)} "
        "WHERE m.is_winner AND m.profile >= 0 GROUP BY m.profile").to_arrow_table()


def _size_histogram(profile: np.ndarray) -> dict[str, int]:
    sizes = np.bincount(np.unique(profile, return_inverse=True)[1]) if len(profile) else np.zeros(0, int)
    values, counts = np.unique(sizes, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def in_pass(shards: int, passes: int, index: int) -> str:
    """SQL: whether ``profile`` (of a shard's, ``profile % shards`` fixed) is in the shard's pass ``index`` of
    ``passes``. ``profile % passes`` would put every profile of a shard in one pass whenever ``shards`` and
    ``passes`` share a factor."""
    return f"(profile // {shards}) % {passes} = {index}"


def _write_customers(lake: Lake, con: duckdb.DuckDBPyConnection, config: UnificationConfig, path: str,
                     shards: int) -> int:
    """A shard of ``Customer`` (the profiles of ``records``, every ``shards``-th): the survivorship of the
    winner rows, the source key columns, ids and household."""
    columns = {row[0] for row in con.execute("DESCRIBE snapshots").fetchall()}
    # the winner rows; every record's where a field merges by maximum or minimum (a consent flag's default)
    merged_rows = "profile >= 0" if reads_every_record(config) else "is_winner AND profile >= 0"
    (winners,) = con.execute(f"SELECT count(*) FROM records WHERE {merged_rows}").fetchall()[0]
    passes = max(1, -(-int(winners) // SURVIVORSHIP_ROWS))
    winner_rows = (f"SELECT s.*, m.profile, m.is_winner FROM snapshots s JOIN (SELECT * FROM records WHERE "
                   f"{merged_rows}) m ON s.TableIndex = m.TableIndex "
                   f"AND s.{q(Col.SOURCE_KEY)} = m.{q(Col.SOURCE_KEY)}")
    if passes > 1:  # the snapshots (every source row) read once, not once per pass: DuckDB spills the rest
        con.execute(f"CREATE TEMP TABLE winner_rows AS {winner_rows}")
        winner_rows = "SELECT * FROM winner_rows"
    for index in range(passes):  # a profile's rows are all in one pass
        candidates = f"({winner_rows} WHERE {in_pass(shards, passes, index)})"
        verb = "CREATE TEMP TABLE merged AS" if index == 0 else "INSERT INTO merged"
        con.execute(f"{verb} {survivorship_sql(config, candidates, columns)}")
    kept = "(SELECT * FROM records WHERE profile >= 0)"
    con.execute(f"CREATE TEMP TABLE keys AS {source_keys_sql(config, kept)}")
    household = household_sql(config, "merged")
    household_select = "NULL::VARCHAR AS HouseholdId"
    if household:
        con.execute(f"CREATE TEMP TABLE households AS {household}")
        household_select = ("CASE WHEN h.household_key IS NULL THEN NULL ELSE "
                            "CAST(h.household_key::UUID AS VARCHAR) END AS HouseholdId")
    join_household = "LEFT JOIN households h USING (profile)" if household else ""
    query = (f"SELECT i.{q(Col.CUSTOMER_ID)}, i.{q(Col.PREVIOUS_CUSTOMER_ID)}, m.* EXCLUDE (profile), "
             f"k.* EXCLUDE (profile), {household_select} "
             f"FROM merged m JOIN ids_assigned i USING (profile) JOIN keys k USING (profile) {join_household} "
             f"ORDER BY i.{q(Col.CUSTOMER_ID)}")
    return copy_to_lake(con, query, lake, path)


def _rules_table(con: duckdb.DuckDBPyConnection, config: UnificationConfig) -> None:
    """Table ``rules`` (rule id, name, priority) and ``sources`` (table index, source name)."""
    facts = rule_facts(config, compile_rules(config))
    con.register("rules", pa.table({"rule": pa.array(list(facts), pa.int32()),
                                    "RuleName": pa.array([f[0] for f in facts.values()], pa.string()),
                                    "priority": pa.array([f[1] for f in facts.values()], pa.int32())}))
    order = config.unification.match_order
    con.register("sources", pa.table({"TableIndex": pa.array(range(len(order)), pa.int16()),
                                      "Source": pa.array(order, pa.string())}))


def _write_alternate_key(lake: Lake, con: duckdb.DuckDBPyConnection, paths: RunPaths) -> int:
    """``AlternateKey`` from the view ``lineage`` and ``ids_assigned``."""
    return copy_to_lake(con, f"""
        SELECT i.{q(Col.CUSTOMER_ID)}, l.{q(Col.DATA_SOURCE)}, l.{q(Col.TABLE)}, l.AlternateValue,
               l.Identifier, {uuid5_sql('l.Identifier', uuid.NAMESPACE_URL)} AS AlternateKeyId,
               l.IsPrimary, l.group_winner = l.record AS IsDeduplicationWinner
        FROM lineage l JOIN ids_assigned i USING (profile) ORDER BY l.record""", lake, paths.unified(ALTERNATE_KEY))


def _write_deduplication(lake: Lake, con: duckdb.DuckDBPyConnection, config: UnificationConfig,
                         paths: RunPaths) -> dict[str, int]:
    """The deduplication tables from the view ``lineage``, the table ``records`` and the deduplication
    ``pairs``; rows per table."""
    # per record: the first rule (by priority) and best score of the deduplication pairs it is in
    con.execute("""
        CREATE TEMP TABLE best AS
        SELECT record, arg_min(RuleName, (priority, -score)) AS Rule,
               arg_min(score, (priority, -score)) AS Score FROM (
            SELECT "left" AS record, rule, score FROM pairs
            UNION ALL SELECT "right", rule, score FROM pairs) JOIN rules USING (rule)
        GROUP BY record""")
    # per group (all its records are of one table): the winner's key and the size; an aggregate and one
    # join, not a window and a self-join in the query below: at 10 M records those ran out of 640 MB
    con.execute(f"""
        CREATE TEMP TABLE groups AS
        SELECT g.group_winner, w.{q(Col.SOURCE_KEY)} AS WinnerId, g.GroupSize
        FROM (SELECT group_winner, count(*) AS GroupSize FROM records GROUP BY ALL) g
        JOIN records w ON w.record = g.group_winner""")
    rows = {}
    for index, name in enumerate(config.unification.match_order):
        group_key = f"'group|{name}|' || g.WinnerId"
        rows[dedup_table_name(config, name)] = copy_to_lake(con, f"""
            SELECT l.AlternateValue AS {q(Col.SOURCE_KEY)},
                   {uuid5_sql(group_key)} AS Deduplication_GroupId,
                   g.WinnerId AS Deduplication_WinnerId, b.Rule, b.Score, g.GroupSize
            FROM lineage l LEFT JOIN groups g USING (group_winner) LEFT JOIN best b ON b.record = l.record
            WHERE l.TableIndex = {index} ORDER BY l.record""",
                     lake, paths.unified(dedup_table_name(config, name)))
    return rows


def _write_match_pairs(lake: Lake, con: duckdb.DuckDBPyConnection, paths: RunPaths, linked: str | None = None) -> int:
    """``ConflationMatchPairs`` from the view ``lineage`` and the cross-table ``pairs``; a pair is linked by
    ``linked`` (SQL over ``p``, a pair) or, without it, where ``links`` holds it. At 1 M customers the
    hybrid mode's ``p.same_component`` took 3.4 CPU seconds against 4.4 for the join with the links."""
    join = ""
    if linked is None:  # the distinct links: a pair linked under two rules still gives one row per rule
        linked, join = 'k."left" IS NOT NULL', ('LEFT JOIN (SELECT DISTINCT "left", "right" FROM links) k '
                                                'ON k."left" = p."left" AND k."right" = p."right"')
    return copy_to_lake(con, f"""
        SELECT s1.Source AS Table1, a.AlternateValue AS Key1, s2.Source AS Table2, b.AlternateValue AS Key2,
               r.RuleName AS Rule, p.score AS Score, {linked} AS Linked
        FROM pairs p JOIN lineage a ON a.record = p."left" JOIN lineage b ON b.record = p."right"
        JOIN sources s1 ON s1.TableIndex = a.TableIndex JOIN sources s2 ON s2.TableIndex = b.TableIndex
        JOIN rules r USING (rule) {join}""", lake, paths.unified(MATCH_PAIRS))


def rule_facts(config: UnificationConfig, rules: list) -> dict[int, tuple[str, int]]:
    """Rule id → (name, priority) for CI rules and probabilistic blocking rules (which rank last)."""
    from shared.match.train import blocking_rules

    facts = {r.id: (r.name, r.priority) for r in rules}
    if config.unification.probabilistic.enabled:
        facts.update({b.id: (b.name, 1000) for b in blocking_rules(config.unification.probabilistic, len(rules))})
    return facts


__all__ = ["ALTERNATE_KEY", "CUSTOMER", "MATCH_PAIRS", "MergeOutcome", "cluster_profiles", "merge_profiles",
           "quote_literal", "unified_files", "write_customer_shard", "write_lineage_table"]
