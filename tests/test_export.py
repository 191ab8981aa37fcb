"""Export through the real app: type-2 history over three runs, rollback, retention, CDM export, views."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest

from c360_cli.local import follow, running_host
from orchestrators.starters import instance_id
from shared.errors import PublishError
from shared.export.retention import exported_entities, rollback
from shared.lakeio import read_parquet_many, write_parquet
from shared.runs import current, list_runs
from shared.settings import Settings
from tests.cdm_sdk import load_cdm_folder
from tests.pipeline import run_pipeline, start_run_http

pytestmark = pytest.mark.slow

CONFIG = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    columns:
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      city: Location.City
unification:
  match_order: [crm]
  tables:
    crm:
      deduplication:
        rules:
          - name: email
            conditions: [{field: Email, normalize: [lowercase]}]
export:
  ci_csv: true
"""


def land(root: Path, name: str, rows: list[dict[str, str]], kind: str = "FullData") -> Path:
    """One CRM file in a landing folder: a full extract (FullData) or a closed hour's Deletes."""
    folder = root / name
    sub = "FullData" if kind == "FullData" else f"IncrementalData/2026/01/01/00/{kind}"
    target = folder / "landing" / "crm" / sub / f"contacts-{name}.csv"
    target.parent.mkdir(parents=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["id", "first", "last", "email", "city"])
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return folder


ANN = {"id": "1", "first": "Ann", "last": "Lee", "email": "ann@x.com", "city": "Leeds"}
BOB = {"id": "2", "first": "Bob", "last": "Ray", "email": "bob@x.com", "city": "York"}
CY = {"id": "3", "first": "Cy", "last": "Wu", "email": "cy@x.com", "city": "Bath"}


def history_table(lake, run_id: str) -> pd.DataFrame:
    """A run's own CustomerHistory export (not whatever is published now)."""
    files = [i.path for i in lake.list(f"curated/runs/{run_id}/CustomerHistory") if i.path.endswith(".parquet")]
    return read_parquet_many(lake, files).to_pandas()


def history(lake, run_id: str) -> list[tuple[str, str, bool, bool]]:
    """(first name, city, is current, closed) per history row, sorted."""
    frame = history_table(lake, run_id)
    return sorted((r.FirstName, r.City, bool(r.IsCurrent), not pd.isna(r.ValidTo)) for r in frame.itertuples())


@pytest.fixture()
def three_runs(tmp_path: Path, local_settings: Settings):
    """Run 1: Ann, Bob. Run 2: a new full extract where Bob moved and Cy arrived. Run 3: Ann is deleted."""
    runs = []
    for name, rows, kind in (("r1", [ANN, BOB], "FullData"), ("r2", [ANN, {**BOB, "city": "Hull"}, CY], "FullData"),
                             ("r3", [ANN], "Deletes")):
        run = run_pipeline(local_settings, land(tmp_path / "extracts", name, rows, kind), config_text=CONFIG)
        assert run.status == "Completed", run.custom_status
        runs.append(run)
    return runs


def test_three_runs_build_a_type_2_history(three_runs) -> None:
    lake = three_runs[-1].runtime.lake
    first, second, third = list_runs(lake)
    assert history(lake, first) == [("Ann", "Leeds", True, False), ("Bob", "York", True, False)]
    assert history(lake, second) == [("Ann", "Leeds", True, False), ("Bob", "Hull", True, False),
                                     ("Bob", "York", False, True), ("Cy", "Bath", True, False)]
    assert history(lake, third) == [("Ann", "Leeds", False, True), ("Bob", "Hull", True, False),
                                    ("Bob", "York", False, True), ("Cy", "Bath", True, False)]
    frame = history_table(lake, third)
    bob = frame[frame["FirstName"] == "Bob"].sort_values("ValidFrom")
    assert bob["ValidTo"].iloc[0] == bob["ValidFrom"].iloc[1]  # no gap, no overlap
    assert bob["CustomerId"].nunique() == 1 and frame["CustomerVersionId"].is_unique
    # the view exposes the partition folder as a typed column
    sql = three_runs[-1].runtime.sql
    assert sql.query("SELECT count(*) FROM c360.CustomerHistory WHERE IsCurrent")[0][0] == 2  # type: ignore[union-attr]
    assert sql.query("SELECT count(*) FROM c360.CustomerHistory")[0][0] == 4  # type: ignore[union-attr]
    assert sql.query("SELECT count(*) FROM c360.Customer")[0][0] == 2  # type: ignore[union-attr]


