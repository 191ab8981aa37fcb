"""Client (starter) functions: Event Grid arrivals, the HTTP run API, and a sweeper for missed events.

One orchestration instance per lake (``c360-<container>``) runs at a time: a starter only starts it when
it is not running; files that land meanwhile wait in the ledger and the running instance picks them up
in one follow-up run. The sweeper closes the gap between a run's last ledger check and its completion.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

import azure.durable_functions as df
import azure.functions as func

from shared.events import BlobEvent
from shared.names import ORCHESTRATOR
from shared.payloads import RetryPolicy, RunRequest
from shared.runs import list_runs, read_run_record
from shared.runtime import Runtime, runtime_from_environment
from shared.triggers import admit_blob_created, pending_count

bp = df.Blueprint()
log = logging.getLogger(__name__)
MODES = ("incremental", "full", "full_since", "match_only")
ACTIVE = (df.OrchestrationRuntimeStatus.Running, df.OrchestrationRuntimeStatus.Pending,
          df.OrchestrationRuntimeStatus.ContinuedAsNew)


def instance_id(runtime: Runtime) -> str:
    return f"c360-{runtime.settings.lake_container}"


def run_request(runtime: Runtime, mode: str, trigger: str, since: str | None = None) -> RunRequest:
    settings = runtime.settings
    quiet = settings.quiet_period_seconds if trigger in ("event", "sweeper") else 0
    return RunRequest(mode=mode, since=since, trigger=trigger, quiet_period_seconds=quiet,
                      retry=RetryPolicy(settings.activity_retry_attempts, settings.activity_retry_interval_ms))


async def start_if_idle(client: df.DurableOrchestrationClient, runtime: Runtime,
                        request: RunRequest) -> tuple[str, bool]:
    """Start the lake's orchestration unless it is already running; (instance id, started)."""
    instance = instance_id(runtime)
    status = await client.get_status(instance)
    if status and status.runtime_status in ACTIVE:
        return instance, False
    try:
        await client.start_new(ORCHESTRATOR, instance, request.to_dict())
    except Exception as exc:  # noqa: BLE001 - another starter won the race (host refuses to replace a running instance)
        log.info("instance %s not started: %s", instance, exc)
        return instance, False
    return instance, True


def _blob_event(event: func.EventGridEvent | Any) -> BlobEvent:
    event_type = getattr(event, "event_type", None) or getattr(event, "type", None)
    return BlobEvent.from_parts(event.id, str(event_type or ""), event.subject, event.get_json())


@bp.event_grid_trigger(arg_name="event")
@bp.durable_client_input(client_name="client")
async def on_source_file_landed(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
    """BlobCreated (Event Grid or CloudEvents schema) → ledger → start the lake's run if idle."""
    runtime = runtime_from_environment()
    admission = admit_blob_created(_blob_event(event), runtime, datetime.now(UTC))
    if admission.new_work:
        await start_if_idle(client, runtime, run_request(runtime, "incremental", "event"))


@bp.timer_trigger(schedule="0 */5 * * * *", arg_name="timer", run_on_startup=False)
@bp.durable_client_input(client_name="client")
async def sweep_landed_files(timer: func.TimerRequest, client: df.DurableOrchestrationClient) -> None:
    """Every five minutes: start a run if files are pending and nothing is running."""
    runtime = runtime_from_environment()
    if pending_count(runtime):
        await start_if_idle(client, runtime, run_request(runtime, "incremental", "sweeper"))


def _json(body: Any, status: int) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _error(message: str, status: int) -> func.HttpResponse:
    return _json({"error": message}, status)


def parse_since(value: object) -> str:
    """``since`` as a UTC ISO timestamp: a date or a naive time is UTC; a time with an offset is converted
    (it was relabelled UTC, so ``10:00+02:00`` took files from two hours too late)."""
    moment = datetime.fromisoformat(str(value))
    return (moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)).isoformat()


