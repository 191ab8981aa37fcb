"""One step per activity: read through the lake → transform → write through the lake → a small result.

Steps are what the activities call; they take and return payloads (paths and counts, never rows), and
record their timing and counts in the run's ``steps/`` folder.
"""

from __future__ import annotations

import functools
import logging
from datetime import datetime

from shared import ledger
from shared.config import UnificationConfig, load_config_text
from shared.errors import ConfigError, LakeNotFound
from shared.ingest.convert import convert_file
from shared.ingest.landing import classify
from shared.ingest.metadata import write_converted_metadata
from shared.ingest.snapshot import ConvertedPart, build_snapshot
from shared.lakeio import parquet_files, read_json, write_json
from shared.match.fellegi_sunter import FsModel
from shared.match.partition import PAIRS_SCHEMA, PartitionStats, scored_pairs
from shared.match.plan import (
    MatchSetup,
    plan_match,
    read_partition,
    train_match,
    write_block_keys,
    write_slice_block_rows,
    write_slice_features,
)
from shared.merge import unify
from shared.merge.unify import ALTERNATE_KEY, CUSTOMER
from shared.names import Enrichment, ExportPart, Lineage
from shared.paths import RunPaths, converted_file, file_id
from shared.payloads import (
    ActivitiesResult,
    ApplyInput,
    ApplyResult,
    BlockSlice,
    ConvertInput,
    ConvertResult,
    CustomerShard,
    EnrichInput,
    EnrichResult,
    ExportInput,
    ExportPartInput,
    ExportPartResult,
    ExportResult,
    FileRef,
    FinishInput,
    LandingState,
    LineageTable,
    MatchPlan,
    MatchResult,
    MergeInput,
    MergeResult,
    PartitionRef,
    PrepareInput,
    PublishInput,
    PublishResult,
    RecordSlice,
    RunPlan,
    RunSummary,
    SliceResult,
    TableRef,
    TableRows,
)
from shared.runs import current, mark_interrupted, now_utc, step_record, write_run_record
from shared.runtime import Runtime

log = logging.getLogger(__name__)


def run_config(runtime: Runtime, run_id: str) -> UnificationConfig:
    """The config frozen into the run's folder when it started (every activity of a run sees the same)."""
    path = RunPaths(run_id).config
    return _parsed_config(runtime.lake.read_bytes(path).decode("utf-8"), path)


@functools.lru_cache(maxsize=8)
def _parsed_config(text: str, source: str) -> UnificationConfig:
    """Parsed once per config text: a run's hundred partition activities read the same file."""
    return load_config_text(text, source)


# -- prepare ------------------------------------------------------------------------------------------


def check_landing(runtime: Runtime) -> LandingState:
    """How many files wait in the ledger, and when the newest arrived (the orchestrator debounces on it)."""
    entries = ledger.pending(runtime.lake)
    return LandingState(len(entries), max((e.seen_at for e in entries), default=None))


def prepare_run(request: PrepareInput, runtime: Runtime) -> RunPlan:
    """Freeze the config into the run, and pick the files this run processes from the ledger."""
    lake, settings = runtime.lake, runtime.settings
    paths = RunPaths(request.run_id)
    with step_record(lake, request.run_id, "prepare_run") as record:
        try:
            text = lake.read_bytes(settings.config_path).decode("utf-8")
        except LakeNotFound as exc:
            raise ConfigError(f"no unification config at lake path {settings.config_path}") from exc
        config = load_config_text(text, settings.config_path)
        lake.write_bytes(paths.config, text.encode("utf-8"))
        started = datetime.fromisoformat(request.started_at)
        if request.mode in ("full", "full_since"):
            _scan_landing(runtime, config, started)
        files: list[FileRef] = []
        deferred: list[FileRef] = []
        for entry in ledger.pending(lake):
            landed = classify(entry.path, settings.landing_prefix, config)
            if landed is None:
                continue
            ref = entry.to_ref()
            if request.mode == "full_since" and request.since and ref.kind != "full" and (
                    ref.hour or "") < request.since:
                continue
            (files if landed.hour_closed(started) else deferred).append(ref)
        recheck = min((f.hour for f in deferred if f.hour), default=None)
        waits_until = _hour_after(recheck) if recheck else None
        record.update(files=len(files), deferred=len(deferred),
                      interrupted=mark_interrupted(lake, request.run_id))
        # files of an incremental hour still open wait for it to close: the record says how many and until when
        write_run_record(lake, request.run_id, status="Running", mode=request.mode, trigger=request.trigger,
                         started=request.started_at, files=[f.to_dict() for f in files],
                         deferred={"files": len(deferred), "until": waits_until} if deferred else None)
        return RunPlan(request.run_id, request.mode, tuple(files), len(deferred), waits_until,
                       current(lake) is not None)