def test_a_rerun_on_unchanged_data_adds_no_history_rows(three_runs, local_settings: Settings) -> None:
    third = three_runs[-1]
    lake = third.runtime.lake
    before = history_table(lake, list_runs(lake)[-1]).sort_values("CustomerVersionId").reset_index(drop=True)
    with running_host(local_settings) as host:
        assert start_run_http(host, {"mode": "full"}).status == 202
        assert str(follow(host, instance_id(third.runtime)).status) == "Completed"
    runs = list_runs(third.runtime.lake)
    assert len(runs) == 4 and current(third.runtime.lake)["run_id"] == runs[3]
    after = history_table(lake, runs[3]).sort_values("CustomerVersionId").reset_index(drop=True)
    pd.testing.assert_frame_equal(before, after)


def test_rollback_restores_an_earlier_run_and_refuses_unknown_ones(three_runs) -> None:
    third = three_runs[-1]
    lake, sql = third.runtime.lake, third.runtime.sql
    runs = list_runs(lake)
    assert len(runs) == 3 and current(lake)["run_id"] == runs[2]
    rollback(third.runtime.settings, lake, sql, runs[0])
    assert current(lake)["run_id"] == runs[0]
    assert sorted(r[0] for r in sql.query("SELECT FirstName FROM c360.Customer")) == ["Ann", "Bob"]  # type: ignore[union-attr]
    rollback(third.runtime.settings, lake, sql, runs[2])
    assert sorted(r[0] for r in sql.query("SELECT FirstName FROM c360.Customer")) == ["Bob", "Cy"]  # type: ignore[union-attr]
    with pytest.raises(PublishError, match="never published"):
        rollback(third.runtime.settings, lake, sql, "20990101T000000Z-deadbeef")


