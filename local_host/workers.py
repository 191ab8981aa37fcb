"""Language worker processes: where activities run when ``FUNCTIONS_WORKER_PROCESS_COUNT`` is above 1.

The Functions host starts that many Python worker processes and spreads invocations over them; that is
how CPU-bound Python runs in parallel on one instance (threads share one GIL), and on Azure each
scaled-out instance is a process of its own anyway. Each worker here imports the app itself from a
``module:attribute`` reference and runs one activity at a time (``PYTHON_THREADPOOL_THREAD_COUNT=1``,
what Microsoft recommends for CPU-bound Python). Workers are spawned, not forked: the host process has
threads (dispatcher, HTTP server, DuckDB) that a fork would copy mid-flight.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from local_host.functions import FunctionIndex

_index: FunctionIndex | None = None


class ActivityFailed(Exception):
    """An activity's exception, carried back from its worker as text (the original may not pickle)."""

    def __init__(self, reason: str, details: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.details = details

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return ActivityFailed, (self.reason, self.details)


def load_app(reference: str) -> Any:
    """The app named by ``module:attribute``; an attribute without ``get_functions`` is called to build it."""
    module, _, attribute = reference.partition(":")
    target = getattr(importlib.import_module(module), attribute or "app")
    return target if hasattr(target, "get_functions") else target()


def _start_worker(reference: str, processes: int) -> None:
    """A worker's start: the ``FUNCTIONS_WORKER_PROCESS_COUNT`` app setting in its environment, as an app
    setting is on Azure (the app reads it to share the cores, ``shared.duck.fanout_threads``), then its app."""
    global _index
    os.environ["FUNCTIONS_WORKER_PROCESS_COUNT"] = str(processes)
    _index = FunctionIndex(load_app(reference))


def _loaded() -> int:
    """The worker's process id: a worker that runs this has started and imported its app
    (``WorkerPool.start_all``)."""
    assert _index is not None, "worker started without its app"
    time.sleep(0.05)  # long enough for another idle worker to take the next one
    return os.getpid()


def _run_activity(name: str, input_json: str | None) -> str:
    assert _index is not None, "worker started without its app"
    try:
        return _index.run_activity(name, input_json)
    except Exception as exc:  # noqa: BLE001 - every failure goes back to the orchestration as TaskFailed
        raise ActivityFailed(str(exc), "".join(traceback.format_exception(exc))) from None


class WorkerPool:
    """``processes`` spawned workers running activities of the app ``reference`` names.

    A worker that dies (killed, out of memory) fails the activities it was running; the pool is then
    started again, as the Functions host restarts a crashed language worker.
    """

    def __init__(self, processes: int, reference: str) -> None:
        self.processes = processes
        self.reference = reference
        self._lock = threading.Lock()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_worker, initargs=(self.reference, self.processes))

    def submit(self, name: str, input_json: str | None) -> Future[str]:
        return self._submit(_run_activity, name, input_json)

    def _submit(self, function: Any, *args: Any) -> Future[Any]:
        """``function(*args)`` in a worker; a broken pool (a worker died) is started again first."""
        with self._lock:
            try:
                return self._pool.submit(function, *args)
            except BrokenProcessPool:
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                return self._pool.submit(function, *args)

    def start_all(self, timeout: float = 120.0) -> int:
        """Start every worker and wait until each has imported its app; returns how many answered.

        The pool otherwise spawns a worker when an activity finds none idle, so the first activities of a
        run wait for a process to start and import the app (1.5–2 s here). The Functions host starts its
        worker processes with the host, before any trigger fires; a caller that wants that (a benchmark,
        a long-running ``serve``) calls this once the host is up."""
        deadline = time.monotonic() + timeout
        answered: set[int] = set()
        while len(answered) < self.processes and time.monotonic() < deadline:
            pending = [self._submit(_loaded) for _ in range(self.processes)]
            answered |= {future.result(timeout=max(deadline - time.monotonic(), 0.1)) for future in pending}
        return len(answered)

    def shutdown(self) -> None:
        with self._lock:
            self._pool.shutdown(wait=True, cancel_futures=True)
