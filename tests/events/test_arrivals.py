"""File arrivals through the local host: exactly once under at-least-once delivery, bursts, follow-up runs."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from c360_cli.local import blob_created_event, follow, post_events, running_host
from c360_cli.main import app
from local_host import LocalFunctionHost
from orchestrators.starters import instance_id
from shared import ledger
from shared.export.typing_record import read_view_typing, recorded_typing
from shared.lakeio import parquet_files
from shared.paths import RunPaths
from shared.runs import current, list_runs, read_run_record
from shared.runtime import Runtime, build_runtime
from shared.settings import Settings
from tests.faulty_app import build_app
from tests.pipeline import install_config

pytestmark = pytest.mark.slow

CONFIG = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    columns: {first: Person.FirstName, last: Person.LastName, email: Identity.Service.Email}
unification:
  match_order: [crm]
  tables:
    crm:
      deduplication:
        rules: [{name: email, conditions: [{field: Email, normalize: [lowercase]}]}]
"""


class Drop:
    """Lands small upsert files (one new customer each, in a closed hour) and makes their events."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self.count = 0

    def files(self, n: int) -> list[str]:
        paths = []
        for _ in range(n):
            self.count += 1
            key = self.count
            path = f"landing/crm/IncrementalData/2026/01/01/00/Upserts/contacts-{key:05d}.csv"
            body = f"id,first,last,email\n{key},First{key},Last{key},person{key}@example.com\n"
            self.runtime.lake.write_bytes(path, body.encode())
            paths.append(path)
        return paths

    def events(self, paths: list[str]) -> list[dict[str, Any]]:
        return [blob_created_event(self.runtime.settings, self.runtime.lake, p) for p in paths]


@pytest.fixture(params=["local", pytest.param("azurite", marks=pytest.mark.azurite)])
def settings(request: pytest.FixtureRequest, local_settings: Settings) -> Iterator[Settings]:
    if request.param == "local":
        yield local_settings
    else:
        yield request.getfixturevalue("azurite_settings")


@pytest.fixture()
def drop(settings: Settings) -> Drop:
    runtime = build_runtime(settings)
    install_config(runtime, CONFIG)
    return Drop(runtime)


def customers(runtime: Runtime) -> int:
    return runtime.sql.query("SELECT count(*) FROM c360.Customer")[0][0]  # type: ignore[union-attr]


def test_a_burst_of_50_files_makes_one_run_with_every_row_once(settings: Settings, drop: Drop) -> None:
    paths = drop.files(50)
    with running_host(settings) as host:
        events = drop.events(paths)
        for start in range(0, 50, 10):  # Event Grid delivers in batches
            assert post_events(host, events[start:start + 10]) == 202  # accepted, as the Functions host answers
        result = follow(host, instance_id(drop.runtime), timeout=300)
    assert str(result.status) == "Completed", result.custom_status
    runs = list_runs(drop.runtime.lake)
    assert len(runs) == 1
    assert len(read_run_record(drop.runtime.lake, runs[0])["files"]) == 50
    assert customers(drop.runtime) == 50 and not ledger.pending(drop.runtime.lake)
    lake, run = drop.runtime.lake, runs[0]
    for entity in current(lake)["entities"]:  # the views were typed from the export's record, on Blob too
        files = parquet_files(lake, RunPaths(run).export_table(entity))
        assert files and recorded_typing(read_view_typing(lake, run), entity, files) is not None, entity


def test_duplicate_and_replayed_events_do_nothing_but_a_new_version_is_new_work(settings: Settings,
                                                                                drop: Drop) -> None:
    paths = drop.files(2)
    with running_host(settings) as host:
        events = drop.events(paths)
        post_events(host, events + events)  # at-least-once: every event twice in one delivery
        post_events(host, events)  # and redelivered
        assert len(ledger.pending(drop.runtime.lake)) == 2
        assert str(follow(host, instance_id(drop.runtime), timeout=300).status) == "Completed"
        post_events(host, events)  # a replay after the run: already done
        assert not ledger.pending(drop.runtime.lake)
        assert len(list_runs(drop.runtime.lake)) == 1
        # the same path uploaded again with new content is new work
        drop.runtime.lake.write_bytes(paths[0], b"id,first,last,email\n1,Ann,Changed,ann@example.com\n")
        post_events(host, drop.events(paths[:1]))
        assert len(ledger.pending(drop.runtime.lake)) == 1
        assert str(follow(host, instance_id(drop.runtime), timeout=300).status) == "Completed"
    assert len(list_runs(drop.runtime.lake)) == 2
    names = drop.runtime.sql.query("SELECT LastName FROM c360.Customer ORDER BY LastName")  # type: ignore[union-attr]
    assert [n[0] for n in names] == ["Changed", "Last2"]


def test_files_landing_mid_run_make_exactly_one_follow_up_run(local_settings: Settings) -> None:
    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    drop = Drop(runtime)
    holder: dict[str, LocalFunctionHost] = {}
    landed = threading.Event()

    def land_during_merge(call: int) -> None:
        if call == 1:  # while the first run merges: three files arrive, in two deliveries
            late = drop.files(3)
            post_events(holder["host"], drop.events(late[:2]))
            post_events(holder["host"], drop.events(late[2:]))
            landed.set()
        return None

    app, _ = build_app({"merge_clusters": land_during_merge})
    with running_host(local_settings, app) as host:
        holder["host"] = host
        post_events(host, drop.events(drop.files(4)))
        result = follow(host, instance_id(runtime), timeout=300)
    assert landed.is_set() and str(result.status) == "Completed", result.custom_status
    runs = list_runs(runtime.lake)
    assert len(runs) == 2, runs  # the first run and one follow-up, not one per late file
    assert [len(read_run_record(runtime.lake, r)["files"]) for r in runs] == [4, 3]
    assert read_run_record(runtime.lake, runs[1])["trigger"] == "follow-up"
    assert customers(runtime) == 7 and current(runtime.lake)["run_id"] == runs[1]
    assert not ledger.pending(runtime.lake)


def open_hour() -> datetime:
    """The current UTC hour, with a minute left before it closes (else the next one): a test landing a file in
    it finishes while it is still open."""
    now = datetime.now(UTC)
    if now.minute == 59:
        time.sleep(61 - now.second)
        now = datetime.now(UTC)
    return now.replace(minute=0, second=0, microsecond=0)


def test_a_file_of_the_open_hour_waits_for_the_hour_to_close_then_runs(local_settings: Settings) -> None:
    """Incremental data of an hour is taken once the hour has closed: the run skips it and records until
    when; a follow-up run takes it after the timer (the host's clock jumps to it)."""
    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    hour = open_hour()
    path = f"landing/crm/IncrementalData/{hour:%Y/%m/%d/%H}/Upserts/open.csv"
    runtime.lake.write_bytes(path, b"id,first,last,email\n1,Ann,Open,ann@example.com\n")
    with running_host(local_settings, instant_timers=True) as host:
        post_events(host, [blob_created_event(runtime.settings, runtime.lake, path)])
        result = follow(host, instance_id(runtime), timeout=300)
    assert str(result.status) == "Completed", result.custom_status
    first, second = (read_run_record(runtime.lake, run) for run in list_runs(runtime.lake))
    assert first["status"] == "Skipped" and first["files"] == []
    assert first["deferred"]["files"] == 1
    assert datetime.fromisoformat(first["deferred"]["until"]) == hour + timedelta(hours=1, seconds=5)
    assert second["trigger"] == "follow-up" and [f["path"] for f in second["files"]] == [path]
    assert second["deferred"] is None
    assert customers(runtime) == 1 and not ledger.pending(runtime.lake)


def c360_run(tmp_path: Path, *options: str) -> Result:
    """``c360 run`` on ``tmp_path/lake`` with the arrivals config, no quiet period and one worker."""
    config = tmp_path / "c360.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return CliRunner().invoke(app, ["run", "--lake", str(tmp_path / "lake"), "--config", str(config), "--quiet", "0",
                                    "--workers", "1", *options])


