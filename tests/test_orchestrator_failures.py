"""The real orchestrator through the local host: fan-out, transient failures retried, permanent ones contained."""

from __future__ import annotations

from pathlib import Path

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

    app, calls = build_app({"export_dimension": lambda n: ValueError("disk on fire")})
    with running_host(local_settings, app) as host:
        assert start_run_http(host, {"mode": "full"}).status == 202
        result = follow(host, instance_id(first.runtime))
    assert str(result.status) == "Failed"
    assert "disk on fire" in result.custom_status["error"]
    assert calls["export_dimension"] == local_settings.activity_retry_attempts
    assert current(first.runtime.lake) == published
    assert first.runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0] == before  # type: ignore[union-attr]
    failed = read_run_record(first.runtime.lake, result.custom_status["run_id"])
    assert failed["status"] == "Failed" and "disk on fire" in failed["error"]
