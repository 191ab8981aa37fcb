"""``DuckDbEndpoint``: the embedded SQL endpoint, a DuckDB file beside the lake.

Views are switched inside one transaction, so a reader sees all old views or all new ones. DuckDB is
never allowed to download extensions; a non-local lake is read through a registered fsspec wrapper
around the lake's pyarrow filesystem.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from shared.errors import SqlEndpointError
from shared.ports import Lake

log = logging.getLogger(__name__)
LAKE_PROTOCOL = "c360lake"
_lock = threading.Lock()  # one writer at a time per process; DuckDB files take one writer
LOCK_WAIT_SECONDS = 10.0  # how long a connection waits for another process to let go of the file


def connect(path: Path | str, lake: Lake | None = None, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A connection with extension downloads disabled (and the lake filesystem registered if remote)."""
    config: dict[str, str | bool | int | float | list[str]] = {
        "autoinstall_known_extensions": "false", "autoload_known_extensions": "false", "threads": "2"}
    connection = duckdb.connect(str(path), read_only=read_only, config=config)
    if lake is not None and lake.kind != "local":
        connection.register_filesystem(lake_fsspec(lake))
    return connection


def lake_fsspec(lake: Lake) -> Any:
    """An fsspec filesystem (protocol ``c360lake://``) over the lake port, for DuckDB.

    Each remote file is downloaded once per filesystem (one per connection) to a local temporary copy,
    so DuckDB's random, concurrent reads hit a real file, never a remote stream's seek emulation.
    """
    from fsspec import AbstractFileSystem

    class LakeFileSystem(AbstractFileSystem):  # type: ignore[misc]
        protocol = (LAKE_PROTOCOL,)
        cachable = False

        def __init__(self) -> None:
            super().__init__()
            self._folder = tempfile.TemporaryDirectory(prefix="c360-lakefs-")
            self._copies: dict[str, str] = {}
            self._lock = threading.Lock()

        @classmethod
        def _strip_protocol(cls, path: Any) -> Any:
            text = str(path)
            prefix = f"{LAKE_PROTOCOL}://"
            return (text[len(prefix):] if text.startswith(prefix) else text).strip("/")

        def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
            path = self._strip_protocol(path)
            if lake.exists(path):
                entries = [self.info(path)]
            else:
                children: dict[str, dict[str, Any]] = {}
                for item in lake.list(path):
                    rest = item.path[len(path) + 1:] if path else item.path
                    head = rest.split("/", 1)[0]
                    name = f"{path}/{head}" if path else head
                    if "/" in rest:
                        children.setdefault(name, {"name": name, "size": 0, "type": "directory"})
                    else:
                        children[name] = {"name": name, "size": item.size, "type": "file"}
                entries = list(children.values())
            return entries if detail else [e["name"] for e in entries]

        def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
            path = self._strip_protocol(path)
            if lake.exists(path):
                return {"name": path, "size": lake.info(path).size, "type": "file"}
            if any(True for _ in lake.list(path)):
                return {"name": path, "size": 0, "type": "directory"}
            raise FileNotFoundError(path)

        def modified(self, path: str) -> Any:
            return lake.info(self._strip_protocol(path)).last_modified

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            if mode != "rb":
                raise ValueError("the lake filesystem is read-only for DuckDB; results are copied in by c360")
            return open(self._local(self._strip_protocol(path)), "rb")

        def _local(self, path: str) -> str:
            """A local copy of a lake file, downloaded once per connection (remote lakes only)."""
            if lake.kind == "local":
                return lake.url(path)
            with self._lock:
                if path not in self._copies:
                    target = os.path.join(self._folder.name, f"{len(self._copies)}.bin")
                    with lake.open_read(path) as source, open(target, "wb") as sink:
                        shutil.copyfileobj(source, sink, 8 << 20)
                    self._copies[path] = target
                return self._copies[path]

        def close(self) -> None:
            self._folder.cleanup()

    return LakeFileSystem()


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

    def _connect(self) -> duckdb.DuckDBPyConnection:
        """A connection, waiting while another process holds the file (a publish switching views holds it for
        a moment); a file still held after ``LOCK_WAIT_SECONDS`` is an error naming who holds it."""
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                return connect(self.path, self.lake)
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise SqlEndpointError(f"cannot open the DuckDB file {self.path}: {exc}") from exc
                if time.monotonic() >= deadline:
                    held = re.search(r"held in (.+?) \(PID (\d+)\)", str(exc))
                    holder = f"{held.group(1)}, PID {held.group(2)}" if held else "unknown"
                    raise SqlEndpointError(
                        f"the DuckDB file {self.path} is held by another process ({holder}) — DuckDB lets one "
                        f"process write it; c360 holds it only while it switches views. Close the program "
                        f"that keeps it open (a DuckDB shell, a notebook) and try again") from exc
                time.sleep(0.2)
            except duckdb.Error as exc:
                raise SqlEndpointError(f"cannot open the DuckDB file {self.path}: {exc}") from exc

    def execute_batches(self, batches: Sequence[str]) -> None:
        with _lock:
            connection = self._connect()
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
        return self.query_with_columns(sql)[1]

    def query_with_columns(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        with _lock:
            connection = self._connect()
            try:
                cursor = connection.execute(sql)
                rows = [tuple(row) for row in cursor.fetchall()]
                return [d[0] for d in cursor.description or []], rows
            except duckdb.Error as exc:
                raise SqlEndpointError(f"DuckDB query failed:\n{sql}\n-- {exc}") from exc
            finally:
                connection.close()
