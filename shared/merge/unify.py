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

from shared.config.model import KeyPair, UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.lakeio import read_parquet, read_parquet_many, write_json, write_parquet
from shared.match.cluster import Clustering, cluster, cluster_probabilistic
from shared.match.partition import PAIRS_SCHEMA
from shared.match.rules import compile_rules
from shared.merge.customer_id import assign_ids, system_id
from shared.merge.survivorship import household_sql, q, source_keys_sql, survivorship_sql
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake
from shared.sql.identifiers import quote_literal

RECORD_FIELDS = [Col.RECORD_ID, "TableIndex", Col.SOURCE_KEY, Col.RECORD_MODIFIED, "Filled"]
ALTERNATE_KEY = "AlternateKey"
CUSTOMER = "Customer"
MATCH_PAIRS = "ConflationMatchPairs"


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
    policy = records["TableIndex"].map(lambda i: config.unification_of(order[i]).deduplication.winner.policy)
    modified = pd.to_datetime(records[Col.RECORD_MODIFIED], utc=True)
    recency = ((modified - pd.Timestamp(0, tz="UTC")).dt.total_seconds()).fillna(-np.inf).to_numpy()
    primary = np.select([policy == "most_recent", policy == "least_recent"], [-recency, recency],
                        default=-records["Filled"].to_numpy(dtype=np.float64))
    frame = pd.DataFrame({"primary": primary, "key": records[Col.SOURCE_KEY].to_numpy()})
    ranked = frame.sort_values(["primary", "key"], ascending=[True, False], kind="stable")
    rank = np.empty(len(frame), np.int64)
    rank[ranked.index.to_numpy()] = np.arange(len(frame))
    return rank


