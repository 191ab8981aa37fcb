"""CDM metadata of the converted folder: one entity per configured table, partitions = its converted files.

Written once per run (by the single ``apply_source_changes`` activity, never by the parallel converters)
for the files currently in the landing zone, so ``cdm/converted`` is a CDM folder any CDM consumer can read.
"""

from __future__ import annotations

from shared.cdm import Attribute, Entity, Partition, write_cdm_folder
from shared.config.model import TableBase, UnificationConfig
from shared.ingest.coerce import entity_schema
from shared.ingest.landing import classify
from shared.names import Col
from shared.paths import CONVERTED_ROOT, converted_file, file_id
from shared.ports import Lake

_SYSTEM_DESCRIPTIONS = {
    Col.SOURCE_KEY: "Primary key of the source row (composite keys joined with |).",
    Col.SOURCE_FILE: "Lake path of the landed file the row came from.",
    Col.SOURCE_LINE: "Row number in that file (1-based, header excluded).",
    Col.RECORD_MODIFIED: "Last-modified time of the source row (the table's recency column).",
}


def entity_name(table: TableBase) -> str:
    return f"{table.data_source}_{table.table}"


def table_entity(table: TableBase, partitions: list[str]) -> Entity:
    semantics = {mapping.attribute(column): mapping.type for column, mapping in table.columns.items() if mapping.type}
    kinds = {"string": "string", "int64": "int64", "double": "double", "decimal(18, 4)": "decimal",
             "bool": "boolean", "date32[day]": "date", "timestamp[us, tz=UTC]": "dateTime"}
    attributes = tuple(Attribute(f.name, kinds.get(str(f.type), "string"), semantics.get(f.name),
                                 _SYSTEM_DESCRIPTIONS.get(f.name, "")) for f in entity_schema(table))
    return Entity(entity_name(table), attributes, tuple(Partition(p) for p in partitions),
                  f"{table.data_source} {table.table}, converted by c360")


def write_converted_metadata(lake: Lake, config: UnificationConfig, landing_prefix: str) -> int:
    """Describe the conversions of the files now in the landing zone; returns the number of partitions."""
    parts: dict[str, list[str]] = {t.name: [] for t in config.all_tables()}
    for item in lake.list(landing_prefix):
        landed = classify(item.path, landing_prefix, config)
        if landed is None:
            continue
        table = config.table(landed.table)
        path = converted_file(table.data_source, table.table, file_id(item.path, item.etag))
        if lake.exists(path):
            parts[table.name].append(path)
    entities = [table_entity(t, parts[t.name]) for t in config.all_tables()]
    write_cdm_folder(lake, CONVERTED_ROOT, entities, "c360-converted", "Landed source files as CDM entities")
    return sum(len(p) for p in parts.values())
