"""``AdlsLake``: an ADLS Gen2 (hierarchical namespace) lake.

Data goes through the Blob API (inherited from ``BlobLake``); the DFS API is used only for what
needs a hierarchical namespace: an atomic directory rename, and ``dfs`` URLs for CDM consumers and
Synapse. Azurite has no DFS endpoint, so this adapter is exercised against a hand-written fake client.
"""

from __future__ import annotations

from typing import Any

from shared.adapters.blob_lake import BlobLake, credential_for
from shared.adapters.local_lake import clean_lake_path
from shared.errors import LakeError, LakeNotFound
from shared.settings import Settings


def dfs_url(account_url: str) -> str:
    """The DFS endpoint of an account given its Blob endpoint."""
    return account_url.rstrip("/").replace(".blob.", ".dfs.")


class AdlsLake(BlobLake):
    """A lake on an HNS-enabled account."""

    kind = "adls"

    def __init__(self, account_url: str, container: str, credential: Any, file_system: Any = None) -> None:
        super().__init__(account_url, container, credential)
        if file_system is None:
            from azure.storage.filedatalake import DataLakeServiceClient

            file_system = DataLakeServiceClient(dfs_url(account_url), credential=credential).get_file_system_client(
                container)
        self._file_system = file_system

    @classmethod
    def from_settings(cls, settings: Settings) -> AdlsLake:
        return cls(settings.lake_account_url, settings.lake_container, credential_for(settings))

    def rename_prefix(self, source: str, target: str) -> None:
        """One atomic ``rename_directory`` call: readers see the old folder or the new one, never half."""
        from azure.core.exceptions import ResourceNotFoundError

        directory = self._file_system.get_directory_client(clean_lake_path(source))
        if not directory.exists():
            raise LakeNotFound(f"lake folder not found: {source}")
        if self._file_system.get_directory_client(clean_lake_path(target)).exists():
            raise LakeError(f"rename target exists: {target}")
        try:
            directory.rename_directory(f"{self.container}/{clean_lake_path(target)}")
        except ResourceNotFoundError as exc:
            raise LakeNotFound(f"lake folder not found: {source}") from exc

    def url(self, path: str) -> str:
        base = f"{dfs_url(self.account_url)}/{self.container}"
        return f"{base}/{clean_lake_path(path)}" if path else base
