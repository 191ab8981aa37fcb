"""One view model, two dialects; identifiers from sources quoted by one function; the pyodbc path on real drivers."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from shared.adapters.synapse_endpoint import OdbcExecutor, RetryPolicy, is_transient, synapse_connection_string
from shared.errors import SqlEndpointError
from shared.sql.identifiers import quote_identifier, quote_literal
from shared.sql.render import (
    SynapseSetup,
    render_drop_view,
    render_duckdb_view,
    render_tsql_setup,
    render_tsql_view,
)
from shared.sql.views import ColumnSpec, ViewSpec, column_specs

HOSTILE = ["x]; DROP TABLE t; --", 'quote"d', "it's", "Ünïcödé naïve", "[bracket]", "a b", "select"]


def tsql_select(view: str) -> exp.Expression:
    """The view's SELECT with the OPENROWSET rowset (which sqlglot does not model) replaced by a table."""
    select = view[view.index("SELECT"):view.index("FROM OPENROWSET")] + "FROM rowset AS r"
    return sqlglot.parse_one(select, read="tsql")


def tsql_with_columns(view: str) -> exp.Expression:
    """The OPENROWSET ``WITH (…)`` column list, parsed as the column list of a table."""
    body = view[view.index(") WITH (") + len(") WITH ("):view.rindex(") AS r")]
    return sqlglot.parse_one(f"CREATE TABLE t ({body})", read="tsql")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_column_names_stay_identifiers_in_both_dialects(tmp_path: Path, name: str) -> None:
    table = pa.table({"CustomerId": ["a", "b"], name: ["x", "y"], "Spend": [1.5, 2.0]})
    pq.write_table(table, tmp_path / "part-0.parquet")
    spec = ViewSpec("c360", "Customer", "curated/runs/r1/Customer", column_specs(table))
    tsql = render_tsql_view(spec, "c360_lake")
    parsed = tsql_select(tsql)
    assert [c.alias_or_name for c in parsed.selects] == ["CustomerId", name, "Spend"]
    assert isinstance(parsed, exp.Select)  # one statement: nothing escaped the quoting
    columns = tsql_with_columns(tsql).find_all(exp.ColumnDef)
    assert [c.name for c in columns] == ["CustomerId", name, "Spend"]
    # the DuckDB twin executes and returns the rows under the same names
    con = duckdb.connect()
    con.execute("CREATE SCHEMA c360")
    con.execute(render_duckdb_view(spec, str(tmp_path)))
    result = con.execute("SELECT * FROM c360.Customer ORDER BY CustomerId")
    assert [d[0] for d in result.description] == ["CustomerId", name, "Spend"]
    assert result.fetchall() == [("a", "x", 1.5), ("b", "y", 2.0)]


@pytest.mark.parametrize("name", HOSTILE)
def test_a_view_is_dropped_by_its_quoted_name_in_both_dialects(name: str) -> None:
    tsql = sqlglot.parse(render_drop_view("c360", name, "tsql"), read="tsql")
    assert len(tsql) == 1 and isinstance(tsql[0], exp.Drop) and tsql[0].args["exists"]
    assert [(t.db, t.name) for t in tsql[0].find_all(exp.Table)] == [("c360", name)]
    con = duckdb.connect()
    con.execute("CREATE SCHEMA c360")
    con.execute(f"CREATE VIEW c360.{quote_identifier(name, 'duckdb')} AS SELECT 1 AS x")
    con.execute(render_drop_view("c360", name, "duckdb"))
    con.execute(render_drop_view("c360", name, "duckdb"))  # IF EXISTS: a second time does nothing
    assert con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'c360'").fetchone() == (0,)


def test_control_characters_and_overlong_names_are_refused() -> None:
    for bad in ("a\x00b", "line\nbreak", "x" * 129, " padded"):
        with pytest.raises(SqlEndpointError):
            quote_identifier(bad, "tsql")
    with pytest.raises(SqlEndpointError):
        quote_literal("a\x1bb", "duckdb")
    assert quote_literal("O'Brien", "tsql") == "N'O''Brien'"
    assert quote_identifier("a]b", "tsql") == "[a]]b]" and quote_identifier('a"b', "duckdb") == '"a""b"'


def test_partition_folders_become_typed_filepath_columns() -> None:
    spec = ViewSpec("c360", "CustomerHistory", "curated/runs/r1/CustomerHistory",
                    (ColumnSpec("CustomerId", "string", 36),), (ColumnSpec("IsCurrent", "boolean"),))
    view = render_tsql_view(spec, "c360_lake")
    assert "BULK 'curated/runs/r1/CustomerHistory/IsCurrent=*/*.parquet'" in view
    cast = tsql_select(view).selects[1]
    assert cast.alias == "IsCurrent" and cast.find(exp.Cast).to.sql("tsql") == "BIT"
    assert "[IsCurrent]" not in view[view.index("WITH"):]  # read from the folder, not the file


def test_setup_is_guarded_so_rerunning_changes_nothing() -> None:
    batches = render_tsql_setup(SynapseSetup("c360", "c360", "c360_lake", "c360_identity",
                                             "https://acct.dfs.core.windows.net/lake", "c360_readers"), "pw'd")
    creates = [b for b in batches if "CREATE" in b]
    assert creates and all(b.startswith("IF ") for b in creates)
    assert "PASSWORD = 'pw''d'" in batches[0]  # quotes doubled: a generated password cannot break out
    assert any("IDENTITY = 'Managed Identity'" in b for b in batches)
    assert any("LOCATION = 'https://acct.dfs.core.windows.net/lake'" in b for b in batches)


# -- the pyodbc executor on real ODBC drivers --------------------------------------------------------------

