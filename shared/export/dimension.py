"""Export: the enhanced customer dimension and its companion tables, as Parquet + CDM, in the run's folder.

Nothing here is visible to consumers until ``publish`` moves the views (and ``_current.json``) to the run.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pyarrow.parquet as pq

from shared.cdm import Entity, Partition, attributes_from_schema, write_cdm_folder
from shared.config.model import UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.merge.survivorship import q
from shared.merge.unify import ALTERNATE_KEY, CUSTOMER, MATCH_PAIRS, dedup_table_name
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake

log = logging.getLogger(__name__)
PART = "part-00000.parquet"


def semantic_of(config: UnificationConfig) -> dict[str, str]:
    """Attribute name → CI semantic type, from the source mappings."""
    out: dict[str, str] = {}
    for source in config.sources:
        for column, mapping in source.columns.items():
            if mapping.type:
                out.setdefault(mapping.attribute(column), mapping.type)
    return out


def export_tables(lake: Lake, config: UnificationConfig, run_id: str,
                  enrichment_tables: Sequence[tuple[str, str, bool]]) -> dict[str, int]:
    """Write every exported entity; ``enrichment_tables`` = (entity, lake path, joins the dimension)."""
    paths = RunPaths(run_id)
    rows: dict[str, int] = {}
    joined = [(name, path) for name, path, joins in enrichment_tables if joins]
    with lake_duckdb(lake) as con:
        query = f"SELECT * FROM {parquet_source(lake, [paths.unified(CUSTOMER)])}"
        for index, (_, path) in enumerate(joined):
            alias = f"e{index}"
            query = (f"SELECT base.*, {alias}.* EXCLUDE ({q(Col.CUSTOMER_ID)}) FROM ({query}) base "
                     f"LEFT JOIN {parquet_source(lake, [path])} {alias} USING ({q(Col.CUSTOMER_ID)})")
        rows[CUSTOMER] = copy_to_lake(con, f"{query} ORDER BY {q(Col.CUSTOMER_ID)}", lake,
                                      f"{paths.export_table(CUSTOMER)}/{PART}")
        companions = [(ALTERNATE_KEY, paths.unified(ALTERNATE_KEY)), (MATCH_PAIRS, paths.unified(MATCH_PAIRS))]
        companions += [(dedup_table_name(config, t), paths.unified(dedup_table_name(config, t)))
                       for t in config.unification.match_order]
        companions += [(name, path) for name, path, joins in enrichment_tables if not joins]
        for name, path in companions:
            if lake.exists(path):
                rows[name] = copy_to_lake(con, f"SELECT * FROM {parquet_source(lake, [path])}", lake,
                                          f"{paths.export_table(name)}/{PART}")
    _write_metadata(lake, config, run_id, list(rows))
    return rows


def _write_metadata(lake: Lake, config: UnificationConfig, run_id: str, entities: list[str]) -> None:
    paths = RunPaths(run_id)
    semantics = semantic_of(config)
    described = []
    for name in entities:
        part = f"{paths.export_table(name)}/{PART}"
        with lake.open_read(part) as handle:
            schema = pq.ParquetFile(handle).schema_arrow
        described.append(Entity(name, attributes_from_schema(schema, semantics), (Partition(part),),
                                "Enhanced customer dimension" if name == CUSTOMER else name))
    write_cdm_folder(lake, paths.export_root, described, "c360", f"c360 export of run {run_id}")
