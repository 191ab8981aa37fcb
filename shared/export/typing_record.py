"""What the export measured for typing the SQL views, kept beside the run so publishing reads no data.

Typing a view needs each entity's schema and the longest value of each text column (``varchar(n)`` on
Synapse). Measured at publish time, that read every exported file — 5.1 GB at five million customers
with orders, which on a remote lake the DuckDB mirror first copies to local scratch. The export
measures the same files from its local copies before they go up, and records them here with the
file list; publish uses the record only for those very files, and measures otherwise.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from typing import Any

import pyarrow as pa

from shared.duck import FolderTyping
from shared.lakeio import read_json, write_json
from shared.paths import RunPaths
from shared.ports import Lake


def typing_entries(entities: Mapping[str, tuple[Sequence[str], FolderTyping]]) -> dict[str, Any]:
    """Entity → {files, lengths, schema}: what an export activity measured, as the record keeps it."""
    record: dict[str, Any] = {}
    for name, (files, typing) in entities.items():
        if files and typing.schema is not None:
            record[name] = {"files": sorted(files), "lengths": typing.lengths,
                            "schema": base64.b64encode(typing.schema.serialize().to_pybytes()).decode("ascii")}
    return record


def write_view_typing(lake: Lake, run_id: str, record: Mapping[str, Any]) -> None:
    """The run's record, from the entries every export activity measured (``typing_entries``)."""
    write_json(lake, RunPaths(run_id).view_typing, dict(record))


def entry_schema(entry: Mapping[str, Any]) -> pa.Schema:
    return pa.ipc.read_schema(pa.py_buffer(base64.b64decode(entry["schema"])))


def read_view_typing(lake: Lake, run_id: str) -> dict[str, Any]:
    """The run's record (entity → files, schema, lengths); empty for a run exported before it existed."""
    return read_json(lake, RunPaths(run_id).view_typing, default={}) or {}


def recorded_typing(record: dict[str, Any], entity: str,
                    files: Sequence[str]) -> tuple[pa.Schema, dict[str, int]] | None:
    """(schema, text lengths) the record holds for ``entity``, if recorded for exactly these ``files``."""
    entry = record.get(entity)
    if not entry or entry.get("files") != sorted(files):
        return None
    return entry_schema(entry), {str(k): int(v) for k, v in entry["lengths"].items()}
