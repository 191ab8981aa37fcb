"""The ingestion ledger: exactly-once processing of landed files under at-least-once event delivery.

Keyed by blob path and ETag: ``pending/<id>.json`` when an event (or a scan) first sees a file version,
``done/<id>.json`` once a run that included it has published. A duplicate or replayed event finds the
entry and does nothing; a re-upload has a new ETag and so is new work. A failed run leaves its files
pending, so the next run takes them again.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import datetime

from shared.ingest.landing import LandedFile
from shared.paths import LEDGER_DONE, LEDGER_PENDING, file_id
from shared.payloads import FileRef
from shared.ports import Lake, LakeItem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    path: str
    etag: str
    size: int
    last_modified: str
    table: str
    kind: str
    hour: str | None
    seen_at: str

    def to_ref(self) -> FileRef:
        return FileRef(self.path, self.etag, self.size, self.table, self.kind, self.hour, self.last_modified)


def _entry(item: LakeItem, landed: LandedFile, now: datetime) -> Entry:
    return Entry(item.path, item.etag, item.size, item.last_modified.isoformat(), landed.table, landed.kind,
                 landed.hour.isoformat() if landed.hour else None, now.isoformat())


def is_done(lake: Lake, path: str, etag: str) -> bool:
    return lake.exists(f"{LEDGER_DONE}/{file_id(path, etag)}.json")


def record_landed(lake: Lake, item: LakeItem, landed: LandedFile, now: datetime) -> bool:
    """Note a landed file version; ``False`` when it is already pending or done (nothing new to do)."""
    fid = file_id(item.path, item.etag)
    if lake.exists(f"{LEDGER_DONE}/{fid}.json"):
        return False
    body = json.dumps(asdict(_entry(item, landed, now))).encode()
    return lake.create_exclusive(f"{LEDGER_PENDING}/{fid}.json", body)


def pending(lake: Lake) -> list[Entry]:
    entries = []
    for item in lake.list(LEDGER_PENDING):
        try:
            entries.append(Entry(**json.loads(lake.read_bytes(item.path))))
        except (ValueError, TypeError):
            log.warning("unreadable ledger entry %s", item.path)
    return sorted(entries, key=lambda e: (e.seen_at, e.path))


def commit(lake: Lake, refs: list[FileRef], run_id: str, now: datetime) -> None:
    """Mark files as processed by a published run."""
    for ref in refs:
        fid = file_id(ref.path, ref.etag)
        lake.write_bytes(f"{LEDGER_DONE}/{fid}.json", json.dumps(
            {"path": ref.path, "etag": ref.etag, "run_id": run_id, "done_at": now.isoformat()}).encode())
        lake.delete(f"{LEDGER_PENDING}/{fid}.json")


def forget(lake: Lake, ref: FileRef) -> None:
    """Drop a pending entry that will never be processed (e.g. the file was deleted)."""
    lake.delete(f"{LEDGER_PENDING}/{file_id(ref.path, ref.etag)}.json")
