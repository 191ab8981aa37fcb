"""The runtime an activity step works with: settings plus the two ports, built once from settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.ports import Lake, SqlEndpoint
from shared.settings import Settings


@dataclass(frozen=True)
class Runtime:
    settings: Settings
    lake: Lake
    sql: SqlEndpoint | None


def build_lake(settings: Settings) -> Lake:
    """The lake adapter the settings ask for; Azure SDKs are imported only for the Azure adapters."""
    if settings.lake_kind == "local":
        from shared.adapters.local_lake import LocalLake

        return LocalLake(Path(settings.lake_root))
    if settings.lake_kind == "adls":
        from shared.adapters.adls_lake import AdlsLake

        return AdlsLake.from_settings(settings)
    from shared.adapters.blob_lake import BlobLake

    return BlobLake.from_settings(settings)


def build_sql_endpoint(settings: Settings, lake: Lake) -> SqlEndpoint | None:
    if settings.sql_kind == "none":
        return None
    if settings.sql_kind == "synapse":
        from shared.adapters.synapse_endpoint import SynapseEndpoint

        return SynapseEndpoint(settings.synapse_server, settings.synapse_database, settings.identity_client_id)
    from shared.adapters.duckdb_endpoint import DuckDbEndpoint

    return DuckDbEndpoint(settings.resolved_duckdb_path(), lake)


def build_runtime(settings: Settings) -> Runtime:
    lake = build_lake(settings)
    return Runtime(settings, lake, build_sql_endpoint(settings, lake))


_cached: dict[tuple[tuple[str, str], ...], Runtime] = {}


def runtime_from_environment() -> Runtime:
    """The runtime for the current process environment (read at call time, at the edge; cached per value)."""
    import os

    from shared.settings import PREFIX

    key = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(PREFIX)))
    if key not in _cached:
        _cached.clear()
        _cached[key] = build_runtime(Settings.from_mapping(dict(key)))
    return _cached[key]