def lake_runtime(tmp_path: Path) -> Runtime:
    return build_runtime(Settings.from_mapping({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(tmp_path / "lake")}))


def test_c360_run_reports_files_of_the_open_hour_and_leaves_them_pending(tmp_path: Path) -> None:
    """The CLI does not sit on the orchestrator's timer until the hour closes: it says which run ended, how
    many files wait and until when, and exits; the files stay pending for the next run."""
    hour = open_hour()
    folder = tmp_path / "landing" / "crm" / "IncrementalData" / f"{hour:%Y/%m/%d/%H}" / "Upserts"
    folder.mkdir(parents=True)
    (folder / "open.csv").write_text("id,first,last,email\n1,Ann,Open,ann@example.com\n", encoding="utf-8")
    result = c360_run(tmp_path, "--landing", str(tmp_path / "landing"))
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert ": Skipped in" in output and "1 file(s) wait for their incremental hour to close" in output
    until = (hour + timedelta(hours=1, seconds=5)).isoformat()
    assert f"the next run after {until} takes them" in output
    assert [e.path for e in ledger.pending(lake_runtime(tmp_path).lake)] == [
        f"landing/crm/IncrementalData/{hour:%Y/%m/%d/%H}/Upserts/open.csv"]


def test_c360_run_names_a_file_quarantined_whole(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "good.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n", encoding="utf-8")
    (folder / "short.csv").write_text("id,first\n2,Bo\n", encoding="utf-8")
    result = c360_run(tmp_path, "--landing", str(tmp_path / "landing"))
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert ("file quarantined whole: landing/crm/FullData/short.csv: MappingError: mapped column(s) missing from "
            "the file: email, last (the file has: id, first)") in output


