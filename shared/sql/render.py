"""Render a ``ViewSpec`` to T-SQL (Synapse serverless) or DuckDB, plus the one-time T-SQL setup.

Pure functions: they return statement text and never execute it.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.sql.identifiers import qualified, quote_identifier, quote_literal
from shared.sql.views import ColumnSpec, ViewSpec

COLLATION = "Latin1_General_100_BIN2_UTF8"


def tsql_type(column: ColumnSpec) -> str:
    if column.type == "string":
        return f"varchar({column.max_length})" if column.max_length else "varchar(max)"
    return {"int32": "int", "int64": "bigint", "double": "float", "boolean": "bit", "date": "date",
            "datetime": "datetime2(6)", "decimal": f"decimal({column.precision},{column.scale})"}[column.type]


def duckdb_type(column: ColumnSpec) -> str:
    if column.type == "string":
        return "VARCHAR"
    return {"int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE",
            "datetime": "TIMESTAMP", "decimal": f"DECIMAL({column.precision},{column.scale})"}[column.type]


def _bulk_pattern(spec: ViewSpec) -> str:
    wildcards = "".join(f"/{p.name}=*" for p in spec.partitions)
    return f"{spec.location.strip('/')}{wildcards}/*.parquet"


def render_tsql_view(spec: ViewSpec, data_source: str) -> str:
    """``CREATE OR ALTER VIEW`` over ``OPENROWSET(BULK …)`` with an explicit ``WITH`` schema.

    Partition folders are read through ``filepath(n)`` and cast to their type, so filters on them
    eliminate folders (``filepath`` works in views, not in external tables).
    """
    q = "tsql"
    select = [f"r.{quote_identifier(c.name, q)}" for c in spec.columns]
    select += [f"CAST(r.filepath({i}) AS {tsql_type(p)}) AS {quote_identifier(p.name, q)}"
               for i, p in enumerate(spec.partitions, start=1)]
    with_columns = ",\n        ".join(f"{quote_identifier(c.name, q)} {tsql_type(c)}" for c in spec.columns)
    return (
        f"CREATE OR ALTER VIEW {qualified(spec.schema, spec.name, q)} AS\n"
        f"SELECT {', '.join(select)}\n"
        f"FROM OPENROWSET(\n"
        f"    BULK {quote_literal(_bulk_pattern(spec), q)[1:]},\n"
        f"    DATA_SOURCE = {quote_literal(data_source, q)[1:]},\n"
        f"    FORMAT = 'PARQUET'\n"
        f") WITH (\n        {with_columns}\n    ) AS r"
    )


def render_duckdb_view(spec: ViewSpec, location_url: str) -> str:
    """``CREATE OR REPLACE VIEW`` over ``read_parquet`` with the same columns, cast to the same types."""
    q = "duckdb"
    columns = [*spec.columns, *spec.partitions]
    select = ", ".join(f"CAST({quote_identifier(c.name, q)} AS {duckdb_type(c)}) AS {quote_identifier(c.name, q)}"
                       for c in columns)
    pattern = location_url.rstrip("/") + ("/**/*.parquet" if spec.partitions else "/*.parquet")
    hive = "true" if spec.partitions else "false"
    return (f"CREATE OR REPLACE VIEW {qualified(spec.schema, spec.name, q)} AS\n"
            f"SELECT {select}\n"
            f"FROM read_parquet({quote_literal(pattern, q)}, hive_partitioning = {hive}, union_by_name = true)")


@dataclass(frozen=True)
class SynapseSetup:
    """Names of the one-time objects of the logical data warehouse."""

    database: str
    schema: str
    data_source: str
    credential: str
    location: str  # https://<account>.dfs.core.windows.net/<container>
    reader_role: str


def render_tsql_database(setup: SynapseSetup) -> list[str]:
    """Run in ``master``: the database, with the UTF-8 BIN2 collation Parquet string pushdown needs."""
    db = quote_identifier(setup.database, "tsql")
    return [f"IF DB_ID({quote_literal(setup.database, 'tsql')}) IS NULL\n"
            f"    CREATE DATABASE {db} COLLATE {COLLATION}"]


def render_tsql_setup(setup: SynapseSetup, master_key_password: str) -> list[str]:
    """Run in the database: master key, managed-identity credential, data source, schema, reader role.

    Every batch is guarded by an existence check, so running it again changes nothing.
    """
    q = "tsql"
    cred, src = quote_identifier(setup.credential, q), quote_identifier(setup.data_source, q)
    schema, role = quote_identifier(setup.schema, q), quote_identifier(setup.reader_role, q)
    create_schema = quote_literal(f"CREATE SCHEMA {schema}", q)
    return [
        "IF NOT EXISTS (SELECT 1 FROM sys.symmetric_keys WHERE name = '##MS_DatabaseMasterKey##')\n"
        f"    CREATE MASTER KEY ENCRYPTION BY PASSWORD = {quote_literal(master_key_password, q)[1:]}",
        "IF NOT EXISTS (SELECT 1 FROM sys.database_scoped_credentials "
        f"WHERE name = {quote_literal(setup.credential, q)})\n"
        f"    CREATE DATABASE SCOPED CREDENTIAL {cred} WITH IDENTITY = 'Managed Identity'",
        f"IF NOT EXISTS (SELECT 1 FROM sys.external_data_sources WHERE name = {quote_literal(setup.data_source, q)})\n"
        f"    CREATE EXTERNAL DATA SOURCE {src} WITH (\n"
        f"        LOCATION = {quote_literal(setup.location, q)[1:]},\n"
        f"        CREDENTIAL = {cred})",
        f"IF SCHEMA_ID({quote_literal(setup.schema, q)}) IS NULL\n    EXEC({create_schema})",
        f"IF DATABASE_PRINCIPAL_ID({quote_literal(setup.reader_role, q)}) IS NULL\n    CREATE ROLE {role}",
        f"GRANT SELECT ON SCHEMA::{schema} TO {role}",
        f"GRANT REFERENCES ON DATABASE SCOPED CREDENTIAL::{cred} TO {role}",
    ]


def render_duckdb_setup(schema: str) -> list[str]:
    return [f"CREATE SCHEMA IF NOT EXISTS {quote_identifier(schema, 'duckdb')}"]


def render_drop_view(schema: str, name: str, dialect: str) -> str:
    return f"DROP VIEW IF EXISTS {qualified(schema, name, dialect)}"


def render_tsql_identity_user(identity_name: str) -> list[str]:
    """Run in the database once (post-deploy): the function's managed identity as a database user that
    may create the credential, data source, schema and views."""
    user = quote_identifier(identity_name, "tsql")
    return [f"IF DATABASE_PRINCIPAL_ID({quote_literal(identity_name, 'tsql')}) IS NULL\n"
            f"    CREATE USER {user} FROM EXTERNAL PROVIDER",
            f"ALTER ROLE db_owner ADD MEMBER {user}"]


def script(batches: list[str]) -> str:
    """Batches as a sqlcmd script (``GO`` between batches)."""
    return "".join(f"{batch}\nGO\n" for batch in batches)
