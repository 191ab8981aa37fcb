"""Query results written into the lake as folders of Parquet files (``shared.duck``), against DuckDB's own
``PARTITION_BY`` layout, which readers (Synapse's ``BULK`` wildcards, the CDM partitions) rely on."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from shared.adapters.local_lake import LocalLake
from shared.duck import copy_folder_to_lake, lake_duckdb

ROWS = """SELECT * FROM (VALUES
    (1, 2024, true,  'north', 'a'), (2, 2025, false, 'south', 'b'), (3, 0, true, 'north', 'c'),
    (4, -1, false, 'east-1', NULL), (5, 2024, false, NULL, 'e'), (6, 2025, true, 'south', 'f'))
    AS t(id, year, current, region, note)"""


def _files(root: Path) -> dict[str, list[tuple]]:
    """Relative path → sorted rows of each Parquet file under ``root``."""
    out = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = Path(folder) / name
            table = pq.read_table(path)
            out[path.relative_to(root).as_posix()] = sorted(tuple(r.values()) for r in table.to_pylist())
    return out


@pytest.mark.parametrize("columns", [("year",), ("current",), ("region",), ("current", "year")])
def test_a_partitioned_copy_lays_out_the_files_duckdb_partition_by_would(tmp_path: Path, columns) -> None:
    lake = LocalLake(tmp_path / "lake")
    with lake_duckdb(lake) as con:
        rows, written = copy_folder_to_lake(con, ROWS, lake, "out/T", columns)
    expected = tmp_path / "duck"
    duckdb.execute(f"COPY ({ROWS}) TO '{expected}' (FORMAT PARQUET, PARTITION_BY ({', '.join(columns)}), "
                   "WRITE_PARTITION_COLUMNS true, FILENAME_PATTERN 'part-{i}')")
    ours = _files(tmp_path / "lake" / "out" / "T")
    assert ours == _files(expected)
    assert rows == 6 and sorted(p.removeprefix("out/T/") for p in written) == sorted(ours)


def test_an_empty_partitioned_copy_keeps_the_schema_in_one_file(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    with lake_duckdb(lake) as con:
        rows, written = copy_folder_to_lake(con, f"{ROWS} WHERE id > 99", lake, "out/T", ("year",))
    assert (rows, written) == (0, ["out/T/part-0.parquet"])
    assert pq.read_schema(tmp_path / "lake" / written[0]).names == ["id", "year", "current", "region", "note"]


def test_a_value_that_cannot_name_a_folder_is_refused(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    with lake_duckdb(lake) as con, pytest.raises(ValueError, match="'a/b' cannot name a folder"):
        copy_folder_to_lake(con, "SELECT 1 AS id, 'a/b' AS region", lake, "out/T", ("region",))


def test_a_copy_replaces_what_the_folder_held(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    lake.write_bytes("out/T/part-7.parquet", b"left by an earlier attempt")
    lake.write_bytes("out/Tx/part-0.parquet", b"another folder")
    with lake_duckdb(lake) as con:
        rows, written = copy_folder_to_lake(con, ROWS, lake, "out/T", ("year",))
    assert sorted(i.path for i in lake.list("out/T/")) == sorted(written) and rows == 6
    assert lake.exists("out/Tx/part-0.parquet")
