"""``DuckDbEndpoint``: the embedded SQL endpoint, a DuckDB file beside the lake.

Views are switched inside one transaction, so a reader sees all old views or all new ones. DuckDB is
never allowed to download extensions; a non-local lake is read through a registered fsspec wrapper
around the lake's pyarrow filesystem.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from shared.errors import SqlEndpointError
from shared.ports import Lake

log = logging.getLogger(__name__)
LAKE_PROTOCOL = "c360lake"
_lock = threading.Lock()  # one writer at a time per process; DuckDB files take one writer


def connect(path: Path | str, lake: Lake | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with extension downloads disabled (and the lake filesystem registered if remote)."""
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false", "threads": "2"}
    connection = duckdb.connect(str(path), read_only=read_only, config=config)
    if lake is not None and lake.kind != "local":
        connection.register_filesystem(lake_fsspec(lake))
    return connection


def lake_fsspec(lake: Lake) -> Any:
    """An fsspec filesystem (protocol ``c360lake://``) over the lake's pyarrow filesystem."""
    from fsspec.implementations.arrow import ArrowFSWrapper

    class LakeFileSystem(ArrowFSWrapper):  # type: ignore[misc]
        protocol = (LAKE_PROTOCOL,)

        @classmethod
        def _strip_protocol(cls, path: Any) -> Any:
            text = str(path)
            prefix = f"{LAKE_PROTOCOL}://"
            return (text[len(prefix):] if text.startswith(prefix) else text).rstrip("/")

    return LakeFileSystem(lake.arrow_filesystem())


def location_url(lake: Lake, path: str) -> str:
    """How DuckDB addresses a lake folder: a file path locally, ``c360lake://`` otherwise."""
    return lake.url(path) if lake.kind == "local" else f"{LAKE_PROTOCOL}://{path.strip('/')}"


class DuckDbEndpoint:
    """Executes statement batches against one DuckDB file."""

    dialect = "duckdb"

    def __init__(self, path: Path, lake: Lake) -> None:
        self.path = path
        self.lake = lake
        path.parent.mkdir(parents=True, exist_ok=True)

    def execute_batches(self, batches: Sequence[str]) -> None:
        with _lock:
            connection = connect(self.path, self.lake)
            try:
                connection.execute("BEGIN TRANSACTION")
                for batch in batches:
                    try:
                        connection.execute(batch)
                    except duckdb.Error as exc:
                        connection.execute("ROLLBACK")
                        raise SqlEndpointError(f"DuckDB rejected statement:\n{batch}\n-- {exc}") from exc
                connection.execute("COMMIT")
            finally:
                connection.close()

    def query(self, sql: str) -> list[tuple[object, ...]]:
        with _lock:
            connection = connect(self.path, self.lake)
            try:
                return [tuple(row) for row in connection.execute(sql).fetchall()]
            except duckdb.Error as exc:
                raise SqlEndpointError(f"DuckDB query failed:\n{sql}\n-- {exc}") from exc
            finally:
                connection.close()