def sqlite_driver() -> str:
    import pyodbc

    names = [d for d in pyodbc.drivers() if d.startswith("SQLite3")]
    if not names:
        pytest.fail("the SQLite3 ODBC driver is not installed (apt-get install libsqliteodbc; make test does)")
    return names[0]


def test_the_odbc_executor_runs_batches_and_queries_through_unixodbc(tmp_path: Path) -> None:
    executor = OdbcExecutor(f"DRIVER={{{sqlite_driver()}}};Database={tmp_path / 'c360.db'}")
    executor.execute_batches(["CREATE TABLE customer (id TEXT, spend REAL)",
                              "INSERT INTO customer VALUES ('a', 1.5), ('b', 2.5)",
                              "CREATE VIEW dim AS SELECT id, spend * 2 AS double_spend FROM customer"])
    assert executor.query("SELECT id, double_spend FROM dim ORDER BY id") == [("a", 3.0), ("b", 5.0)]
    assert executor.query_with_columns("SELECT id, double_spend FROM dim WHERE id = 'b'") == (
        ["id", "double_spend"], [("b", 5.0)])


def test_a_failing_statement_names_the_statement_and_the_server_message(tmp_path: Path) -> None:
    executor = OdbcExecutor(f"DRIVER={{{sqlite_driver()}}};Database={tmp_path / 'c360.db'}",
                            RetryPolicy(attempts=3, first_delay=0.0))
    with pytest.raises(SqlEndpointError) as caught:
        executor.execute_batches(["CREATE OR ALTER VIEW v AS SELECT 1"])  # T-SQL: SQLite refuses it
    assert "CREATE OR ALTER VIEW v AS SELECT 1" in str(caught.value) and "syntax error" in str(caught.value)


def test_transient_errors_are_retried_with_backoff_then_succeed(tmp_path: Path) -> None:
    import pyodbc

    class Flaky(OdbcExecutor):
        failures = 2

        def _connect(self):
            if Flaky.failures:
                Flaky.failures -= 1
                raise pyodbc.OperationalError("08S01", "[08S01] Communication link failure (10054)")
            return super()._connect()

    sleeps: list[float] = []
    executor = Flaky(f"DRIVER={{{sqlite_driver()}}};Database={tmp_path / 'c360.db'}",
                     RetryPolicy(attempts=5, first_delay=0.5, factor=2.0), sleep=sleeps.append)
    assert executor.query("SELECT 40 + 2") == [(42,)]
    assert sleeps == [0.5, 1.0]
    assert is_transient(pyodbc.OperationalError("HYT00", "Login timeout expired"))
    assert not is_transient(pyodbc.ProgrammingError("42000", "Incorrect syntax near 'x' (102)"))


def odbc_driver_18() -> Path:
    import mssql_python_odbc

    library = Path(mssql_python_odbc.get_libs_dir()) / "linux" / "debian_ubuntu" / "x86_64" / "lib"
    found = sorted(library.glob("libmsodbcsql-18*.so*"))
    assert found, f"ODBC Driver 18 not found under {library}"
    return found[0]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # closed again when the probe closes


def test_odbc_driver_18_loads_and_times_out_cleanly_against_a_closed_port() -> None:
    production = synapse_connection_string("ws-ondemand.sql.azuresynapse.net", "c360")
    assert "Authentication=ActiveDirectoryMsi" in production and "Encrypt=yes" in production
    local = (production.replace("{ODBC Driver 18 for SQL Server}", str(odbc_driver_18()))
             .replace("tcp:ws-ondemand.sql.azuresynapse.net,1433", f"tcp:127.0.0.1,{closed_port()}"))
    sleeps: list[float] = []
    executor = OdbcExecutor(local, RetryPolicy(attempts=2, first_delay=0.1, deadline_seconds=30), sleep=sleeps.append,
                            login_timeout=2)
    started = time.monotonic()
    with pytest.raises(SqlEndpointError) as caught:
        executor.query("SELECT 1")
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert "ODBC Driver 18 for SQL Server" in message, message  # the driver itself answered
    assert "HYT00" in message or "08001" in message, message
    assert sleeps == [0.1]  # a login timeout is transient: retried once, then reported
    assert 3.5 < elapsed < 10, elapsed  # two attempts of a 2 s login timeout (the driver default is 15 s)


def _hold(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file (a DuckDB shell, a notebook) for ``seconds``."""
    holder = subprocess.Popen([sys.executable, "-c", f"import duckdb, sys, time\nc = duckdb.connect({str(path)!r})\n"
                               f"print('held', flush=True)\ntime.sleep({seconds})"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    return holder


def test_a_duckdb_file_held_by_another_process_is_waited_for_then_named(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """``c360 sql`` during another process's hold was an IOException traceback: a short hold (a publish
    switching views) is waited out, a long one is an error naming the process."""
    from shared.adapters import duckdb_endpoint
    from shared.adapters.duckdb_endpoint import DuckDbEndpoint
    from shared.adapters.local_lake import LocalLake

    path = tmp_path / "lake.duckdb"
    endpoint = DuckDbEndpoint(path, LocalLake(tmp_path / "lake"))
    endpoint.execute_batches(["CREATE TABLE t AS SELECT 42 AS answer"])
    brief = _hold(path, 1.0)
    assert endpoint.query("SELECT answer FROM t") == [(42,)]  # waited until the holder let go
    brief.wait(timeout=30)
    monkeypatch.setattr(duckdb_endpoint, "LOCK_WAIT_SECONDS", 0.5)
    long = _hold(path, 30.0)
    try:
        with pytest.raises(SqlEndpointError, match=r"is held by another process \(.*python.*, PID \d+\)"):
            endpoint.query("SELECT answer FROM t")
    finally:
        long.kill()
        long.wait()
