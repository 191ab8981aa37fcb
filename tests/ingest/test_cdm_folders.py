"""CDM folders: the converted folder loads in Microsoft's CDM object model; CDM input converts like plain files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.ingest.convert import convert_file
from shared.ingest.metadata import write_converted_metadata
from shared.lakeio import read_parquet
from shared.paths import converted_file, file_id
from tests.cdm_sdk import load_cdm_folder
from tests.ingest.test_hostile_files import CONFIG, HEADER

ROWS = [("1", "Ann", "Lee", "a@x.com", "1990-01-02", "5", "true"), ("2", "Bo", "Li", "", "", "7", "false")]


def _entity(lake: LocalLake, path: str) -> list[tuple[object, ...]]:
    return sorted(tuple(v for k, v in r.items() if k not in ("SourceFile", "SourceLine"))
                  for r in read_parquet(lake, path).to_pylist())


def test_converted_folder_loads_and_resolves_in_the_cdm_object_model(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    config = load_config_text(CONFIG)
    path = "landing/crm/contacts/FullData/c.csv"
    item = lake.write_bytes(path, (HEADER + "\n".join(",".join(r) for r in ROWS) + "\n").encode())
    source = config.source("contacts")
    target = converted_file("CRM", "Contacts", file_id(path, item.etag))
    assert convert_file(lake, source, path, target, "q.parquet").error is None
    assert write_converted_metadata(lake, config, "landing") == 1
    for document in ("default.manifest.cdm.json", "model.json"):
        loaded = load_cdm_folder(tmp_path / "lake" / "cdm" / "converted", document)
        assert not [p for p in loaded.problems if "ERROR" in p.upper()], loaded.problems
        contacts = loaded.entities["CRM_Contacts"]
        assert len(contacts.partitions) == 1 and contacts.partitions[0].endswith(".parquet")
        date = "DATE" if document.endswith("manifest.cdm.json") else "DATE_TIME"  # model.json has no date type
        assert contacts.attributes == {"SourceKey": "STRING", "SourceFile": "STRING", "SourceLine": "INT64",
                                       "RecordModified": "DATE_TIME", "id": "STRING", "FirstName": "STRING",
                                       "LastName": "STRING", "Email": "STRING", "BirthDate": date,
                                       "points": "INT64", "vip": "BOOLEAN"}
        if document.endswith("manifest.cdm.json"):  # semantic types travel as CDM traits
            assert "means.identity.person.firstName" in contacts.traits["FirstName"]
            assert "means.identity.service.email" in contacts.traits["Email"]
        assert set(loaded.entities) == {"CRM_Contacts", "POS_Members"}


def test_a_cdm_folder_as_input_converts_to_the_same_entity_as_plain_files(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    source = load_config_text(CONFIG).source("contacts")
    lake.write_bytes("landing/plain.csv", (HEADER + "\n".join(",".join(r) for r in ROWS) + "\n").encode())
    assert convert_file(lake, source, "landing/plain.csv", "plain.parquet", "q1.parquet").error is None
    names = HEADER.strip().split(",")
    # model.json with a header-less CSV partition (model.json's default), columns from the attributes
    lake.write_bytes("landing/cdmcsv/Contacts/part-0.csv", ("\n".join(",".join(r) for r in ROWS) + "\n").encode())
    lake.write_bytes("landing/cdmcsv/model.json", json.dumps({
        "name": "crm", "version": "1.0", "entities": [{
            "$type": "LocalEntity", "name": "Contacts",
            "attributes": [{"name": n, "dataType": "string"} for n in names],
            "partitions": [{"name": "p0", "location": "https://acct.dfs.core.windows.net/lake/landing/cdmcsv/Contacts/part-0.csv",
                            "fileFormatSettings": {"$type": "CsvFormatSettings", "columnHeaders": False}}]}]}).encode())
    cdm_source = source.model_copy(update={"format": "cdm"})
    assert convert_file(lake, cdm_source, "landing/cdmcsv/model.json", "from_model.parquet", "q2.parquet",
                        "Contacts").error is None
    # a manifest with a Parquet partition
    buffer = io.BytesIO()
    pq.write_table(pa.table({n: [r[i] for r in ROWS] for i, n in enumerate(names)}), buffer)
    lake.write_bytes("landing/cdmpq/Contacts/part-0.parquet", buffer.getvalue())
    lake.write_bytes("landing/cdmpq/Contacts.cdm.json", json.dumps({
        "jsonSchemaSemanticVersion": "1.0.0", "imports": [{"corpusPath": "cdm:/foundations.cdm.json"}],
        "definitions": [{"entityName": "Contacts", "hasAttributes": [{"name": n, "dataType": "string"} for n in names]}]
    }).encode())
    lake.write_bytes("landing/cdmpq/default.manifest.cdm.json", json.dumps({
        "jsonSchemaSemanticVersion": "1.0.0", "manifestName": "default", "entities": [{
            "type": "LocalEntity", "entityName": "Contacts", "entityPath": "Contacts.cdm.json/Contacts",
            "dataPartitions": [{"location": "Contacts/part-0.parquet",
                                "exhibitsTraits": [{"traitReference": "is.partition.format.parquet"}]}]}]}).encode())
    assert convert_file(lake, cdm_source, "landing/cdmpq/default.manifest.cdm.json", "from_manifest.parquet",
                        "q3.parquet", "Contacts").error is None
    plain = _entity(lake, "plain.parquet")
    assert plain == _entity(lake, "from_model.parquet") == _entity(lake, "from_manifest.parquet")
    assert len(plain) == 2