def _hour_after(hour_iso: str) -> str:
    from datetime import timedelta

    return (datetime.fromisoformat(hour_iso) + timedelta(hours=1, seconds=5)).isoformat()


def _scan_landing(runtime: Runtime, config: UnificationConfig, now: datetime) -> None:
    """Full refresh: every landed file becomes pending again unless that exact version is already pending."""
    lake = runtime.lake
    for item in lake.list(runtime.settings.landing_prefix):
        landed = classify(item.path, runtime.settings.landing_prefix, config)
        if landed is None:
            continue
        fid = file_id(item.path, item.etag)
        lake.delete(f"{ledger.LEDGER_DONE}/{fid}.json")
        ledger.record_landed(lake, item, landed, now)


# -- convert ------------------------------------------------------------------------------------------


def convert_source_file(request: ConvertInput, runtime: Runtime) -> ConvertResult:
    """Convert one landed file; idempotent: a file version converted before is not converted again."""
    lake = runtime.lake
    ref = request.file
    config = run_config(runtime, request.run_id)
    table = config.table(ref.table)
    fid = file_id(ref.path, ref.etag)
    output = converted_file(table.data_source, table.table, fid)
    quarantine = RunPaths(request.run_id).quarantine(ref.table, fid)
    sidecar = output.replace(".parquet", ".json")
    with step_record(lake, request.run_id, "convert_source_file", fid) as record:
        done = read_json(lake, sidecar, default=None)
        if done is None or not lake.exists(output):
            optional: frozenset[str] = frozenset()
            if ref.kind == "delete":  # deletes carry keys and a recency only; without one they take the file's time
                table = table.model_copy(update={"columns": {c: m for c, m in table.columns.items()
                                                             if c == table.recency}})
                optional = frozenset({table.recency}) if table.recency else frozenset()
            conversion = convert_file(lake, table, ref.path, output, quarantine, optional=optional)
            done = {"rows": conversion.rows, "accepted": conversion.accepted,
                    "quarantined": conversion.quarantined, "error": conversion.error,
                    "quarantine": quarantine if (conversion.quarantined or conversion.error) else None}
            if conversion.error is None:
                write_json(lake, sidecar, done)
        record.update(path=ref.path, table=ref.table, **{k: v for k, v in done.items() if k != "quarantine"})
        return ConvertResult(request.run_id, ref, done["rows"], done["accepted"], done["quarantined"],
                             None if done["error"] else output, done["quarantine"], done["error"])


# -- apply --------------------------------------------------------------------------------------------


def apply_source_changes(request: ApplyInput, runtime: Runtime) -> ApplyResult:
    """Build this run's snapshot of every table with changes; unchanged tables keep the published one."""
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    paths = RunPaths(request.run_id)
    published = (current(lake) or {}).get("snapshots", {})
    with step_record(lake, request.run_id, "apply_source_changes") as record:
        refs = []
        for table in config.all_tables():
            converted = [c for c in request.converted if c.file.table == table.name and c.output]
            if not converted:
                if table.name in published and lake.exists(published[table.name]["path"]):
                    snap = published[table.name]
                    refs.append(TableRef(table.name, snap["path"], snap["rows"], changed=False))
                continue
            parts = _parts(runtime, config, table.name, converted)
            counts = build_snapshot(lake, table, published.get(table.name, {}).get("path"), parts,
                                    paths.table(table.name))
            refs.append(TableRef(table.name, paths.table(table.name), counts.rows, changed=True,
                                 duplicates=sum(counts.duplicates.values())))
            write_json(lake, f"{paths.root}/tables/{table.name}.duplicates.json", counts.duplicates)
        record.update(tables={r.table: r.rows for r in refs}, changed=[r.table for r in refs if r.changed],
                      duplicates={r.table: r.duplicates for r in refs if r.duplicates},
                      cdm_partitions=write_converted_metadata(lake, config, runtime.settings.landing_prefix))
        return ApplyResult(request.run_id, tuple(refs))


