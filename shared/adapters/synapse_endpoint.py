"""``SynapseEndpoint``: Synapse serverless SQL through pyodbc and Microsoft ODBC Driver 18.

One batch per ``execute`` call (``GO`` separates batches in scripts; ODBC takes one at a time).
Transient errors (connection drops, timeouts, throttling) are retried with exponential backoff until a
deadline; any other error fails at once with the statement and the server's message.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.errors import SqlEndpointError

log = logging.getLogger(__name__)

# SQLSTATEs and native error numbers that are worth retrying (connectivity, timeouts, throttling,
# serverless pool warm-up). Everything else is a real error in the statement or permissions.
TRANSIENT_SQLSTATES = frozenset({"08S01", "08001", "08004", "HYT00", "HYT01", "40001"})
TRANSIENT_NUMBERS = frozenset({4060, 10053, 10054, 10060, 40197, 40501, 40613, 49918, 49919, 49920, 233, 64})


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    first_delay: float = 1.0
    factor: float = 2.0
    deadline_seconds: float = 120.0


def is_transient(error: Exception) -> bool:
    args: tuple[object, ...] = tuple(getattr(error, "args", ()))
    state = str(args[0]) if args else ""
    message = str(args[1]) if len(args) > 1 else str(error)
    return state in TRANSIENT_SQLSTATES or any(f"({n})" in message for n in TRANSIENT_NUMBERS)


def synapse_connection_string(server: str, database: str, client_id: str = "") -> str:
    """Managed-identity authentication: no password ever appears in settings or code. (The login timeout
    is not a connection-string keyword for ODBC — ``Connection Timeout`` is silently ignored — so the
    executor sets it on the connection instead.)"""
    uid = f"UID={client_id};" if client_id else ""
    return ("DRIVER={ODBC Driver 18 for SQL Server};"
            f"SERVER=tcp:{server},1433;DATABASE={database};{uid}"
            "Authentication=ActiveDirectoryMsi;Encrypt=yes;TrustServerCertificate=no;")


def _execute(connection: Any, statement: str) -> Any:
    return connection.cursor().execute(statement)


class OdbcExecutor:
    """Runs batches over one pyodbc connection string with retries on transient errors."""

    def __init__(self, connection_string: str, policy: RetryPolicy = RetryPolicy(),
                 sleep: Callable[[float], None] = time.sleep, login_timeout: int = 30) -> None:
        self._connection_string = connection_string
        self._policy = policy
        self._sleep = sleep
        self._login_timeout = login_timeout

    def _connect(self) -> Any:
        import pyodbc

        return pyodbc.connect(self._connection_string, autocommit=True, timeout=self._login_timeout)

    def _with_retries(self, what: str, work: Callable[[Any], Any]) -> Any:
        import pyodbc

        started, delay = time.monotonic(), self._policy.first_delay
        for attempt in range(1, self._policy.attempts + 1):
            try:
                connection = self._connect()
                try:
                    return work(connection)
                finally:
                    connection.close()
            except pyodbc.Error as exc:
                elapsed = time.monotonic() - started
                if (not is_transient(exc) or attempt == self._policy.attempts
                        or elapsed + delay > self._policy.deadline_seconds):
                    raise SqlEndpointError(f"SQL endpoint failed on:\n{what}\n-- {exc}") from exc
                log.warning("transient SQL error (attempt %d), retrying in %.1fs: %s", attempt, delay, exc)
                self._sleep(delay)
                delay *= self._policy.factor
        raise AssertionError("unreachable")

    def execute_batches(self, batches: Sequence[str]) -> None:
        for batch in batches:
            self._with_retries(batch, functools.partial(_execute, statement=batch))

    def query(self, sql: str) -> list[tuple[object, ...]]:
        return self.query_with_columns(sql)[1]

    def query_with_columns(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        def run(connection: Any) -> tuple[list[str], list[tuple[object, ...]]]:
            cursor = connection.cursor().execute(sql)
            rows = [tuple(r) for r in cursor.fetchall()]
            return [d[0] for d in cursor.description or []], rows

        return self._with_retries(sql, run)


class SynapseEndpoint(OdbcExecutor):
    """The serverless SQL endpoint of a Synapse workspace."""

    dialect = "tsql"

    def __init__(self, server: str, database: str, client_id: str = "", policy: RetryPolicy = RetryPolicy()) -> None:
        super().__init__(synapse_connection_string(server, database, client_id), policy)
        self.server, self.database = server, database

    def master(self) -> OdbcExecutor:
        """An executor on ``master`` (the database itself is created there)."""
        return OdbcExecutor(self._connection_string.replace(f"DATABASE={self.database};", "DATABASE=master;"),
                            self._policy)
