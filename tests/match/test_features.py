"""Pass 1 of planning: normalized features, computed on several threads, written in input order."""

from __future__ import annotations

import random
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared import lakeio
from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.lakeio import read_parquet, read_parquet_many
from shared.match import plan
from shared.match.plan import feature_files, write_features
from shared.paths import RunPaths
from tests.match.harness import snapshot_tables
from tests.match.test_rule_groups import CONFIG, people


def features(root: Path, threads: int, monkeypatch: pytest.MonkeyPatch, slice_records: int = 1000) -> pa.Table:
    lake, config = LocalLake(root), load_config_text(CONFIG)
    rng = random.Random(5)
    snapshots = snapshot_tables(lake, config, {t: people(t, 120, rng) for t in ("crm", "ecom", "pos")}, "run1")
    monkeypatch.setattr(plan, "FEATURE_THREADS", threads)
    layout = plan.plan_match(lake, config, snapshots, 400, slice_records)
    assert (layout.records, list(layout.sizes)) == (360, [120, 120, 120])
    write_features(lake, config, "run1", snapshots, layout)
    files = feature_files(lake, "run1")
    assert files == [RunPaths("run1").match_features(i) for i in range(-(-360 // slice_records))]
    for index, path in enumerate(files):  # each slice file holds exactly its record ids
        ids = read_parquet(lake, path).column("RecordId").to_pylist()
        assert ids == list(range(index * slice_records, min(360, (index + 1) * slice_records)))
    return read_parquet_many(lake, files)


def test_features_keep_the_input_order_whichever_thread_finishes_first(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan, "BATCH_ROWS", 7)  # 18 batches per table, several in flight at once
    one_thread = features(tmp_path / "serial", 1, monkeypatch)
    original = plan.compute_features
    delays = random.Random(3)

    def uneven(*args: object) -> dict[str, pa.Array]:  # later batches often finish first
        time.sleep(delays.random() * 0.01)
        return original(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(plan, "compute_features", uneven)
    three_threads = features(tmp_path / "threads", 3, monkeypatch)
    assert three_threads.equals(one_thread)
    assert three_threads.column("RecordId").to_pylist() == list(range(360))
    keys = three_threads.column("SourceKey").to_pylist()  # tables in match order, each in snapshot (key) order
    assert [keys[i * 120:(i + 1) * 120] for i in range(3)] == [sorted(f"{t}{n}" for n in range(120))
                                                                for t in ("crm", "ecom", "pos")]


def test_features_are_cut_into_slices_of_record_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Slices of 50 records cut batches of 7 rows and tables of 120: the same rows, eight files."""
    monkeypatch.setattr(plan, "BATCH_ROWS", 7)
    whole = features(tmp_path / "whole", 2, monkeypatch)
    sliced = features(tmp_path / "sliced", 2, monkeypatch, slice_records=50)
    assert len(feature_files(LocalLake(tmp_path / "sliced"), "run1")) == 8
    assert sliced.equals(whole)


def test_each_slice_reads_only_its_own_records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fan-out writes slices in any order, each from the snapshots' row counts alone: written last to
    first, slices of 50 records (cutting tables of 120 and batches of 7) hold what one slice holds."""
    monkeypatch.setattr(plan, "BATCH_ROWS", 7)
    whole = features(tmp_path / "whole", 2, monkeypatch)
    lake, config = LocalLake(tmp_path / "reversed"), load_config_text(CONFIG)
    rng = random.Random(5)
    snapshots = snapshot_tables(lake, config, {t: people(t, 120, rng) for t in ("crm", "ecom", "pos")}, "run1")
    layout = plan.plan_match(lake, config, snapshots, 400, 50)
    assert layout.sizes == (120, 120, 120) and len(layout.slices) == 8 and layout.slices[-1] == (350, 10)
    for index, (first, count) in reversed(list(enumerate(layout.slices))):
        assert plan.write_slice_features(lake, config, "run1", snapshots, layout.sizes, index, first, count) == count
    assert read_parquet_many(lake, feature_files(lake, "run1")).equals(whole)
    with pytest.raises(RuntimeError, match="features slice 7: 10 records written, 11 planned"):
        plan.write_slice_features(lake, config, "run1", snapshots, layout.sizes, 7, 350, 11)


@pytest.mark.parametrize(("start", "stop"), [(0, 1000), (10, 20), (63, 65), (64, 128), (999, 1000), (5, 700),
                                             (0, 0), (1000, 1000)])
def test_a_range_of_rows_reads_only_the_row_groups_holding_it(tmp_path: Path, start: int, stop: int) -> None:
    lake = LocalLake(tmp_path)
    pq.write_table(pa.table({"x": list(range(1000))}), tmp_path / "t.parquet", row_group_size=64)
    read: list[list[int] | None] = []
    original = pq.ParquetFile.iter_batches

    def recorded(self: pq.ParquetFile, *args: object, **kwargs: object) -> object:
        read.append(kwargs.get("row_groups"))  # type: ignore[arg-type]
        return original(self, *args, **kwargs)  # type: ignore[arg-type]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pq.ParquetFile, "iter_batches", recorded)
        batches = list(lakeio.iter_parquet_batches(lake, "t.parquet", batch_rows=7, rows=(start, stop)))
    assert [v for b in batches for v in b.column("x").to_pylist()] == list(range(start, stop))
    assert read == ([list(range(start // 64, (stop - 1) // 64 + 1))] if stop > start else [])