def _parts(runtime: Runtime, config: UnificationConfig, table_name: str,
           converted: list[ConvertResult]) -> list[ConvertedPart]:
    """Converted parts of a table; a new full file brings in all the table's current full files."""
    lake = runtime.lake
    table = config.table(table_name)
    parts = [ConvertedPart(c.output or "", c.file.kind, c.file.hour,
                           c.file.last_modified or "1970-01-01T00:00:00+00:00", 0)
             for c in converted if c.file.kind != "full"]
    if any(c.file.kind == "full" for c in converted):
        fulls = []
        for item in lake.list(f"{runtime.settings.landing_prefix}/{table.landing}"):
            landed = classify(item.path, runtime.settings.landing_prefix, config)
            if landed is None or landed.kind != "full":
                continue
            output = converted_file(table.data_source, table.table, file_id(item.path, item.etag))
            if lake.exists(output):
                fulls.append((item.last_modified, item.path, output))
        fulls.sort(key=lambda f: (f[0], f[1]), reverse=True)
        parts += [ConvertedPart(output, "full", None, modified.isoformat(), order)
                  for order, (modified, _, output) in enumerate(fulls)]
    return parts


# -- match --------------------------------------------------------------------------------------------


def plan_match_partitions(request: ApplyResult, runtime: Runtime) -> MatchPlan:
    """Lay out the match from the snapshots' row counts: the slices of records, the partitions."""
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    sources = {s.name for s in config.sources}
    tables = {t.table: t.path for t in request.tables if t.table in sources}
    with step_record(lake, request.run_id, "plan_match_partitions") as record:
        layout = plan_match(lake, config, tables, runtime.settings.match_partition_records,
                            runtime.settings.match_slice_records)
        write_json(lake, RunPaths(request.run_id).match_plan, {
            "tables": tables, "records": layout.records, "table_records": list(layout.sizes),
            "partitions": layout.partitions, "slices": len(layout.slices)})
        record.update(records=layout.records, partitions=layout.partitions, slices=len(layout.slices))
        return layout.match_plan(request.run_id)


def write_features(request: RecordSlice, runtime: Runtime) -> RecordSlice:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    plan = read_json(lake, RunPaths(request.run_id).match_plan)
    with step_record(lake, request.run_id, "write_features", str(request.index)) as record:
        written = write_slice_features(lake, config, request.run_id, plan["tables"], plan["table_records"],
                                       request.index, request.first, request.records)
        record.update(records=written)
        return request


def train_match_model(request: MatchPlan, runtime: Runtime) -> MatchPlan:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    plan = read_json(lake, RunPaths(request.run_id).match_plan)
    with step_record(lake, request.run_id, "train_match_model") as record:
        train_match(lake, config, request.run_id, plan["table_records"])
        record.update(records=request.records)
        return request


def count_block_keys(request: MatchPlan, runtime: Runtime) -> MatchPlan:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "count_block_keys") as record:
        record.update(records=request.records, shared_keys=write_block_keys(lake, config, request.run_id))
        return request


def write_block_rows(request: BlockSlice, runtime: Runtime) -> SliceResult:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "write_block_rows", str(request.index)) as record:
        rows = write_slice_block_rows(lake, config, request.run_id, request.index, request.partitions)
        record.update(block_rows=sum(rows), partitions=sum(1 for r in rows if r))
        return SliceResult(request.run_id, request.index, tuple(rows))


