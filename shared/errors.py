"""The project's exception types. Each names what failed and where (file, row, field, key path)."""

from __future__ import annotations


class C360Error(Exception):
    """Base class for every error c360 raises on purpose."""


class SettingsError(C360Error):
    """An application setting is missing, unknown or malformed."""


class ConfigError(C360Error):
    """The unification config is invalid; the message names the file and the key path."""


class LakeError(C360Error):
    """A lake operation failed (after the SDK's own retries)."""


class LakeNotFound(LakeError, FileNotFoundError):
    """A lake path does not exist."""


class SourceFileError(C360Error):
    """A landed file cannot be read at all (it is quarantined whole)."""


class MappingError(C360Error):
    """A mapped column is missing from a source file, or holds no single values: the source's mapping (or the
    extract) must be fixed. ``fields`` names the columns at fault."""

    def __init__(self, message: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.fields = fields


class ConfigUnavailable(C360Error):
    """The unification config cannot be loaded, so a landed file cannot be resolved to its table. The event
    starter fails on it: Event Grid delivers the event again (with back-off, for a day, then to the
    dead-letter container) rather than the file being dropped."""


class SqlEndpointError(C360Error):
    """A statement failed on the SQL endpoint; the message carries the statement and the server message."""


class PublishError(C360Error):
    """The dimension could not be published; the previous good run stays published."""


def is_transient(error: BaseException) -> bool:
    """Whether retrying may help: timeouts, dropped connections, throttling and server errors."""
    if isinstance(error, (TimeoutError, ConnectionError)):
        return True
    status = getattr(error, "status_code", None)
    if status is not None and (status == 429 or status >= 500):
        return True
    name = type(error).__name__
    return name in {"ServiceRequestError", "ServiceResponseError", "ServiceRequestTimeoutError",
                    "ServiceResponseTimeoutError", "IncompleteReadError"}
