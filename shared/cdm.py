"""Common Data Model folder metadata: ``model.json``, ``default.manifest.cdm.json`` and ``<Entity>.cdm.json``.

Written for every folder c360 produces (converted sources, the exported dimension), so that CDM
consumers — Customer Insights, Power BI dataflows, ADF/Synapse data flows, Microsoft's CDM object
model — can read them. Attributes keep the data's own type and carry CDM's meaning trait for their
semantic type (``means.identity.person.firstName``, ``means.location.postalCode``…); ``model.json``
partitions use the lake's
absolute URLs (``dfs`` on Azure), the manifest uses locations relative to itself; CSV partitions always
state ``columnHeaders`` explicitly (model.json's default is *false*).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import pyarrow as pa

from shared.ports import Lake

# CI semantic type → the CDM meaning trait applied to the attribute (its data type stays the data's own)
SEMANTIC_TRAITS = {
    "Person.FirstName": "means.identity.person.firstName", "Person.MiddleName": "means.identity.person.middleName",
    "Person.LastName": "means.identity.person.lastName", "Person.FullName": "means.identity.person.fullName",
    "Person.BirthDate": "means.demographic.birthDate", "Person.Gender": "means.demographic.gender",
    "Identity.Service.Email": "means.identity.service.email", "Identity.Service.Phone": "means.identity.service.phone",
    "Identity.GovernmentID": "means.identity.governmentID", "Location.Address": "means.location.address",
    "Location.Address.Street": "means.location.address", "Location.City": "means.location.city",
    "Location.County": "means.location.county", "Location.State": "means.location.stateOrProvince",
    "Location.Province": "means.location.stateOrProvince", "Location.Country": "means.location.country",
    "Location.PostalCode": "means.location.postalCode", "Location.Latitude": "means.location.latitude",
    "Location.Longitude": "means.location.longitude", "Organization.Name": "means.identity.company.name",
    "Organization": "means.identity.company.name", "Brand": "means.identity.brand",
}
_CDM_TYPES = {"string": "string", "int64": "bigInteger", "int32": "integer", "double": "double",
              "decimal": "decimal", "boolean": "boolean", "date": "date", "dateTime": "dateTime", "guid": "guid"}
_MODEL_JSON_TYPES = {"string": "string", "int64": "int64", "int32": "int64", "double": "double",
                     "decimal": "decimal", "boolean": "boolean", "date": "dateTime", "dateTime": "dateTime",
                     "guid": "guid"}
MANIFEST = "default.manifest.cdm.json"
MODEL_JSON = "model.json"


@dataclass(frozen=True)
class Attribute:
    name: str
    data_type: str  # string | int64 | int32 | double | decimal | boolean | date | dateTime | guid
    semantic: str | None = None  # CI semantic type, e.g. Person.FirstName
    description: str = ""

    @property
    def cdm_data_type(self) -> str:
        return _CDM_TYPES[self.data_type]

    @property
    def trait(self) -> str | None:
        return SEMANTIC_TRAITS.get(self.semantic or "")


@dataclass(frozen=True)
class Partition:
    path: str  # lake path
    format: str = "parquet"  # parquet | csv
    delimiter: str = ","


@dataclass(frozen=True)
class Entity:
    name: str
    attributes: tuple[Attribute, ...]
    partitions: tuple[Partition, ...]
    description: str = ""


def attributes_from_schema(schema: pa.Schema, semantics: dict[str, str] | None = None) -> tuple[Attribute, ...]:
    """CDM attributes for an Arrow schema (semantic types by column name where known)."""
    out = []
    for f in schema:
        t = f.type
        if pa.types.is_boolean(t):
            kind = "boolean"
        elif pa.types.is_integer(t):
            kind = "int64"
        elif pa.types.is_floating(t):
            kind = "double"
        elif pa.types.is_decimal(t):
            kind = "decimal"
        elif pa.types.is_date(t):
            kind = "date"
        elif pa.types.is_timestamp(t):
            kind = "dateTime"
        else:
            kind = "string"
        out.append(Attribute(f.name, kind, (semantics or {}).get(f.name)))
    return tuple(out)


def _relative(path: str, folder: str) -> str:
    prefix = folder.strip("/") + "/"
    return path[len(prefix):] if path.startswith(prefix) else path


def entity_document(entity: Entity) -> dict[str, object]:
    return {
        "jsonSchemaSemanticVersion": "1.0.0",
        "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}],
        "definitions": [{
            "entityName": entity.name,
            "description": entity.description or entity.name,
            "hasAttributes": [{"name": a.name, "dataType": a.cdm_data_type, "purpose": "hasA",
                               **({"appliedTraits": [a.trait]} if a.trait else {}),
                               **({"description": a.description} if a.description else {})}
                              for a in entity.attributes],
        }],
    }


def _partition_traits(partition: Partition) -> list[dict[str, object]]:
    if partition.format == "csv":
        return [{"traitReference": "is.partition.format.CSV", "arguments": [
            {"name": "columnHeaders", "value": "true"}, {"name": "delimiter", "value": partition.delimiter}]}]
    return [{"traitReference": "is.partition.format.parquet"}]


def manifest_document(entities: Sequence[Entity], folder: str, name: str = "default") -> dict[str, object]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return {
        "jsonSchemaSemanticVersion": "1.0.0",
        "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}],
        "manifestName": name,
        "entities": [{
            "type": "LocalEntity",
            "entityName": e.name,
            "entityPath": f"{e.name}.cdm.json/{e.name}",
            "lastFileModifiedTime": now,
            "dataPartitions": [{"location": _relative(p.path, folder), "exhibitsTraits": _partition_traits(p)}
                               for p in e.partitions],
        } for e in entities],
    }


def model_json_document(entities: Sequence[Entity], lake: Lake, name: str, description: str = "") -> dict[str, object]:
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    model_entities = []
    for e in entities:
        partitions = []
        for i, p in enumerate(e.partitions):
            partition: dict[str, object] = {"name": f"{e.name}-{i}", "refreshTime": now, "location": lake.url(p.path)}
            if p.format == "csv":
                partition["fileFormatSettings"] = {"$type": "CsvFormatSettings", "columnHeaders": True,
                                                   "delimiter": p.delimiter, "quoteStyle": "QuoteStyle.Csv",
                                                   "csvStyle": "CsvStyle.QuoteAlways", "encoding": "UTF-8"}
            partitions.append(partition)
        model_entities.append({
            "$type": "LocalEntity", "name": e.name, "description": e.description or e.name,
            "attributes": [{"name": a.name, "dataType": _MODEL_JSON_TYPES[a.data_type]} for a in e.attributes],
            "partitions": partitions})
    return {"name": name, "description": description, "version": "1.0", "culture": "en-US",
            "modifiedTime": now, "application": "c360", "entities": model_entities}


def write_cdm_folder(lake: Lake, folder: str, entities: Sequence[Entity], name: str, description: str = "") -> None:
    """Write the entity definitions, then the manifest and model.json (the entry points come last)."""
    folder = folder.strip("/")
    for entity in entities:
        lake.write_bytes(f"{folder}/{entity.name}.cdm.json", json.dumps(entity_document(entity), indent=2).encode())
    lake.write_bytes(f"{folder}/{MANIFEST}", json.dumps(manifest_document(entities, folder), indent=2).encode())
    lake.write_bytes(f"{folder}/{MODEL_JSON}",
                     json.dumps(model_json_document(entities, lake, name, description), indent=2).encode())
