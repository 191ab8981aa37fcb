"""Peak memory of a process and its children (c360 runs activities in worker processes).

``TreePeak`` samples the summed resident set (``VmRSS``) of this process and every descendant every
``interval`` seconds; ``peak_mb`` is the larger of that and this process's own ``ru_maxrss``.
``upper_bound_mb`` adds up each process's own peak (the largest ``VmHWM`` seen while sampling — c360's
workers reset theirs when an activity starts — and this process's ``ru_maxrss``): a bound the true
simultaneous peak cannot exceed, since the processes need not peak at the same moment. Linux only
(``/proc``).
"""

from __future__ import annotations

import contextlib
import os
import resource
import threading
from pathlib import Path


def _status_kb(pid: int, *fields: str) -> list[int]:
    """The ``fields`` of a process's status, in kB (0 for a process that ended), from one read."""
    found = dict.fromkeys(fields, 0)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name = line.split(":", 1)[0]
            if name in found:
                found[name] = int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    return [found[f] for f in fields]


def descendants(root: int) -> list[int]:
    """Every living process below ``root``: read from each task's ``children`` list, which touches the
    tree's files only (a scan of every process's ``stat``, the fallback, took 9 % of a core at 20 Hz)."""
    if not Path(f"/proc/{root}/task/{root}/children").exists():  # a kernel without the lists
        return _descendants_by_scan(root)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):  # a process that just ended
            for task in os.listdir(f"/proc/{pid}/task"):
                with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                    children = [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
                    found.extend(children)
                    todo.extend(children)
    return found


def _descendants_by_scan(root: int) -> list[int]:
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
            total = _status_kb(me, "VmRSS")[0]
            for pid in descendants(me):
                rss, hwm = _status_kb(pid, "VmRSS", "VmHWM")
                total += rss
                self._note_hwm(pid, hwm)
            self.sampled_kb = max(self.sampled_kb, total)
            self._stop.wait(self.interval)

    def _note_hwm(self, pid: int, hwm_kb: int) -> None:
        # c360's workers reset their high-water mark when an activity starts (shared/procmem.py), so each
        # process's own peak is the largest mark seen over time, not the one it shows at the end
        self._hwm_kb[pid] = max(self._hwm_kb.get(pid, 0), hwm_kb)
        self.children_hwm_kb = sum(self._hwm_kb.values())

    def record_children(self) -> None:
        """Each descendant's own peak (``VmHWM``, the largest seen), summed; call while they live."""
        for pid in descendants(os.getpid()):
            self._note_hwm(pid, _status_kb(pid, "VmHWM")[0])

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
