"""A step's own peak memory: exact when it runs alone in its process, ``None`` when it cannot be."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np

from shared import procmem
from shared.adapters.local_lake import LocalLake
from shared.lakeio import read_json
from shared.paths import RunPaths
from shared.runs import step_record

MB = 1024 * 1024


def _touch(megabytes: int) -> int:
    """Allocate and write ``megabytes`` (so they are resident), then free them."""
    block = np.ones(megabytes * MB // 8)
    total = int(block[:: 4096].sum())
    del block
    return total


def test_a_step_alone_reports_its_own_peak_not_an_earlier_one() -> None:
    with procmem.measure() as big:
        _touch(300)
    with procmem.measure() as small:
        _touch(20)
    assert big.mb is not None and small.mb is not None
    # the first step's 300 MB are in its peak; the second's peak starts again from what is resident now
    assert big.mb - small.mb > 250


def _resident_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def test_a_step_starts_from_what_earlier_steps_left_alive_not_from_what_they_freed() -> None:
    """Freed small blocks between live ones stay mapped in the C heap; the next step hands them back
    before its peak starts counting, as a worker should before its next activity."""
    blocks = [np.ones(2_500) for _ in range(15_000)]  # 300 MB in blocks of 20 kB, from the C heap
    kept = blocks[::50]  # one in fifty stays alive: the heap cannot shrink from its top
    del blocks
    held = _resident_mb()
    with procmem.measure() as step:
        pass
    assert step.mb is not None and step.mb < held - 150, (held, step.mb)
    assert len(kept) == 300


def test_overlapping_steps_report_no_number() -> None:
    inside, release = threading.Event(), threading.Event()
    peaks: dict[str, procmem.Peak] = {}

    def first() -> None:
        with procmem.measure() as peak:
            peaks["first"] = peak
            inside.set()
            release.wait(10)

    thread = threading.Thread(target=first)
    thread.start()
    assert inside.wait(10)
    with procmem.measure() as second:
        _touch(10)
    release.set()
    thread.join()
    assert peaks["first"].mb is None  # a step started while it ran
    assert second.mb is None  # it started while another ran
    with procmem.measure() as after:
        pass
    assert after.mb is not None  # alone again


def test_the_step_record_carries_the_peak(tmp_path) -> None:
    lake = LocalLake(tmp_path)
    with step_record(lake, "run-1", "merge_clusters"):
        _touch(100)
    record = read_json(lake, f"{RunPaths('run-1').root}/steps/merge_clusters.json")
    assert record["status"] == "Succeeded"
    assert record["peak_mb"] > 100


def test_the_step_record_carries_the_cpu_time_of_the_process_threads_included(tmp_path) -> None:
    import threading
    import time

    def spin(seconds: float) -> None:
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            pass

    lake = LocalLake(tmp_path)
    with step_record(lake, "run-1", "idle"):
        time.sleep(0.4)
    with step_record(lake, "run-1", "busy"):
        worker = threading.Thread(target=spin, args=(0.4,))  # a thread's CPU counts, as DuckDB's threads do
        worker.start()
        worker.join()
    idle, busy = (read_json(lake, f"{RunPaths('run-1').root}/steps/{name}.json") for name in ("idle", "busy"))
    assert idle["seconds"] >= 0.4 and idle["cpu_seconds"] < 0.2
    assert busy["cpu_seconds"] >= 0.3


def test_arrow_allocates_from_the_c_heap_inside_the_block_and_from_its_pool_after() -> None:
    import pyarrow as pa

    before = pa.default_memory_pool().backend_name
    with procmem.arrow_on_c_heap():
        assert pa.default_memory_pool().backend_name == "system"
        kept = pa.array(range(100_000))  # allocated from the C heap, freed after the block: still valid
    assert pa.default_memory_pool().backend_name == before
    assert kept.sum().as_py() == sum(range(100_000))