def match_partition(request: PartitionRef, runtime: Runtime) -> MatchResult:
    from shared.lakeio import write_parquet_split

    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    output = RunPaths(request.run_id).match_pairs(request.index)
    model_path = RunPaths(request.run_id).match_model()
    model = FsModel.from_dict(read_json(lake, model_path)) if lake.exists(model_path) else None
    with step_record(lake, request.run_id, "match_partition", str(request.index)) as record:
        stats = PartitionStats()
        rows = read_partition(lake, MatchSetup.of(config), request.paths)
        # written as scored, links and cannot-links in row groups of their own: the merge reads one kind at
        # a time and skips the other
        write_parquet_split(lake, output, scored_pairs(config, rows, model, stats), PAIRS_SCHEMA, "cannot")
        record.update(rows=request.records, candidate_pairs=stats.candidate_pairs,
                      matched_pairs=stats.matched_pairs, skipped_blocks=stats.skipped_blocks,
                      skipped_block_records=stats.skipped_block_records)
        return MatchResult(request.run_id, request.index, output, stats.candidate_pairs, stats.matched_pairs)


def merge_clusters(request: MergeInput, runtime: Runtime) -> MergeResult:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    plan = read_json(lake, RunPaths(request.run_id).match_plan)
    previous = current(lake)
    # the published run's crosswalk: every file of its AlternateKey export (a large one is split)
    crosswalk = parquet_files(lake, RunPaths(previous["run_id"]).export_table(ALTERNATE_KEY)) if previous else []
    with step_record(lake, request.run_id, "merge_clusters") as record:
        outcome = unify.cluster_profiles(lake, config, request.run_id, [m.path for m in request.matches],
                                         plan["tables"], crosswalk, runtime.settings.merge_shard_customers)
        record.update(records=outcome.records, customers=outcome.customers, merged=outcome.merged_records,
                      new_ids=outcome.new_ids, merges=outcome.merges, splits=outcome.splits,
                      suspect_clusters=outcome.suspect_clusters, shards=outcome.shards)
        return MergeResult(request.run_id, outcome.records, outcome.customers, outcome.merged_records,
                           outcome.new_ids, outcome.merges, outcome.splits, outcome.suspect_clusters, outcome.shards)


def write_customer_shard(request: CustomerShard, runtime: Runtime) -> TableRows:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    plan = read_json(lake, RunPaths(request.run_id).match_plan)
    with step_record(lake, request.run_id, "write_customer_shard", str(request.index)) as record:
        rows = unify.write_customer_shard(lake, config, request.run_id, plan["tables"], request.index, request.shards)
        record.update(rows=rows)
        return TableRows(request.run_id, {CUSTOMER: rows})


def write_lineage_table(request: LineageTable, runtime: Runtime) -> TableRows:
    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "write_lineage_table", request.table) as record:
        rows = unify.write_lineage_table(lake, config, request.run_id, list(request.pairs), Lineage(request.table))
        record.update(rows=rows)
        return TableRows(request.run_id, rows)


# -- enrich, export, publish, finish ------------------------------------------------------------------


def unify_activities(request: MergeResult, runtime: Runtime) -> ActivitiesResult:
    """Link every activity row to its CustomerId through the new crosswalk."""
    from shared.enrich.activity import unify_activities as build

    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    snapshots = {name: str(snap["path"]) for name, snap in _table_snapshots(runtime, request.run_id).items()}
    with step_record(lake, request.run_id, "unify_activities") as record:
        counts = build(lake, config, request.run_id, snapshots)
        record.update(**counts)
        return ActivitiesResult(request.run_id, counts["rows"], counts["linked"], counts["unlinked"])


def enrich_profiles(request: EnrichInput, runtime: Runtime) -> EnrichResult:
    from shared.enrich.run import run_enrichment

    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "enrich_profiles", request.enrichment) as record:
        outcome = run_enrichment(lake, config, request.run_id, Enrichment(request.enrichment))
        record.update(rows=outcome.rows, **outcome.metrics)
        return EnrichResult(request.run_id, request.enrichment, outcome.rows, outcome.path, outcome.metrics)


