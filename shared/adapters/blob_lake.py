"""``BlobLake``: the lake through the Blob API (azure-storage-blob); tested against Azurite.

ADLS Gen2 accounts accept Blob API calls (multi-protocol access), so this adapter also serves an
HNS account; ``AdlsLake`` adds what only the DFS API offers. Transient faults are retried by the
SDK's exponential retry policy before an error reaches the caller.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobServiceClient, ContainerClient, ExponentialRetry

from shared.adapters.local_lake import clean_lake_path
from shared.errors import LakeError, LakeNotFound
from shared.ports import LakeItem
from shared.settings import AZURITE_ACCOUNT, AZURITE_KEY, Settings

_SPOOL_BYTES = 64 * 1024 * 1024


def _etag(value: str | None) -> str:
    """ETags without quotes: listing and properties calls do not quote them the same way."""
    return (value or "").strip('"')


def credential_for(settings: Settings) -> Any:
    """Azurite's public development key locally; a managed identity (or the default chain) on Azure."""
    if settings.is_azurite:
        return {"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY}
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

    if settings.identity_client_id:
        return ManagedIdentityCredential(client_id=settings.identity_client_id)
    return DefaultAzureCredential()


class BlobLake:
    """Blobs in one container; folders are name prefixes."""

    kind = "blob"

    def __init__(self, account_url: str, container: str, credential: Any) -> None:
        self._credential = credential
        retry = ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=5)
        self._service = BlobServiceClient(account_url.rstrip("/"), credential=credential, retry_policy=retry)
        self._container: ContainerClient = self._service.get_container_client(container)
        self.account_url = account_url.rstrip("/")
        self.container = container
        try:
            self._container.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise LakeError(f"cannot reach lake container {container} at {account_url}: {exc}") from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> BlobLake:
        return cls(settings.lake_account_url, settings.lake_container, credential_for(settings))

    def _blob(self, path: str) -> Any:
        return self._container.get_blob_client(clean_lake_path(path))

    def read_bytes(self, path: str) -> bytes:
        try:
            return bytes(self._blob(path).download_blob(max_concurrency=4).readall())
        except ResourceNotFoundError as exc:
            raise LakeNotFound(f"lake file not found: {path}") from exc

    @contextlib.contextmanager
    def open_read(self, path: str) -> Iterator[IO[bytes]]:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            try:
                self._blob(path).download_blob(max_concurrency=4).readinto(spool)
            except ResourceNotFoundError as exc:
                raise LakeNotFound(f"lake file not found: {path}") from exc
            spool.seek(0)
            yield spool  # type: ignore[misc]

    def write_bytes(self, path: str, data: bytes) -> LakeItem:
        self._blob(path).upload_blob(data, overwrite=True, max_concurrency=4)
        return self.info(path)

    @contextlib.contextmanager
    def open_write(self, path: str) -> Iterator[IO[bytes]]:
        with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
            yield spool  # type: ignore[misc]
            length = spool.tell()
            spool.seek(0)
            self._blob(path).upload_blob(spool, length=length, overwrite=True, max_concurrency=4)

    def create_exclusive(self, path: str, data: bytes) -> bool:
        try:
            self._blob(path).upload_blob(data, overwrite=False)
        except ResourceExistsError:
            return False
        return True

    def info(self, path: str) -> LakeItem:
        try:
            props = self._blob(path).get_blob_properties()
        except ResourceNotFoundError as exc:
            raise LakeNotFound(f"lake file not found: {path}") from exc
        return LakeItem(clean_lake_path(path), props.size, _etag(props.etag), props.last_modified)

    def exists(self, path: str) -> bool:
        return bool(self._blob(path).exists())

    def list(self, prefix: str) -> Iterator[LakeItem]:
        start = clean_lake_path(prefix) + "/" if prefix.strip("/") else ""
        for blob in self._container.list_blobs(name_starts_with=start, include=["metadata"]):
            if blob.name.endswith("/") or (blob.metadata or {}).get("hdi_isfolder") == "true":
                continue  # directory markers written by HNS-unaware tools
            yield LakeItem(blob.name, blob.size, _etag(blob.etag), blob.last_modified)

    def delete(self, path: str) -> None:
        with contextlib.suppress(ResourceNotFoundError):
            self._blob(path).delete_blob()

    def delete_prefix(self, prefix: str) -> int:
        items = list(self.list(prefix))
        for item in items:
            self.delete(item.path)
        return len(items)

    def rename_prefix(self, source: str, target: str) -> None:
        """Copy then delete, blob by blob: not atomic on the Blob API (``AdlsLake`` renames atomically)."""
        items = list(self.list(source))
        if not items:
            raise LakeNotFound(f"lake folder not found: {source}")
        if any(True for _ in self.list(target)):
            raise LakeError(f"rename target exists: {target}")
        src_root, dst_root = clean_lake_path(source), clean_lake_path(target)
        for item in items:
            self._blob(dst_root + item.path[len(src_root):]).start_copy_from_url(self._blob(item.path).url,
                                                                               requires_sync=True)
        for item in items:
            self.delete(item.path)

    def url(self, path: str) -> str:
        base = f"{self.account_url}/{self.container}"
        return f"{base}/{clean_lake_path(path)}" if path else base

    def arrow_filesystem(self) -> Any:
        from urllib.parse import urlsplit

        from pyarrow import fs

        parts = urlsplit(self.account_url)
        if isinstance(self._credential, dict):  # Azurite: account name and key, path-style URL
            azure = fs.AzureFileSystem(account_name=self._credential["account_name"],
                                       account_key=self._credential["account_key"],
                                       blob_storage_authority=parts.netloc, dfs_storage_authority=parts.netloc,
                                       blob_storage_scheme=parts.scheme, dfs_storage_scheme=parts.scheme)
        else:
            client_id = getattr(self._credential, "_client_id", None)
            azure = fs.AzureFileSystem(account_name=parts.netloc.split(".")[0], client_id=client_id)
        return fs.SubTreeFileSystem(self.container, azure)
