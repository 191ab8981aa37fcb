"""Identifiers and literals: validated and quoted by one function per dialect.

Column names come from source files, so they are untrusted: an identifier must be printable, at most
128 characters and free of control characters; it is then quoted, with the closing quote doubled.
"""

from __future__ import annotations

import re

from shared.errors import SqlEndpointError

_BAD = re.compile(r"[\x00-\x1f\x7f]")
MAX_IDENTIFIER = 128


def validate_identifier(name: str) -> str:
    if not name or len(name) > MAX_IDENTIFIER or _BAD.search(name) or name != name.strip():
        raise SqlEndpointError(f"invalid SQL identifier {name!r}: 1–{MAX_IDENTIFIER} printable characters, "
                               "no leading/trailing spaces")
    return name


def quote_identifier(name: str, dialect: str) -> str:
    """``[name]`` for T-SQL, ``"name"`` for DuckDB; the closing quote character is doubled."""
    validate_identifier(name)
    if dialect == "tsql":
        return "[" + name.replace("]", "]]") + "]"
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str, dialect: str) -> str:
    """A string literal with single quotes doubled (``N''`` for T-SQL so UTF-8 text survives)."""
    if _BAD.search(value.replace("\n", "").replace("\t", "")):
        raise SqlEndpointError("control characters are not allowed in SQL literals")
    escaped = "'" + value.replace("'", "''") + "'"
    return ("N" + escaped) if dialect == "tsql" else escaped


def duckdb_value(value: object) -> str:
    """A DuckDB literal for a boolean, a number or (quoted) text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return quote_literal(str(value), "duckdb")


def qualified(schema: str, name: str, dialect: str) -> str:
    return f"{quote_identifier(schema, dialect)}.{quote_identifier(name, dialect)}"
