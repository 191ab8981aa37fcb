"""Local scratch folders (DuckDB's spill files, files on their way into the lake), swept once their
process is gone.

A process killed mid-activity (a worker the host replaces, a Ctrl-C, an instance recycled) cannot
remove its own scratch folders; on the project's machine such leftovers once reached 12 GB, filled the
disk and failed the next run. Each folder's name carries its process id, and the first folder a process
creates removes those of processes that no longer exist.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Iterator

_NAME = re.compile(r"c360-[a-z]+-p(\d+)-.+")
_swept = False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep(root: str | None = None) -> list[str]:
    """Remove the scratch folders of processes that have ended; returns their paths."""
    root = root or tempfile.gettempdir()
    removed = []
    with contextlib.suppress(OSError):
        for name in os.listdir(root):
            match = _NAME.fullmatch(name)
            if match and int(match.group(1)) != os.getpid() and not _alive(int(match.group(1))):
                shutil.rmtree(os.path.join(root, name), ignore_errors=True)
                removed.append(os.path.join(root, name))
    return removed


def make_scratch(kind: str) -> str:
    """A new scratch folder ``c360-<kind>-p<pid>-…``; the caller removes it."""
    global _swept
    if not _swept:
        _swept = True
        sweep()
    return tempfile.mkdtemp(prefix=f"c360-{kind}-p{os.getpid()}-")


@contextlib.contextmanager
def scratch(kind: str) -> Iterator[str]:
    """A scratch folder for the ``with`` block."""
    path = make_scratch(kind)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
