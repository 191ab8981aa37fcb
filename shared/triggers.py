"""What a starter does with an event before it starts a run: admit the file into the ledger or ignore it."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from shared import ledger
from shared.config import load_config_text
from shared.errors import ConfigError, ConfigUnavailable, LakeNotFound
from shared.events import BlobEvent, accept_blob_created
from shared.ingest.landing import Ignored, resolve
from shared.runtime import Runtime

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Admission:
    new_work: bool
    reason: str
    path: str | None = None


def admit_blob_created(event: BlobEvent, runtime: Runtime, now: datetime) -> Admission:
    """Validate the event, resolve the file to a configured table, and record it in the ledger once. Raises
    ``ConfigUnavailable`` while the config cannot be loaded."""
    verdict = accept_blob_created(event, runtime.settings)
    if not verdict.accepted or verdict.path is None:
        log.info("event %s ignored: %s", event.id, verdict.reason)
        return Admission(False, verdict.reason)
    try:
        config = load_config_text(runtime.lake.read_bytes(runtime.settings.config_path).decode("utf-8"),
                                  runtime.settings.config_path)
    except (LakeNotFound, ConfigError) as exc:  # fail the delivery: Event Grid retries it, the file is not lost
        raise ConfigUnavailable(f"{verdict.path} cannot be admitted while the unification config "
                                f"{runtime.settings.config_path} is unavailable (the event is delivered again): "
                                f"{exc}") from exc
    landed = resolve(verdict.path, runtime.settings.landing_prefix, config)
    if isinstance(landed, Ignored):  # a misplaced extract (warned), or a marker file beside the data
        log.log(logging.INFO if landed.marker else logging.WARNING, "event %s: %s is ignored: %s",
                event.id, verdict.path, landed.reason)
        return Admission(False, landed.reason, verdict.path)
    try:
        item = runtime.lake.info(verdict.path)
    except LakeNotFound:
        return Admission(False, "the blob no longer exists", verdict.path)
    if event.etag and item.etag.strip('"') != event.etag.strip('"'):
        log.info("event %s: blob changed since the event (etag %s → %s)", event.id, event.etag, item.etag)
    if item.size == 0:
        return Admission(False, "zero-byte blob", verdict.path)
    if not ledger.record_landed(runtime.lake, item, landed, now):
        return Admission(False, "already recorded (duplicate or replayed event)", verdict.path)
    return Admission(True, "new file version", verdict.path)


def pending_count(runtime: Runtime) -> int:
    return len(ledger.pending(runtime.lake))
