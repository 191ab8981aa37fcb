"""``LocalFunctionHost``: the function app, its task hub, the orchestration engine and the HTTP surface."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import azure.functions as func

from local_host.engine import EngineOptions, OrchestrationEngine
from local_host.functions import (
    EVENT_GRID_TRIGGER,
    HTTP_TRIGGER,
    TIMER_TRIGGER,
    ClientLoop,
    FunctionIndex,
    decode_event_grid_event,
    timer_request,
)
from local_host.server import HostHttpServer
from local_host.taskhub import InstanceState, TaskHub

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HostOptions:
    """Host settings; ``from_host_json`` reads the ones host.json sets for the Durable extension."""

    task_hub_name: str = "c360"
    taskhub_folder: Path | None = None
    max_concurrent_activities: int = 4
    instant_timers: bool = False
    override_running_instances: bool = False
    route_prefix: str = "api"
    function_key: str | None = None
    port: int = 0
    worker_processes: int = 1  # the FUNCTIONS_WORKER_PROCESS_COUNT app setting (Azure's default: 1)
    worker_app: str = "function_app:app"  # what each worker process imports when worker_processes > 1

    @classmethod
    def from_host_json(cls, path: Path, **overrides: Any) -> HostOptions:
        """Honour host.json (task hub name, activity concurrency, overridable instance states, route prefix)
        and the ``FUNCTIONS_WORKER_PROCESS_COUNT`` app setting from the environment."""
        config = json.loads(path.read_text(encoding="utf-8"))
        durable = config.get("extensions", {}).get("durableTask", {})
        http = config.get("extensions", {}).get("http", {})
        values: dict[str, Any] = {
            "task_hub_name": durable.get("hubName", cls.task_hub_name),
            "max_concurrent_activities": int(durable.get("maxConcurrentActivityFunctions",
                                                         cls.max_concurrent_activities)),
            "override_running_instances": durable.get("overridableExistingInstanceStates", "AnyState") == "AnyState",
            "route_prefix": http.get("routePrefix", cls.route_prefix),
            "worker_processes": int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or cls.worker_processes),
        }
        return cls(**{**values, **overrides})


class LocalFunctionHost:
    """Runs one function app locally. Use as a context manager."""

    def __init__(self, app: Any, options: HostOptions | None = None) -> None:
        self.options = options or HostOptions()
        self.functions = FunctionIndex(app)
        self.taskhub = TaskHub(self.options.taskhub_folder)
        self.engine = OrchestrationEngine(self.functions, self.taskhub, EngineOptions(
            max_concurrent_activities=self.options.max_concurrent_activities,
            instant_timers=self.options.instant_timers,
            override_running_instances=self.options.override_running_instances,
            worker_processes=self.options.worker_processes, worker_app=self.options.worker_app))
        self.client_loop = ClientLoop()
        self.server = HostHttpServer(self, self.options.port)
        self.server.start()

    def __enter__(self) -> LocalFunctionHost:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def start_workers(self) -> int:
        """Start the worker processes and load the app in each, as the Functions host does when it starts;
        by default a worker starts when an activity first needs it. Returns how many are ready."""
        return self.engine.start_workers()

    def close(self) -> None:
        self.engine.stop()
        self.client_loop.close()
        self.server.stop()

    # -- what the extension passes to client functions ---------------------------------------------

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def route_prefix(self) -> str:
        return self.options.route_prefix

    @property
    def rpc_base_url(self) -> str:
        return f"{self.base_url}/runtime/webhooks/durabletask/"

    def management_urls(self, instance_id: str) -> dict[str, str]:
        base = f"{self.rpc_base_url}instances/{instance_id}"
        hub = f"taskHub={self.options.task_hub_name}&connection=Storage"
        return {
            "id": instance_id,
            "statusQueryGetUri": f"{base}?{hub}",
            "sendEventPostUri": f"{base}/raiseEvent/{{eventName}}?{hub}",
            "terminatePostUri": f"{base}/terminate?reason={{text}}&{hub}",
            "rewindPostUri": f"{base}/rewind?reason={{text}}&{hub}",
            "purgeHistoryDeleteUri": f"{base}?{hub}",
            "restartPostUri": f"{base}/restart?{hub}",
            "suspendPostUri": f"{base}/suspend?reason={{text}}&{hub}",
            "resumePostUri": f"{base}/resume?reason={{text}}&{hub}",
        }

    def client_binding(self) -> dict[str, Any]:
        """The ``durableClient`` binding JSON, as the extension serialises it."""
        return {
            "taskHubName": self.options.task_hub_name,
            "creationUrls": {
                "createNewInstancePostUri": f"{self.rpc_base_url}orchestrators/{{functionName}}[/{{instanceId}}]",
                "createAndWaitOnNewInstancePostUri":
                    f"{self.rpc_base_url}orchestrators/{{functionName}}[/{{instanceId}}]?timeout={{timeoutInSeconds}}",
            },
            "managementUrls": self.management_urls("INSTANCEID"),
            "baseUrl": self.rpc_base_url.rstrip("/"),
            "requiredQueryStringParameters": "",
            "rpcBaseUrl": self.rpc_base_url,
        }

    # -- triggers ----------------------------------------------------------------------------------

    def deliver_event_grid(self, function_name: str, events: list[dict[str, Any]]) -> list[Any]:
        """Invoke an Event Grid trigger once per event, as the host does for a delivered batch."""
        results = []
        for item in events:
            invoke = self.functions.client_call(function_name, EVENT_GRID_TRIGGER, decode_event_grid_event(item),
                                                self.client_binding())
            results.append(self.client_loop.run(invoke()))
        return results

    def invoke_non_http(self, function_name: str, value: Any = None) -> Any:
        """Run a timer- or Event Grid–triggered function on demand (``POST /admin/functions/{name}``)."""
        kind = self.functions.names().get(function_name)
        if kind == TIMER_TRIGGER:
            invoke = self.functions.client_call(function_name, kind, timer_request(), self.client_binding())
            return self.client_loop.run(invoke())
        if kind == EVENT_GRID_TRIGGER:
            return self.deliver_event_grid(function_name, [value])
        raise LookupError(f"no timer or Event Grid function named {function_name!r}")

    def call_http_function(self, method: str, raw_path: str, headers: dict[str, str],
                           body: bytes) -> func.HttpResponse | None:
        """Route a request to the HTTP-triggered function whose route matches, enforcing function keys."""
        parts = urlsplit(raw_path)
        path = parts.path[len(self.route_prefix) + 2:] if self.route_prefix else parts.path.lstrip("/")
        for http_route in self.functions.http_routes():
            params = http_route.match(path, method)
            if params is None:
                continue
            request = func.HttpRequest(method=method, url=f"{self.base_url}{raw_path}", headers=headers,
                                       params=_query(parts.query), route_params=params, body=body)
            if not self._authorised(http_route.auth_level, request):
                return func.HttpResponse(json.dumps({"error": "missing or invalid function key"}), status_code=401,
                                         mimetype="application/json")
            invoke = self.functions.client_call(http_route.function_name, HTTP_TRIGGER, request, self.client_binding())
            response = self.client_loop.run(invoke())
            return response if isinstance(response, func.HttpResponse) else func.HttpResponse(str(response))
        return None

    def _authorised(self, auth_level: str, request: func.HttpRequest) -> bool:
        if auth_level == "anonymous" or self.options.function_key is None:
            return True
        supplied = request.headers.get("x-functions-key") or request.params.get("code")
        return supplied == self.options.function_key

    # -- conveniences for the CLI and tests --------------------------------------------------------

    def wait(self, instance_id: str, timeout: float | None = None) -> InstanceState:
        return self.engine.wait(instance_id, timeout)


def _query(query: str) -> dict[str, str]:
    from urllib.parse import parse_qs

    return {k: v[-1] for k, v in parse_qs(query).items()}
