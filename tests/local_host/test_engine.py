"""The local host drives the real Durable SDK: fan-out, retries, timers, failures, continue-as-new."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_host import HostOptions, LocalFunctionHost, RuntimeStatus
from local_host.history import EventType
from shared.duck import fanout_threads
from tests.local_host import toy_app


@pytest.fixture()
def host() -> Iterator[LocalFunctionHost]:
    toy_app.ATTEMPTS.clear()
    with LocalFunctionHost(toy_app.build_app(), HostOptions(max_concurrent_activities=4)) as running:
        yield running


def test_fan_out_runs_activities_in_parallel_and_sums(host: LocalFunctionHost) -> None:
    toy_app.CONCURRENT["max"] = 0
    state = host.engine.start_new("fan_out", "fan-1", json.dumps({"items": list(range(8))}))
    done = host.wait(state.instance_id, timeout=30)
    assert done.runtime_status == RuntimeStatus.COMPLETED
    assert done.output["total"] == 2 * sum(range(8))
    assert done.custom_status == {"step": "sum"}
    assert toy_app.CONCURRENT["max"] > 1  # real parallelism
    kinds = [e["EventType"] for e in done.history]
    assert kinds.count(EventType.TASK_SCHEDULED) == 9
    assert kinds.count(EventType.TASK_COMPLETED) == 9


def test_retries_follow_dtfx_numbering_and_the_last_failure_reaches_the_orchestrator(host: LocalFunctionHost) -> None:
    state = host.engine.start_new("with_retries", None, None)
    done = host.wait(state.instance_id, timeout=30)
    assert done.runtime_status == RuntimeStatus.COMPLETED, done.output
    assert done.output == ["a ok after 1", "b ok after 3", "c ok after 2", "caught: transient failure 3"]
    ids = [e["EventId"] for e in done.history if e["EventType"] in (EventType.TASK_SCHEDULED, EventType.TIMER_CREATED)]
    assert ids == list(range(len(ids)))  # one gap-free sequence, as the SDK numbers them


def test_activity_failure_fails_the_orchestration_with_its_message(host: LocalFunctionHost) -> None:
    state = host.engine.start_new("failing", None, None)
    done = host.wait(state.instance_id, timeout=30)
    assert done.runtime_status == RuntimeStatus.FAILED
    assert "boom" in done.output


def test_continue_as_new_restarts_with_new_input(host: LocalFunctionHost) -> None:
    state = host.engine.start_new("counter", "counter-1", json.dumps(0))
    done = host.wait(state.instance_id, timeout=30)
    assert done.runtime_status == RuntimeStatus.COMPLETED
    assert done.output == 3


def test_external_event_and_durable_rpc_over_http(host: LocalFunctionHost) -> None:
    host.engine.start_new("waits", "wait-1", None)
    request = urllib.request.Request(f"{host.rpc_base_url}instances/wait-1/raiseEvent/go", data=b'{"n": 7}',
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 202
    done = host.wait("wait-1", timeout=30)
    assert done.output == {"got": {"n": 7}}
    with urllib.request.urlopen(f"{host.rpc_base_url}instances/wait-1") as response:
        assert json.loads(response.read())["runtimeStatus"] == "Completed"


def test_event_grid_starter_runs_unchanged_against_the_rpc(host: LocalFunctionHost) -> None:
    blob_created = {"id": "1", "eventType": "Microsoft.Storage.BlobCreated", "subject": "/x",
                    "eventTime": "2026-01-01T00:00:00Z", "dataVersion": "", "data": {"url": "abcd"}}
    host.deliver_event_grid("on_event", [blob_created])
    (instance,) = host.taskhub.all()
    assert host.wait(instance.instance_id, timeout=30).output["total"] == 8


def test_http_starter_returns_check_status_urls(host: LocalFunctionHost) -> None:
    request = urllib.request.Request(f"{host.base_url}/api/start/fan_out", data=json.dumps({"items": [1]}).encode(),
                                     method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        assert response.status == 202
        body = json.loads(response.read())
    assert body["statusQueryGetUri"].startswith(host.base_url)
    assert host.wait(body["id"], timeout=30).output["total"] == 2


@pytest.fixture()
def process_host() -> Iterator[LocalFunctionHost]:
    options = HostOptions(max_concurrent_activities=4, worker_processes=2,
                          worker_app="tests.local_host.toy_app:build_app")
    with LocalFunctionHost(toy_app.build_app(), options) as running:
        yield running


def test_worker_processes_run_the_activities_of_a_fan_out_outside_the_host(process_host: LocalFunctionHost) -> None:
    state = process_host.engine.start_new("where", None, json.dumps(6))
    done = process_host.wait(state.instance_id, timeout=60)
    assert done.runtime_status == RuntimeStatus.COMPLETED, done.output
    assert [index for index, _ in done.output] == list(range(6))
    pids = {pid for _, pid in done.output}
    assert len(pids) == 2 and os.getpid() not in pids  # both workers, never the host process


def test_workers_started_with_the_host_are_the_ones_that_run_the_activities(process_host: LocalFunctionHost) -> None:
    pool = process_host.engine._workers
    assert pool is not None and not pool._pool._processes  # lazily: no worker before an activity needs one
    assert process_host.start_workers() == 2
    started = set(pool._pool._processes)
    assert len(started) == 2 and os.getpid() not in started
    state = process_host.engine.start_new("where", None, json.dumps(6))
    done = process_host.wait(state.instance_id, timeout=60)
    assert done.runtime_status == RuntimeStatus.COMPLETED, done.output
    assert {pid for _, pid in done.output} == started  # no process started for the run itself


def test_a_failure_in_a_worker_reaches_the_orchestration_with_its_traceback(process_host: LocalFunctionHost) -> None:
    state = process_host.engine.start_new("failing", None, None)
    done = process_host.wait(state.instance_id, timeout=60)
    assert done.runtime_status == RuntimeStatus.FAILED
    assert "boom" in done.output
    failed = next(e for e in done.history if e["EventType"] == EventType.TASK_FAILED)
    assert failed["Reason"] == "boom"
    assert "ValueError: boom" in failed["Details"] and "in explode" in failed["Details"]


def test_a_dead_worker_fails_its_activity_and_the_host_starts_a_new_one(process_host: LocalFunctionHost) -> None:
    state = process_host.engine.start_new("survives_crash", None, None)
    done = process_host.wait(state.instance_id, timeout=60)
    assert done.runtime_status == RuntimeStatus.COMPLETED, done.output
    caught, doubled = done.output
    assert "terminated abruptly" in caught
    assert doubled == 42


def test_worker_process_count_comes_from_the_app_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0"}))
    monkeypatch.delenv("FUNCTIONS_WORKER_PROCESS_COUNT", raising=False)
    assert HostOptions.from_host_json(tmp_path / "host.json").worker_processes == 1
    monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", "3")
    assert HostOptions.from_host_json(tmp_path / "host.json").worker_processes == 3


def test_a_worker_sees_the_worker_count_and_shares_the_cores_by_it(process_host: LocalFunctionHost) -> None:
    """As on Azure, where app settings are the workers' environment: each worker reads the count it is one
    of, and a fan-out's DuckDB takes its share of the cores (``fanout_threads``)."""
    pool = process_host.engine._workers
    assert pool is not None
    assert pool._submit(os.getenv, "FUNCTIONS_WORKER_PROCESS_COUNT").result(timeout=60) == "2"
    assert pool._submit(fanout_threads).result(timeout=60) == max(1, min(2, (os.cpu_count() or 1) // 2))


@pytest.mark.parametrize(("cores", "workers", "threads"), [(2, "2", 1), (2, None, 2), (1, None, 1), (8, "2", 2),
                                                           (4, "4", 1), (2, "3", 1)])
def test_fanout_threads_share_the_cores_among_the_worker_processes(monkeypatch: pytest.MonkeyPatch, cores: int,
                                                                   workers: str | None, threads: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    if workers is None:
        monkeypatch.delenv("FUNCTIONS_WORKER_PROCESS_COUNT", raising=False)
    else:
        monkeypatch.setenv("FUNCTIONS_WORKER_PROCESS_COUNT", workers)
    assert fanout_threads() == threads


def test_an_instance_a_stopped_host_left_running_is_recorded_as_terminated(tmp_path: Path) -> None:
    """This host keeps its queues in memory: the next host on the folder cannot resume the instance, and
    the singleton id would refuse every new start (409 from ``POST /api/runs``) unless it is released."""
    options = HostOptions(taskhub_folder=tmp_path / "hub")
    with LocalFunctionHost(toy_app.build_app(), options) as first:
        first.engine.start_new("waits", "singleton", None)
        assert first.wait("singleton", timeout=0.5).runtime_status == RuntimeStatus.RUNNING
    with LocalFunctionHost(toy_app.build_app(), options) as second:
        left = second.taskhub.get("singleton")
        assert left is not None and left.runtime_status == RuntimeStatus.TERMINATED
        assert "stopped" in left.output and left.history[-1]["EventType"] == EventType.EXECUTION_TERMINATED
        second.engine.start_new("counter", "singleton", json.dumps(0))
        assert second.wait("singleton", timeout=30).output == 3


def test_the_instances_of_a_host_still_running_on_the_folder_are_left_alone(tmp_path: Path) -> None:
    import subprocess
    import sys

    options = HostOptions(taskhub_folder=tmp_path / "hub")
    with LocalFunctionHost(toy_app.build_app(), options) as first:
        first.engine.start_new("waits", "theirs", None)
        assert first.wait("theirs", timeout=0.5).runtime_status == RuntimeStatus.RUNNING
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "hub" / "host.pid").write_text(str(other.pid))  # another live host holds the folder
        with LocalFunctionHost(toy_app.build_app(), options) as second:
            assert second.taskhub.get("theirs").runtime_status == RuntimeStatus.RUNNING  # type: ignore[union-attr]
        assert (tmp_path / "hub" / "host.pid").read_text() == str(other.pid)  # not ours to release
    finally:
        other.kill()
        other.wait()
    with LocalFunctionHost(toy_app.build_app(), options) as third:  # its process gone: the folder is free
        assert third.taskhub.get("theirs").runtime_status == RuntimeStatus.TERMINATED  # type: ignore[union-attr]
