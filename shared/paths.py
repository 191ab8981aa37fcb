"""Lake paths, defined once. Everything a run writes lives under its own folder until it is published."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.names import Lake as L


def file_id(path: str, etag: str) -> str:
    """A stable id for one version of a landed file (path + ETag)."""
    return hashlib.sha256(f"{path}\n{etag}".encode()).hexdigest()[:20]


@dataclass(frozen=True)
class RunPaths:
    run_id: str

    @property
    def root(self) -> str:
        return f"{L.RUNS}/{self.run_id}"

    @property
    def record(self) -> str:
        return f"{self.root}/run.json"

    @property
    def config(self) -> str:
        return f"{self.root}/c360.yaml"

    def table(self, table: str) -> str:
        return f"{self.root}/tables/{table}.parquet"

    @property
    def match_features_folder(self) -> str:
        """Every record (id, table, key, recency, filled count) with its normalized match features, in
        record-id order, one file per slice of records."""
        return f"{self.root}/match/features"

    def match_features(self, slice_index: int) -> str:
        return f"{self.match_features_folder}/slice-{slice_index:05d}.parquet"

    def match_term_frequencies(self, column: str) -> str:
        """Each value of one feature and the share of records holding it."""
        return f"{self.root}/match/tf/{column}.parquet"

    @property
    def match_plan(self) -> str:
        """The match plan: snapshot tables, records, partitions and slices."""
        return f"{self.root}/match/plan.json"

    @property
    def match_shared_keys(self) -> str:
        """The (rule, key hash) pairs that two block rows or more hold: the block rows worth writing."""
        return f"{self.root}/match/keys.parquet"

    @property
    def match_families(self) -> str:
        """The row families whose members share block rows in this run (their columns' values are not too common)."""
        return f"{self.root}/match/families.json"

    def match_model(self) -> str:
        return f"{self.root}/match/model.json"

    def match_partition(self, index: int, slice_index: int) -> str:
        """One slice's block rows of one match partition."""
        return f"{self.root}/match/partitions/part-{index:05d}/slice-{slice_index:05d}.parquet"

    def match_pairs(self, index: int) -> str:
        return f"{self.root}/match/pairs/part-{index:05d}.parquet"

    def unified(self, name: str) -> str:
        return f"{self.root}/unified/{name}.parquet"

    def unified_folder(self, name: str) -> str:
        """A unified table written by a fan-out: one file per shard (``Customer``)."""
        return f"{self.root}/unified/{name}"

    def unified_shard(self, name: str, index: int) -> str:
        return f"{self.unified_folder(name)}/part-{index:05d}.parquet"

    def merge_table(self, name: str) -> str:
        """What the merge's clustering hands to the activities writing the unified tables (record labels,
        ids, links): numbers, keys and ids, no customer field."""
        return f"{self.root}/merge/{name}.parquet"

    def enrichment(self, name: str) -> str:
        return f"{self.root}/enrich/{name}.parquet"

    def enrichment_model(self, name: str) -> str:
        return f"{self.root}/enrich/{name}.model.json"

    @property
    def export_root(self) -> str:
        return f"{L.CURATED}/runs/{self.run_id}"

    def export_table(self, entity: str) -> str:
        return f"{self.export_root}/{entity}"

    @property
    def view_typing(self) -> str:
        """Each exported entity's files, schema and longest text values, measured by the export."""
        return f"{self.root}/export/view_typing.json"

    def export_part(self, part: str) -> str:
        """What one ``export_tables`` activity wrote (its entities' files and typing), for ``describe_export``."""
        return f"{self.root}/export/parts/{part}.json"

    def quarantine(self, table: str, fid: str) -> str:
        return f"quarantine/{self.run_id}/{table}/{fid}.parquet"

    @property
    def report(self) -> str:
        return f"{self.root}/report.html"

    @property
    def report_json(self) -> str:
        return f"{self.root}/report.json"


def converted_file(data_source: str, table: str, fid: str) -> str:
    """Per landed file conversions are content-addressed (path + ETag) and never change once written."""
    return f"cdm/converted/{data_source}/{table}/{fid}.parquet"


CONVERTED_ROOT = "cdm/converted"
LEDGER_PENDING = f"{L.LEDGER}/pending"
LEDGER_DONE = f"{L.LEDGER}/done"
