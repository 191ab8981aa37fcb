"""A small Durable app used to test the local host itself (not c360's pipeline)."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import azure.durable_functions as df
import azure.functions as func

ATTEMPTS: dict[str, int] = {}
_lock = threading.Lock()
CONCURRENT = {"now": 0, "max": 0}


def build_app() -> df.DFApp:
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)

    @app.orchestration_trigger(context_name="context")
    def fan_out(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        items = context.get_input()["items"]
        context.set_custom_status({"step": "fan-out", "items": len(items)})
        results = yield context.task_all([context.call_activity("double", i) for i in items])
        context.set_custom_status({"step": "sum"})
        total = yield context.call_activity("add", results)
        return {"total": total, "at": context.current_utc_datetime.isoformat()}

    @app.orchestration_trigger(context_name="context")
    def with_retries(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        options = df.RetryOptions(first_retry_interval_in_milliseconds=50, max_number_of_attempts=3)
        out = []
        out.append((yield context.call_activity("flaky", {"key": "a", "fail": 0})))
        both = yield context.task_all([
            context.call_activity_with_retry("flaky", options, {"key": "b", "fail": 2}),
            context.call_activity_with_retry("flaky", options, {"key": "c", "fail": 1}),
        ])
        out.extend(both)
        yield context.create_timer(context.current_utc_datetime + timedelta(milliseconds=20))
        try:
            yield context.call_activity_with_retry("flaky", options, {"key": "never", "fail": 99})
        except Exception as exc:  # noqa: BLE001 - the orchestrator sees the last failure after the attempts
            out.append("caught: " + str(exc).splitlines()[0].strip())
        return out

    @app.orchestration_trigger(context_name="context")
    def failing(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        yield context.call_activity("explode", "boom")
        return "unreachable"

    @app.orchestration_trigger(context_name="context")
    def counter(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        n = context.get_input() or 0
        yield context.call_activity("double", n)
        if n < 3:
            context.continue_as_new(n + 1)
            return None
        return n

    @app.orchestration_trigger(context_name="context")
    def waits(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        value = yield context.wait_for_external_event("go")
        return {"got": value}

    @app.orchestration_trigger(context_name="context")
    def where(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        return (yield context.task_all([context.call_activity("whoami", i) for i in range(context.get_input())]))

    @app.orchestration_trigger(context_name="context")
    def survives_crash(context: df.DurableOrchestrationContext):  # type: ignore[no-untyped-def]
        try:
            yield context.call_activity("crash", 3)
            caught = "no failure"
        except Exception as exc:  # noqa: BLE001 - the orchestrator sees the dead worker as a failed activity
            caught = str(exc)
        return [caught, (yield context.call_activity("double", 21))]

    @app.activity_trigger(input_name="index")
    def whoami(index: int) -> list[int]:
        import os
        import time

        time.sleep(0.3)  # long enough that the fan-out keeps every worker busy
        return [index, os.getpid()]

    @app.activity_trigger(input_name="code")
    def crash(code: int) -> None:
        import os

        os._exit(code)  # a worker process dying mid-activity (killed, out of memory)

    @app.activity_trigger(input_name="value")
    def double(value: int) -> int:
        import time

        with _lock:
            CONCURRENT["now"] += 1
            CONCURRENT["max"] = max(CONCURRENT["max"], CONCURRENT["now"])
        time.sleep(0.05)
        with _lock:
            CONCURRENT["now"] -= 1
        return value * 2

    @app.activity_trigger(input_name="values")
    def add(values: list[int]) -> int:
        return sum(values)

    @app.activity_trigger(input_name="spec")
    def flaky(spec: dict[str, Any]) -> str:
        with _lock:
            ATTEMPTS[spec["key"]] = ATTEMPTS.get(spec["key"], 0) + 1
            attempt = ATTEMPTS[spec["key"]]
        if attempt <= spec["fail"]:
            raise RuntimeError(f"transient failure {attempt}")
        return f"{spec['key']} ok after {attempt}"

    @app.activity_trigger(input_name="message")
    def explode(message: str) -> None:
        raise ValueError(message)

    @app.event_grid_trigger(arg_name="event")
    @app.durable_client_input(client_name="client")
    async def on_event(event: func.EventGridEvent, client: df.DurableOrchestrationClient) -> None:
        data = event.get_json()
        await client.start_new("fan_out", None, {"items": [len(data["url"])]})

    @app.route(route="start/{name}", methods=["POST"])
    @app.durable_client_input(client_name="client")
    async def http_start(req: func.HttpRequest, client: df.DurableOrchestrationClient) -> func.HttpResponse:
        instance_id = await client.start_new(req.route_params["name"], None, req.get_json())
        return client.create_check_status_response(req, instance_id)

    return app
