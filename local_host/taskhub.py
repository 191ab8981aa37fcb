"""The task hub: orchestration instances, their histories and statuses, optionally kept on disk.

On Azure the task hub lives in the runtime storage account (tables and queues). Locally it is a
folder of JSON documents, one per instance, so ``c360 status`` can read runs after the host stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class RuntimeStatus(StrEnum):
    """``OrchestrationRuntimeStatus`` values as the Durable HTTP API spells them."""

    PENDING = "Pending"
    RUNNING = "Running"
    COMPLETED = "Completed"
    CONTINUED_AS_NEW = "ContinuedAsNew"
    FAILED = "Failed"
    TERMINATED = "Terminated"

    @property
    def is_terminal(self) -> bool:
        return self in (RuntimeStatus.COMPLETED, RuntimeStatus.FAILED, RuntimeStatus.TERMINATED)


@dataclass
class InstanceState:
    """Everything the host knows about one orchestration instance (its current execution)."""

    instance_id: str
    name: str
    input: str | None
    created_time: str
    last_updated_time: str
    runtime_status: RuntimeStatus = RuntimeStatus.PENDING
    output: Any = None
    custom_status: Any = None
    history: list[dict[str, Any]] = field(default_factory=list)
    execution_id: str = ""
    episodes: int = 0

    def to_status(self, *, show_input: bool = False, show_history: bool = False) -> dict[str, Any]:
        """The JSON body of ``GET /runtime/webhooks/durabletask/instances/{id}``."""
        body: dict[str, Any] = {
            "name": self.name,
            "instanceId": self.instance_id,
            "createdTime": self.created_time,
            "lastUpdatedTime": self.last_updated_time,
            "runtimeStatus": str(self.runtime_status),
            "customStatus": self.custom_status,
            "output": self.output,
            "input": json.loads(self.input) if (show_input and self.input) else None,
        }
        if show_history:
            body["historyEvents"] = self.history
        return body

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["runtime_status"] = str(self.runtime_status)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InstanceState:
        return cls(**{**data, "runtime_status": RuntimeStatus(data["runtime_status"])})


HOST_FILE = "host.pid"  # the process id of the host working on the folder


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


class TaskHub:
    """Thread-safe instance store; writes each instance through to ``folder`` when one is given."""

    def __init__(self, folder: Path | None = None) -> None:
        self._folder = folder
        self._lock = threading.RLock()
        self._instances: dict[str, InstanceState] = {}
        if folder is not None:
            folder.mkdir(parents=True, exist_ok=True)
            for path in sorted(folder.glob("*.json")):
                state = InstanceState.from_dict(json.loads(path.read_text(encoding="utf-8")))
                self._instances[state.instance_id] = state

    def get(self, instance_id: str) -> InstanceState | None:
        with self._lock:
            return self._instances.get(instance_id)

    def all(self) -> list[InstanceState]:
        with self._lock:
            return sorted(self._instances.values(), key=lambda s: s.created_time)

    def put(self, state: InstanceState) -> None:
        with self._lock:
            self._instances[state.instance_id] = state
            self._persist(state)

    def save(self, state: InstanceState) -> None:
        """Write an instance that was changed in place."""
        with self._lock:
            self._persist(state)

    def delete(self, instance_id: str) -> bool:
        with self._lock:
            removed = self._instances.pop(instance_id, None)
            if removed is not None and self._folder is not None:
                self._path(instance_id).unlink(missing_ok=True)
            return removed is not None

    def claim(self) -> list[InstanceState]:
        """Take the folder for this process's host; returns the instances a stopped host left unfinished.

        Azure's host resumes such instances from the messages in its queues. This host keeps its queues in
        memory, so an instance whose host stopped (Ctrl-C, a killed process) can never finish, and a
        singleton instance id would refuse every new start. While another host's process is alive the
        folder is its, and its instances are left alone."""
        if self._folder is None:
            return []
        marker = self._folder / HOST_FILE
        with self._lock:
            try:
                holder: int | None = int(marker.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                holder = None
            if holder is not None and _alive(holder):
                return []
            marker.write_text(str(os.getpid()), encoding="utf-8")
            return [s for s in self.all() if not s.runtime_status.is_terminal]

    def release(self) -> None:
        """Give the folder up (the host stops); its unfinished instances go to the next host that claims it."""
        if self._folder is None:
            return
        marker = self._folder / HOST_FILE
        with self._lock, contextlib.suppress(OSError, ValueError):
            if int(marker.read_text(encoding="utf-8")) == os.getpid():
                marker.unlink()

    def _path(self, instance_id: str) -> Path:
        assert self._folder is not None
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in instance_id)
        return self._folder / f"{safe}.json"

    def _persist(self, state: InstanceState) -> None:
        if self._folder is None:
            return
        path = self._path(state.instance_id)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_dict()), encoding="utf-8")
        os.replace(tmp, path)
