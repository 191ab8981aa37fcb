"""The real orchestrator through the local host: fan-out, transient failures retried, permanent ones contained."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from c360_cli.local import follow, running_host
from local_host.history import EventType
from orchestrators.starters import instance_id
from shared.runs import current, read_run_record
from shared.settings import Settings
from tests.faulty_app import build_app
from tests.pipeline import run_pipeline, start_run_http

pytestmark = pytest.mark.slow


def test_transient_activity_failures_are_retried_and_the_run_completes(small_demo: Path,
                                                                       local_settings: Settings) -> None:
    app, calls = build_app({"match_partition": lambda n: TimeoutError("storage timeout") if n <= 2 else None})
    run = run_pipeline(local_settings, small_demo, app=app)
    assert run.status == "Completed", run.custom_status
    failed = [e for e in run.history if e["EventType"] == EventType.TASK_FAILED]
    assert len(failed) == 2 and all("storage timeout" in e["Reason"] for e in failed)
    scheduled = [e for e in run.history if e["EventType"] == EventType.TASK_SCHEDULED]
    assert sum(e["Name"] == "convert_source_file" for e in scheduled) == 10  # fan-out: one per landed file
    assert calls["match_partition"] >= 3


def test_a_permanent_failure_leaves_the_previous_run_published(small_demo: Path, local_settings: Settings) -> None:
    first = run_pipeline(local_settings, small_demo)
    assert first.status == "Completed"
    published = current(first.runtime.lake)
    assert published is not None
    before = first.runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0]  # type: ignore[union-attr]

    app, calls = build_app({"describe_export": lambda n: ValueError("disk on fire")})
    with running_host(local_settings, app) as host:
        assert start_run_http(host, {"mode": "full"}).status == 202
        result = follow(host, instance_id(first.runtime))
    assert str(result.status) == "Failed"
    assert "disk on fire" in result.custom_status["error"]
    assert calls["describe_export"] == local_settings.activity_retry_attempts
    assert current(first.runtime.lake) == published
    assert first.runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0] == before  # type: ignore[union-attr]
    failed = read_run_record(first.runtime.lake, result.custom_status["run_id"])
    assert failed["status"] == "Failed" and "disk on fire" in failed["error"]


def _finished(history: list[dict[str, Any]], name: str) -> list[int]:
    """Positions in ``history`` where an activity named ``name`` completed."""
    names = {e["EventId"]: e["Name"] for e in history if e["EventType"] == EventType.TASK_SCHEDULED}
    return [i for i, e in enumerate(history)
            if e["EventType"] == EventType.TASK_COMPLETED and names.get(e["TaskScheduledId"]) == name]


def test_training_runs_beside_the_block_rows_and_scoring_waits_for_it(small_demo: Path,
                                                                      local_settings: Settings) -> None:
    def slow_after_a_timeout(number: int) -> BaseException | None:
        if number == 1:
            return TimeoutError("model store timeout")
        time.sleep(3)  # a slow model: the block rows are written meanwhile
        return None

    app, calls = build_app({"train_match_model": slow_after_a_timeout})
    run = run_pipeline(local_settings, small_demo, app=app)
    assert run.status == "Completed", run.custom_status
    assert calls["train_match_model"] == 2
    trained, = _finished(run.history, "train_match_model")
    blocks = _finished(run.history, "write_block_rows")
    assert blocks and max(blocks) < trained  # written beside training, not after it
    scheduled = [i for i, e in enumerate(run.history)
                 if e["EventType"] == EventType.TASK_SCHEDULED and e["Name"] == "match_partition"]
    assert scheduled and min(scheduled) > trained  # scoring waits for the model

    app, calls = build_app({"train_match_model": lambda n: ValueError("no model today")})
    failed = run_pipeline(local_settings, small_demo, app=app)
    assert failed.status == "Failed" and "no model today" in failed.custom_status["error"]
    assert calls["train_match_model"] == local_settings.activity_retry_attempts
    assert not _finished(failed.history, "match_partition")


def test_the_lineage_tables_export_beside_the_enrichments_and_the_export_is_described_last(
        small_demo: Path, local_settings: Settings) -> None:
    import json

    from shared.lakeio import read_json
    from shared.names import ExportPart
    from shared.paths import RunPaths

    def slow(number: int) -> BaseException | None:
        time.sleep(1.5)  # slow enrichments: the lineage tables' export is done meanwhile
        return None

    app, _ = build_app({"enrich_profiles": slow})
    run = run_pipeline(local_settings, small_demo, app=app)
    assert run.status == "Completed", run.custom_status
    history = run.history
    parts = {e["EventId"]: json.loads(e["Input"])["part"] for e in history
             if e["EventType"] == EventType.TASK_SCHEDULED and e["Name"] == "export_tables"}
    assert sorted(parts.values()) == sorted(p.value for p in ExportPart)
    done = {parts[e["TaskScheduledId"]]: i for i, e in enumerate(history)
            if e["EventType"] == EventType.TASK_COMPLETED and e["TaskScheduledId"] in parts}
    enriched = _finished(history, "enrich_profiles")
    assert done[ExportPart.LINEAGE] < min(enriched)  # beside the enrichments, not after them
    described, = _finished(history, "describe_export")
    assert max(done.values()) < described < min(_finished(history, "publish_sql_views"))
    # every part's record is in the description, the dimension's entities first
    run_id = run.custom_status["run_id"]
    lake = run.runtime.lake
    views = run.custom_status["views"]
    assert views[:2] == ["c360.Customer", "c360.CustomerHistory"]
    recorded = [name for p in ExportPart for name in read_json(lake, RunPaths(run_id).export_part(p))["names"]]
    assert [f"c360.{name}" for name in recorded] == views
    assert set(read_json(lake, RunPaths(run_id).view_typing)) == set(recorded)


def test_a_failed_export_part_leaves_the_previous_run_published(small_demo: Path, local_settings: Settings) -> None:
    first = run_pipeline(local_settings, small_demo)
    published = current(first.runtime.lake)
    app, calls = build_app({"export_tables": lambda n: OSError("lake unreachable")})
    with running_host(local_settings, app) as host:
        assert start_run_http(host, {"mode": "full"}).status == 202
        result = follow(host, instance_id(first.runtime))
    assert str(result.status) == "Failed" and "lake unreachable" in result.custom_status["error"]
    assert calls["export_tables"] >= local_settings.activity_retry_attempts
    assert "describe_export" not in calls
    assert current(first.runtime.lake) == published


def test_a_retried_export_part_leaves_no_file_of_the_failed_attempt(small_demo: Path,
                                                                    local_settings: Settings) -> None:
    from shared.lakeio import parquet_files, read_json
    from shared.names import ExportPart
    from shared.paths import RunPaths
    from shared.payloads import ExportPartInput
    from shared.steps import export_tables

    run = run_pipeline(local_settings, small_demo)
    lake, run_id = run.runtime.lake, run.custom_status["run_id"]
    folder = RunPaths(run_id).export_table("AlternateKey")
    files = parquet_files(lake, folder)
    stale = f"{folder}/part-7.parquet"  # what a failed attempt that split differently would leave
    lake.write_bytes(stale, lake.read_bytes(files[0]))
    assert stale in parquet_files(lake, folder)
    result = export_tables(ExportPartInput(run_id, ExportPart.LINEAGE.value, ()), run.runtime)
    assert parquet_files(lake, folder) == files
    assert result.tables["AlternateKey"] == run.runtime.sql.query("SELECT count(*) FROM c360.AlternateKey")[0][0]  # type: ignore[union-attr]
    record = read_json(lake, RunPaths(run_id).export_part(ExportPart.LINEAGE))
    assert record["entities"]["AlternateKey"]["files"] == sorted(files)
