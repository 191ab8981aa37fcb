"""The ``unify_customers`` orchestrator: control flow only (``context.*``; no IO, no clock, no environment).

prepare → convert every landed file (fan-out) → apply changes → plan the match → normalize each slice
(fan-out) → count the shared keys, train the model beside it and beside each slice's block rows (fan-out)
→ match each partition (fan-out) → cluster and assign ids → write the Customer shards and
the lineage tables (fan-out) → unify activities → enrichments
(fan-out, then segments) → export (fan-out: the lineage tables' part starts beside the enrichments)
→ describe the export → publish views → finish. Any failure records the run as failed and
leaves the published run in place. If files landed during the run (or an incremental hour is still open),
the instance continues as new for exactly one follow-up run.
"""

from __future__ import annotations

from collections.abc import Generator
from datetime import datetime, timedelta
from typing import Any

import azure.durable_functions as df

from shared.names import ORCHESTRATOR, WAITING_FOR_HOUR, Activity, Enrichment, ExportPart, Lineage
from shared.payloads import (
    ApplyInput,
    ApplyResult,
    ConvertInput,
    ConvertResult,
    EnrichInput,
    EnrichResult,
    ExportInput,
    ExportPartInput,
    ExportPartResult,
    ExportResult,
    FinishInput,
    LandingState,
    LineageTable,
    MatchPlan,
    MatchResult,
    MergeInput,
    MergeResult,
    PrepareInput,
    PublishInput,
    PublishResult,
    RunPlan,
    RunRequest,
    RunSummary,
    SliceResult,
)

bp = df.Blueprint()
MAX_QUIET_WAITS = 20
FIRST_ENRICHMENTS = (Enrichment.MEASURES, Enrichment.LIFETIME_VALUE, Enrichment.CHURN, Enrichment.BRAND_AFFINITY)


def _status(run_id: str | None, step: str, **extra: Any) -> dict[str, Any]:
    return {"run_id": run_id, "step": step, **extra}


def _all(context: df.DurableOrchestrationContext, tasks: list[Any]) -> Generator[Any, Any, list[Any]]:
    """Every task's result (``yield from``): a fan-out of no task at all yields nothing and returns [] — the
    SDK's ``task_all([])`` yields None, and a full or dry run without new files converts none."""
    return list((yield context.task_all(tasks))) if tasks else []


