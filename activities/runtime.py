"""The activities' runtime: settings + lake + SQL endpoint from the process environment."""

from __future__ import annotations

import threading

from shared.runtime import Runtime, runtime_from_environment

_lock = threading.Lock()


def runtime() -> Runtime:
    with _lock:
        return runtime_from_environment()
