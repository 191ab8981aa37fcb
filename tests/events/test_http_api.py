"""The run API through the local host: status codes and JSON bodies, with function-key authorization."""

from __future__ import annotations

import pytest

from c360_cli.local import follow, post_events, running_host
from orchestrators.starters import instance_id
from shared.runtime import build_runtime
from shared.settings import Settings
from tests.events.test_arrivals import CONFIG, Drop
from tests.faulty_app import build_app
from tests.pipeline import http, install_config, start_run_http

pytestmark = pytest.mark.slow
KEY = "test-function-key"


def test_requests_without_the_function_key_are_refused(local_settings: Settings) -> None:
    with running_host(local_settings, function_key=KEY) as host:
        assert http(host, "GET", "/runs").status == 401
        assert http(host, "GET", "/runs", key="wrong").status == 401
        reply = http(host, "GET", "/runs", key=KEY)
        assert reply.status == 200 and reply.body["runs"] == [] and reply.body["live"]["status"] is None


@pytest.mark.parametrize(("body", "message"), [
    (b"{not json", "not valid JSON"),
    ([1, 2], "must be a JSON object"),
    ({"mode": "everything"}, "mode must be one of incremental, full, full_since, match_only"),
    ({"mode": "full_since"}, "needs `since` as an ISO date"),
    ({"mode": "full_since", "since": "last tuesday"}, "needs `since` as an ISO date"),
    ({"mode": "full", "since": "2026-01-01"}, "only allowed with mode full_since"),
    ({"mode": "full", "dry_run": True}, "unknown field(s): dry_run"),
])
def test_bad_run_requests_get_400_with_a_json_error(local_settings: Settings, body: object, message: str) -> None:
    with running_host(local_settings, function_key=KEY) as host:
        reply = start_run_http(host, body, KEY)
    assert reply.status == 400 and message in reply.body["error"], reply.body


def test_since_is_read_as_utc_converting_an_offset() -> None:
    from orchestrators.starters import parse_since

    assert parse_since("2026-11-30") == "2026-11-30T00:00:00+00:00"
    assert parse_since("2026-11-30T10:00:00") == "2026-11-30T10:00:00+00:00"
    assert parse_since("2026-11-30T10:00:00+02:00") == "2026-11-30T08:00:00+00:00"
    with pytest.raises(ValueError):
        parse_since("2026-13-01")


def test_start_status_list_conflict_and_cancel(local_settings: Settings) -> None:
    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    Drop(runtime).files(3)
    gate = {"open": False}

    def slow_merge(call: int) -> None:  # hold the run in merge until the test has looked at it
        import time

        while call == 1 and not gate["open"]:
            time.sleep(0.05)
        return None

    app, _ = build_app({"merge_clusters": slow_merge})
    with running_host(local_settings, app, function_key=KEY) as host:
        started = start_run_http(host, {"mode": "full"}, KEY)
        assert started.status == 202
        assert {"id", "statusQueryGetUri", "terminatePostUri"} <= set(started.body)
        assert started.body["id"] == instance_id(runtime)
        conflict = start_run_http(host, {"mode": "incremental"}, KEY)
        assert conflict.status == 409 and "already in progress" in conflict.body["error"]
        live = _wait_for_step(host, "merging")
        run_id = live["run_id"]
        listing = http(host, "GET", "/runs", key=KEY)
        assert listing.status == 200 and listing.body["runs"][0]["run_id"] == run_id
        assert listing.body["live"]["status"] == "Running"
        status = http(host, "GET", f"/runs/{run_id}", key=KEY)
        assert status.status == 200 and status.body["live"]["step"] == "merging"
        assert {s["step"] for s in status.body["steps"]} >= {"prepare_run", "convert_source_file", "match_partition"}
        assert http(host, "GET", "/runs/20990101T000000Z-00000000", key=KEY).status == 404
        busy = http(host, "POST", f"/runs/{run_id}/rollback", key=KEY)
        assert busy.status == 409 and "would publish over the rollback" in busy.body["error"]
        cancel = http(host, "POST", f"/runs/{run_id}/cancel", key=KEY)
        assert cancel.status == 202 and cancel.body == {"run_id": run_id, "status": "Cancelled"}
        gate["open"] = True
        result = follow(host, instance_id(runtime), timeout=120)
        assert str(result.status) == "Terminated"
        again = http(host, "POST", f"/runs/{run_id}/cancel", key=KEY)
        assert again.status == 409 and "not in progress" in again.body["error"]
        assert http(host, "POST", "/runs/nope/cancel", key=KEY).status == 404
        finished = http(host, "GET", f"/runs/{run_id}", key=KEY)
        assert finished.body["status"] == "Cancelled"


def _wait_for_step(host, step: str) -> dict:
    import time

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state = next(iter(host.taskhub.all()), None)
        if state and isinstance(state.custom_status, dict) and state.custom_status.get("step") == step:
            return state.custom_status
        time.sleep(0.1)
    raise AssertionError(f"the run never reached {step!r}")


def test_rollback_through_the_api_points_the_views_back_at_a_kept_run(local_settings: Settings) -> None:
    """What ``c360 rollback`` does on a laptop, an operator does on Azure with a request."""
    from shared.runs import current

    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    drop = Drop(runtime)
    with running_host(local_settings, function_key=KEY) as host:
        for _ in range(2):
            post_events(host, drop.events(drop.files(1)))
            assert str(follow(host, instance_id(runtime), timeout=120).status) == "Completed"
        first, second = http(host, "GET", "/runs", key=KEY).body["runs"][::-1][-2:]
        assert current(runtime.lake)["run_id"] == second["run_id"]
        assert runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0] == 2  # type: ignore[union-attr]
        reply = http(host, "POST", f"/runs/{first['run_id']}/rollback", key=KEY)
        assert reply.status == 200 and reply.body["run_id"] == first["run_id"]
        assert "c360.Customer" in reply.body["views"]
        assert current(runtime.lake)["run_id"] == first["run_id"]
        assert runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0] == 1  # type: ignore[union-attr]
        again = http(host, "POST", f"/runs/{first['run_id']}/rollback", key=KEY)
        assert again.status == 409 and "already published" in again.body["error"]
        assert http(host, "POST", "/runs/nope/rollback", key=KEY).status == 404
        assert http(host, "POST", f"/runs/{first['run_id']}/rollback").status == 401