def _previous_crosswalk(lake: Lake, path: str | None) -> pd.DataFrame | None:
    if path is None:
        return None
    table = read_parquet(lake, path, [Col.DATA_SOURCE, Col.TABLE, "AlternateValue", Col.CUSTOMER_ID, "IsPrimary"])
    frame = table.to_pandas()
    return pd.DataFrame({"record_key": frame[Col.DATA_SOURCE] + "|" + frame[Col.TABLE] + "|" + frame["AlternateValue"],
                         "CustomerId": frame[Col.CUSTOMER_ID], "is_primary": frame["IsPrimary"].astype(bool)})


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
    order = config.unification.match_order
    sources = [config.source(name) for name in order]
    records = read_parquet(lake, paths.match_features(), RECORD_FIELDS).to_pandas()
    records = records.sort_values(Col.RECORD_ID).reset_index(drop=True)
    pairs = read_parquet_many(lake, pair_paths, schema=PAIRS_SCHEMA).to_pandas()
    ids = {(int(t), k): int(r) for t, k, r in zip(records["TableIndex"], records[Col.SOURCE_KEY],
                                                  records[Col.RECORD_ID], strict=True)}
    custom = config.unification.custom
    rank = _winner_rank(records, config)
    rules = compile_rules(config)
    include_all = {name: config.unification_of(name).include_all_records for name in order}
    always, never = _key_pairs(custom.always_match, config, ids), _key_pairs(custom.never_match, config, ids)
    settings = config.unification.probabilistic
    if settings.enabled:
        clustering = cluster_probabilistic(records, pairs, rules, order, include_all, always, never,
                                           config.unification.max_cluster_size, rank, settings.one_to_one)
    else:
        clustering = cluster(records, pairs, rules, order, include_all, always, never,
                             config.unification.max_cluster_size, rank)
    primary = _primary_records(records, clustering, rank)
    data_source = np.asarray([s.data_source for s in sources], dtype=object)[records["TableIndex"].to_numpy()]
    table_name = np.asarray([s.table for s in sources], dtype=object)[records["TableIndex"].to_numpy()]
    record_key = data_source + "|" + table_name + "|" + records[Col.SOURCE_KEY].to_numpy(dtype=object)
    kept = clustering.profile >= 0
    current = pd.DataFrame({"profile": clustering.profile[kept], "record_key": record_key[kept],
                            "is_primary": primary[kept]})
    assignment = assign_ids(current, _previous_crosswalk(lake, previous_crosswalk))
    is_winner = clustering.group_winner == records[Col.RECORD_ID].to_numpy()
    mapping = pa.table({"TableIndex": records["TableIndex"].to_numpy(np.int16),
                        Col.SOURCE_KEY: records[Col.SOURCE_KEY].to_numpy(dtype=object),
                        "profile": clustering.profile, "is_winner": is_winner, "is_primary_row": primary})
    customers = _write_customers(lake, config, paths, tables, mapping, assignment)
    _write_lineage(lake, config, paths, records, clustering, assignment, pairs, rules, primary, data_source,
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


def _size_histogram(profile: np.ndarray) -> dict[str, int]:
    sizes = np.bincount(np.unique(profile, return_inverse=True)[1]) if len(profile) else np.zeros(0, int)
    values, counts = np.unique(sizes, return_counts=True)
    return {str(int(v)): int(c) for v, c in zip(values, counts, strict=True)}


def _write_customers(lake: Lake, config: UnificationConfig, paths: RunPaths, tables: dict[str, str],
                     mapping: pa.Table, assignment: object) -> int:
    order = config.unification.match_order
    ids = pa.table({"profile": np.asarray(assignment.customer_id.index, dtype=np.int64),  # type: ignore[attr-defined]
                    Col.CUSTOMER_ID: assignment.customer_id.to_numpy(dtype=object),  # type: ignore[attr-defined]
                    Col.PREVIOUS_CUSTOMER_ID: assignment.previous.to_numpy(dtype=object)})  # type: ignore[attr-defined]
    with lake_duckdb(lake) as con:
        con.register("mapping", mapping)
        con.register("ids", ids)
        selects = [f"SELECT {i}::SMALLINT AS TableIndex, * FROM {parquet_source(lake, [tables[name]])}"
                   for i, name in enumerate(order) if name in tables]
        con.execute("CREATE TEMP VIEW snapshots AS " + " UNION ALL BY NAME ".join(selects))
        con.execute(f"CREATE TEMP VIEW candidates AS SELECT s.*, m.profile FROM snapshots s JOIN mapping m "
                    f"ON s.TableIndex = m.TableIndex AND s.{q(Col.SOURCE_KEY)} = m.{q(Col.SOURCE_KEY)} "
                    "WHERE m.is_winner AND m.profile >= 0")
        columns = {row[0] for row in con.execute("DESCRIBE snapshots").fetchall()}
        con.execute(f"CREATE TEMP TABLE merged AS {survivorship_sql(config, 'candidates', columns)}")
        con.execute(f"CREATE TEMP TABLE keys AS {source_keys_sql(config, '(SELECT * FROM mapping WHERE profile >= 0)')}")
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
                   clustering: Clustering, assignment: object, pairs: pd.DataFrame, rules: list,
                   primary: np.ndarray, data_source: np.ndarray, table_name: np.ndarray) -> None:
    customer_of = assignment.customer_id  # type: ignore[attr-defined]
    kept = clustering.profile >= 0
    identifier = data_source + "|" + table_name + "|" + records[Col.SOURCE_KEY].to_numpy(dtype=object)
    alternate = pd.DataFrame({
        Col.CUSTOMER_ID: pd.Series(clustering.profile).map(customer_of).to_numpy(dtype=object),
        Col.DATA_SOURCE: data_source, Col.TABLE: table_name, "AlternateValue": records[Col.SOURCE_KEY].to_numpy(),
        "Identifier": identifier,
        "AlternateKeyId": [str(uuid.uuid5(uuid.NAMESPACE_URL, i)) for i in identifier],
        "IsPrimary": primary,
        "IsDeduplicationWinner": clustering.group_winner == records[Col.RECORD_ID].to_numpy()})[kept]
    write_parquet(lake, paths.unified(ALTERNATE_KEY), pa.Table.from_pandas(alternate, preserve_index=False))
    key_of = records[Col.SOURCE_KEY].to_numpy(dtype=object)
    facts = rule_facts(config, rules)
    table_of = records["TableIndex"].to_numpy()
    pairs = pairs[~pairs["cannot"]] if "cannot" in pairs else pairs
    same_table = table_of[pairs["left"].to_numpy()] == table_of[pairs["right"].to_numpy()]
    dedupe_pairs = pairs[same_table]
    rule_names = {rid: fact[0] for rid, fact in facts.items()}
    for index, name in enumerate(config.unification.match_order):
        members = np.flatnonzero(records["TableIndex"].to_numpy() == index)
        groups = clustering.group[members]
        best = _best_rule_per_record(dedupe_pairs, members, rule_names, {k: v[1] for k, v in facts.items()})
        frame = pd.DataFrame({
            Col.SOURCE_KEY: key_of[members],
            "Deduplication_GroupId": [system_id(f"group|{name}|{key_of[clustering.group_winner[m]]}") for m in members],
            "Deduplication_WinnerId": key_of[clustering.group_winner[members]],
            "Rule": best["Rule"].to_numpy(dtype=object), "Score": best["Score"].to_numpy()})
        frame["GroupSize"] = pd.Series(groups).map(pd.Series(groups).value_counts()).to_numpy()
        write_parquet(lake, paths.unified(dedup_table_name(config, name)),
                      pa.Table.from_pandas(frame, preserve_index=False))
    _write_match_pairs(lake, config, paths, records, clustering, pairs[~same_table], rule_names, key_of)


