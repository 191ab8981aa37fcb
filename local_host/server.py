"""The host's HTTP surface on 127.0.0.1: Durable client RPC, the app's HTTP routes, the Event Grid webhook.

These are the endpoints the Functions host exposes, so unmodified starters (``client.start_new``,
``client.get_status``, ``create_check_status_response``) and plain HTTP clients work against them.
"""

from __future__ import annotations

import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from local_host.engine import InstanceAlreadyRunning, InstanceNotFound
from local_host.taskhub import RuntimeStatus

if TYPE_CHECKING:
    from local_host.host import LocalFunctionHost

log = logging.getLogger(__name__)

DURABLE_PREFIX = "/runtime/webhooks/durabletask/"
EVENT_GRID_PATH = "/runtime/webhooks/eventgrid"
ADMIN_PREFIX = "/admin/functions/"


class Reply:
    """A status, JSON-able body and headers."""

    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None,
                 raw: bytes | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw


def _status_code_for(status: RuntimeStatus) -> int:
    """The Durable HTTP API's status codes for ``GET instances/{id}``."""
    if status == RuntimeStatus.COMPLETED:
        return 200
    if status in (RuntimeStatus.FAILED, RuntimeStatus.TERMINATED):
        return 400
    return 202


class HostHttpServer:
    """A threading HTTP server bound to an ephemeral (or given) port on 127.0.0.1."""

    def __init__(self, host: LocalFunctionHost, port: int = 0) -> None:
        self._host = host
        handler = self._handler_class()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="host-http", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        host = self._host

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                log.debug("http %s", format % args)

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    reply = route(host, self.command, self.path, dict(self.headers.items()), body)
                except Exception as exc:  # report, never hang the client
                    log.exception("request failed: %s %s", self.command, self.path)
                    reply = Reply(500, {"error": f"{type(exc).__name__}: {exc}"})
                payload = reply.raw if reply.raw is not None else (
                    b"" if reply.body is None else json.dumps(reply.body).encode("utf-8"))
                self.send_response(reply.status)
                headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _serve

        return Handler


def route(host: LocalFunctionHost, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Reply:
    """Dispatch one request to the Durable RPC, the Event Grid webhook, admin or an HTTP function."""
    parts = urlsplit(raw_path)
    path, query = parts.path, {k: v[-1] for k, v in parse_qs(parts.query).items()}
    if path.startswith(DURABLE_PREFIX):
        return _durable(host, method, path[len(DURABLE_PREFIX):], query, body)
    if path.lower() == EVENT_GRID_PATH:
        return _event_grid(host, method, query, headers, body)
    if path.startswith(ADMIN_PREFIX) and method == "POST":
        host.invoke_non_http(unquote(path[len(ADMIN_PREFIX):]), json.loads(body or b"{}").get("input"))
        return Reply(202)
    prefix = f"/{host.route_prefix}/" if host.route_prefix else "/"
    if path.startswith(prefix):
        response = host.call_http_function(method, raw_path, headers, body)
        if response is None:
            return Reply(404, {"error": f"no function serves {method} {path}"})
        return Reply(response.status_code, headers=dict(response.headers), raw=response.get_body())
    return Reply(404, {"error": f"not found: {path}"})


def _durable(host: LocalFunctionHost, method: str, rest: str, query: dict[str, str], body: bytes) -> Reply:
    engine, hub = host.engine, host.taskhub
    segments = [unquote(s) for s in rest.strip("/").split("/") if s]
    if method == "POST" and segments[:1] == ["orchestrators"] and len(segments) in (2, 3):
        input_json = json.loads(body) if body else None  # the SDK double-encodes: the body is a JSON string
        try:
            state = engine.start_new(segments[1], segments[2] if len(segments) == 3 else None, input_json)
        except InstanceAlreadyRunning as exc:
            return Reply(409, str(exc))
        except LookupError as exc:
            return Reply(400, {"ExceptionMessage": str(exc)})
        return Reply(202, {"id": state.instance_id, **host.management_urls(state.instance_id)})
    if segments[:1] != ["instances"]:
        return Reply(404, {"error": f"unknown durable endpoint {rest}"})
    if len(segments) == 1 and method == "GET":
        statuses = [s for s in hub.all() if _matches(s, query)]
        return Reply(200, [s.to_status(show_input=query.get("showInput") == "True") for s in statuses])
    instance_id = segments[1]
    found = hub.get(instance_id)
    if len(segments) == 2 and method == "GET":
        if found is None:
            return Reply(404, None)
        return Reply(_status_code_for(found.runtime_status),
                     found.to_status(show_input=query.get("showInput") == "True",
                                     show_history=query.get("showHistory") == "True"))
    if len(segments) == 2 and method == "DELETE":
        return Reply(200, {"instancesDeleted": 1}) if hub.delete(instance_id) else Reply(404, None)
    if len(segments) >= 3 and method == "POST":
        if found is None:
            return Reply(404, None)
        try:
            if segments[2] == "terminate":
                engine.terminate(instance_id, query.get("reason", ""))
            elif segments[2] == "raiseEvent" and len(segments) == 4:
                engine.raise_event(instance_id, segments[3], body.decode("utf-8") if body else None)
            else:
                return Reply(404, {"error": f"unsupported operation {segments[2]}"})
        except InstanceNotFound:
            return Reply(410, None)
        return Reply(202, None)
    return Reply(405, {"error": f"{method} not supported on {rest}"})


def _matches(state: Any, query: dict[str, str]) -> bool:
    statuses = {s for s in query.get("runtimeStatus", "").split(",") if s}
    if statuses and str(state.runtime_status) not in statuses:
        return False
    prefix = query.get("instanceIdPrefix")
    return not prefix or state.instance_id.startswith(prefix)


def _event_grid(host: LocalFunctionHost, method: str, query: dict[str, str], headers: dict[str, str],
                body: bytes) -> Reply:
    lowered = {k.lower(): v for k, v in headers.items()}
    if method == "OPTIONS":  # CloudEvents webhook validation handshake
        origin = lowered.get("webhook-request-origin", "*")
        return Reply(200, headers={"WebHook-Allowed-Origin": origin})
    function_name = query.get("functionName")
    if not function_name:
        return Reply(400, {"error": "functionName query parameter is required"})
    try:
        payload = json.loads(body or b"null")
    except json.JSONDecodeError as exc:
        return Reply(400, {"error": f"body is not JSON: {exc}"})
    events = payload if isinstance(payload, list) else [payload]
    for item in events:
        if isinstance(item, dict) and item.get("eventType") == "Microsoft.EventGrid.SubscriptionValidationEvent":
            return Reply(200, {"validationResponse": (item.get("data") or {}).get("validationCode")})
    host.deliver_event_grid(function_name, [e for e in events if isinstance(e, dict)])
    return Reply(202, None)
