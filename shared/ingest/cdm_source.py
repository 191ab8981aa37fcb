"""Read an entity of a CDM folder described by ``model.json`` or ``*.manifest.cdm.json``.

Partition locations may be absolute (``https://<acct>.dfs.core.windows.net/<container>/…``, ``adls:/…``)
or relative to the metadata document; CSV settings (headers, delimiter) come from the metadata —
``model.json`` defaults to no header row, as its schema says.
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.config.model import CsvOptions
from shared.errors import SourceFileError
from shared.ingest.readers import Reader, open_reader
from shared.ports import Lake


def _lake_path(location: str, document: str) -> str:
    folder = posixpath.dirname(document)
    if location.startswith(("https://", "http://")):
        path = unquote(urlsplit(location).path).lstrip("/")
        parts = path.split("/", 1)  # drop the container segment
        return parts[1] if len(parts) == 2 else path
    if re.match(r"^[a-z]+:/", location):  # corpus adapter paths like adls:/folder/file.csv
        return location.split(":/", 1)[1].lstrip("/")
    return posixpath.normpath(posixpath.join(folder, location))


def _model_json(doc: dict[str, Any], entity: str, document: str) -> Iterator[tuple[str, str, CsvOptions]]:
    for item in doc.get("entities", []):
        if item.get("name") != entity:
            continue
        names = [a["name"] for a in item.get("attributes", [])]
        for partition in item.get("partitions", []):
            location = _lake_path(partition["location"], document)
            settings = partition.get("fileFormatSettings") or {}
            fmt = "parquet" if location.endswith(".parquet") else "csv"
            header = bool(settings.get("columnHeaders", False))
            yield location, fmt, CsvOptions(delimiter=settings.get("delimiter", ","), header=header,
                                            columns=None if header else names)
        return
    raise SourceFileError(f"entity {entity!r} is not described in {document}")


def _trait_arguments(partition: dict[str, Any]) -> tuple[str | None, dict[str, str]]:
    for trait in partition.get("exhibitsTraits", []):
        reference = trait.get("traitReference", "")
        if reference.startswith("is.partition.format"):
            arguments = {str(a["name"]): str(a.get("value")) for a in trait.get("arguments", [])
                         if isinstance(a, dict) and a.get("name")}
            return reference.rsplit(".", 1)[-1].lower(), arguments
    return None, {}


def _entity_attribute_names(lake: Lake, definition_path: str, entity: str) -> list[str]:
    try:
        doc = json.loads(lake.read_bytes(definition_path))
    except Exception:  # noqa: BLE001 - names are only needed for header-less CSV
        return []
    for definition in doc.get("definitions", []):
        if definition.get("entityName") == entity:
            return [str(a["name"]) for a in definition.get("hasAttributes", [])
                    if isinstance(a, dict) and a.get("name")]
    return []


def _manifest(lake: Lake, doc: dict[str, Any], entity: str, document: str) -> Iterator[tuple[str, str, CsvOptions]]:
    folder = posixpath.dirname(document)
    for item in doc.get("entities", []):
        if item.get("entityName") != entity:
            continue
        definition = item.get("entityPath", "").split("/")[0]
        names = _entity_attribute_names(lake, posixpath.join(folder, definition), entity) if definition else []
        for partition in item.get("dataPartitions", []):
            location = _lake_path(partition["location"], document)
            kind, arguments = _trait_arguments(partition)
            fmt = "parquet" if kind == "parquet" or location.endswith(".parquet") else "csv"
            header = arguments.get("columnHeaders", "false").lower() == "true"
            yield location, fmt, CsvOptions(delimiter=arguments.get("delimiter", ","), header=header,
                                            columns=None if header else names)
        return
    raise SourceFileError(f"entity {entity!r} is not described in {document}")


def read_cdm_entity(lake: Lake, document: str, entity: str) -> Iterator[tuple[str, Reader]]:
    """(partition path, reader) for each partition of ``entity``, in metadata order."""
    try:
        doc = json.loads(lake.read_bytes(document))
    except json.JSONDecodeError as exc:
        raise SourceFileError(f"CDM metadata is not JSON: {exc}") from exc
    partitions = (_model_json(doc, entity, document) if document.endswith("model.json")
                  else _manifest(lake, doc, entity, document))
    for location, fmt, options in list(partitions):
        with ExitStack() as stack:
            handle = stack.enter_context(lake.open_read(location))
            yield location, open_reader(handle, fmt, options)
