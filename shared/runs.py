"""Run records in the lake: what each run did, step by step, and which run is published.

Each activity writes its own step record (no two writers share a file); ``run.json`` holds the run's
header. ``curated/_current.json`` names the published run: consumers and the next run read it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from shared import procmem
from shared.lakeio import read_json, write_json
from shared.names import Lake as L
from shared.paths import RunPaths
from shared.ports import Lake


def now_utc() -> datetime:
    return datetime.now(UTC)


def write_run_record(lake: Lake, run_id: str, **fields: Any) -> dict[str, Any]:
    paths = RunPaths(run_id)
    record = read_json(lake, paths.record, default={"run_id": run_id})
    record.update(fields)
    write_json(lake, paths.record, record)
    return record


def read_run_record(lake: Lake, run_id: str) -> dict[str, Any]:
    record = read_json(lake, RunPaths(run_id).record, default={"run_id": run_id, "status": "Unknown"})
    record["steps"] = read_steps(lake, run_id)
    return record


def read_steps(lake: Lake, run_id: str) -> list[dict[str, Any]]:
    steps = [read_json(lake, item.path) for item in lake.list(f"{RunPaths(run_id).root}/steps")]
    return sorted(steps, key=lambda s: s.get("started", ""))


@contextmanager
def step_record(lake: Lake, run_id: str, step: str, key: str | None = None) -> Iterator[dict[str, Any]]:
    """Time a step and write what it reports (counts, paths) to ``steps/<step>[-key].json``.

    ``peak_mb`` is the step's own peak resident memory where it ran alone in its process (an activity in
    a language worker), else ``None`` (see ``shared.procmem``). ``cpu_seconds`` is the process's CPU time
    (every thread, user and system) over the step: the step's own where it ran alone in its process.
    """
    record: dict[str, Any] = {"step": step, "key": key, "started": now_utc().isoformat()}
    started, cpu = time.perf_counter(), time.process_time()
    name = f"{step}-{key}" if key else step
    peak = procmem.Peak()
    try:
        with procmem.measure(peak):
            yield record
        record["status"] = "Succeeded"
    except Exception as exc:
        record["status"] = "Failed"
        record["error"] = f"{type(exc).__name__}: {exc}"[:2000]
        raise
    finally:
        record["finished"] = now_utc().isoformat()
        record["seconds"] = round(time.perf_counter() - started, 3)
        record["cpu_seconds"] = round(time.process_time() - cpu, 3)
        record["peak_mb"] = peak.mb
        write_json(lake, f"{RunPaths(run_id).root}/steps/{name}.json", record)


def current(lake: Lake) -> dict[str, Any] | None:
    """The published run's pointer, or None before the first publish."""
    return read_json(lake, L.CURRENT, default=None)


def mark_interrupted(lake: Lake, new_run_id: str) -> list[str]:
    """Record as ``Interrupted`` the earlier runs still ``Running``; returns their ids.

    Runs of a lake are one at a time (one orchestration instance per lake, ``orchestrators.starters``),
    so when a run starts, an earlier one still ``Running`` belongs to an orchestration that ended without
    finishing it: its host stopped, or the instance was terminated. Its files were never committed to the
    ledger, so the new run takes them up; its record would otherwise say ``Running`` forever."""
    interrupted = []
    published = (current(lake) or {}).get("run_id")  # it may have published before it was stopped
    for run_id in list_runs(lake):
        if run_id == new_run_id:
            continue
        record = read_json(lake, RunPaths(run_id).record, default={})
        if record.get("status") == "Running":
            write_run_record(lake, run_id, status="Interrupted", finished=now_utc().isoformat(),
                             published=run_id == published,
                             error=f"the orchestration ended before this run finished (its host stopped or "
                                   f"the instance was terminated); run {new_run_id} started after it and "
                                   "takes up its files")
            interrupted.append(run_id)
    return interrupted


def list_runs(lake: Lake) -> list[str]:
    runs = {item.path.split("/")[2] for item in lake.list(L.RUNS) if item.path.endswith("/run.json")}
    return sorted(runs)