def test_a_table_taken_out_of_the_config_loses_its_view_and_a_rollback_brings_it_back(tmp_path: Path) -> None:
    """Its view went on showing the older run's rows (and broke once that run was pruned)."""
    settings = Settings.from_mapping({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(tmp_path / "lake"),
                                      "C360_QUIET_PERIOD_SECONDS": "1"})
    with_pos = CONFIG.replace("unification:\n  match_order: [crm]", """  - name: pos
    data_source: POS
    table: Members
    landing: pos
    primary_key: id
    columns: {first: Person.FirstName, email: Identity.Service.Email}
unification:
  match_order: [crm, pos]""")
    first = land(tmp_path / "extracts", "r1", [ANN])
    pos = first / "landing" / "pos" / "FullData"
    pos.mkdir(parents=True)
    (pos / "members.csv").write_text("id,first,email\n7,Ann,ann@example.com\n", encoding="utf-8")
    assert run_pipeline(settings, first, config_text=with_pos).status == "Completed"
    last = run_pipeline(settings, land(tmp_path / "extracts", "r2", [ANN, BOB]), config_text=CONFIG)
    assert last.status == "Completed"
    sql, lake = last.runtime.sql, last.runtime.lake

    def views() -> set[str]:
        return {r[0] for r in sql.query(  # type: ignore[union-attr]
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'c360'")}

    assert "Deduplication_CRM_Contacts" in views() and "Deduplication_POS_Members" not in views()
    runs = list_runs(lake)
    rollback(settings, lake, sql, runs[0])
    assert "Deduplication_POS_Members" in views()
    assert sql.query("SELECT count(*) FROM c360.Deduplication_POS_Members")[0][0] == 1  # type: ignore[union-attr]
    rollback(settings, lake, sql, runs[1])
    assert "Deduplication_POS_Members" not in views() and "Customer" in views()


def test_only_the_newest_runs_are_kept_for_rollback(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(tmp_path / "lake"),
                                      "C360_QUIET_PERIOD_SECONDS": "1", "C360_RUNS_TO_KEEP": "2"})
    for name, rows in (("r1", [ANN]), ("r2", [ANN, BOB]), ("r3", [ANN, BOB, CY])):
        last = run_pipeline(settings, land(tmp_path / "extracts", name, rows), config_text=CONFIG)
        assert last.status == "Completed"
    lake = last.runtime.lake
    runs = list_runs(lake)
    assert exported_entities(lake, runs[0]) == [] and exported_entities(lake, runs[1])
    assert not list(lake.list(f"system/runs/{runs[0]}/match"))  # intermediates gone, record kept
    assert lake.exists(f"system/runs/{runs[0]}/run.json")
    with pytest.raises(PublishError, match="no longer kept"):
        rollback(settings, lake, last.runtime.sql, runs[0])
    # the snapshot the published run builds on is never pruned
    for snapshot in current(lake)["snapshots"].values():
        assert lake.exists(snapshot["path"])


def test_the_cdm_object_model_loads_the_export(three_runs, local_settings: Settings) -> None:
    third = three_runs[-1]
    run_id = current(third.runtime.lake)["run_id"]
    export = Path(local_settings.lake_root) / "curated" / "runs" / run_id
    for document in ("default.manifest.cdm.json", "model.json"):
        loaded = load_cdm_folder(export, document)
        assert not [p for p in loaded.problems if "ERROR" in p.upper()], loaded.problems
        customer = loaded.entities["Customer"]
        assert customer.attributes["CustomerId"] == "STRING" and "FirstName" in customer.attributes
        assert len(loaded.entities["CustomerHistory"].partitions) == 2  # IsCurrent=true / IsCurrent=false
    ci = load_cdm_folder(export / "ci", "model.json")
    assert ci.entities["Customer"].partitions[0].endswith("Customer.csv")
    text = (export / "ci" / "Customer" / "Customer.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith('"CustomerId"') and len(text.splitlines()) == 3


def test_customer_ids_carry_over_a_merge_and_a_split_through_the_published_crosswalk(tmp_path: Path,
                                                                                     local_settings: Settings) -> None:
    """The deployed path reads the published run's AlternateKey export: when Bob's CRM row takes Ann's e-mail
    the two profiles merge, one id survives and the other is listed; when they split again the part holding
    the previous primary record keeps the id and the other lists it."""
    ids = []
    for name, bob in (("r1", BOB), ("r2", {**BOB, "email": "ann@x.com"}), ("r3", BOB)):
        run = run_pipeline(local_settings, land(tmp_path / "extracts", name, [ANN, bob]), config_text=CONFIG)
        assert run.status == "Completed", run.custom_status
        crosswalk = run.table("AlternateKey").set_index("AlternateValue")
        customers = run.table("Customer").set_index("CustomerId")["PreviousCustomerId"]
        primary = crosswalk.index[crosswalk["IsPrimary"].astype(bool)].tolist()
        ids.append((crosswalk["CustomerId"].to_dict(), customers, primary))
        if name == "r1":  # as a large export is (split at ``file_size_mb``): a file per record
            _split_export(run.runtime.lake, list_runs(run.runtime.lake)[-1], "AlternateKey")
    (first, first_customers, _), (merged, merged_customers, (merged_primary,)), (split, split_customers, _) = ids
    ann, bob = first["1"], first["2"]
    assert ann != bob and first_customers.isna().all()
    survivor = merged["1"]
    assert merged["2"] == survivor and survivor in (ann, bob) and len(merged_customers) == 1  # one id survives
    assert merged_customers[survivor] == ({ann, bob} - {survivor}).pop()  # ... and lists the other
    other = split["2" if merged_primary == "1" else "1"]
    assert split[merged_primary] == survivor  # the part holding the previous primary record keeps the id
    assert other not in (ann, bob) and split_customers[other] == survivor  # the split-off part lists it


def _split_export(lake, run_id: str, entity: str) -> None:
    """Rewrite an exported table's one file as a file per row (``part-0``, ``part-1``, …)."""
    (path,) = [i.path for i in lake.list(f"curated/runs/{run_id}/{entity}") if i.path.endswith(".parquet")]
    table = read_parquet_many(lake, [path])
    lake.delete(path)
    for index in range(table.num_rows):
        write_parquet(lake, f"curated/runs/{run_id}/{entity}/part-{index}.parquet", table.slice(index, 1))
