"""The real function app with hand-written faults in chosen activities (for failure-path tests).

Starters and the orchestrator are the real blueprints; every activity delegates to the real one, except
that a fault function may raise on a given call number first.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import azure.durable_functions as df
import azure.functions as func

Fault = Callable[[int], BaseException | None]


def build_app(faults: dict[str, Fault]) -> tuple[df.DFApp, dict[str, int]]:
    import activities.functions as real
    from orchestrators import orchestrator, starters
    from shared.names import Activity

    calls: dict[str, int] = {}
    lock = threading.Lock()
    blueprint = df.Blueprint()

    def register(name: str) -> None:
        def activity(payload: dict[str, Any]) -> dict[str, Any]:
            with lock:
                calls[name] = calls.get(name, 0) + 1
                number = calls[name]
            fault = faults.get(name)
            error = fault(number) if fault else None
            if error is not None:
                raise error
            return getattr(real, name)(payload)  # type: ignore[no-any-return]

        activity.__name__ = name
        blueprint.activity_trigger(input_name="payload")(activity)

    for item in Activity:
        register(item.value)
    app = df.DFApp(http_auth_level=func.AuthLevel.FUNCTION)
    app.register_functions(starters)
    app.register_functions(orchestrator)
    app.register_functions(blueprint)
    return app, calls
