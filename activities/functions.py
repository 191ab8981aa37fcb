"""Each activity: parse the payload, call its step, return the step's small result."""

from __future__ import annotations

from typing import Any

import azure.durable_functions as df

from activities.runtime import runtime
from shared import steps
from shared.payloads import (
    ApplyInput,
    ApplyResult,
    BlockSlice,
    ConvertInput,
    CustomerShard,
    EnrichInput,
    ExportInput,
    ExportPartInput,
    FinishInput,
    LineageTable,
    MatchPlan,
    MergeInput,
    MergeResult,
    PartitionRef,
    PrepareInput,
    PublishInput,
    RecordSlice,
)

bp = df.Blueprint()


@bp.activity_trigger(input_name="payload")
def check_landing(payload: dict[str, Any]) -> dict[str, Any]:
    """Count the files waiting in the ledger and report when the newest arrived."""
    return steps.check_landing(runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def prepare_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Freeze the config into the run and choose the landed files it processes."""
    return steps.prepare_run(PrepareInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def convert_source_file(payload: dict[str, Any]) -> dict[str, Any]:
    """Convert one landed source file to a CDM entity in the lake (bad rows to the quarantine)."""
    return steps.convert_source_file(ConvertInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def apply_source_changes(payload: dict[str, Any]) -> dict[str, Any]:
    """Build the run's snapshot of every changed table (full data, upserts, deletes, unique keys)."""
    return steps.apply_source_changes(ApplyInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def plan_match_partitions(payload: dict[str, Any]) -> dict[str, Any]:
    """Lay out the match: the slices of records and the partitions, from the snapshots' row counts."""
    return steps.plan_match_partitions(ApplyResult.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def write_features(payload: dict[str, Any]) -> dict[str, Any]:
    """Normalize one slice of records into its features file."""
    return steps.write_features(RecordSlice.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def train_match_model(payload: dict[str, Any]) -> dict[str, Any]:
    """Train the probabilistic model on every slice's features and write the term frequencies."""
    return steps.train_match_model(MatchPlan.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def count_block_keys(payload: dict[str, Any]) -> dict[str, Any]:
    """Find the blocking keys that two block rows or more hold, over every slice's features."""
    return steps.count_block_keys(MatchPlan.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def write_block_rows(payload: dict[str, Any]) -> dict[str, Any]:
    """Write one slice's block rows into the match partitions (a file per partition)."""
    return steps.write_block_rows(BlockSlice.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def match_partition(payload: dict[str, Any]) -> dict[str, Any]:
    """Score the candidate pairs of one partition against the match rules."""
    return steps.match_partition(PartitionRef.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def merge_clusters(payload: dict[str, Any]) -> dict[str, Any]:
    """Cluster matched records into profiles and assign stable CustomerIds."""
    return steps.merge_clusters(MergeInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def write_customer_shard(payload: dict[str, Any]) -> dict[str, Any]:
    """Merge the fields of one shard of the profiles into its part of the Customer table."""
    return steps.write_customer_shard(CustomerShard.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def write_lineage_table(payload: dict[str, Any]) -> dict[str, Any]:
    """Write one lineage table: the crosswalk (AlternateKey), the deduplication tables or ConflationMatchPairs."""
    return steps.write_lineage_table(LineageTable.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def unify_activities(payload: dict[str, Any]) -> dict[str, Any]:
    """Link every order and order line to its CustomerId."""
    return steps.unify_activities(MergeResult.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def enrich_profiles(payload: dict[str, Any]) -> dict[str, Any]:
    """Compute one enrichment (measures, lifetime value, churn, brand affinity or segments)."""
    return steps.enrich_profiles(EnrichInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def export_tables(payload: dict[str, Any]) -> dict[str, Any]:
    """Write one part of the export to the run's folder: the dimension, the lineage tables or an enrichment table."""
    return steps.export_tables(ExportPartInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def describe_export(payload: dict[str, Any]) -> dict[str, Any]:
    """Write the export's CDM metadata and view-typing record once every part is written."""
    return steps.describe_export(ExportInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def publish_sql_views(payload: dict[str, Any]) -> dict[str, Any]:
    """Switch the SQL views to the run's export and mark it as the published run."""
    return steps.publish_sql_views(PublishInput.from_dict(payload), runtime()).to_dict()


@bp.activity_trigger(input_name="payload")
def finish_run(payload: dict[str, Any]) -> dict[str, Any]:
    """Record the run's outcome and commit its files to the ledger once published."""
    return steps.finish_run(FinishInput.from_dict(payload), runtime()).to_dict()
