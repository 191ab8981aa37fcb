"""The function app registers exactly the expected functions, with the right triggers."""

from __future__ import annotations

import importlib

from shared.names import ORCHESTRATOR, Activity

EXPECTED = {
    "on_source_file_landed": "eventGridTrigger",
    "sweep_landed_files": "timerTrigger",
    "start_unification_http": "httpTrigger",
    "list_runs_http": "httpTrigger",
    "get_run_http": "httpTrigger",
    "cancel_run_http": "httpTrigger",
    "rollback_run_http": "httpTrigger",
    ORCHESTRATOR: "orchestrationTrigger",
    **{activity.value: "activityTrigger" for activity in Activity},
}


def test_function_app_lists_exactly_the_expected_functions_and_triggers() -> None:
    import function_app

    app = importlib.reload(function_app).app
    functions = {f.get_function_name(): f for f in app.get_functions()}
    assert {name: f.get_trigger().type for name, f in functions.items()} == EXPECTED


def test_starters_take_a_durable_client_and_http_routes_are_the_run_api() -> None:
    import function_app

    app = importlib.reload(function_app).app
    functions = {f.get_function_name(): f for f in app.get_functions()}
    for name, trigger in EXPECTED.items():
        bindings = {b.type for b in functions[name].get_bindings()}
        assert ("durableClient" in bindings) == (trigger in ("eventGridTrigger", "timerTrigger", "httpTrigger"))
    routes = {name: (f.get_trigger().get_dict_repr()["route"],
                     sorted(str(getattr(m, "value", m)) for m in f.get_trigger().get_dict_repr()["methods"]))
              for name, f in functions.items() if f.get_trigger().type == "httpTrigger"}
    assert routes == {"start_unification_http": ("runs", ["POST"]), "list_runs_http": ("runs", ["GET"]),
                      "get_run_http": ("runs/{run_id}", ["GET"]),
                      "cancel_run_http": ("runs/{run_id}/cancel", ["POST"]),
                      "rollback_run_http": ("runs/{run_id}/rollback", ["POST"])}