@bp.route(route="runs", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def start_unification_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/runs {"mode": "incremental|full|full_since|match_only", "since": "YYYY-MM-DD"}`` → 202."""
    try:
        body = req.get_json() if req.get_body() else {}
    except ValueError:
        return _error("the request body is not valid JSON", 400)
    if not isinstance(body, dict):
        return _error("the request body must be a JSON object", 400)
    unknown = sorted(set(body) - {"mode", "since"})
    if unknown:
        return _error(f"unknown field(s): {', '.join(unknown)}; allowed: mode, since", 400)
    mode = body.get("mode", "incremental")
    if mode not in MODES:
        return _error(f"mode must be one of {', '.join(MODES)}, got {mode!r}", 400)
    since = body.get("since")
    if mode == "full_since":
        try:
            since = parse_since(since)
        except ValueError:
            return _error("mode full_since needs `since` as an ISO date (YYYY-MM-DD)", 400)
    elif since is not None:
        return _error("`since` is only allowed with mode full_since", 400)
    runtime = runtime_from_environment()
    instance, started = await start_if_idle(client, runtime, run_request(runtime, mode, "http", since))
    if not started:
        return _error(f"a run is already in progress on this lake (instance {instance}); "
                      "new files are picked up by its follow-up run", 409)
    return client.create_check_status_response(req, instance)


@bp.route(route="runs", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def list_runs_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``GET /api/runs`` → the most recent runs (newest first) and the live instance status."""
    runtime = runtime_from_environment()
    try:
        limit = int(req.params.get("limit", "20"))
    except ValueError:
        return _error("limit must be an integer", 400)
    runs = [read_run_record(runtime.lake, r) for r in reversed(list_runs(runtime.lake)[-max(1, min(limit, 200)):])]
    status = await client.get_status(instance_id(runtime))
    live = {"instance": instance_id(runtime), "status": str(status.runtime_status.value) if status else None,
            "custom_status": status.custom_status if status else None}
    return _json({"runs": [{k: r.get(k) for k in ("run_id", "status", "mode", "trigger", "started", "finished")}
                           for r in runs], "live": live}, 200)


@bp.route(route="runs/{run_id}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def get_run_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``GET /api/runs/{id}`` → status, current step, per-step counts and errors."""
    runtime = runtime_from_environment()
    run_id = req.route_params.get("run_id", "")
    if run_id not in list_runs(runtime.lake):
        return _error(f"no run {run_id!r}", 404)
    record = read_run_record(runtime.lake, run_id)
    status = await client.get_status(instance_id(runtime))
    if status and isinstance(status.custom_status, dict) and status.custom_status.get("run_id") == run_id:
        record["live"] = {"status": str(status.runtime_status.value), **status.custom_status}
    record.pop("files", None)
    return _json(record, 200)


@bp.route(route="runs/{run_id}/cancel", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def cancel_run_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/runs/{id}/cancel`` → terminates the run if it is the one in progress."""
    runtime = runtime_from_environment()
    run_id = req.route_params.get("run_id", "")
    status = await client.get_status(instance_id(runtime))
    if not (status and status.runtime_status in ACTIVE and isinstance(status.custom_status, dict)
            and status.custom_status.get("run_id") == run_id):
        known = run_id in list_runs(runtime.lake)
        return _error(f"run {run_id!r} is not in progress" if known else f"no run {run_id!r}", 409 if known else 404)
    await client.terminate(instance_id(runtime), f"cancelled through the API (run {run_id})")
    from shared.runs import write_run_record

    write_run_record(runtime.lake, run_id, status="Cancelled", finished=datetime.now(UTC).isoformat())
    return _json({"run_id": run_id, "status": "Cancelled"}, 202)


@bp.route(route="runs/{run_id}/rollback", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
@bp.durable_client_input(client_name="client")
async def rollback_run_http(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
    """``POST /api/runs/{id}/rollback`` → the views point back at that kept, earlier published run (what
    ``c360 rollback`` does on a laptop). Refused while a run is in progress: it would publish over it."""
    from shared.errors import PublishError
    from shared.export.retention import rollback

    runtime = runtime_from_environment()
    run_id = req.route_params.get("run_id", "")
    if run_id not in list_runs(runtime.lake):
        return _error(f"no run {run_id!r}", 404)
    status = await client.get_status(instance_id(runtime))
    if status and status.runtime_status in ACTIVE:
        return _error(f"a run is in progress on this lake (instance {instance_id(runtime)}): it would publish over "
                      "the rollback; cancel it or roll back once it has ended", 409)
    try:
        views = rollback(runtime.settings, runtime.lake, runtime.sql, run_id)
    except PublishError as exc:
        return _error(str(exc), 409)
    return _json({"run_id": run_id, "published": True, "views": views}, 200)
