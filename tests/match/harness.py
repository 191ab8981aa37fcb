"""Run the real match steps (convert → snapshot → plan → score partitions → merge) on tiny tables."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.config.model import UnificationConfig
from shared.enrich.activity import UNIFIED_ACTIVITY, unify_activities
from shared.enrich.run import FIRST_STAGE, detail_path, membership_path, run_enrichment
from shared.ingest.convert import convert_file
from shared.ingest.snapshot import ConvertedPart, build_snapshot
from shared.lakeio import read_json, read_parquet, read_parquet_many, write_parquet
from shared.match.fellegi_sunter import FsModel
from shared.match.partition import score_partition
from shared.match.plan import MatchSetup, plan_partitions, read_partition
from shared.merge.unify import ALTERNATE_KEY, CUSTOMER, SHARD_CUSTOMERS, merge_profiles, unified_files
from shared.names import Enrichment
from shared.paths import RunPaths


@dataclass
class Unified:
    lake: LocalLake
    run_id: str
    customers: pd.DataFrame
    keys: pd.DataFrame  # AlternateKey
    snapshots: dict[str, str]  # table name → snapshot path (sources and activities)

    def customer_of(self, table: str, key: str) -> str:
        row = self.keys[(self.keys["TableName"] == table) & (self.keys["AlternateValue"] == key)]
        assert len(row) == 1, (table, key, len(row))
        return str(row["CustomerId"].iloc[0])

    def together(self, *refs: tuple[str, str]) -> bool:
        return len({self.customer_of(t, k) for t, k in refs}) == 1

    def profile(self, table: str, key: str) -> dict[str, object]:
        cid = self.customer_of(table, key)
        return self.customers[self.customers["CustomerId"] == cid].iloc[0].to_dict()

    def table(self, name: str) -> pd.DataFrame:
        return read_parquet(self.lake, RunPaths(self.run_id).unified(name)).to_pandas()


def unify(root: Path, config_text: str, tables: dict[str, list[dict[str, str]]], run_id: str = "run1",
          previous: Unified | None = None, shard_customers: int = SHARD_CUSTOMERS) -> Unified:
    """``tables``: source name → rows (CSV-like dicts). ``previous``: the last run (its crosswalk is kept).
    ``shard_customers``: customers per shard of the Customer table (each shard written on its own)."""
    lake = LocalLake(root)
    config = load_config_text(config_text)
    paths = RunPaths(run_id)
    snapshots = snapshot_tables(lake, config, tables, run_id)
    sources = {name: path for name, path in snapshots.items() if name in config.unification.match_order}
    _, partitions = plan_partitions(lake, config, run_id, sources, 1000)
    model_path = paths.match_model()
    model = FsModel.from_dict(read_json(lake, model_path)) if lake.exists(model_path) else None
    pair_paths = []
    for index, files in enumerate(partitions):
        pairs, _ = score_partition(config, read_partition(lake, MatchSetup.of(config), files), model)
        write_parquet(lake, paths.match_pairs(index), pairs)
        pair_paths.append(paths.match_pairs(index))
    crosswalk = [RunPaths(previous.run_id).unified(ALTERNATE_KEY)] if previous else []
    merge_profiles(lake, config, run_id, pair_paths, sources, crosswalk, shard_customers)
    return Unified(lake, run_id, read_parquet_many(lake, unified_files(lake, run_id, CUSTOMER)).to_pandas(),
                   read_parquet(lake, paths.unified(ALTERNATE_KEY)).to_pandas(), snapshots)


def snapshot_tables(lake: LocalLake, config: UnificationConfig, tables: dict[str, list[dict[str, str]]],
                    run_id: str) -> dict[str, str]:
    """Land, convert and snapshot each table's rows (CSV-like dicts); table name → snapshot path."""
    paths = RunPaths(run_id)
    snapshots = {}
    for name, rows in tables.items():
        source = config.table(name)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
        landed = f"landing/{run_id}/{name}.csv"
        lake.write_bytes(landed, buffer.getvalue().encode())
        converted = f"converted/{run_id}/{name}.parquet"
        assert convert_file(lake, source, landed, converted, f"q/{run_id}/{name}.parquet").error is None
        build_snapshot(lake, source, None, [ConvertedPart(converted, "full", None, "2026-01-01T00:00:00+00:00", 0)],
                       paths.table(name))
        snapshots[name] = paths.table(name)
    return snapshots


def enrich(unified: Unified, config_text: str) -> dict[str, pd.DataFrame]:
    """The enrichment activities on a unified run: unified activity, then each enrichment (as the orchestrator)."""
    config = load_config_text(config_text)
    unify_activities(unified.lake, config, unified.run_id, unified.snapshots)
    out = {"UnifiedActivity": unified.table(UNIFIED_ACTIVITY)}
    for which in (*FIRST_STAGE, Enrichment.SEGMENTS):
        outcome = run_enrichment(unified.lake, config, unified.run_id, which)
        if outcome.path:
            out[which.value] = read_parquet(unified.lake, outcome.path).to_pandas()
    paths = RunPaths(unified.run_id)
    for name, path in (("BrandAffinity", detail_path(paths)), ("SegmentMembership", membership_path(paths))):
        if unified.lake.exists(path):
            out[name] = read_parquet(unified.lake, path).to_pandas()
    return out
