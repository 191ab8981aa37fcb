"""Run records: a run whose orchestration ended without finishing it does not stay "Running"."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from shared.lakeio import write_json
from shared.names import Lake as L
from shared.payloads import PrepareInput
from shared.runs import read_run_record, write_run_record
from shared.runtime import build_runtime
from shared.settings import Settings
from shared.steps import prepare_run


def test_a_run_left_running_is_recorded_as_interrupted_when_the_next_starts(small_demo: Path,
                                                                          local_settings: Settings) -> None:
    runtime = build_runtime(local_settings)
    lake = runtime.lake
    lake.write_bytes(local_settings.config_path, (small_demo / "c360.yaml").read_bytes())
    write_run_record(lake, "20260101T000000Z-done", status="Succeeded", published=True)
    write_run_record(lake, "20260102T000000Z-lost", status="Running")  # its host was killed mid-run
    write_run_record(lake, "20260103T000000Z-gone", status="Running")  # killed after it published
    write_json(lake, L.CURRENT, {"run_id": "20260103T000000Z-gone"})
    prepare_run(PrepareInput("20260104T000000Z-next", "incremental", None, "http", datetime.now(UTC).isoformat()),
                runtime)
    lost, gone = read_run_record(lake, "20260102T000000Z-lost"), read_run_record(lake, "20260103T000000Z-gone")
    assert lost["status"] == gone["status"] == "Interrupted"
    assert "20260104T000000Z-next" in lost["error"] and lost["finished"]
    assert (lost["published"], gone["published"]) == (False, True)
    assert read_run_record(lake, "20260101T000000Z-done")["status"] == "Succeeded"
    new = read_run_record(lake, "20260104T000000Z-next")
    assert new["status"] == "Running"
    step = next(s for s in new["steps"] if s["step"] == "prepare_run")
    assert step["interrupted"] == ["20260102T000000Z-lost", "20260103T000000Z-gone"]
