"""The app's registered functions, and how the worker would invoke each kind of trigger.

Every call goes through the ``azure.functions`` converters the Python worker uses, so what an
activity receives and returns is exactly what it would receive and return on Azure.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.functions import meta
from azure.functions.durable_functions import ActivityTriggerConverter, OrchestrationTriggerConverter
from azure.functions.eventgrid import EventGridEventInConverter

HTTP_TRIGGER = "httpTrigger"
EVENT_GRID_TRIGGER = "eventGridTrigger"
TIMER_TRIGGER = "timerTrigger"
ORCHESTRATION_TRIGGER = "orchestrationTrigger"
ACTIVITY_TRIGGER = "activityTrigger"
DURABLE_CLIENT = "durableClient"


class FunctionNotFound(LookupError):
    """No function of that name and trigger type is registered."""


@dataclass(frozen=True)
class HttpRoute:
    """One HTTP-triggered function: its route template compiled to a regex."""

    function_name: str
    template: str
    methods: frozenset[str]
    auth_level: str
    pattern: re.Pattern[str]

    @classmethod
    def compile(cls, name: str, template: str, methods: list[str], auth_level: str) -> HttpRoute:
        regex = ""
        for part in re.split(r"(\{[^}]+\})", template.strip("/")):
            if part.startswith("{"):
                param = part[1:-1]
                optional = param.endswith("?")
                param = param.rstrip("?").split(":")[0]
                regex += f"(?P<{param}>[^/]+)" + ("?" if optional else "")
            else:
                regex += re.escape(part)
        regex = regex.replace("/(?P<", "/?(?P<")  # an optional last segment may drop its slash
        return cls(name, template, frozenset(m.upper() for m in methods), auth_level,
                   re.compile(f"^{regex}/?$"))

    def match(self, path: str, method: str) -> dict[str, str] | None:
        found = self.pattern.match(path.strip("/"))
        if found is None or (self.methods and method.upper() not in self.methods):
            return None
        return {k: v for k, v in found.groupdict().items() if v is not None}


class ClientLoop:
    """One long-lived event loop for durable-client calls.

    The Durable SDK keeps a module-global aiohttp session and asyncio lock; both bind to the loop
    that first uses them, so every client function must run on this same loop.
    """

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="durable-client", daemon=True)
        self._thread.start()

    def run(self, coroutine: Coroutine[Any, Any, Any], timeout: float | None = None) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def close(self) -> None:
        from azure.durable_functions.models.utils import http_utils

        try:
            self.run(http_utils._close_session(), timeout=10)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)


class FunctionIndex:
    """The functions of one app, indexed by name; ``app.get_functions()`` may only be called once."""

    def __init__(self, app: Any) -> None:
        self._functions = {f.get_function_name(): f for f in app.get_functions()}

    def names(self) -> dict[str, str]:
        """Function name → trigger type."""
        return {name: f.get_trigger().type for name, f in self._functions.items()}

    def of_type(self, trigger_type: str) -> list[str]:
        return [name for name, kind in self.names().items() if kind == trigger_type]

    def _get(self, name: str, trigger_type: str) -> Any:
        function = self._functions.get(name)
        if function is None or function.get_trigger().type != trigger_type:
            raise FunctionNotFound(f"no {trigger_type} function named {name!r}")
        return function

    def http_routes(self) -> list[HttpRoute]:
        routes = []
        for name in self.of_type(HTTP_TRIGGER):
            trigger = self._functions[name].get_trigger().get_dict_repr()
            methods = [str(getattr(m, "value", m)) for m in trigger.get("methods") or []]
            auth = str(getattr(trigger.get("authLevel"), "value", trigger.get("authLevel") or "function"))
            routes.append(HttpRoute.compile(name, trigger.get("route") or name, methods, auth))
        return routes

    # -- invocation -------------------------------------------------------------------------------

    def run_orchestrator(self, name: str, context_json: str) -> str:
        """Run one orchestrator episode; returns the state JSON or raises the SDK's exception."""
        function = self._get(name, ORCHESTRATION_TRIGGER)
        context = OrchestrationTriggerConverter.decode(meta.Datum(context_json, "string"), trigger_metadata={})
        result = function.get_user_function()(context)
        return str(result)

    def run_activity(self, name: str, input_json: str | None) -> str:
        """Run an activity as the worker does: decode the input, call, encode the output."""
        function = self._get(name, ACTIVITY_TRIGGER)
        argument = ActivityTriggerConverter.decode(meta.Datum(input_json, "json"), trigger_metadata={})
        user_function = function.get_user_function()
        result = user_function(**{function.get_trigger().name: argument})
        if inspect.iscoroutine(result):
            result = asyncio.run(result)
        return str(ActivityTriggerConverter.encode(result, expected_type=None).value)

    def client_call(self, name: str, trigger_type: str, trigger_value: Any,
                    client_binding: dict[str, Any]) -> Callable[[], Coroutine[Any, Any, Any]]:
        """A coroutine factory invoking a client (starter) function with its trigger and client binding."""
        function = self._get(name, trigger_type)
        trigger_name = function.get_trigger().name
        kwargs: dict[str, Any] = {trigger_name: trigger_value}
        for binding in function.get_bindings():
            if binding.type == DURABLE_CLIENT:
                kwargs[binding.name] = json.dumps(client_binding)
        user_function = function.get_user_function()

        async def invoke() -> Any:
            result = user_function(**kwargs)
            return await result if inspect.isawaitable(result) else result

        return invoke


def decode_event_grid_event(event: dict[str, Any]) -> func.EventGridEvent | Any:
    """Decode one event (Event Grid or CloudEvents schema) with the worker's own converter."""
    return EventGridEventInConverter.decode(meta.Datum(json.dumps(event), "json"), trigger_metadata={})


def timer_request(past_due: bool = False) -> func.TimerRequest:
    """The ``TimerRequest`` a timer trigger receives."""
    from azure.functions.timer import TimerRequest

    return TimerRequest(past_due=past_due)
