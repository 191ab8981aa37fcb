"""Shared fixtures: a small seeded demo, settings for a temporary lake, and Azurite when it is running."""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.settings import Settings

AZURITE_URL = "http://127.0.0.1:10000/devstoreaccount1"


def azurite_running() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 10000), timeout=0.5):
            return True
    except OSError:
        return False


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Azurite tests skip only outside CI; under CI=true (or make test) a missing Azurite is a failure."""
    required = os.environ.get("CI", "").lower() == "true" or os.environ.get("C360_TEST_AZURITE") == "1"
    if required or azurite_running():
        return
    skip = pytest.mark.skip(reason="Azurite is not running on 127.0.0.1:10000 (make test starts it)")
    for item in items:
        if "azurite" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _no_stray_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if k.startswith("C360_")]:
        monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def small_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1,500 people, their four source systems, orders and lines (generated once per session)."""
    from c360_cli.demo import DemoSpec, write_demo

    out = tmp_path_factory.mktemp("demo")
    write_demo(out, DemoSpec(customers=1500, seed=7))
    return out


@pytest.fixture()
def local_settings(tmp_path: Path) -> Settings:
    return Settings.from_mapping({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(tmp_path / "lake"),
                                  "C360_QUIET_PERIOD_SECONDS": "1", "C360_ACTIVITY_RETRY_INTERVAL_MS": "100"})


@pytest.fixture()
def azurite_settings(tmp_path: Path) -> Iterator[Settings]:
    container = f"t{uuid.uuid4().hex[:12]}"
    settings = Settings.from_mapping({
        "C360_LAKE_KIND": "blob", "C360_LAKE_ACCOUNT_URL": AZURITE_URL, "C360_LAKE_CONTAINER": container,
        "C360_DUCKDB_PATH": str(tmp_path / "azurite.duckdb"), "C360_QUIET_PERIOD_SECONDS": "1",
        "C360_ACTIVITY_RETRY_INTERVAL_MS": "100"})
    yield settings
    from azure.storage.blob import BlobServiceClient

    from shared.adapters.blob_lake import credential_for

    with contextlib.suppress(Exception):  # cleanup only
        BlobServiceClient(AZURITE_URL, credential=credential_for(settings)).delete_container(container)