def test_c360_run_counts_rows_that_repeat_a_primary_key(tmp_path: Path) -> None:
    """The second row of key 1 is not lost without a word: the summary counts it per table."""
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,first,last,email\n1,Ann,Lee,a@x.com\n1,Anna,Lee,anna@x.com\n2,Bo,Li,b@x.com\n",
                                  encoding="utf-8")
    result = c360_run(tmp_path, "--landing", str(tmp_path / "landing"))
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("│ crm"))
    assert [cell.strip() for cell in row.strip("│").split("│")] == ["crm", "3", "3", "0", "1"], result.output
    assert ("1 accepted row(s) repeat a primary key and are not in the snapshot: the first row of each key is kept"
            in " ".join(result.output.split()))


def test_a_file_that_is_no_work_item_is_refused_saying_why(local_settings: Settings,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    """A misplaced extract is a warning naming why; a marker a pipeline writes beside its data is not."""
    from datetime import datetime

    from shared.events import BlobEvent
    from shared.triggers import admit_blob_created

    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    refused = {
        "landing/erp/customers.csv": ("in no configured table's landing folder", "WARNING"),
        "landing/crm/IncrementalData/2026/01/01/contacts.csv": (
            "not in crm's IncrementalData/yyyy/mm/dd/hh/Upserts|Deletes/ layout", "WARNING"),
        "landing/crm/FullData/contacts.xlsx": ("the file's format is xlsx, and crm's is csv (.csv, .tsv, ", "WARNING"),
        "landing/crm/FullData/contacts.pdf": ("not a data file of crm (.csv, .tsv, .txt, .csv.gz", "WARNING"),
        "landing/crm/FullData/contacts.xls": ("an Excel workbook in a format c360 does not read (xls): save it as "
                                              ".xlsx or CSV", "WARNING"),
        "landing/crm/FullData/part-0.csv.crc": ("a hidden or marker file", "INFO"),  # Spark's checksum
    }
    for path, (reason, level) in refused.items():
        runtime.lake.write_bytes(path, b"id,first,last,email\n1,Ann,Lee,ann@example.com\n")
        event = BlobEvent.from_parts("e1", "Microsoft.Storage.BlobCreated",
                                     f"/blobServices/default/containers/{local_settings.lake_container}/blobs/{path}",
                                     blob_created_event(runtime.settings, runtime.lake, path)["data"])
        caplog.clear()
        with caplog.at_level("INFO", logger="shared.triggers"):
            admission = admit_blob_created(event, runtime, datetime.now(UTC))
        assert not admission.new_work and admission.reason.startswith(reason), (path, admission.reason)
        assert [(r.levelname, f"{path} is ignored: {admission.reason}" in r.getMessage())
                for r in caplog.records] == [(level, True)], path
    assert not ledger.pending(runtime.lake)


def test_c360_run_with_a_broken_config_in_the_lake_says_the_files_were_not_admitted(tmp_path: Path) -> None:
    """Without ``--config`` the lake's own config is used; unreadable, the starter refuses the delivery (Event
    Grid would deliver it again): c360 run said 'nothing to do: every landed file was already processed'."""
    runtime = lake_runtime(tmp_path)
    runtime.lake.write_bytes(runtime.settings.config_path, b"version: 1\nsources: [oops\n")
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "contacts.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["run", "--lake", str(tmp_path / "lake"), "--landing", str(tmp_path / "landing"),
                                      "--quiet", "0", "--workers", "1"])
    output = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert "the landed files were not admitted (500): ConfigUnavailable: landing/crm/FullData/contacts.csv" in output
    assert "already processed" not in output and "Traceback" not in output


def test_c360_run_full_since_takes_a_date_and_a_refused_request_names_why(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "contacts.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n", encoding="utf-8")
    refused = c360_run(tmp_path, "--landing", str(tmp_path / "landing"), "--mode", "full_since")
    assert refused.exit_code == 2 and "Traceback" not in refused.output, refused.output
    assert "the run was not started (400): mode full_since needs `since`" in " ".join(refused.output.split())
    started = c360_run(tmp_path, "--mode", "full_since", "--since", "2026-01-01")
    assert started.exit_code == 0, started.output
    assert ": Completed in" in started.output and "unified customers: 1 from 1 records" in started.output


