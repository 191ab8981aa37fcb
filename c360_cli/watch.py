"""``c360 watch``: files dropped into a local lake's landing folder become BlobCreated events.

Storage raises Event Grid events on Azure; a folder does not, so this watches the landing folder with
watchdog and, once a file has stopped growing, delivers a BlobCreated event to the local host's Event
Grid webhook — the same starter, ledger and quiet period as on Azure. Files already in the folder when
the watch starts are announced once (the ledger ignores those already processed).
"""

from __future__ import annotations

import queue
import threading
import time
import urllib.error
from collections.abc import Callable
from pathlib import Path

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from c360_cli.local import blob_created_event, http_error_message, post_events, running_host, status_details
from orchestrators.starters import instance_id
from shared.lakeio import read_json
from shared.names import RUN_ENDED
from shared.paths import RunPaths
from shared.runs import list_runs
from shared.runtime import Runtime, build_runtime
from shared.settings import Settings

STABLE_SECONDS = 0.5
RETRY_SECONDS = 5.0


class _Collector(FileSystemEventHandler):
    def __init__(self, changed: queue.Queue[Path]) -> None:
        self._changed = changed

    def on_created(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._changed.put(Path(str(event.src_path)))

    def on_modified(self, event: FileSystemEvent) -> None:
        self.on_created(event)

    def on_moved(self, event: FileSystemEvent) -> None:
        if not event.is_directory:
            self._changed.put(Path(str(event.dest_path)))


def _stable(path: Path, seen: dict[Path, tuple[int, float]], now: float) -> bool:
    """True once a file's size has not changed for ``STABLE_SECONDS`` (a copy has finished)."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        seen.pop(path, None)
        return False
    previous = seen.get(path)
    if previous is None or previous[0] != size:
        seen[path] = (size, now)
        return False
    return now - previous[1] >= STABLE_SECONDS and size > 0


def _outcome(runtime: Runtime, run: str) -> str | None:
    """``run X: Completed — 20,060 customers (published)``, once a run has ended; else None."""
    record = read_json(runtime.lake, RunPaths(run).record, default={})
    status = record.get("status")
    if status not in RUN_ENDED:
        return None
    merged = read_json(runtime.lake, f"{RunPaths(run).root}/steps/merge_clusters.json", default={})
    if status == "Failed":
        return f"run {run}: Failed — {record.get('error')} (the last published dimension stays)"
    if status == "Skipped":
        waits = record.get("deferred")
        return f"run {run}: Skipped" + (f" — {waits['files']} file(s) wait for their hour to close, until "
                                        f"{waits['until']}" if waits else " — nothing new")
    return (f"run {run}: Completed — {merged.get('customers', 0):,} customers"
            f"{' (published)' if record.get('published') else ''}")


def watch(settings: Settings, stop: threading.Event, report: Callable[[str], None] = print,
          app: object = None) -> int:
    """Run the local host and turn landing-folder changes into events until ``stop`` is set; returns the
    number of events delivered."""
    if settings.lake_kind != "local":
        raise ValueError("c360 watch needs a local lake: on Azure, Storage raises the events itself")
    runtime = build_runtime(settings)
    root = Path(settings.lake_root).resolve()
    landing = root / settings.landing_prefix
    landing.mkdir(parents=True, exist_ok=True)
    changed: queue.Queue[Path] = queue.Queue()
    for existing in sorted(p for p in landing.rglob("*") if p.is_file()):
        changed.put(existing)
    observer = Observer()
    observer.schedule(_Collector(changed), str(landing), recursive=True)
    observer.start()
    delivered = 0
    waiting: dict[Path, tuple[int, float]] = {}
    undelivered: list[str] = []  # lake paths whose event the starter refused
    refused: str | None = None
    retry_at = 0.0
    instance, last = instance_id(runtime), None
    ended = set(list_runs(runtime.lake))  # runs whose outcome is known (or older than this watch)
    try:
        with running_host(settings, app) as host:
            report(f"watching {landing} (local host on {host.base_url})")
            while not stop.is_set():
                # progress as the orchestrator's status changes (best effort: a poll may miss a step), and each
                # run's outcome from its record, which no poll can miss
                state = host.taskhub.get(instance)
                if state is not None and state.custom_status != last:
                    last = state.custom_status
                    if isinstance(last, dict) and last.get("step") not in (None, "completed", "failed"):
                        report(f"run {last.get('run_id') or '(starting)'}: {last['step']} "
                               f"{status_details(last)}".rstrip())
                for run in list_runs(runtime.lake)[-5:]:
                    if run not in ended and (outcome := _outcome(runtime, run)):
                        ended.add(run)
                        report(outcome)
                try:
                    while True:
                        waiting.setdefault(changed.get(timeout=0.1), (-1, 0.0))
                except queue.Empty:
                    pass
                now = time.monotonic()
                ready = [p for p in list(waiting) if _stable(p, waiting, now)]
                for path in ready:
                    waiting.pop(path, None)
                lake_paths = [p.relative_to(root).as_posix() for p in ready]
                if lake_paths:
                    report(f"{len(lake_paths)} file(s) landed: {', '.join(lake_paths[:3])}"
                           f"{' …' if len(lake_paths) > 3 else ''}")
                # a refused delivery is delivered again, as Event Grid does, until the starter takes it
                undelivered = [*undelivered, *lake_paths]
                if not undelivered or (not lake_paths and now < retry_at):
                    continue
                try:
                    post_events(host, [blob_created_event(settings, runtime.lake, p) for p in undelivered])
                except urllib.error.HTTPError as exc:
                    message = http_error_message(exc)
                    if message != refused:
                        report(f"{len(undelivered)} file(s) not admitted, delivered again every "
                               f"{RETRY_SECONDS:g} s: {message}")
                    refused, retry_at = message, now + RETRY_SECONDS
                    continue
                if refused:
                    report(f"{len(undelivered)} file(s) admitted")
                delivered += len(undelivered)
                undelivered, refused = [], None
    finally:
        observer.stop()
        observer.join()
    return delivered
