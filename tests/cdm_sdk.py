"""Load a CDM folder with Microsoft's CDM object model (commondatamodel-objectmodel), the real client."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from cdm.enums import CdmStatusLevel
from cdm.objectmodel import CdmCorpusDefinition
from cdm.storage import LocalAdapter


@dataclass
class LoadedEntity:
    name: str
    partitions: list[str]
    attributes: dict[str, str]  # name → resolved data format (STRING, INT64, DATE_TIME, …)
    traits: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Loaded:
    entities: dict[str, LoadedEntity]
    problems: list[str]


def load_cdm_folder(root: Path, document: str) -> Loaded:
    """Fetch ``document`` (a manifest or model.json) under ``root``, resolving every entity."""

    async def run() -> Loaded:
        corpus = CdmCorpusDefinition()
        problems: list[str] = []
        corpus.set_event_callback(lambda level, message: problems.append(f"{level}: {message}"),
                                  CdmStatusLevel.WARNING)
        corpus.storage.mount("local", LocalAdapter(str(root)))
        corpus.storage.default_namespace = "local"
        manifest = await corpus.fetch_object_async(f"local:/{document}")
        if manifest is None:
            return Loaded({}, problems or [f"could not load {document}"])
        entities = {}
        for declaration in manifest.entities:
            entity = await corpus.fetch_object_async(declaration.entity_path, manifest)
            resolved = await entity.create_resolved_entity_async(f"{entity.entity_name}_resolved")
            attributes = {a.name: (a.data_format.name if a.data_format else "") for a in resolved.attributes}
            traits = {a.name: [t.named_reference for t in a.applied_traits] for a in resolved.attributes}
            partitions = [p.location for p in declaration.data_partitions]
            entities[entity.entity_name] = LoadedEntity(entity.entity_name, partitions, attributes, traits)
        return Loaded(entities, problems)

    return asyncio.run(run())
