"""The local host drives the real Durable SDK: fan-out, retries, timers, failures, continue-as-new."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator

import pytest

from local_host import HostOptions, LocalFunctionHost, RuntimeStatus
from local_host.history import EventType
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
