"""Run the real function app end to end through the local host, as ``c360 run`` does (one code path)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from c360_cli.local import blob_created_event, follow, land_files, post_events, running_host
from local_host import LocalFunctionHost
from orchestrators.starters import instance_id
from shared.lakeio import read_parquet_many
from shared.runs import current
from shared.runtime import Runtime, build_runtime
from shared.settings import Settings


@dataclass
class PipelineRun:
    runtime: Runtime
    status: str
    output: Any
    custom_status: Any
    history: list[dict[str, Any]]

    def table(self, entity: str) -> pd.DataFrame:
        pointer = current(self.runtime.lake)
        assert pointer is not None, "nothing published"
        folder = pointer["entities"][entity]
        files = [i.path for i in self.runtime.lake.list(folder) if i.path.endswith(".parquet")]
        return read_parquet_many(self.runtime.lake, files).to_pandas()


def install_config(runtime: Runtime, config_text: str) -> None:
    runtime.lake.write_bytes(runtime.settings.config_path, config_text.encode("utf-8"))


def run_pipeline(settings: Settings, demo: Path | None = None, config_text: str | None = None,
                 host: LocalFunctionHost | None = None, timeout: float = 600, app: Any = None,
                 **host_options: Any) -> PipelineRun:
    """Land ``demo/landing`` (if given), send one BlobCreated per file, and follow the lake's instance
    (``host_options``: ``HostOptions`` fields for the host started here)."""
    runtime = build_runtime(settings)
    if config_text is None and demo is not None:
        config_text = (demo / "c360.yaml").read_text(encoding="utf-8")
    if config_text is not None:
        install_config(runtime, config_text)
    landed = land_files(runtime.lake, demo / "landing", settings.landing_prefix) if demo is not None else []

    def go(active: LocalFunctionHost) -> PipelineRun:
        events = [blob_created_event(settings, runtime.lake, p) for p in landed]
        if events:
            post_events(active, events)
        followed = follow(active, instance_id(runtime), timeout=timeout)
        history = list((active.taskhub.get(instance_id(runtime)) or object()).history)  # type: ignore[attr-defined]
        return PipelineRun(runtime, str(followed.status), followed.output, followed.custom_status, history)

    if host is not None:
        return go(host)
    with running_host(settings, app, **host_options) as started:
        return go(started)


def history_text(run: PipelineRun, folder: Path) -> str:
    """Everything the task hub stored for the lake's instance (all executions, from the persisted files)."""
    texts = [json.dumps(run.history)]
    texts += [p.read_text(encoding="utf-8") for p in folder.glob("*.json")]
    return "\n".join(texts)


@dataclass
class HttpReply:
    status: int
    body: Any


def start_run_http(host: LocalFunctionHost, body: Any, key: str | None = None) -> HttpReply:
    """``POST /api/runs`` on the host, returning status and JSON body (4xx included)."""
    return http(host, "POST", "/runs", body, key)


def http(host: LocalFunctionHost, method: str, path: str, body: Any = None, key: str | None = None) -> HttpReply:
    import urllib.error
    import urllib.request

    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    headers = {"Content-Type": "application/json", **({"x-functions-key": key} if key else {})}
    request = urllib.request.Request(f"{host.base_url}/api{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request) as response:
            raw = response.read()
            return HttpReply(response.status, json.loads(raw) if raw else None)
    except urllib.error.HTTPError as error:
        raw = error.read()
        return HttpReply(error.code, json.loads(raw) if raw else None)