def test_runs_without_new_files_rerun_on_the_published_tables_or_skip_when_there_are_none(tmp_path: Path) -> None:
    """A dry run (match_only) to try a config change lands nothing: it reruns on the published tables — it
    failed, the SDK's task_all of no conversions yielding None. Before anything is published, a full run
    without files has no tables to run on: it is skipped (it failed in the merge)."""
    empty = c360_run(tmp_path, "--mode", "full")
    assert empty.exit_code == 0 and ": Skipped in" in empty.output, empty.output
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "contacts.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n"
                                         "2,Ann,Lee,ann@example.com\n3,Bo,Li,bo@example.com\n", encoding="utf-8")
    first = c360_run(tmp_path, "--landing", str(tmp_path / "landing"))
    assert first.exit_code == 0 and "unified customers: 2 from 3 records" in " ".join(first.output.split()), \
        first.output
    dry = c360_run(tmp_path, "--mode", "match_only")
    assert dry.exit_code == 0 and ": Completed in" in dry.output, dry.output
    assert "unified customers: 2 from 3 records" in " ".join(dry.output.split())
    runtime = lake_runtime(tmp_path)
    runs = list_runs(runtime.lake)
    assert [read_run_record(runtime.lake, r)["status"] for r in runs] == ["Skipped", "Completed", "Completed"]
    assert current(runtime.lake)["run_id"] == runs[1]  # the dry run published nothing
    status = CliRunner(env={"COLUMNS": "80"}).invoke(app, ["status", "--lake", str(tmp_path / "lake")])
    listed = status.output.splitlines()
    lines = {run: next((line for line in listed if line.startswith(run)), "") for run in runs}  # ids whole
    assert lines[runs[0]].split()[1:3] == ["Skipped", "full"] and lines[runs[1]].split()[-1] == "yes"
    assert lines[runs[2]].split()[1:3] == ["Completed", "match_only"] and max(map(len, listed)) <= 80



def test_c360_run_that_fails_names_the_error_and_the_run_that_stays_published(tmp_path: Path,
                                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed run printed its own counts and 'views in …, try: c360 sql' as if it had published; it says
    what failed and which run's dimension the views still show, and exits 1."""
    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "contacts.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n", encoding="utf-8")
    first = c360_run(tmp_path, "--landing", str(tmp_path / "landing"))
    assert first.exit_code == 0, first.output
    runtime = lake_runtime(tmp_path)
    published = current(runtime.lake)["run_id"]
    for path in parquet_files(runtime.lake, RunPaths(published).export_table("AlternateKey")):
        runtime.lake.write_bytes(path, b"not parquet")  # the crosswalk the next merge reads, damaged
    monkeypatch.setenv("C360_ACTIVITY_RETRY_INTERVAL_MS", "10")
    failed = c360_run(tmp_path, "--mode", "full")
    output = " ".join(failed.output.split())
    assert failed.exit_code == 1, failed.output
    assert ": Failed in" in output and "failed: " in output
    assert f"the published dimension is unchanged: run {published}" in output
    assert "unified customers" not in output and "try: c360 sql" not in output
    assert current(runtime.lake)["run_id"] == published


def test_c360_run_names_a_source_whose_feed_has_stopped(tmp_path: Path) -> None:
    """The previous report's latest crm file is ten days older than this run: a dry run, which lands
    nothing, says so beside its counts."""
    import json

    folder = tmp_path / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    (folder / "a.csv").write_text("id,first,last,email\n1,Ann,Lee,a@x.com\n", encoding="utf-8")
    assert c360_run(tmp_path, "--landing", str(tmp_path / "landing")).exit_code == 0
    runtime = lake_runtime(tmp_path)
    published = RunPaths(current(runtime.lake)["run_id"]).report_json
    report = json.loads(runtime.lake.read_bytes(published))
    landed = datetime.fromisoformat(report["sources"]["crm"]["latest_file"])
    report["sources"]["crm"]["latest_file"] = (landed - timedelta(days=10)).isoformat()  # ten days pass
    runtime.lake.write_bytes(published, json.dumps(report).encode())
    dry = c360_run(tmp_path, "--mode", "match_only")
    assert dry.exit_code == 0, dry.output
    assert "no new file for 7 days or more: crm (10 days)" in " ".join(dry.output.split()), dry.output
