"""The run report: figures (``report.json``) and a self-contained HTML page (``report.html``) per run."""

from __future__ import annotations

from typing import Any

from shared.config.model import UnificationConfig
from shared.lakeio import read_json, write_json
from shared.paths import RunPaths
from shared.ports import Lake
from shared.report.figures import changes, run_figures
from shared.report.html import render
from shared.runs import current


def previous_published(lake: Lake, run_id: str) -> str | None:
    pointer = current(lake)
    if not pointer:
        return None
    if pointer["run_id"] != run_id:
        return str(pointer["run_id"])
    history = pointer.get("history") or []
    return str(history[0]) if history else None


def profile_attributes(config: UnificationConfig) -> dict[str, dict[str, str]]:
    """Per source table: each attribute it maps and its column in ``Customer`` (the merge's rename), the
    excluded ones left out."""
    from shared.merge.survivorship import merged_fields

    names = {field.attribute: field.name for field in merged_fields(config)}
    return {source.name: {a: names[a] for a in source.attributes().values() if a in names}
            for source in config.sources}


def write_report(lake: Lake, config: UnificationConfig, run_id: str) -> dict[str, Any]:
    """Compute and write the run's report; returns its key numbers."""
    sources = {s.name: (s.data_source, s.table) for s in config.sources}
    before = previous_published(lake, run_id)
    previous = read_json(lake, RunPaths(before).report_json, default=None) if before else None
    figures = run_figures(lake, run_id, sources, profile_attributes(config), previous)
    figures["changes"] = changes(figures, previous)
    paths = RunPaths(run_id)
    write_json(lake, paths.report_json, figures)
    lake.write_bytes(paths.report, render(figures, figures["changes"]).encode("utf-8"))
    return figures["key_numbers"]
