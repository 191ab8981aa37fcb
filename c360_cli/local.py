"""Drive the real function app locally: land files, raise BlobCreated events, follow the orchestration.

This is the deployed code path minus the Functions host: the same starters, orchestrator and
activities, run by ``local_host`` with the lake and SQL endpoint the settings choose.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local_host import HostOptions, LocalFunctionHost, RuntimeStatus
from shared.events import BLOB_CREATED, event_url
from shared.ports import Lake
from shared.settings import PREFIX, Settings

REPO = Path(__file__).resolve().parents[1]
EVENT_FUNCTION = "on_source_file_landed"
NEVER_STARTED_SECONDS = 60


def local_settings(lake: Path | None, overrides: dict[str, str] | None = None) -> Settings:
    """Settings from the environment, with ``--lake`` selecting a local folder lake."""
    values = {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}
    if lake is not None:
        values.update({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(lake.resolve())})
    values.update(overrides or {})
    return Settings.from_mapping(values)


@contextmanager
def environment(settings: Settings) -> Iterator[None]:
    """Expose the settings to the function app the way Azure does: as environment variables."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(PREFIX)}
    for key in saved:
        del os.environ[key]
    os.environ.update(settings.to_mapping())
    try:
        yield
    finally:
        for key in settings.to_mapping():
            os.environ.pop(key, None)
        os.environ.update(saved)


def runtime_folder(settings: Settings) -> Path:
    """Where the local host keeps its task hub (Azure keeps it in the runtime storage account)."""
    if settings.lake_kind == "local":
        root = Path(settings.lake_root).resolve()
        return root.with_name(f"{root.name}.runtime")
    return Path(".c360") / f"{settings.lake_container}.runtime"


def default_workers() -> int:
    """Worker processes for a laptop run: the ``FUNCTIONS_WORKER_PROCESS_COUNT`` app setting, else one per
    core, so that the activities of a fan-out (CPU-bound Python) use every core."""
    return int(os.environ.get("FUNCTIONS_WORKER_PROCESS_COUNT") or os.cpu_count() or 1)


@contextmanager
def running_host(settings: Settings, app: Any = None, **options: Any) -> Iterator[LocalFunctionHost]:
    """The function app (or ``app``) running in a local host, with ``settings`` as its environment."""
    with environment(settings):
        import function_app

        host_options = HostOptions.from_host_json(REPO / "host.json",
                                                  taskhub_folder=runtime_folder(settings) / "taskhub", **options)
        with LocalFunctionHost(app or _fresh_app(function_app), host_options) as host:
            yield host


def _fresh_app(module: Any) -> Any:
    """``get_functions()`` may run once per app object, so every host gets a newly built app."""
    import importlib

    return importlib.reload(module).app


def land_files(lake: Lake, source: Path, prefix: str) -> list[str]:
    """Copy a folder of extracts into the lake's landing zone, keeping relative paths."""
    landed = []
    for file in sorted(p for p in source.rglob("*") if p.is_file()):
        path = f"{prefix.strip('/')}/{file.relative_to(source).as_posix()}"
        with file.open("rb") as handle, lake.open_write(path) as target:
            shutil.copyfileobj(handle, target, 8 << 20)
        landed.append(path)
    return landed


def blob_created_event(settings: Settings, lake: Lake, path: str) -> dict[str, Any]:
    """An Event Grid–schema BlobCreated event for a lake path, as Storage would publish it."""
    item = lake.info(path)
    account = "local" if settings.lake_kind == "local" else settings.lake_account_url.rstrip("/").rsplit("/", 1)[-1]
    return {
        "id": str(uuid.uuid4()), "eventType": BLOB_CREATED, "dataVersion": "",
        "topic": f"/subscriptions/local/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/{account}",
        "subject": f"/blobServices/default/containers/{settings.lake_container}/blobs/{path}",
        "eventTime": datetime.now(UTC).isoformat(),
        "data": {"api": "PutBlob", "url": event_url(settings, path, lake.url(path)), "contentLength": item.size,
                 "eTag": item.etag, "blobType": "BlockBlob", "contentType": "application/octet-stream"},
    }


def post_events(host: LocalFunctionHost, events: list[dict[str, Any]], function: str = EVENT_FUNCTION) -> int:
    """Deliver events to the host's Event Grid webhook, one batch, as Event Grid does."""
    request = urllib.request.Request(f"{host.base_url}/runtime/webhooks/EventGrid?functionName={function}",
                                     data=json.dumps(events).encode(), method="POST",
                                     headers={"Content-Type": "application/json", "aeg-event-type": "Notification"})
    with urllib.request.urlopen(request, timeout=600) as response:
        return int(response.status)


def http_error_message(exc: urllib.error.HTTPError) -> str:
    """The ``error`` of an HTTP error's JSON body (the API's and the host's own), else its reason."""
    try:
        return str(json.loads(exc.read() or b"{}").get("error") or exc.reason)
    except ValueError:
        return str(exc.reason)


@dataclass
class Followed:
    status: RuntimeStatus
    output: Any
    custom_status: Any
    seconds: float


def status_details(status: dict[str, Any]) -> str:
    """An orchestrator status's figures as ``key=value, …`` (its run id and step apart)."""
    return ", ".join(f"{k}={v}" for k, v in status.items() if k not in ("run_id", "step") and v is not None)


def follow(host: LocalFunctionHost, instance: str, on_status: Callable[[Any], None] = lambda _: None,
           timeout: float = 24 * 3600, until: Callable[[Any], bool] = lambda _: False) -> Followed:
    """Wait for an instance (through continue-as-new follow-ups) to finish, reporting status changes; or
    only until its custom status meets ``until`` (the instance still running)."""
    started, last = time.monotonic(), None
    while time.monotonic() - started < timeout:
        state = host.taskhub.get(instance)
        if state is None and time.monotonic() - started > NEVER_STARTED_SECONDS:
            raise TimeoutError(f"instance {instance} was never started (no accepted BlobCreated event or run request)")
        if state is not None:
            if state.custom_status != last:
                last = state.custom_status
                on_status(last)
            if state.runtime_status.is_terminal or until(state.custom_status):
                return Followed(state.runtime_status, state.output, state.custom_status, time.monotonic() - started)
        time.sleep(0.2)
    raise TimeoutError(f"instance {instance} did not finish within {timeout} s")
