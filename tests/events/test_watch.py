"""``c360 watch``: files dropped into the landing folder start runs by themselves, through the real starter."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from c360_cli.watch import watch
from shared import ledger
from shared.lakeio import read_parquet_many
from shared.runs import current, list_runs
from shared.runtime import build_runtime
from shared.settings import Settings
from tests.events.test_arrivals import CONFIG
from tests.pipeline import install_config

pytestmark = pytest.mark.slow


def published_keys(settings: Settings) -> set[str]:
    runtime = build_runtime(settings)
    pointer = current(runtime.lake)
    if pointer is None:
        return set()
    files = [i.path for i in runtime.lake.list(pointer["entities"]["AlternateKey"]) if i.path.endswith(".parquet")]
    return set(read_parquet_many(runtime.lake, files).column("AlternateValue").to_pylist())


def wait_for(predicate, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_dropping_files_into_the_landing_folder_starts_runs(local_settings: Settings) -> None:
    install_config(build_runtime(local_settings), CONFIG)
    landing = Path(local_settings.lake_root) / "landing" / "crm" / "IncrementalData" / "2026" / "01" / "01" / "00"
    (landing / "Upserts").mkdir(parents=True)
    stop, lines = threading.Event(), []
    watcher = threading.Thread(target=watch, args=(local_settings, stop, lines.append), daemon=True)
    watcher.start()
    try:
        wait_for(lambda: any(line.startswith("watching") for line in lines), 30)
        for key in (1, 2, 3):  # a drop of three files, written the way a copy tool does (grows, then settles)
            target = landing / "Upserts" / f"contacts-{key}.csv"
            with target.open("w", encoding="utf-8") as handle:
                handle.write("id,first,last,email\n")
                handle.flush()
                time.sleep(0.1)
                handle.write(f"{key},F{key},L{key},p{key}@example.com\n")
        wait_for(lambda: published_keys(local_settings) == {"1", "2", "3"})
        runs_after_first_drop = len(list_runs(build_runtime(local_settings).lake))
        (landing / "Upserts" / "contacts-4.csv").write_text("id,first,last,email\n4,F4,L4,p4@example.com\n",
                                                            encoding="utf-8")
        wait_for(lambda: published_keys(local_settings) == {"1", "2", "3", "4"})
        wait_for(lambda: sum(": Completed — " in line for line in lines) == 2, 30)  # the records, after publishing
    finally:
        stop.set()
        watcher.join(30)
    assert runs_after_first_drop == 1  # one drop, one run (the quiet period batched it)
    assert len(list_runs(build_runtime(local_settings).lake)) == 2
    assert sum("file(s) landed" in line for line in lines) >= 2
    runs = list_runs(build_runtime(local_settings).lake)
    for run, customers in zip(runs, ("3", "4"), strict=True):  # each run's outcome, once, from its record
        assert [line for line in lines if line.startswith(f"run {run}: Completed")] == [
            f"run {run}: Completed — {customers} customers (published)"], lines
    assert any(line.startswith("run ") and " Completed" not in line for line in lines)  # and progress on the way


def test_a_file_landing_while_the_config_is_broken_is_delivered_again_once_it_is_fixed(
        local_settings: Settings) -> None:
    """The starter fails the delivery instead of dropping the file (it was refused and never run); the watch
    delivers it again, as Event Grid does, and the run follows once the config loads."""
    runtime = build_runtime(local_settings)
    install_config(runtime, CONFIG)
    runtime.lake.write_bytes(local_settings.config_path, b"version: 1\nsources: [oops\n")
    folder = Path(local_settings.lake_root) / "landing" / "crm" / "FullData"
    folder.mkdir(parents=True)
    stop, lines = threading.Event(), []
    watcher = threading.Thread(target=watch, args=(local_settings, stop, lines.append), daemon=True)
    watcher.start()
    try:
        wait_for(lambda: any(line.startswith("watching") for line in lines), 30)
        (folder / "contacts.csv").write_text("id,first,last,email\n1,Ann,Lee,ann@example.com\n", encoding="utf-8")
        wait_for(lambda: any("not admitted" in line for line in lines), 30)
        time.sleep(1)
        assert not list_runs(runtime.lake) and not ledger.pending(runtime.lake)
        install_config(runtime, CONFIG)
        wait_for(lambda: published_keys(local_settings) == {"1"})
    finally:
        stop.set()
        watcher.join(30)
    refused = next(line for line in lines if "not admitted" in line)
    assert "1 file(s) not admitted, delivered again every 5 s: ConfigUnavailable: " in refused, refused
    assert "landing/crm/FullData/contacts.csv cannot be admitted while the unification config" in refused
    assert sum("not admitted" in line for line in lines) == 1  # said once, not at every retry
    assert "1 file(s) admitted" in lines
