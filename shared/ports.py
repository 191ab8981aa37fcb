"""The two ports: the lake and the SQL endpoint. Adapters live in ``shared.adapters``.

Lake paths are container-relative and ``/``-separated (``curated/runs/r1/Customer/part-0.parquet``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class LakeItem:
    """A file in the lake: its path, size, ETag (unquoted) and last-modified time."""

    path: str
    size: int
    etag: str
    last_modified: datetime


@runtime_checkable
class Lake(Protocol):
    """Files in one container of a data lake."""

    @property
    def kind(self) -> str:
        """``local``, ``blob`` or ``adls``."""

    def read_bytes(self, path: str) -> bytes:
        """The whole file; raises ``LakeNotFound``."""

    def open_read(self, path: str) -> AbstractContextManager[IO[bytes]]:
        """A seekable binary stream, read without loading the file into memory."""

    def write_bytes(self, path: str, data: bytes) -> LakeItem:
        """Create or replace a file."""

    def open_write(self, path: str) -> AbstractContextManager[IO[bytes]]:
        """A binary stream whose content becomes the file when the context exits without error."""

    def create_exclusive(self, path: str, data: bytes) -> bool:
        """Create a file only if it does not exist; ``False`` if it did (an atomic claim)."""

    def info(self, path: str) -> LakeItem:
        """Size, ETag and last-modified of one file; raises ``LakeNotFound``."""

    def exists(self, path: str) -> bool:
        """Whether a file exists."""

    def list(self, prefix: str) -> Iterator[LakeItem]:
        """Files under a folder prefix, recursively, sorted by path."""

    def delete(self, path: str) -> None:
        """Delete one file (missing is fine)."""

    def delete_prefix(self, prefix: str) -> int:
        """Delete every file under a folder prefix; returns how many."""

    def rename_prefix(self, source: str, target: str) -> None:
        """Move a folder; atomic where the store supports it (local folders, ADLS with HNS)."""

    def url(self, path: str) -> str:
        """The address consumers use for a path (file path locally, ``https://…dfs…`` on Azure)."""

    def arrow_filesystem(self) -> Any:
        """A ``pyarrow.fs.FileSystem`` rooted at the container (for streaming Parquet and DuckDB)."""


@runtime_checkable
class SqlEndpoint(Protocol):
    """Where the views are published: DuckDB (embedded) or Synapse serverless SQL."""

    @property
    def dialect(self) -> str:
        """``duckdb`` or ``tsql``."""

    def execute_batches(self, batches: Sequence[str]) -> None:
        """Execute statement batches in order; raises ``SqlEndpointError`` naming the failing one."""

    def query(self, sql: str) -> list[tuple[object, ...]]:
        """Run a query and return its rows (used by checks and the report)."""

    def query_with_columns(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run a query and return its column names and rows (``c360 sql``)."""
