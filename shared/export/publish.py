"""Publish: point the views at a run's export, then record it as current — only after both succeed.

The previous run stays readable until the switch. On DuckDB every view changes in one transaction;
on Synapse serverless each view is one batch, so if any fails the previous run's views are re-applied.
Views of the published run's tables that the new run does not have are dropped in the same switch.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from typing import Any

from shared.adapters.duckdb_endpoint import location_url
from shared.duck import lake_duckdb, measure_typing, parquet_source
from shared.errors import PublishError, SqlEndpointError
from shared.export.typing_record import read_view_typing, recorded_typing
from shared.lakeio import parquet_files, write_json
from shared.names import Lake as L
from shared.paths import RunPaths
from shared.ports import Lake, SqlEndpoint
from shared.runs import current, now_utc
from shared.settings import Settings
from shared.sql.render import (
    SynapseSetup,
    render_drop_view,
    render_duckdb_setup,
    render_duckdb_view,
    render_tsql_setup,
    render_tsql_view,
)
from shared.sql.views import ViewSpec, column_specs

log = logging.getLogger(__name__)
DATA_SOURCE = "c360_lake"
CREDENTIAL = "c360_identity"


def view_specs(lake: Lake, run_id: str, entities: Sequence[str], schema: str) -> list[ViewSpec]:
    """One view per exported entity, typed from the data: string lengths are the longest value over all of
    the entity's files (measured by DuckDB, by the export where it recorded them), partition folders
    become typed ``filepath()`` columns."""
    from shared.export.dimension import PARTITIONS

    paths = RunPaths(run_id)
    record = read_view_typing(lake, run_id)
    specs = []
    for entity in entities:
        folder = paths.export_table(entity)
        files = parquet_files(lake, folder)
        if not files:
            continue
        recorded = recorded_typing(record, entity, files)
        if recorded is not None:  # measured by the export on these very files
            arrow_schema, lengths = recorded
        else:  # a run exported before the record existed
            with lake_duckdb(lake) as con:
                arrow_schema, lengths = measure_typing(con, parquet_source(lake, files))
        partitioned = PARTITIONS.get(entity, ())
        columns = column_specs(arrow_schema.empty_table(), lengths)
        specs.append(ViewSpec(schema, entity, folder, tuple(c for c in columns if c.name not in partitioned),
                              tuple(c for c in columns if c.name in partitioned)))
    return specs


def statements(settings: Settings, lake: Lake, specs: Sequence[ViewSpec], dialect: str) -> list[str]:
    if dialect == "tsql":
        return [render_tsql_view(spec, DATA_SOURCE) for spec in specs]
    return [*render_duckdb_setup(settings.sql_schema),
            *(render_duckdb_view(spec, location_url(lake, spec.location)) for spec in specs)]


def synapse_setup(settings: Settings, lake: Lake) -> SynapseSetup:
    return SynapseSetup(settings.synapse_database, settings.sql_schema, DATA_SOURCE, CREDENTIAL,
                        lake.url(""), settings.sql_reader_role)


def publish_run(settings: Settings, lake: Lake, endpoint: SqlEndpoint | None, run_id: str,
                entities: Sequence[str], snapshots: dict[str, Any] | None = None) -> list[str]:
    """Switch the views to ``run_id`` and record it as the current run; returns the view names."""
    specs = view_specs(lake, run_id, entities, settings.sql_schema)
    previous = current(lake)
    # a table the published run had and this one has not (a source taken out of the config): its view would
    # go on showing the older run's data, and break once that run is pruned
    stale = sorted(set((previous or {}).get("entities", {})) - {s.name for s in specs})
    if endpoint is not None:
        try:
            if endpoint.dialect == "tsql":
                endpoint.execute_batches(render_tsql_setup(synapse_setup(settings, lake), secrets.token_urlsafe(24)
                                                           + "aA1!"))
            endpoint.execute_batches([*statements(settings, lake, specs, endpoint.dialect),
                                      *(render_drop_view(settings.sql_schema, n, endpoint.dialect) for n in stale)])
        except SqlEndpointError as exc:
            if endpoint.dialect == "tsql" and previous:
                _restore(settings, lake, endpoint, previous)
            raise PublishError(f"views not switched to run {run_id}; run {previous and previous['run_id']} "
                               f"stays published: {exc}") from exc
    history = ([previous["run_id"], *previous.get("history", [])])[:50] if previous else []
    write_json(lake, L.CURRENT, {"run_id": run_id, "published_at": now_utc().isoformat(),
                                 "entities": {s.name: s.location for s in specs}, "history": history,
                                 "snapshots": snapshots if snapshots is not None
                                 else (previous or {}).get("snapshots", {})})
    return [f"{settings.sql_schema}.{s.name}" for s in specs]


def _restore(settings: Settings, lake: Lake, endpoint: SqlEndpoint, previous: dict[str, Any]) -> None:
    try:
        specs = view_specs(lake, previous["run_id"], list(previous.get("entities", {})), settings.sql_schema)
        endpoint.execute_batches(statements(settings, lake, specs, endpoint.dialect))
    except Exception:
        log.exception("could not restore the views of run %s", previous.get("run_id"))