@bp.orchestration_trigger(context_name="context", orchestration=ORCHESTRATOR)
def unify_customers(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
    request = RunRequest.from_dict(context.get_input() or {})
    retry = df.RetryOptions(max(request.retry.interval_ms, 1), max(request.retry.attempts, 1))

    def call(activity: Activity, payload: Any) -> Any:
        return context.call_activity_with_retry(activity.value, retry, payload.to_dict())

    quiet = timedelta(seconds=request.quiet_period_seconds)
    for _ in range(MAX_QUIET_WAITS if request.quiet_period_seconds > 0 else 0):
        # debounce: start once no file has arrived for a whole quiet period (bounded number of waits)
        context.set_custom_status(_status(None, "waiting for more files", seconds=request.quiet_period_seconds))
        yield context.create_timer(context.current_utc_datetime + quiet)
        landing = LandingState.from_dict((yield call(Activity.CHECK_LANDING, request)))
        if landing.newest_seen_at is None or (
                datetime.fromisoformat(landing.newest_seen_at) <= context.current_utc_datetime - quiet):
            break
    now = context.current_utc_datetime
    # to the millisecond: run ids sort as the runs started (``list_runs``), even when a follow-up run starts
    # in the second its predecessor did (a small run takes less than one)
    run_id = f"{now:%Y%m%dT%H%M%S}{now.microsecond // 1000:03d}Z-{str(context.new_guid())[:8]}"
    context.set_custom_status(_status(run_id, "preparing", mode=request.mode))
    plan = RunPlan.from_dict((yield call(Activity.PREPARE_RUN, PrepareInput(
        run_id, request.mode, request.since, request.trigger, now.isoformat()))))
    published = False
    try:
        # nothing new, or nothing at all: a full or dry run without files reruns on the published tables,
        # and before any run has published there are none
        if not plan.files and (request.mode == "incremental" or not plan.published_before):
            summary = RunSummary.from_dict((yield call(Activity.FINISH_RUN, FinishInput(run_id, "Skipped"))))
        else:
            context.set_custom_status(_status(run_id, "converting", files=len(plan.files)))
            converted = [ConvertResult.from_dict(r) for r in (yield from _all(context, [
                call(Activity.CONVERT_SOURCE_FILE, ConvertInput(run_id, f)) for f in plan.files]))]
            context.set_custom_status(_status(run_id, "applying changes", files=len(converted),
                                              quarantined_files=sum(1 for c in converted if c.error)))
            applied = ApplyResult.from_dict((yield call(Activity.APPLY_SOURCE_CHANGES,
                                                        ApplyInput(run_id, tuple(converted)))))
            match_plan = MatchPlan.from_dict((yield call(Activity.PLAN_MATCH_PARTITIONS, applied)))
            context.set_custom_status(_status(run_id, "normalizing", records=match_plan.records,
                                              slices=len(match_plan.slices)))
            yield from _all(context, [call(Activity.WRITE_FEATURES, s) for s in match_plan.slices])
            context.set_custom_status(_status(run_id, "training", records=match_plan.records))
            # the block rows need the shared keys and term frequencies, not the model: they start as soon as
            # the keys are counted, and training goes on beside them (scoring waits for both)
            training, keys = call(Activity.TRAIN_MATCH_MODEL, match_plan), call(Activity.COUNT_BLOCK_KEYS, match_plan)
            yield context.task_any([training, keys])
            yield keys
            context.set_custom_status(_status(run_id, "writing block rows", records=match_plan.records,
                                              slices=len(match_plan.slices)))
            written = tuple(SliceResult.from_dict(r) for r in (yield context.task_all([
                training, *(call(Activity.WRITE_BLOCK_ROWS, s) for s in match_plan.block_slices())]))[1:])
            partitions = match_plan.partitions(written)
            context.set_custom_status(_status(run_id, "matching", records=match_plan.records,
                                              partitions=len(partitions)))
            matches = [MatchResult.from_dict(r) for r in (yield from _all(context, [
                call(Activity.MATCH_PARTITION, p) for p in partitions]))]
            context.set_custom_status(_status(run_id, "merging", pairs=sum(m.matched_pairs for m in matches)))
            merge = MergeInput(run_id, tuple(matches), request.mode == "match_only")
            merged = MergeResult.from_dict((yield call(Activity.MERGE_CLUSTERS, merge)))
            context.set_custom_status(_status(run_id, "writing profiles", customers=merged.customers,
                                              shards=merged.shards))
            pairs = tuple(m.path for m in matches)
            yield context.task_all([*(call(Activity.WRITE_LINEAGE_TABLE,
                                           LineageTable(run_id, t.value, pairs if t.reads_pairs else ()))
                                      for t in Lineage),
                                    *(call(Activity.WRITE_CUSTOMER_SHARD, s) for s in merged.customer_shards())])
            enrichments: list[EnrichResult] = []
            if request.mode != "match_only":
                context.set_custom_status(_status(run_id, "enriching", customers=merged.customers))
                # the lineage tables need no enrichment: their export goes on beside it (a task is scheduled
                # when first yielded, so both are yielded together; the export's result is awaited below)
                lineage = call(Activity.EXPORT_TABLES, ExportPartInput(run_id, ExportPart.LINEAGE.value, ()))
                activities = call(Activity.UNIFY_ACTIVITIES, merged)
                yield context.task_any([lineage, activities])
                yield activities
                enrichments = [EnrichResult.from_dict(r) for r in (yield context.task_all([
                    call(Activity.ENRICH_PROFILES, EnrichInput(run_id, e.value)) for e in FIRST_ENRICHMENTS]))]
                enrichments.append(EnrichResult.from_dict((yield call(
                    Activity.ENRICH_PROFILES, EnrichInput(run_id, Enrichment.SEGMENTS.value)))))
                context.set_custom_status(_status(run_id, "exporting", customers=merged.customers))
                parts = tuple(ExportPartResult.from_dict(r) for r in (yield context.task_all([lineage, *(
                    call(Activity.EXPORT_TABLES, ExportPartInput(run_id, p.value, tuple(enrichments)))
                    for p in (ExportPart.DIMENSION, ExportPart.ENRICHMENT))])))
                export = ExportResult.from_dict((yield call(Activity.DESCRIBE_EXPORT, ExportInput(run_id, parts))))
                context.set_custom_status(_status(run_id, "publishing", tables=len(export.tables)))
                views = PublishResult.from_dict((yield call(Activity.PUBLISH_SQL_VIEWS, PublishInput(run_id, export))))
                published = True
            summary = RunSummary.from_dict((yield call(Activity.FINISH_RUN, FinishInput(
                run_id, "Completed", published=published))))
            context.set_custom_status(_status(run_id, "completed", customers=merged.customers,
                                              records=merged.records, views=list(views.views) if published else [],
                                              report=summary.report))
    except Exception as error:  # record the failure; the last published run stays in place
        message = str(error).strip().splitlines()[0][:500] if str(error).strip() else type(error).__name__
        context.set_custom_status(_status(run_id, "failed", error=message))
        yield call(Activity.FINISH_RUN, FinishInput(run_id, "Failed", message, published=published))
        raise
    landed_meanwhile = summary.pending_files - plan.deferred_files
    if request.mode != "match_only" and (landed_meanwhile > 0 or plan.recheck_at):  # a dry run leaves files pending
        if landed_meanwhile <= 0 and plan.recheck_at:  # wait for the open incremental hour to close
            context.set_custom_status(_status(run_id, WAITING_FOR_HOUR,
                                              files=plan.deferred_files, until=plan.recheck_at))
            yield context.create_timer(max(datetime.fromisoformat(plan.recheck_at), context.current_utc_datetime))
        context.continue_as_new(RunRequest(mode="incremental", trigger="follow-up", retry=request.retry,
                                           follow_ups=request.follow_ups + 1).to_dict())
        return None
    return summary.to_dict()