def export_tables(request: ExportPartInput, runtime: Runtime) -> ExportPartResult:
    from shared.enrich.run import exported_tables
    from shared.export.dimension import HISTORY, export_part

    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "export_tables", request.part) as record:
        previous: list[str] = []
        if request.part == ExportPart.DIMENSION:  # the history goes on from the published run's
            history = ((current(lake) or {}).get("entities") or {}).get(HISTORY)
            previous = [i.path for i in lake.list(history) if i.path.endswith(".parquet")] if history else []
        started = read_json(lake, RunPaths(request.run_id).record, default={}).get("started") or now_utc().isoformat()
        tables = export_part(lake, config, request.run_id, ExportPart(request.part),
                             exported_tables(request.enrichments), started, previous)
        record.update(tables=tables)
        return ExportPartResult(request.run_id, request.part, tables)


def describe_export(request: ExportInput, runtime: Runtime) -> ExportResult:
    from shared.export.dimension import describe_export as describe

    lake = runtime.lake
    config = run_config(runtime, request.run_id)
    with step_record(lake, request.run_id, "describe_export") as record:
        tables = describe(lake, config, request.run_id, [ExportPart(p.part) for p in request.parts])
        record.update(tables=tables)
        return ExportResult(request.run_id, RunPaths(request.run_id).export_root, tables)


def publish_sql_views(request: PublishInput, runtime: Runtime) -> PublishResult:
    from shared.export.publish import publish_run

    lake = runtime.lake
    with step_record(lake, request.run_id, "publish_sql_views") as record:
        views = publish_run(runtime.settings, lake, runtime.sql, request.run_id, list(request.export.tables),
                            snapshots=_table_snapshots(runtime, request.run_id))
        record.update(views=views)
        endpoint = runtime.settings.sql_kind
        return PublishResult(request.run_id, tuple(views), endpoint)


def _table_snapshots(runtime: Runtime, run_id: str) -> dict[str, dict[str, object]]:
    """The table snapshots the published pointer will name: this run's, else the previous ones."""
    lake = runtime.lake
    snapshots = dict((current(lake) or {}).get("snapshots") or {})
    steps = read_json(lake, f"{RunPaths(run_id).root}/steps/apply_source_changes.json", default={})
    for name, rows in (steps.get("tables") or {}).items():
        path = RunPaths(run_id).table(name)
        if lake.exists(path):
            snapshots[name] = {"path": path, "rows": rows}
    return snapshots


def _prune(runtime: Runtime) -> None:
    """Retention after a successful publish; a failure here is logged, never fails the run."""
    from shared.export.retention import prune_runs

    try:
        pruned = prune_runs(runtime.lake, runtime.settings.runs_to_keep)
        if pruned.runs:
            log.info("pruned %d files of runs %s", pruned.files, ", ".join(pruned.runs))
    except Exception:
        log.exception("pruning old runs failed")


def _report(runtime: Runtime, run_id: str) -> str | None:
    """Write the run report (its key numbers also go into the run record); never fails the run."""
    from shared.report import write_report

    try:
        key_numbers = write_report(runtime.lake, run_config(runtime, run_id), run_id)
    except Exception:
        log.exception("the report of run %s could not be written", run_id)
        return None
    write_run_record(runtime.lake, run_id, key_numbers=key_numbers)
    return RunPaths(run_id).report


def finish_run(request: FinishInput, runtime: Runtime) -> RunSummary:
    """Close the run: commit its files to the ledger if it published, record the status."""
    lake = runtime.lake
    record = read_json(lake, RunPaths(request.run_id).record, default={})
    files = [FileRef.from_dict(f) for f in record.get("files", [])]
    if request.published:  # a match-only dry run publishes nothing, so its files stay pending
        ledger.commit(lake, files, request.run_id, now_utc())
        _prune(runtime)
    merged = read_json(lake, f"{RunPaths(request.run_id).root}/steps/merge_clusters.json", default={})
    write_run_record(lake, request.run_id, status=request.status, error=request.error,
                     finished=now_utc().isoformat(), published=request.published)
    report = _report(runtime, request.run_id)
    return RunSummary(request.run_id, request.status, merged.get("customers", 0), merged.get("records", 0),
                      len(ledger.pending(lake)), report)
