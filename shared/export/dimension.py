"""Export: the enhanced customer dimension and its companion tables, as Parquet + CDM, in the run's folder.

Nothing here is visible to consumers until ``publish`` moves the views (and ``_current.json``) to the run.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections.abc import Callable, Sequence
from typing import Any

import duckdb
import pyarrow.parquet as pq

from shared.cdm import Entity, Partition, attributes_from_schema, write_cdm_folder
from shared.config.model import UnificationConfig
from shared.duck import FolderTyping, copy_folder_to_lake, lake_duckdb, parquet_source
from shared.enrich.activity import UNIFIED_ACTIVITY
from shared.export.typing_record import entry_schema, typing_entries, write_view_typing
from shared.lakeio import read_json, read_parquet_schema, write_json
from shared.merge.customer_id import uuid5_sql
from shared.merge.survivorship import q
from shared.merge.unify import ALTERNATE_KEY, CUSTOMER, MATCH_PAIRS, dedup_table_name, unified_files
from shared.names import Col, ExportPart
from shared.paths import RunPaths
from shared.ports import Lake
from shared.scratch import scratch
from shared.sql.identifiers import quote_literal

log = logging.getLogger(__name__)
HISTORY = "CustomerHistory"
ACTIVITY_YEAR = "ActivityYear"
# entity → hive partition columns (kept in the files too); views expose them through filepath()
PARTITIONS: dict[str, tuple[str, ...]] = {HISTORY: ("IsCurrent",), UNIFIED_ACTIVITY: (ACTIVITY_YEAR,)}
HISTORY_NAMESPACE = "c360-history"


def export_part(lake: Lake, config: UnificationConfig, run_id: str, part: ExportPart,
                enrichment_tables: Sequence[tuple[str, str, bool]], valid_from: str,
                previous_history: Sequence[str] = ()) -> dict[str, int]:
    """Write one part of the export (``ExportPart``) and record its files and typing for
    ``describe_export``; returns rows per entity written.

    ``enrichment_tables`` = (entity, lake path, joins the dimension); ``valid_from``: the run's time (ISO),
    stamped on new history versions; ``previous_history``: the files of the published run's
    ``CustomerHistory`` (empty on the first run). The parts are independent: they run side by side, and
    the lineage part needs no enrichment at all."""
    paths = RunPaths(run_id)
    size = config.export.file_size_mb
    rows: dict[str, int] = {}
    written: dict[str, tuple[list[str], FolderTyping]] = {}
    with lake_duckdb(lake) as con:

        def copy(name: str, select: str, partition_by: Sequence[str] = ()) -> None:
            typing = FolderTyping()
            rows[name], files = copy_folder_to_lake(con, select, lake, paths.export_table(name), partition_by, size,
                                                    typing)
            written[name] = (files, typing)

        if part == ExportPart.DIMENSION:
            _export_dimension(con, lake, config, run_id, enrichment_tables, valid_from, previous_history, copy)
        elif part == ExportPart.LINEAGE:
            order = config.unification.match_order
            for name in [ALTERNATE_KEY, MATCH_PAIRS, *(dedup_table_name(config, t) for t in order)]:
                if lake.exists(paths.unified(name)):
                    copy(name, f"SELECT * FROM {parquet_source(lake, [paths.unified(name)])}")
        else:
            for name, path, joins in enrichment_tables:
                if joins or not lake.exists(path):
                    continue
                year = (f", coalesce(year({q(Col.ACTIVITY_TIME)}), 0)::INTEGER AS {ACTIVITY_YEAR}"
                        if name == UNIFIED_ACTIVITY else "")
                copy(name, f"SELECT *{year} FROM {parquet_source(lake, [path])}", PARTITIONS.get(name, ()))
        csv = [name for name in written if name != HISTORY] if config.export.ci_csv else []
        for name in csv:
            _write_ci_csv(con, lake, paths, name, written[name][0])
    # the names in writing order: the record's JSON sorts its keys, the manifest and the views keep this order
    write_json(lake, paths.export_part(part), {"names": list(rows), "rows": rows, "entities": typing_entries(written),
                                               "csv": csv})
    return rows


def _export_dimension(con: duckdb.DuckDBPyConnection, lake: Lake, config: UnificationConfig, run_id: str,
                      enrichment_tables: Sequence[tuple[str, str, bool]], valid_from: str,
                      previous_history: Sequence[str], copy: Callable[..., None]) -> None:
    """``Customer``: the merged profiles with the enrichments that join them; and its type-2 history."""
    joined = [(name, path) for name, path, joins in enrichment_tables if joins]
    customers = unified_files(lake, run_id, CUSTOMER)  # a file per shard
    # one join at a time, each into a table: the joins stacked in one query hold a hash table per
    # enrichment at once, and at a million customers with orders that ran out of DuckDB's 1 GB
    con.execute(f"CREATE TEMP TABLE dimension_0 AS SELECT * FROM {parquet_source(lake, customers)}")
    for index, (_, path) in enumerate(joined, 1):
        con.execute(f"CREATE TEMP TABLE dimension_{index} AS SELECT base.*, e.* EXCLUDE ({q(Col.CUSTOMER_ID)}) "
                    f"FROM dimension_{index - 1} base "
                    f"LEFT JOIN {parquet_source(lake, [path])} e USING ({q(Col.CUSTOMER_ID)})")
        con.execute(f"DROP TABLE dimension_{index - 1}")
    con.execute(f"CREATE TEMP VIEW dimension AS SELECT * FROM dimension_{len(joined)}")
    copy(CUSTOMER, f"SELECT * FROM dimension ORDER BY {q(Col.CUSTOMER_ID)}")
    if config.export.history:
        profile = [c for c in read_parquet_schema(lake, customers[0]).names
                   if c not in (Col.CUSTOMER_ID, Col.PREVIOUS_CUSTOMER_ID)]
        copy(HISTORY, history_sql(con, lake, profile + list(config.export.history_columns), valid_from,
                                       previous_history), PARTITIONS[HISTORY])


def describe_export(lake: Lake, config: UnificationConfig, run_id: str,
                    parts: Sequence[ExportPart]) -> dict[str, int]:
    """Once every part is written: the export's CDM metadata (``model.json``, the manifest; the CSV
    export's too) and the view-typing record publish reads; returns rows per entity."""
    paths = RunPaths(run_id)
    rows: dict[str, int] = {}
    entries: dict[str, Any] = {}
    csv: list[str] = []
    for part in sorted(parts, key=list(ExportPart).index):  # the dimension first, whichever part ended first
        record = read_json(lake, paths.export_part(part), default=None)
        if record is None:
            raise FileNotFoundError(f"export part {part!r} of run {run_id} has no record ({paths.export_part(part)})")
        for name in record["names"]:
            rows[name] = record["rows"][name]
            if name in record["entities"]:
                entries[name] = record["entities"][name]
        csv += record["csv"]
    _write_metadata(lake, config, run_id, {name: entry["files"] for name, entry in entries.items()})
    if csv:
        semantics = config.semantic_types()
        described = [Entity(name, attributes_from_schema(entry_schema(entries[name]), semantics),
                            (Partition(_ci_csv_path(paths, name), "csv"),), name) for name in csv]
        write_cdm_folder(lake, f"{paths.export_root}/ci", described, "c360", "Customer Insights-style CSV export")
    write_view_typing(lake, run_id, entries)
    return rows