def rule_facts(config: UnificationConfig, rules: list) -> dict[int, tuple[str, int]]:
    """Rule id → (name, priority) for CI rules and probabilistic blocking rules (which rank last)."""
    from shared.match.train import blocking_rules

    facts = {r.id: (r.name, r.priority) for r in rules}
    if config.unification.probabilistic.enabled:
        facts.update({b.id: (b.name, 1000) for b in blocking_rules(config.unification.probabilistic, len(rules))})
    return facts


def _best_rule_per_record(pairs: pd.DataFrame, members: np.ndarray, rule_names: dict[int, str],
                          priority: dict[int, int]) -> pd.DataFrame:
    """For each record: the first rule (by priority) and best score of the deduplication pairs it is in."""
    both = pd.concat([pairs.rename(columns={"left": "record"})[["record", "rule", "score"]],
                      pairs.rename(columns={"right": "record"})[["record", "rule", "score"]]])
    both = both[both["record"].isin(members)]
    both = both.assign(priority=both["rule"].map(priority)).sort_values(["record", "priority", "score"],
                                                                          ascending=[True, True, False])
    best = both.drop_duplicates("record").set_index("record")
    out = pd.DataFrame(index=members)
    out["Rule"] = best["rule"].map(rule_names).reindex(members)
    out["Score"] = best["score"].reindex(members).astype("float64")
    return out


def _write_match_pairs(lake: Lake, config: UnificationConfig, paths: RunPaths, records: pd.DataFrame,
                       clustering: Clustering, cross: pd.DataFrame, rule_names: dict[int, str],
                       key_of: np.ndarray) -> None:
    order = config.unification.match_order
    table_of = records["TableIndex"].to_numpy()
    linked = set(zip(clustering.links["left"].astype(np.int64), clustering.links["right"].astype(np.int64),
                     strict=True)) if len(clustering.links) else set()
    frame = pd.DataFrame({
        "Table1": [order[t] for t in table_of[cross["left"].to_numpy()]],
        "Key1": key_of[cross["left"].to_numpy()],
        "Table2": [order[t] for t in table_of[cross["right"].to_numpy()]],
        "Key2": key_of[cross["right"].to_numpy()],
        "Rule": cross["rule"].map(lambda r: rule_names[int(r)]).to_numpy(dtype=object),
        "Score": cross["score"].astype("float64").to_numpy(),
        "Linked": [(a, b) in linked for a, b in zip(cross["left"], cross["right"], strict=True)],
    })
    write_parquet(lake, paths.unified(MATCH_PAIRS), pa.Table.from_pandas(frame, preserve_index=False))


__all__ = ["ALTERNATE_KEY", "CUSTOMER", "MATCH_PAIRS", "MergeOutcome", "merge_profiles", "quote_literal"]
