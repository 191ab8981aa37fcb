"""Only BlobCreated events for files in this lake's landing zone become work; everything else says why not."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.events import BLOB_CREATED, BlobEvent, accept_blob_created
from shared.settings import Settings

ACCOUNT = "https://c360lake.blob.core.windows.net"
GOOD_URL = f"{ACCOUNT}/lake/landing/crm/FullData/contacts.csv"
GOOD_SUBJECT = "/blobServices/default/containers/lake/blobs/landing/crm/FullData/contacts.csv"


@pytest.fixture()
def azure() -> Settings:
    return Settings.from_mapping({"C360_LAKE_KIND": "blob", "C360_LAKE_ACCOUNT_URL": ACCOUNT,
                                  "C360_LAKE_CONTAINER": "lake"})


def event(url: str = GOOD_URL, subject: str = GOOD_SUBJECT, length: int | None = 120,
          kind: str = BLOB_CREATED) -> BlobEvent:
    return BlobEvent("id-1", kind, subject, url, length, "0x8DC")


def test_a_file_in_the_landing_zone_is_accepted(azure: Settings) -> None:
    verdict = accept_blob_created(event(), azure)
    assert verdict.accepted and verdict.path == "landing/crm/FullData/contacts.csv"
    dfs = accept_blob_created(event(GOOD_URL.replace(".blob.", ".dfs.")), azure)  # ADLS Gen2 events use dfs
    assert dfs.accepted and dfs.path == verdict.path
    url, subject = landing("landing/crm/FullData/my%20contacts.csv")
    spaced = accept_blob_created(event(url, subject.replace("%20", " ")), azure)
    assert spaced.accepted and spaced.path == "landing/crm/FullData/my contacts.csv"


def landing(rest: str) -> tuple[str, str]:
    return f"{ACCOUNT}/lake/{rest}", f"/blobServices/default/containers/lake/blobs/{rest}"


CORPUS: list[tuple[str, BlobEvent, str]] = [
    ("other event type", event(kind="Microsoft.Storage.BlobDeleted"), "is not Microsoft.Storage.BlobCreated"),
    ("no url", event(url=""), "no data.url"),
    ("other container", event(f"{ACCOUNT}/other/landing/a.csv",
                              "/blobServices/default/containers/other/blobs/landing/a.csv"), "another container"),
    ("other account", event("https://evil.blob.core.windows.net/lake/landing/a.csv"), "another account"),
    ("look-alike host", event("https://c360lake.blob.core.windows.net.evil.com/lake/landing/a.csv"),
     "another account"),
    ("userinfo in host", event("https://c360lake.blob.core.windows.net@evil.com/lake/landing/a.csv"),
     "another account"),
    ("plain http", event(GOOD_URL.replace("https://", "http://")), "scheme"),
    ("file scheme", event("file:///etc/passwd"), "another account"),
    ("dot-dot", event(*landing("landing/../system/ledger/x.json")), "traversal"),
    ("dot-dot at the start", event(*landing("../lake2/landing/a.csv")), "traversal"),
    ("encoded dot-dot", event(f"{ACCOUNT}/lake/landing/%2e%2e/system/x.csv"), "traversal"),
    ("double-encoded dot-dot", event(f"{ACCOUNT}/lake/landing/%252e%252e/system/x.csv"), "traversal"),
    ("encoded slash", event(f"{ACCOUNT}/lake/landing%2f..%2fsystem/x.csv"), "traversal"),
    ("backslash", event(f"{ACCOUNT}/lake/landing\\..\\system\\x.csv"), "backslashes"),
    ("control character", event(f"{ACCOUNT}/lake/landing/a%0a.csv"), "traversal"),
    ("raw control character", event(f"{ACCOUNT}/lake/landing/a\n.csv"), "control characters"),
    ("query string", event(GOOD_URL + "?sv=2020&sig=abc"), "query"),
    ("fragment", event(GOOD_URL + "#frag"), "query or fragment"),
    ("empty segment", event(*landing("landing//crm/a.csv")), "traversal"),
    ("directory marker", event(*landing("landing/crm/FullData/")), "directory"),
    ("zero-byte blob", event(length=0), "zero-byte"),
    ("outside the landing prefix", event(*landing("curated/runs/r1/Customer/part-0.parquet")), "outside the landing"),
    ("pipeline's own write", event(*landing("system/ledger/pending/abc.json")), "outside the landing"),
    ("prefix look-alike", event(*landing("landing-evil/a.csv")), "outside the landing"),
    ("subject disagrees", event(GOOD_URL, "/blobServices/default/containers/lake/blobs/landing/other.csv"),
     "subject does not agree"),
    ("subject in another container",
     event(GOOD_URL, GOOD_SUBJECT.replace("/containers/lake/", "/containers/x/")), "subject does not agree"),
    ("hidden file", event(*landing("landing/crm/FullData/.DS_Store")), "hidden"),
    ("system marker file", event(*landing("landing/crm/FullData/_SUCCESS")), "hidden"),
    ("no blob name", event(f"{ACCOUNT}/lake"), "URL names no blob"),
]


@pytest.mark.parametrize(("case", "candidate", "reason"), CORPUS, ids=[c[0] for c in CORPUS])
def test_hostile_or_foreign_events_are_rejected_with_a_reason(azure: Settings, case: str, candidate: BlobEvent,
                                                              reason: str) -> None:
    verdict = accept_blob_created(candidate, azure)
    assert not verdict.accepted, case
    assert reason in verdict.reason, (case, verdict.reason)


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 20


def test_local_lake_accepts_only_file_urls_inside_its_folder(tmp_path: Path) -> None:
    settings = Settings.from_mapping({"C360_LAKE_KIND": "local", "C360_LAKE_ROOT": str(tmp_path / "lake")})
    root = (tmp_path / "lake").resolve().as_uri()
    assert accept_blob_created(event(f"{root}/landing/crm/a.csv", ""), settings).accepted
    for url, reason in [(f"{root}/../lake2/landing/a.csv", "traversal"),
                        (f"{root}/landing/%2e%2e/%2e%2e/etc/passwd", "traversal"),
                        ((tmp_path / "elsewhere" / "a.csv").as_uri(), "outside the lake"),
                        (f"https://host{(tmp_path / 'lake').as_posix()}/landing/a.csv", "file:// URLs only"),
                        (f"{root}/system/runs/x.json", "outside the landing")]:
        verdict = accept_blob_created(event(url, ""), settings)
        assert not verdict.accepted and reason in verdict.reason, (url, verdict.reason)
