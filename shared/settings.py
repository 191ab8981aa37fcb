"""Application settings: a frozen dataclass parsed once, at the edge, from a mapping (the environment).

Every setting has one environment key (``C360_…``), a default in the class, and a scope: ``both``
settings are set by the Bicep app settings and by ``local.settings.example.json``; ``local`` settings
only make sense on a laptop (a folder lake, the embedded DuckDB file). Tests cross-check these lists.
Unknown ``C360_`` keys are an error, so a typo cannot silently fall back to a default.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shared.errors import SettingsError

PREFIX = "C360_"
AZURITE_ACCOUNT = "devstoreaccount1"
# The Azurite development account key is public (documented by Microsoft); it is not a secret.
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def _setting(default: Any, key: str, scope: Literal["both", "local"], help: str) -> Any:  # noqa: A002
    return field(default=default, metadata={"key": key, "scope": scope, "help": help})


@dataclass(frozen=True)
class Settings:
    """Where the lake and the SQL endpoint are, and how runs behave."""

    lake_kind: Literal["local", "blob", "adls"] = _setting(
        "local", "C360_LAKE_KIND", "both", "Lake adapter: local (folder), blob (Blob API), adls (ADLS Gen2 with HNS).")
    lake_root: str = _setting("lake", "C360_LAKE_ROOT", "local", "Folder of the local lake.")
    lake_account_url: str = _setting(
        "", "C360_LAKE_ACCOUNT_URL", "both", "Blob endpoint of the lake account, e.g. https://acct.blob.core.windows.net.")
    lake_container: str = _setting("lake", "C360_LAKE_CONTAINER", "both", "Container (file system) holding the lake.")
    identity_client_id: str = _setting(
        "", "C360_IDENTITY_CLIENT_ID", "both",
        "Client id of the user-assigned managed identity (empty: default chain).")
    sql_kind: Literal["duckdb", "synapse", "none"] = _setting(
        "duckdb", "C360_SQL_KIND", "both", "SQL endpoint: duckdb (embedded file) or synapse (serverless SQL).")
    duckdb_path: str = _setting(
        "", "C360_DUCKDB_PATH", "local", "DuckDB file; empty: <lake root>.duckdb beside the lake.")
    synapse_server: str = _setting(
        "", "C360_SYNAPSE_SERVER", "both", "Serverless SQL endpoint, e.g. ws-ondemand.sql.azuresynapse.net.")
    synapse_database: str = _setting("c360", "C360_SYNAPSE_DATABASE", "both", "Logical data warehouse database.")
    sql_schema: str = _setting("c360", "C360_SQL_SCHEMA", "both", "Schema of the published views.")
    sql_reader_role: str = _setting("c360_readers", "C360_SQL_READER_ROLE", "both", "Role granted SELECT on the views.")
    landing_prefix: str = _setting("landing", "C360_LANDING_PREFIX", "both", "Lake folder where source files land.")
    config_path: str = _setting("config/c360.yaml", "C360_CONFIG_PATH", "both", "Lake path of the unification config.")
    quiet_period_seconds: int = _setting(
        30, "C360_QUIET_PERIOD_SECONDS", "both", "Files arriving within this many seconds make one run.")
    activity_retry_attempts: int = _setting(3, "C360_ACTIVITY_RETRY_ATTEMPTS", "both", "Attempts per activity.")
    activity_retry_interval_ms: int = _setting(
        5000, "C360_ACTIVITY_RETRY_INTERVAL_MS", "both", "First retry interval for a failed activity.")
    match_partition_records: int = _setting(
        250_000, "C360_MATCH_PARTITION_RECORDS", "both", "Target records per match partition (bounds activity memory).")
    match_slice_records: int = _setting(
        2_500_000, "C360_MATCH_SLICE_RECORDS", "both",
        "Records per slice whose features, then block rows, one activity writes (bounds planning time per activity).")
    merge_shard_customers: int = _setting(
        250_000, "C360_MERGE_SHARD_CUSTOMERS", "both",
        "Customers per shard of the Customer table that one merge activity writes (bounds merge time per activity).")
    runs_to_keep: int = _setting(5, "C360_RUNS_TO_KEEP", "both", "Published runs kept for rollback.")

    @classmethod
    def from_mapping(cls, values: Mapping[str, str]) -> Settings:
        """Parse the ``C360_`` keys of ``values`` (e.g. ``os.environ``); unknown ``C360_`` keys are an error."""
        by_key = {f.metadata["key"]: f for f in dataclasses.fields(cls)}
        unknown = sorted(k for k in values if k.startswith(PREFIX) and k not in by_key)
        if unknown:
            raise SettingsError(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(by_key))}")
        parsed: dict[str, Any] = {}
        for key, spec in by_key.items():
            if key not in values or values[key] == "":
                continue
            raw = values[key]
            if isinstance(spec.default, bool):
                parsed[spec.name] = raw.strip().lower() in ("1", "true", "yes")
            elif isinstance(spec.default, int):
                try:
                    parsed[spec.name] = int(raw)
                except ValueError as exc:
                    raise SettingsError(f"{key} must be an integer, got {raw!r}") from exc
            else:
                parsed[spec.name] = raw
        settings = cls(**parsed)
        settings.validate()
        return settings

    def validate(self) -> None:
        choices = {"lake_kind": ("local", "blob", "adls"), "sql_kind": ("duckdb", "synapse", "none")}
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SettingsError(f"{self.key_of(name)} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.lake_kind != "local" and not self.lake_account_url:
            raise SettingsError(f"C360_LAKE_ACCOUNT_URL is required when C360_LAKE_KIND={self.lake_kind}")
        if self.sql_kind == "synapse" and not self.synapse_server:
            raise SettingsError("C360_SYNAPSE_SERVER is required when C360_SQL_KIND=synapse")

    def to_mapping(self) -> dict[str, str]:
        """The environment that reproduces these settings (for child processes and local.settings.json)."""
        return {f.metadata["key"]: str(getattr(self, f.name)) for f in dataclasses.fields(self)}

    @classmethod
    def key_of(cls, name: str) -> str:
        return next(f.metadata["key"] for f in dataclasses.fields(cls) if f.name == name)

    @classmethod
    def keys(cls, scope: str | None = None) -> list[str]:
        """Every environment key the code reads, optionally only those of one scope."""
        return [f.metadata["key"] for f in dataclasses.fields(cls) if scope in (None, f.metadata["scope"])]

    def resolved_duckdb_path(self) -> Path:
        if self.duckdb_path:
            return Path(self.duckdb_path)
        root = Path(self.lake_root).resolve()
        return root.with_name(f"{root.name}.duckdb")

    @property
    def is_azurite(self) -> bool:
        return AZURITE_ACCOUNT in self.lake_account_url and any(
            host in self.lake_account_url for host in ("127.0.0.1", "localhost"))
