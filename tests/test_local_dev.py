"""Local development the standard way: settings lists that cannot drift, a valid host.json, the Event Grid
webhook shape accepted by the registered trigger's own converter, and what .funcignore keeps out."""

from __future__ import annotations

import dataclasses
import importlib
import json
import re
from pathlib import Path

from local_host import HostOptions
from local_host.functions import decode_event_grid_event
from orchestrators.starters import _blob_event
from shared.events import accept_blob_created
from shared.settings import Settings
from tests.test_infra import bicep_app_settings

REPO = Path(__file__).resolve().parents[1]


def example() -> dict[str, str]:
    return json.loads((REPO / "local.settings.example.json").read_text())["Values"]


def test_code_settings_local_example_and_bicep_list_the_same_keys() -> None:
    code = {f.metadata["key"]: f.metadata["scope"] for f in dataclasses.fields(Settings)}
    local = {k for k in example() if k.startswith("C360_")}
    assert local == set(code)  # every setting the code reads, with a local default
    assert bicep_app_settings() == {k for k, scope in code.items() if scope == "both"}


def test_the_local_example_runs_on_azurite_and_the_embedded_duckdb() -> None:
    values = example()
    assert values["AzureWebJobsStorage"] == "UseDevelopmentStorage=true"
    assert values["FUNCTIONS_WORKER_RUNTIME"] == "python"
    settings = Settings.from_mapping(values)
    assert settings.lake_kind == "blob" and settings.is_azurite and settings.sql_kind == "duckdb"
    gitignore = (REPO / ".gitignore").read_text().splitlines()
    assert "local.settings.json" in gitignore and "local.settings.example.json" not in gitignore


def bundle_range(spec: str) -> tuple[int, int]:
    """``[4.*, 5.0.0)`` → (4, 5): the major versions the range admits, lower inclusive, upper exclusive."""
    match = re.fullmatch(r"\[(\d+)\.\*,\s*(\d+)\.0\.0\)", spec)
    assert match, spec
    return int(match[1]), int(match[2])


def test_host_json_is_a_functions_v4_host_with_durable_and_event_grid_in_its_bundle() -> None:
    host = json.loads((REPO / "host.json").read_text())
    assert host["version"] == "2.0"
    assert host["extensionBundle"]["id"] == "Microsoft.Azure.Functions.ExtensionBundle"
    low, high = bundle_range(host["extensionBundle"]["version"])
    assert low >= 4 and high > low  # bundle 4.x carries Durable Functions 2.x and the Event Grid extension 3.x
    durable = host["extensions"]["durableTask"]
    assert durable["hubName"] == "c360" and durable["maxConcurrentActivityFunctions"] >= 2
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", host["functionTimeout"])
    assert host["logging"]["logLevel"]["default"] in ("Warning", "Error")  # no payload dumps by default


def test_the_local_host_honours_the_durable_settings_of_host_json() -> None:
    host = json.loads((REPO / "host.json").read_text())
    options = HostOptions.from_host_json(REPO / "host.json")
    durable = host["extensions"]["durableTask"]
    assert options.task_hub_name == durable["hubName"]
    assert options.max_concurrent_activities == durable["maxConcurrentActivityFunctions"]
    assert options.override_running_instances == (durable["overridableExistingInstanceStates"] == "AnyState")
    assert options.route_prefix == host["extensions"]["http"]["routePrefix"]


WEBHOOK_EVENT = {  # one element of the array POSTed to /runtime/webhooks/EventGrid?functionName=…
    "id": "0f1e2d3c-0000-4000-8000-000000000001", "topic":
    "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    "subject": "/blobServices/default/containers/lake/blobs/landing/crm/FullData/contacts.csv",
    "eventType": "Microsoft.Storage.BlobCreated", "eventTime": "2026-11-28T10:00:00.0000000Z",
    "dataVersion": "", "metadataVersion": "1",
    "data": {"api": "PutBlob", "clientRequestId": "c", "requestId": "r", "eTag": "0x8DCAFE",
             "contentType": "text/csv", "contentLength": 524, "blobType": "BlockBlob",
             "url": "http://127.0.0.1:10000/devstoreaccount1/lake/landing/crm/FullData/contacts.csv",
             "sequencer": "0000000000000000000000000000000000000000000000000000", "storageDiagnostics": {}},
}
CLOUD_EVENT = {
    "specversion": "1.0", "id": "0f1e2d3c-0000-4000-8000-000000000002", "type": "Microsoft.Storage.BlobCreated",
    "source": "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/devstoreaccount1",
    "subject": "/blobServices/default/containers/lake/blobs/landing/crm/FullData/contacts.csv",
    "time": "2026-11-28T10:00:00Z", "data": WEBHOOK_EVENT["data"],
}


def test_webhook_shaped_blob_created_events_are_accepted_by_the_trigger_binding() -> None:
    import function_app

    app = importlib.reload(function_app).app
    trigger = next(f for f in app.get_functions() if f.get_function_name() == "on_source_file_landed").get_trigger()
    assert trigger.type == "eventGridTrigger"
    settings = Settings.from_mapping({k: v for k, v in example().items() if k.startswith("C360_")})
    for shape in (WEBHOOK_EVENT, CLOUD_EVENT):
        event = decode_event_grid_event(shape)  # azure.functions' own EventGridEvent converter
        verdict = accept_blob_created(_blob_event(event), settings)
        assert verdict.accepted and verdict.path == "landing/crm/FullData/contacts.csv", verdict.reason


def test_funcignore_keeps_tests_infrastructure_benchmarks_and_local_data_out() -> None:
    ignored = {line.strip() for line in (REPO / ".funcignore").read_text().splitlines()
               if line.strip() and not line.startswith("#")}
    assert {"tests/", "infra/", "bench/", "local.settings.json", ".venv/", "lake/", "demo/"} <= ignored
    for deployed in ("function_app.py", "host.json", "requirements.txt", "shared/", "activities/", "orchestrators/"):
        assert deployed not in ignored