def history_sql(con: object, lake: Lake, tracked: Sequence[str], valid_from: str,
                previous_history: Sequence[str]) -> str:
    """Type-2 history: unchanged customers keep their row; changed or vanished ones are closed at
    ``valid_from`` and changed or new ones get a new current version. ``RowHash`` (MD5 of the tracked
    columns) decides what changed, so a rerun on unchanged data adds no rows.

    Only (CustomerId, RowHash) pairs are held as tables; the previous history, which grows with every
    change, is read from its files as the query needs it. Holding it as a table took a million-customer
    history with five closed versions per customer to 6.7 GB of process (1.2 GB read from the files)."""
    columns = [c for c in tracked if c in _columns(con, "dimension")]
    at = f"{quote_literal(valid_from, 'duckdb')}::TIMESTAMPTZ"
    row_hash = f"md5(CAST(row({', '.join(q(c) for c in columns)}) AS VARCHAR))" if columns else "md5('')"
    version_key = f"{q(Col.CUSTOMER_ID)} || '|' || {quote_literal(valid_from, 'duckdb')}"
    customer = q(Col.CUSTOMER_ID)
    tracked_columns = "".join(f"{q(c)}, " for c in columns)
    new_versions = (f"SELECT {uuid5_sql(version_key)} AS CustomerVersionId, {customer}, {tracked_columns}"
                    f"{row_hash} AS RowHash, {at} AS ValidFrom, NULL::TIMESTAMPTZ AS ValidTo, true AS IsCurrent "
                    "FROM dimension")
    if not previous_history:
        return new_versions + f" ORDER BY {customer}"
    con.execute(f"CREATE TEMP TABLE current_hashes AS SELECT {customer}, {row_hash} AS RowHash FROM dimension")  # type: ignore[attr-defined]
    con.execute(f"CREATE TEMP VIEW previous_rows AS SELECT * FROM {parquet_source(lake, previous_history)}")  # type: ignore[attr-defined]
    con.execute(f"CREATE TEMP TABLE previous_hashes AS SELECT {customer}, RowHash FROM previous_rows "  # type: ignore[attr-defined]
                "WHERE IsCurrent")
    same = f"p.{customer} = c.{customer} AND p.RowHash = c.RowHash"
    return f"""
        SELECT * FROM previous_rows WHERE NOT IsCurrent
        UNION ALL BY NAME
        SELECT p.* FROM previous_rows p WHERE p.IsCurrent AND EXISTS (SELECT 1 FROM current_hashes c WHERE {same})
        UNION ALL BY NAME
        SELECT p.* REPLACE ({at} AS ValidTo, false AS IsCurrent) FROM previous_rows p
        WHERE p.IsCurrent AND NOT EXISTS (SELECT 1 FROM current_hashes c WHERE {same})
        UNION ALL BY NAME
        SELECT * FROM ({new_versions}) c
        WHERE NOT EXISTS (SELECT 1 FROM previous_hashes p WHERE {same})
        ORDER BY {customer}, ValidFrom"""


