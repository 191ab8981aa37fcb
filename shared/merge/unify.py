"""The merge step: pairs → groups and profiles → stable CustomerId → merged profiles and lineage tables.

Writes, under the run's ``unified/`` folder: ``Customer`` (merged fields, source keys, ids, household),
``AlternateKey`` (every source record → CustomerId: the crosswalk kept between runs), one
``Deduplication_{DataSource}_{Table}`` per source, ``ConflationMatchPairs`` (cross-table pairs with rule,
score and whether they linked) and ``clusters.json`` (counts and guarded giant clusters).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shared import procmem
from shared.config.model import KeyPair, UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.lakeio import read_parquet, write_json
from shared.match.cluster import Clustering, cluster, cluster_probabilistic, components
from shared.match.partition import PAIRS_SCHEMA
from shared.match.rules import compile_rules
from shared.merge.customer_id import assign_ids, uuid5_sql
from shared.merge.survivorship import household_sql, q, source_keys_sql, survivorship_sql
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake
from shared.sql.identifiers import quote_literal

RECORD_FIELDS = [Col.RECORD_ID, "TableIndex", Col.SOURCE_KEY, Col.RECORD_MODIFIED, "Filled"]
ALTERNATE_KEY = "AlternateKey"
CUSTOMER = "Customer"
MATCH_PAIRS = "ConflationMatchPairs"
# winner rows per survivorship pass: the GROUP BY keeps one arg_min/arg_max state of a struct per merged
# field and profile, and at 1 M customers (1.7 M winner rows) one pass ran out of the 1 GB DuckDB limit
SURVIVORSHIP_ROWS = 400_000
# DuckDB's share of the merge activity, which also holds the run's clustering in Python: at 1 M customers
# 1 GB put the activity at 2.39 GB, 640 MB at 2.04 GB (run alone), for 0.5 s more of spilling
MERGE_DUCKDB_MEMORY = "640MB"


@dataclass(frozen=True)
class MergeOutcome:
    records: int
    customers: int
    merged_records: int
    new_ids: int
    merges: int
    splits: int
    suspect_clusters: int


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


def _winner_rank(records: pd.DataFrame, config: UnificationConfig) -> np.ndarray:
    """Order of records inside their group (0 wins): the table's winner policy, ties to the largest key."""
    order = config.unification.match_order
    policies = np.asarray([config.unification_of(name).deduplication.winner.policy for name in order], dtype=object)
    policy = policies[records["TableIndex"].to_numpy()]
    modified = pd.to_datetime(records[Col.RECORD_MODIFIED], utc=True)
    recency = ((modified - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).fillna(-np.inf).to_numpy()
    primary = np.select([policy == "most_recent", policy == "least_recent"], [-recency, recency],
                        default=-records["Filled"].to_numpy(dtype=np.float64))
    frame = pd.DataFrame({"primary": primary, "key": records[Col.SOURCE_KEY].to_numpy()})
    ranked = frame.sort_values(["primary", "key"], ascending=[True, False], kind="stable")
    rank = np.empty(len(frame), np.int64)
    rank[ranked.index.to_numpy()] = np.arange(len(frame))
    return rank


def _read_pairs(lake: Lake, paths: list[str], records: int, always: pd.DataFrame | None) -> pd.DataFrame:
    """The run's matched pairs, with the cannot-links that can matter: those inside one component of the
    links (and ``always`` pairs). Only the guard reads cannot-links, and only inside a component: on the
    1 M-customer demo 11.2 M of the 16.1 M pairs written are cannot-links, nearly all between two
    components. Without ``always`` (rules only, where cannot-links are not used) none is kept. Record ids
    are 32-bit integers where they fit. The merge holds its pairs at once and must fit one instance."""
    ids = pa.int32() if records < 2**31 else pa.int64()
    schema = pa.schema([pa.field(f.name, ids if f.name in ("left", "right") else f.type) for f in PAIRS_SCHEMA])

    def part(path: str, cannot: bool) -> pa.Table:
        table = read_parquet(lake, path).select(schema.names).cast(schema)
        return table.filter(pc.equal(table.column("cannot"), pa.scalar(cannot)))

    links = pa.concat_tables([schema.empty_table()] + [part(path, False) for path in paths])
    if always is not None and paths:
        label = components(records, np.concatenate([links.column("left").to_numpy(), always["left"].to_numpy()]),
                           np.concatenate([links.column("right").to_numpy(), always["right"].to_numpy()]))
        inside = []
        for path in paths:
            cannot = part(path, True)
            same = label[cannot.column("left").to_numpy()] == label[cannot.column("right").to_numpy()]
            inside.append(cannot.filter(pa.array(same)))
        links = pa.concat_tables([links, *inside])
    return links.combine_chunks().to_pandas(split_blocks=True, self_destruct=True)


def _lineage_pairs(pairs: pd.DataFrame, table_of: np.ndarray) -> pa.Table:
    """The links (no cannot-links) for the lineage tables, with whether both records are of one table."""
    links = pairs[~pairs["cannot"].to_numpy(bool)] if "cannot" in pairs else pairs
    left, right = links["left"].to_numpy(), links["right"].to_numpy()
    return pa.table({"left": left, "right": right, "rule": links["rule"].to_numpy(np.int32),
                     "score": links["score"].to_numpy(np.float64), "same_table": table_of[left] == table_of[right]})


def _previous_crosswalk(lake: Lake, path: str | None) -> pa.Table | None:
    """The published crosswalk as Arrow (record_key, CustomerId, is_primary): 2 M rows at a million customers,
    joined in DuckDB, never turned into Python strings."""
    if path is None:
        return None
    table = read_parquet(lake, path, [Col.DATA_SOURCE, Col.TABLE, "AlternateValue", Col.CUSTOMER_ID, "IsPrimary"])
    key = pc.binary_join_element_wise(table.column(Col.DATA_SOURCE), table.column(Col.TABLE),
                                      table.column("AlternateValue"), "|")
    return pa.table({"record_key": key, "CustomerId": table.column(Col.CUSTOMER_ID),
                     "is_primary": pc.fill_null(table.column("IsPrimary").cast(pa.bool_()), False)})


def _primary_records(records: pd.DataFrame, clustering: Clustering, rank: np.ndarray) -> np.ndarray:
    """Per record: whether it is its profile's primary (the first table's winner, best ranked)."""
    is_winner = clustering.group_winner == records[Col.RECORD_ID].to_numpy()
    frame = pd.DataFrame({"profile": clustering.profile, "table": records["TableIndex"].to_numpy(), "rank": rank,
                          "winner": is_winner})
    candidates = frame[frame["winner"] & (frame["profile"] >= 0)].sort_values(["profile", "table", "rank"])
    primary = np.zeros(len(frame), bool)
    primary[candidates.drop_duplicates("profile").index.to_numpy()] = True
    return primary


def merge_profiles(lake: Lake, config: UnificationConfig, run_id: str, pair_paths: list[str],
                   tables: dict[str, str], previous_crosswalk: str | None) -> MergeOutcome:
    paths = RunPaths(run_id)
    procmem.release()  # what earlier activities of this worker freed: this one holds the most
    order = config.unification.match_order
    sources = [config.source(name) for name in order]
    records = read_parquet(lake, paths.match_features(), RECORD_FIELDS).to_pandas()
    records = records.sort_values(Col.RECORD_ID).reset_index(drop=True)
    custom = config.unification.custom
    ids = {(int(t), k): int(r) for t, k, r in zip(records["TableIndex"], records[Col.SOURCE_KEY],
                                                  records[Col.RECORD_ID], strict=True)} \
        if custom.always_match or custom.never_match else {}
    rank = _winner_rank(records, config)
    rules = compile_rules(config)
    include_all = {name: config.unification_of(name).include_all_records for name in order}
    always, never = _key_pairs(custom.always_match, config, ids), _key_pairs(custom.never_match, config, ids)
    settings = config.unification.probabilistic
    pairs = _read_pairs(lake, pair_paths, len(records), always if settings.enabled else None)
    if settings.enabled:
        clustering = cluster_probabilistic(records, pairs, rules, order, include_all, always, never,
                                           config.unification.max_cluster_size, rank, settings.one_to_one)
    else:
        clustering = cluster(records, pairs, rules, order, include_all, always, never,
                             config.unification.max_cluster_size, rank)
    pair_table = _lineage_pairs(pairs, records["TableIndex"].to_numpy())
    del pairs  # the lineage tables need the links only, as Arrow
    primary = _primary_records(records, clustering, rank)
    data_source = np.asarray([s.data_source for s in sources], dtype=object)[records["TableIndex"].to_numpy()]
    table_name = np.asarray([s.table for s in sources], dtype=object)[records["TableIndex"].to_numpy()]
    record_key = data_source + "|" + table_name + "|" + records[Col.SOURCE_KEY].to_numpy(dtype=object)
    kept = clustering.profile >= 0
    current = pd.DataFrame({"profile": clustering.profile[kept], "record_key": record_key[kept],
                            "is_primary": primary[kept]})
    is_winner = clustering.group_winner == records[Col.RECORD_ID].to_numpy()
    mapping = pa.table({"TableIndex": records["TableIndex"].to_numpy(np.int16),
                        Col.SOURCE_KEY: records[Col.SOURCE_KEY].to_numpy(dtype=object),
                        "profile": clustering.profile, "is_winner": is_winner, "is_primary_row": primary})
    custom_keys = custom_id_keys(lake, config, tables, mapping) if config.merge.custom_id_fields else None
    assignment = assign_ids(current, _previous_crosswalk(lake, previous_crosswalk), custom_keys)
    del current, record_key  # 2 M strings at a million customers; DuckDB needs the room next
    procmem.release()
    customers = _write_customers(lake, config, paths, tables, mapping, assignment)
    del mapping
    _write_lineage(lake, config, paths, records, clustering, assignment, pair_table, rules, primary, data_source,
                   table_name)
    outcome = MergeOutcome(records=int(kept.sum()), customers=customers,
                           merged_records=int(kept.sum()) - customers, new_ids=assignment.new,
                           merges=assignment.merges, splits=assignment.splits,
                           suspect_clusters=len(clustering.suspect))
    write_json(lake, paths.unified("clusters").replace(".parquet", ".json"), {
        "records": len(records), "profiles": customers, "dropped_records": int((~kept).sum()),
        "suspect_clusters": clustering.suspect, "merges": assignment.merges, "splits": assignment.splits,
        "new_ids": assignment.new, "cluster_sizes": _size_histogram(clustering.profile[kept])})
    return outcome


def custom_id_keys(lake: Lake, config: UnificationConfig, tables: dict[str, str], mapping: pa.Table) -> pd.Series:
    """Per profile, the natural key of a custom CustomerId: for each configured field (up to five) the first
    non-null ``TableName`` + value in match order, joined by ``|``; None when every field is empty."""
    order = config.unification.match_order
    names = {i: config.source(n).table for i, n in enumerate(order)}
    table_name = "CASE s.TableIndex " + " ".join(f"WHEN {i} THEN {quote_literal(t, 'duckdb')}" for i, t in
                                               names.items()) + " END"
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        con.register("mapping", mapping)
        selects = [f"SELECT {i}::SMALLINT AS TableIndex, * FROM {parquet_source(lake, [tables[name]])}"
                   for i, name in enumerate(order) if name in tables]
        con.execute("CREATE TEMP VIEW snapshots AS " + " UNION ALL BY NAME ".join(selects))
        columns = {row[0] for row in con.execute("DESCRIBE snapshots").fetchall()}
        parts = [f"arg_min({table_name} || CAST(s.{q(f)} AS VARCHAR), s.TableIndex) "
                 f"FILTER (WHERE s.{q(f)} IS NOT NULL)" for f in config.merge.custom_id_fields if f in columns]
        if not parts:
            return pd.Series(dtype=object)
        key = " || '|' || ".join(f"coalesce({p}, '')" for p in parts)
        any_value = " OR ".join(f"s.{q(f)} IS NOT NULL" for f in config.merge.custom_id_fields if f in columns)
        frame = con.execute(
            f"SELECT m.profile, CASE WHEN bool_or({any_value}) THEN {key} END AS natural_key FROM snapshots s "
            f"JOIN mapping m ON s.TableIndex = m.TableIndex AND s.{q(Col.SOURCE_KEY)} = m.{q(Col.SOURCE_KEY)} "
            "WHERE m.is_winner AND m.profile >= 0 GROUP BY m.profile").df()
    keys = frame.set_index("profile")["natural_key"]
    return keys.where(keys.notna(), None)


def _size_histogram(profile: np.ndarray) -> dict[str, int]:
    sizes = np.bincount(np.unique(profile, return_inverse=True)[1]) if len(profile) else np.zeros(0, int)
    values, counts = np.unique(sizes, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def _write_customers(lake: Lake, config: UnificationConfig, paths: RunPaths, tables: dict[str, str],
                     mapping: pa.Table, assignment: object) -> int:
    order = config.unification.match_order
    previous = assignment.previous  # type: ignore[attr-defined]
    ids = pa.table({"profile": pa.array(np.asarray(assignment.customer_id.index, dtype=np.int64)),  # type: ignore[attr-defined]
                    Col.CUSTOMER_ID: pa.array(assignment.customer_id.tolist(), pa.string()),  # type: ignore[attr-defined]
                    Col.PREVIOUS_CUSTOMER_ID: pa.array([v if isinstance(v, str) else None for v in previous.tolist()],
                                                       pa.string())})
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        con.register("mapping", mapping)
        con.register("ids", ids)
        selects = [f"SELECT {i}::SMALLINT AS TableIndex, * FROM {parquet_source(lake, [tables[name]])}"
                   for i, name in enumerate(order) if name in tables]
        con.execute("CREATE TEMP VIEW snapshots AS " + " UNION ALL BY NAME ".join(selects))
        columns = {row[0] for row in con.execute("DESCRIBE snapshots").fetchall()}
        winners = np.asarray(mapping.column("is_winner")) & (np.asarray(mapping.column("profile")) >= 0)
        passes = max(1, -(-int(winners.sum()) // SURVIVORSHIP_ROWS))
        for index in range(passes):  # a profile's rows are all in one pass: profile % passes
            candidates = (f"(SELECT s.*, m.profile FROM snapshots s JOIN (SELECT * FROM mapping WHERE is_winner "
                          f"AND profile >= 0 AND profile % {passes} = {index}) m ON s.TableIndex = m.TableIndex "
                          f"AND s.{q(Col.SOURCE_KEY)} = m.{q(Col.SOURCE_KEY)})")
            verb = "CREATE TEMP TABLE merged AS" if index == 0 else "INSERT INTO merged"
            con.execute(f"{verb} {survivorship_sql(config, candidates, columns)}")
        kept = "(SELECT * FROM mapping WHERE profile >= 0)"
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
                 f"FROM merged m JOIN ids i USING (profile) JOIN keys k USING (profile) {join_household} "
                 f"ORDER BY i.{q(Col.CUSTOMER_ID)}")
        return copy_to_lake(con, query, lake, paths.unified(CUSTOMER))


def _write_lineage(lake: Lake, config: UnificationConfig, paths: RunPaths, records: pd.DataFrame,
                   clustering: Clustering, assignment: object, pair_table: pa.Table, rules: list,
                   primary: np.ndarray, data_source: np.ndarray, table_name: np.ndarray) -> None:
    customer_of = assignment.customer_id  # type: ignore[attr-defined]
    record_ids = records[Col.RECORD_ID].to_numpy()
    lineage = pa.table({
        "record": record_ids, "TableIndex": records["TableIndex"].to_numpy(np.int16),
        "profile": clustering.profile, "group_winner": clustering.group_winner, "IsPrimary": primary,
        Col.DATA_SOURCE: pa.array(data_source, pa.string()), Col.TABLE: pa.array(table_name, pa.string()),
        "AlternateValue": pa.array(records[Col.SOURCE_KEY].to_numpy(dtype=object), pa.string())})
    ids = pa.table({"profile": pa.array(np.asarray(customer_of.index, dtype=np.int64)),
                    Col.CUSTOMER_ID: pa.array(customer_of.tolist(), pa.string())})
    facts = rule_facts(config, rules)
    rule_table = pa.table({"rule": pa.array(list(facts), pa.int32()),
                           "RuleName": pa.array([f[0] for f in facts.values()], pa.string()),
                           "priority": pa.array([f[1] for f in facts.values()], pa.int32())})
    links = pa.table({"left": clustering.links["left"].to_numpy(np.int64) if len(clustering.links) else
                      np.zeros(0, np.int64),
                      "right": clustering.links["right"].to_numpy(np.int64) if len(clustering.links) else
                      np.zeros(0, np.int64)})
    order = config.unification.match_order
    table_names = pa.table({"TableIndex": pa.array(range(len(order)), pa.int16()),
                            "Source": pa.array(order, pa.string())})
    with lake_duckdb(lake, memory_limit=MERGE_DUCKDB_MEMORY) as con:
        for name, table in (("lineage", lineage), ("ids", ids), ("rules", rule_table), ("pairs", pair_table),
                            ("links", links), ("sources", table_names)):
            con.register(name, table)
        identifier = f"{q(Col.DATA_SOURCE)} || '|' || {q(Col.TABLE)} || '|' || AlternateValue"
        copy_to_lake(con, f"""
            SELECT i.{q(Col.CUSTOMER_ID)}, l.{q(Col.DATA_SOURCE)}, l.{q(Col.TABLE)}, l.AlternateValue,
                   {identifier} AS Identifier, {uuid5_sql(identifier, uuid.NAMESPACE_URL)} AS AlternateKeyId,
                   l.IsPrimary, l.group_winner = l.record AS IsDeduplicationWinner
            FROM lineage l JOIN ids i USING (profile) ORDER BY l.record""", lake, paths.unified(ALTERNATE_KEY))
        # per record: the first rule (by priority) and best score of the deduplication pairs it is in
        con.execute("""
            CREATE TEMP TABLE best AS
            SELECT record, arg_min(RuleName, (priority, -score)) AS Rule,
                   arg_min(score, (priority, -score)) AS Score FROM (
                SELECT "left" AS record, rule, score FROM pairs WHERE same_table
                UNION ALL SELECT "right", rule, score FROM pairs WHERE same_table) JOIN rules USING (rule)
            GROUP BY record""")
        for index, name in enumerate(order):
            group_key = f"'group|{name}|' || w.AlternateValue"
            copy_to_lake(con, f"""
                SELECT l.AlternateValue AS {q(Col.SOURCE_KEY)},
                       {uuid5_sql(group_key)} AS Deduplication_GroupId,
                       w.AlternateValue AS Deduplication_WinnerId, b.Rule, b.Score,
                       count(*) OVER (PARTITION BY l.group_winner) AS GroupSize
                FROM lineage l LEFT JOIN lineage w ON w.record = l.group_winner LEFT JOIN best b ON b.record = l.record
                WHERE l.TableIndex = {index} ORDER BY l.record""",
                         lake, paths.unified(dedup_table_name(config, name)))
        copy_to_lake(con, """
            SELECT s1.Source AS Table1, a.AlternateValue AS Key1, s2.Source AS Table2, b.AlternateValue AS Key2,
                   r.RuleName AS Rule, p.score AS Score, k."left" IS NOT NULL AS Linked
            FROM pairs p JOIN lineage a ON a.record = p."left" JOIN lineage b ON b.record = p."right"
            JOIN sources s1 ON s1.TableIndex = a.TableIndex JOIN sources s2 ON s2.TableIndex = b.TableIndex
            JOIN rules r USING (rule)
            LEFT JOIN (SELECT DISTINCT "left", "right" FROM links) k
                   ON k."left" = p."left" AND k."right" = p."right"  -- a pair linked under two rules: one row
            WHERE NOT p.same_table
            """, lake, paths.unified(MATCH_PAIRS))


def rule_facts(config: UnificationConfig, rules: list) -> dict[int, tuple[str, int]]:
    """Rule id → (name, priority) for CI rules and probabilistic blocking rules (which rank last)."""
    from shared.match.train import blocking_rules

    facts = {r.id: (r.name, r.priority) for r in rules}
    if config.unification.probabilistic.enabled:
        facts.update({b.id: (b.name, 1000) for b in blocking_rules(config.unification.probabilistic, len(rules))})
    return facts


__all__ = ["ALTERNATE_KEY", "CUSTOMER", "MATCH_PAIRS", "MergeOutcome", "merge_profiles", "quote_literal"]
