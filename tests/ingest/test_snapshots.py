"""Table snapshots: repeated keys (first row wins, counted), full data, incremental hours, upsert vs delete."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.ingest.convert import convert_file
from shared.ingest.landing import classify
from shared.ingest.snapshot import ConvertedPart, build_snapshot
from shared.lakeio import read_parquet
from tests.ingest.test_hostile_files import CONFIG, HEADER


@pytest.fixture()
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


def converted(lake: LocalLake, name: str, text: str, kind: str = "full", columns: bool = True) -> str:
    source = load_config_text(CONFIG).source("contacts")
    if kind == "delete":
        source = source.model_copy(update={"columns": {}})
    lake.write_bytes(f"landing/{name}", ((HEADER if columns else "id\n") + text).encode())
    output = f"converted/{name}.parquet"
    assert convert_file(lake, source, f"landing/{name}", output, f"q/{name}.parquet").error is None
    return output


def test_repeated_primary_keys_keep_the_first_row_and_are_counted(lake: LocalLake) -> None:
    part = converted(lake, "a.csv", "1,Ann,Lee,,,1,\n2,Bo,Li,,,2,\n1,Anne,Lea,,,9,\n1,Annie,Le,,,8,\n")
    source = load_config_text(CONFIG).source("contacts")
    counts = build_snapshot(lake, source, None, [ConvertedPart(part, "full", None, "2026-01-01T00:00:00+00:00", 0)],
                            "snap.parquet")
    rows = {r["SourceKey"]: r for r in read_parquet(lake, "snap.parquet").to_pylist()}
    assert counts.rows == 2 and rows["1"]["FirstName"] == "Ann"
    assert counts.duplicates == {"landing/a.csv": 2}


def test_a_newer_full_file_wins_for_shared_keys(lake: LocalLake) -> None:
    old = converted(lake, "old.csv", "1,Ann,Lee,,,1,\n2,Bo,Li,,,2,\n")
    new = converted(lake, "new.csv", "1,Anna,Lee,,,5,\n3,Cy,Wu,,,3,\n")
    source = load_config_text(CONFIG).source("contacts")
    build_snapshot(lake, source, None, [ConvertedPart(old, "full", None, "2026-01-01T00:00:00+00:00", 1),
                                         ConvertedPart(new, "full", None, "2026-01-02T00:00:00+00:00", 0)], "s.parquet")
    rows = {r["SourceKey"]: r["FirstName"] for r in read_parquet(lake, "s.parquet").to_pylist()}
    assert rows == {"1": "Anna", "2": "Bo", "3": "Cy"}


def test_incremental_hours_apply_in_order_and_the_latest_change_wins(lake: LocalLake) -> None:
    source = load_config_text(CONFIG).source("contacts")
    base = converted(lake, "base.csv", "1,Ann,Lee,,,1,\n2,Bo,Li,,,2,\n3,Cy,Wu,,,3,\n")
    build_snapshot(lake, source, None, [ConvertedPart(base, "full", None, "2026-01-01T00:00:00+00:00", 0)],
                   "prev.parquet")
    up_07 = converted(lake, "up07.csv", "2,Bob,Li,,,20,\n4,Di,Ng,,,4,\n", "upsert")
    del_07 = converted(lake, "del07.csv", "3\n", "delete", columns=False)
    up_08 = converted(lake, "up08.csv", "3,Cyrus,Wu,,,30,\n", "upsert")  # a later hour brings 3 back
    del_08 = converted(lake, "del08.csv", "4\n", "delete", columns=False)
    parts = [ConvertedPart(up_07, "upsert", "2026-01-01T07:00:00+00:00", "2026-01-01T07:10:00+00:00", 0),
             ConvertedPart(del_07, "delete", "2026-01-01T07:00:00+00:00", "2026-01-01T07:20:00+00:00", 0),
             ConvertedPart(up_08, "upsert", "2026-01-01T08:00:00+00:00", "2026-01-01T08:10:00+00:00", 0),
             ConvertedPart(del_08, "delete", "2026-01-01T08:00:00+00:00", "2026-01-01T08:30:00+00:00", 0)]
    counts = build_snapshot(lake, source, "prev.parquet", parts, "next.parquet")
    rows = {r["SourceKey"]: r["FirstName"] for r in read_parquet(lake, "next.parquet").to_pylist()}
    assert rows == {"1": "Ann", "2": "Bob", "3": "Cyrus"} and counts.rows == 3


def test_within_an_hour_a_delete_older_than_the_upsert_loses(lake: LocalLake) -> None:
    source = load_config_text(CONFIG).source("contacts")
    base = converted(lake, "base.csv", "1,Ann,Lee,,,1,\n")
    build_snapshot(lake, source, None, [ConvertedPart(base, "full", None, "2026-01-01T00:00:00+00:00", 0)], "p.parquet")
    up = converted(lake, "up.csv", "1,Anna,Lee,,,2,\n", "upsert")
    gone = converted(lake, "del.csv", "1\n", "delete", columns=False)
    parts = [ConvertedPart(up, "upsert", "2026-01-01T07:00:00+00:00", "2026-01-01T07:40:00+00:00", 0),
             ConvertedPart(gone, "delete", "2026-01-01T07:00:00+00:00", "2026-01-01T07:05:00+00:00", 0)]
    build_snapshot(lake, source, "p.parquet", parts, "n.parquet")
    assert [r["FirstName"] for r in read_parquet(lake, "n.parquet").to_pylist()] == ["Anna"]


def test_within_an_hour_ties_go_to_the_delete_then_the_later_line_then_the_later_file(lake: LocalLake) -> None:
    source = load_config_text(CONFIG).source("contacts")
    base = converted(lake, "base.csv", "1,Ann,Lee,,,1,\n2,Bo,Li,,,2,\n")
    build_snapshot(lake, source, None, [ConvertedPart(base, "full", None, "2026-01-01T00:00:00+00:00", 0)], "p.parquet")
    same = "2026-01-01T07:10:00+00:00"  # no record time: every change has its file's time
    up = converted(lake, "up.csv", "1,Anna,Lee,,,2,\n2,Bob,Li,,,3,\n1,Annie,Lee,,,4,\n", "upsert")
    gone = converted(lake, "del.csv", "2\n", "delete", columns=False)
    first = converted(lake, "a-up.csv", "3,Cy,Wu,,,5,\n", "upsert")
    second = converted(lake, "b-up.csv", "3,Cyd,Wu,,,6,\n", "upsert")  # same line, same time, later path
    hour = "2026-01-01T07:00:00+00:00"
    parts = [ConvertedPart(p, kind, hour, same, 0) for p, kind in
             [(second, "upsert"), (gone, "delete"), (up, "upsert"), (first, "upsert")]]
    build_snapshot(lake, source, "p.parquet", parts, "n.parquet")
    rows = {r["SourceKey"]: r["FirstName"] for r in read_parquet(lake, "n.parquet").to_pylist()}
    assert rows == {"1": "Annie", "3": "Cyd"}


@pytest.mark.parametrize(("path", "kind", "hour"), [
    ("landing/crm/contacts/FullData/a.csv", "full", None),
    ("landing/crm/contacts/extract.csv", "full", None),
    ("landing/crm/contacts/IncrementalData/2026/11/28/07/Upserts/u.csv", "upsert", "2026-11-28T07:00:00+00:00"),
    ("landing/crm/contacts/IncrementalData/2026/11/28/07/Deletes/d.csv", "delete", "2026-11-28T07:00:00+00:00"),
])
def test_landing_layout_is_classified(path: str, kind: str, hour: str | None) -> None:
    landed = classify(path, "landing", load_config_text(CONFIG))
    assert landed is not None and landed.table == "contacts" and landed.kind == kind
    assert (landed.hour.isoformat() if landed.hour else None) == hour


@pytest.mark.parametrize("path", ["landing/crm/other/a.csv", "landing/crm/contacts/IncrementalData/2026/x.csv",
                                  "landing/crm/contacts/_SUCCESS", "curated/crm/contacts/a.csv",
                                  "landing/crm/contacts/notes.docx"])
def test_files_outside_the_layout_are_not_work(path: str) -> None:
    assert classify(path, "landing", load_config_text(CONFIG)) is None


def test_an_hour_is_processed_only_after_it_has_closed() -> None:
    landed = classify("landing/crm/contacts/IncrementalData/2026/11/28/07/Upserts/u.csv", "landing",
                      load_config_text(CONFIG))
    assert landed is not None
    assert not landed.hour_closed(datetime(2026, 11, 28, 7, 59, tzinfo=UTC))
    assert landed.hour_closed(datetime(2026, 11, 28, 8, 15, tzinfo=UTC))


def test_the_snapshot_is_written_in_key_order_whatever_order_the_rows_came_in(lake: LocalLake) -> None:
    """Record ids follow the snapshot's row order; a stable order keeps reruns on the same input identical."""
    source = load_config_text(CONFIG).source("contacts")
    first = converted(lake, "a.csv", "7,Gil,Ode,,,7,\n3,Cy,Wu,,,3,\n9,Ida,Ng,,,9,\n")
    second = converted(lake, "b.csv", "5,Eve,Lo,,,5,\n1,Ann,Lee,,,1,\n")
    build_snapshot(lake, source, None, [ConvertedPart(first, "full", None, "2026-01-01T00:00:00+00:00", 1),
                                         ConvertedPart(second, "full", None, "2026-01-02T00:00:00+00:00", 0)],
                   "s.parquet")
    assert [r["SourceKey"] for r in read_parquet(lake, "s.parquet").to_pylist()] == ["1", "3", "5", "7", "9"]