def _columns(con: object, table: str) -> set[str]:
    return {row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()}  # type: ignore[attr-defined]


def _ci_csv_path(paths: RunPaths, name: str) -> str:
    return f"{paths.export_root}/ci/{name}/{name}.csv"


def _write_ci_csv(con: duckdb.DuckDBPyConnection, lake: Lake, paths: RunPaths, name: str,
                  sources: Sequence[str]) -> None:
    """Customer Insights' export layout: ``ci/<Entity>/<Entity>.csv`` (header, comma, quoted, UTF-8) from
    the entity's exported files ``sources``, beside them; ``describe_export`` writes the ``model.json``."""
    with scratch("csv") as work:
        local = os.path.join(work, "out.csv")
        con.execute(f"COPY (SELECT * FROM {parquet_source(lake, sources)}) TO "
                    f"{quote_literal(local, 'duckdb')} (FORMAT CSV, HEADER true, DELIMITER ',', QUOTE '\"', "
                    "FORCE_QUOTE *)")
        with open(local, "rb") as handle, lake.open_write(_ci_csv_path(paths, name)) as sink:
            shutil.copyfileobj(handle, sink, 8 << 20)


def _write_metadata(lake: Lake, config: UnificationConfig, run_id: str, files: dict[str, list[str]]) -> None:
    paths = RunPaths(run_id)
    semantics = config.semantic_types()
    described = []
    for name, parts in files.items():
        if not parts:
            continue
        with lake.open_read(parts[0]) as handle:
            schema = pq.ParquetFile(handle).schema_arrow
        described.append(Entity(name, attributes_from_schema(schema, semantics), tuple(Partition(p) for p in parts),
                                "Enhanced customer dimension" if name == CUSTOMER else name))
    write_cdm_folder(lake, paths.export_root, described, "c360", f"c360 export of run {run_id}")
