"""Peak memory of a process and its children (c360 runs activities in worker processes).

``TreePeak`` samples the summed resident set (``VmRSS``) of this process and every descendant every
``interval`` seconds; ``peak_mb`` is the larger of that and this process's own ``ru_maxrss``.
``upper_bound_mb`` adds up each process's own peak (the largest ``VmHWM`` seen while sampling — c360's
workers reset theirs when an activity starts — and this process's ``ru_maxrss``): a bound the true
simultaneous peak cannot exceed, since the processes need not peak at the same moment. Linux only
(``/proc``).
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path


def _status_kb(pid: int, field: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return 0


def descendants(root: int) -> list[int]:
    """Every living process below ``root``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(parent, []).append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class TreePeak:
    """``start`` before the measured work, ``record_children`` before the workers exit, ``stop`` after."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.sampled_kb = 0
        self.children_hwm_kb = 0
        self._hwm_kb: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            children = descendants(me)
            total = sum(_status_kb(pid, "VmRSS") for pid in [me, *children])
            self.sampled_kb = max(self.sampled_kb, total)
            self._note_children_hwm(children)
            self._stop.wait(self.interval)

    def _note_children_hwm(self, children: list[int]) -> None:
        # c360's workers reset their high-water mark when an activity starts (shared/procmem.py), so each
        # process's own peak is the largest mark seen over time, not the one it shows at the end
        for pid in children:
            self._hwm_kb[pid] = max(self._hwm_kb.get(pid, 0), _status_kb(pid, "VmHWM"))
        self.children_hwm_kb = sum(self._hwm_kb.values())

    def record_children(self) -> None:
        """Each descendant's own peak (``VmHWM``, the largest seen), summed; call while they live."""
        self._note_children_hwm(descendants(os.getpid()))

    def start(self) -> TreePeak:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def peak_mb(self) -> float:
        own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return max(self.sampled_kb, own) / 1024

    @property
    def own_mb(self) -> float:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    @property
    def upper_bound_mb(self) -> float:
        return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss + self.children_hwm_kb) / 1024
