"""Keep a few published runs for rollback; remove the bulk of older ones.

A run's *export* (``curated/runs/<run>/``) is what rollback needs, so the newest ``keep`` published runs
keep theirs. Older runs — and runs that never published — lose their export and their intermediate files
(match partitions and pairs, unified tables, enrichments). Their record and step files stay (a few KB,
for ``c360 status``), as do table snapshots the published pointer still builds on and quarantined rows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from shared.errors import PublishError
from shared.paths import RunPaths
from shared.ports import Lake, SqlEndpoint
from shared.runs import current, list_runs, read_run_record, write_run_record
from shared.settings import Settings

log = logging.getLogger(__name__)
INTERMEDIATE = ("match", "unified", "enrich", "tables")


@dataclass
class Pruned:
    runs: list[str] = field(default_factory=list)
    files: int = 0


def kept_runs(pointer: dict[str, Any] | None, keep: int) -> list[str]:
    """The published runs rollback can return to: the current one, then its predecessors."""
    if not pointer:
        return []
    published = [pointer["run_id"], *pointer.get("history", [])]
    return list(dict.fromkeys(published))[:max(keep, 1)]


def prune_runs(lake: Lake, keep: int, in_progress: str | None = None) -> Pruned:
    """Delete exports and intermediates of runs older than the newest ``keep`` published ones."""
    pointer = current(lake)
    if pointer is None:
        return Pruned()
    kept = set(kept_runs(pointer, keep))
    newest = max(kept)
    referenced = {s["path"] for s in (pointer.get("snapshots") or {}).values() if isinstance(s, dict)}
    out = Pruned()
    for run_id in list_runs(lake):
        if run_id in kept or run_id == in_progress or run_id > newest:  # later runs may still be running
            continue
        paths = RunPaths(run_id)
        removed = lake.delete_prefix(paths.export_root)
        for folder in INTERMEDIATE:
            for item in list(lake.list(f"{paths.root}/{folder}")):
                if item.path not in referenced:
                    lake.delete(item.path)
                    removed += 1
        if removed:
            write_run_record(lake, run_id, pruned=True)
            out.runs.append(run_id)
            out.files += removed
    return out


def exported_entities(lake: Lake, run_id: str) -> list[str]:
    root = RunPaths(run_id).export_root
    names = {item.path[len(root) + 1:].split("/", 1)[0] for item in lake.list(root)
             if item.path.endswith(".parquet") and "/" in item.path[len(root) + 1:]}
    return sorted(names - {"ci"})


def rollback(settings: Settings, lake: Lake, endpoint: SqlEndpoint | None, run_id: str) -> list[str]:
    """Point the views (and ``_current.json``) back at a kept run; returns the view names."""
    from shared.export.publish import publish_run

    pointer = current(lake)
    if pointer is None:
        raise PublishError("nothing is published yet: there is no run to roll back to")
    if run_id == pointer["run_id"]:
        raise PublishError(f"run {run_id} is already published")
    record = read_run_record(lake, run_id)
    if not record.get("published"):
        raise PublishError(f"run {run_id} never published (status {record.get('status', 'unknown')}): only a "
                           f"published run can be restored")
    entities = exported_entities(lake, run_id)
    if not entities:
        raise PublishError(f"run {run_id} is no longer kept (C360_RUNS_TO_KEEP={settings.runs_to_keep}); kept: "
                           f"{', '.join(kept_runs(pointer, settings.runs_to_keep))}")
    views = publish_run(settings, lake, endpoint, run_id, entities)
    log.warning("rolled back from run %s to run %s", pointer["run_id"], run_id)
    return views
