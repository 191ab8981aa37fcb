"""Scratch folders of processes that ended are swept; those of live processes are not (``shared.scratch``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from shared import scratch


def _ended_pid() -> int:
    done = subprocess.Popen([sys.executable, "-c", "pass"])
    done.wait()
    return done.pid


def test_the_scratch_of_an_ended_process_is_swept_and_a_live_ones_kept(tmp_path: Path) -> None:
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        folders = {name: tmp_path / name for name in (f"c360-duck-p{_ended_pid()}-abc", f"c360-blocks-p{live.pid}-x",
                                                       f"c360-copy-p{os.getpid()}-y", "c360-duck-unrelated")}
        for folder in folders.values():
            (folder / "spill").mkdir(parents=True)
            (folder / "spill" / "file.tmp").write_bytes(b"x" * 1024)
        removed = scratch.sweep(str(tmp_path))
        assert [Path(p).name for p in removed] == [next(iter(folders))]
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(list(folders)[1:])
    finally:
        live.kill()
        live.wait()


def test_a_scratch_folder_is_named_for_its_process_and_removed_after_use() -> None:
    with scratch.scratch("copy") as folder:
        assert Path(folder).name.startswith(f"c360-copy-p{os.getpid()}-") and Path(folder).is_dir()
    assert not Path(folder).exists()
