"""Strict handling of ``Microsoft.Storage.BlobCreated`` events (Event Grid and CloudEvents schemas).

An event is accepted only when its blob URL is on the configured account (or the local lake folder),
in the configured container, under the landing prefix, names a file (not a folder or a zero-byte
marker) and agrees with the event subject. Everything else — other containers or hosts, ``..``,
percent-encoded traversal, backslashes, control characters, query strings — is ignored with a reason.
The pipeline writes outside the landing prefix, so its own writes never start a run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import unquote, urlsplit

from shared.settings import AZURITE_ACCOUNT, Settings

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
_SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<blob>.+)$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class BlobEvent:
    """The parts of a BlobCreated event c360 uses, whichever schema it came in."""

    id: str
    type: str
    subject: str
    url: str
    content_length: int | None = None
    etag: str | None = None

    @classmethod
    def from_parts(cls, event_id: str, event_type: str, subject: str | None, data: Any) -> BlobEvent:
        data = data if isinstance(data, dict) else {}
        length = data.get("contentLength")
        return cls(str(event_id or ""), str(event_type or ""), str(subject or ""), str(data.get("url") or ""),
                   int(length) if isinstance(length, int) or (isinstance(length, str) and length.isdigit()) else None,
                   data.get("eTag"))


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    path: str | None = None  # container-relative lake path

    @classmethod
    def reject(cls, reason: str) -> Verdict:
        return cls(False, reason)


def _clean_blob_name(raw: str) -> str | None:
    """The blob name, once decoded; ``None`` if it is traversal, double-encoded or not a plain path."""
    once = unquote(raw)
    if unquote(once) != once:  # %252e%252e and friends: reject anything still encoded after one decode
        return None
    if "\\" in once or _CONTROL.search(once) or once.startswith("/"):
        return None
    parts = once.split("/")
    if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        return None
    return once


def _account_host(settings: Settings) -> tuple[str, str]:
    parts = urlsplit(settings.lake_account_url)
    return parts.scheme, parts.netloc.lower()


def lake_path(url: str, settings: Settings) -> str | Verdict:
    """The container-relative path a blob URL names in *our* lake, or a rejection."""
    if not url:
        return Verdict.reject("event has no data.url")
    if _CONTROL.search(url) or "\\" in url:
        return Verdict.reject("URL contains control characters or backslashes")
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        return Verdict.reject("URL has a query or fragment")
    if settings.lake_kind == "local":
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            return Verdict.reject(f"local lake accepts file:// URLs only, got {parts.scheme}://{parts.netloc}")
        root = Path(settings.lake_root).resolve().as_posix().rstrip("/") + "/"
        decoded = unquote(parts.path)
        if not decoded.startswith(root):
            return Verdict.reject("file is outside the lake folder")
        relative = _clean_blob_name(parts.path[len(root):] if parts.path.startswith(root) else decoded[len(root):])
        return relative if relative else Verdict.reject("path traversal or encoded characters in the file path")
    _scheme, host = _account_host(settings)
    if parts.netloc.lower() not in {host, host.replace(".blob.", ".dfs."), host.replace(".dfs.", ".blob.")}:
        return Verdict.reject(f"blob is on another account or host ({parts.netloc})")
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        return Verdict.reject(f"scheme {parts.scheme!r} is not allowed")
    segments = parts.path.split("/", 3 if settings.is_azurite else 2)
    if settings.is_azurite:
        if len(segments) < 4 or segments[1] != AZURITE_ACCOUNT:
            return Verdict.reject("Azurite URL without the account segment")
        container, blob = segments[2], segments[3]
    else:
        if len(segments) < 3:
            return Verdict.reject("URL names no blob")
        container, blob = segments[1], segments[2]
    if unquote(container) != settings.lake_container:
        return Verdict.reject(f"blob is in another container ({unquote(container)!r})")
    name = _clean_blob_name(blob)
    return name if name else Verdict.reject("path traversal or encoded characters in the blob name")


def accept_blob_created(event: BlobEvent, settings: Settings) -> Verdict:
    """Decide whether a BlobCreated event is landing-zone work for this lake."""
    if event.type != BLOB_CREATED:
        return Verdict.reject(f"event type {event.type!r} is not {BLOB_CREATED}")
    path = lake_path(event.url, settings)
    if isinstance(path, Verdict):
        return path
    if path.endswith("/"):
        return Verdict.reject("the blob is a directory marker")
    if event.content_length == 0:
        return Verdict.reject("zero-byte blob (directory or marker)")
    landing = settings.landing_prefix.strip("/") + "/"
    if not path.startswith(landing):
        return Verdict.reject(f"blob is outside the landing prefix {landing!r}")
    if event.subject and settings.lake_kind != "local":
        match = _SUBJECT.match(event.subject)
        if not match or unquote(match["container"]) != settings.lake_container or _clean_blob_name(
                match["blob"]) != path:
            return Verdict.reject("event subject does not agree with the blob URL")
    if PurePosixPath(path).name.startswith((".", "_")):
        return Verdict.reject("hidden or system file")
    return Verdict(True, "accepted", path)


def event_url(settings: Settings, path: str, lake_url: str) -> str:
    """The ``data.url`` a BlobCreated event carries for a lake path (used by the local tools)."""
    if settings.lake_kind == "local":
        return Path(lake_url).resolve().as_uri()
    return lake_url
