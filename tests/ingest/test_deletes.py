"""Deletes files through the deployed path: keys and a recency, or the keys alone."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.runs import list_runs, read_run_record
from shared.settings import Settings
from tests.pipeline import run_pipeline

CONFIG = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    recency: modified
    columns: {first: Person.FirstName, last: Person.LastName, email: Identity.Service.Email,
              modified: Measurement.Date.Modify}
unification:
  match_order: [crm]
"""


@pytest.fixture(params=["local", pytest.param("azurite", marks=pytest.mark.azurite)])
def settings(request: pytest.FixtureRequest, local_settings: Settings) -> Settings:
    return local_settings if request.param == "local" else request.getfixturevalue("azurite_settings")


def extract(root: Path, sub: str, text: str) -> Path:
    target = root / "landing" / "crm" / sub / "contacts.csv"
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize("body", ["id\n2\n", "id,modified\n2,2026-01-01T00:30:00Z\n"],
                         ids=["keys alone", "keys and recency"])
def test_a_deletes_file_removes_its_keys(tmp_path: Path, settings: Settings, body: str) -> None:
    """A source's recency column is not required of its deletes: without it a delete takes its file's time
    (the snapshot's rule for any change without a record time), so it wins over older upserts."""
    full = ("id,first,last,email,modified\n1,Ann,Lee,ann@x.com,2025-12-01T00:00:00Z\n"
            "2,Bo,Li,bo@x.com,2025-12-01T00:00:00Z\n")
    first = run_pipeline(settings, extract(tmp_path / "r1", "FullData", full), config_text=CONFIG)
    assert first.status == "Completed", first.custom_status
    gone = run_pipeline(settings, extract(tmp_path / "r2", "IncrementalData/2026/01/01/00/Deletes", body),
                        config_text=CONFIG)
    assert gone.status == "Completed", gone.custom_status
    record = read_run_record(gone.runtime.lake, list_runs(gone.runtime.lake)[-1])
    converted = [s for s in record["steps"] if s["step"] == "convert_source_file"]
    assert [(s["accepted"], s["error"]) for s in converted] == [(1, None)]
    names = gone.runtime.sql.query("SELECT FirstName FROM c360.Customer")  # type: ignore[union-attr]
    assert names == [("Ann",)]
