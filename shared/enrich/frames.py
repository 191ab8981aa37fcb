"""The orders the transactional models read, as a DuckDB view, so that no order becomes a Python object.

At 5 M customers (16 M orders) the orders held as a pandas frame took lifetime value to 7.0 GB and churn
to 5.8 GB of process; the models only need per-customer aggregates, which DuckDB computes out of core.

The view ``orders`` has the columns every model query reads:

- ``customer``: the customer key (``CustomerId``; rows without one are no customer's and are left out);
- ``us``: the order time as microseconds since the epoch, UTC (integers: day boundaries and windows are
  the same whatever the session's time zone, and pandas' UTC ``floor("D")`` is ``us // DAY_US``);
- ``amount`` (a missing amount is 0), ``is_return``;
- ``row``: the order's position in its file, which breaks ties between orders of the same instant
  the way a stable sort of the file would.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from shared.duck import parquet_source
from shared.merge.survivorship import q
from shared.names import Col
from shared.ports import Lake

DAY_US = 86_400_000_000
ORDERS = "orders"


def orders_view(con: duckdb.DuckDBPyConnection, lake: Lake, activity_path: str) -> None:
    """View ``orders`` over the unified activity file: its ``SalesOrder`` rows with a time."""
    _orders(con, parquet_source(lake, [activity_path], row_numbers=True), Col.CUSTOMER_ID, Col.ACTIVITY_TIME,
            Col.AMOUNT, f"coalesce({q(Col.IS_RETURN)}, false)", "file_row_number",
            f"{q(Col.ACTIVITY_TYPE)} = 'SalesOrder'")


def register_orders(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, customer: str, time: str, amount: str,
                    is_return: str | None = None) -> None:
    """View ``orders`` over a pandas frame of orders (its columns named by the arguments; without
    ``is_return`` no order is a return): for notebooks, benchmarks and tests."""
    con.register("orders_frame", frame)
    _orders(con, "orders_frame", customer, time, amount,
            f"coalesce({q(is_return)}, false)" if is_return else "false", "row_number() OVER () - 1")


def _orders(con: duckdb.DuckDBPyConnection, source: str, customer: str, time: str, amount: str, is_return: str,
            row: str, where: str = "true") -> None:
    """View ``orders`` over ``source``: the named columns, ``is_return`` and ``row`` as SQL; rows ``where``
    holds with a time and a customer."""
    con.execute(f"""CREATE OR REPLACE TEMP VIEW {ORDERS} AS
        SELECT {q(customer)} AS customer, epoch_us({q(time)}) AS us, coalesce({q(amount)}, 0)::DOUBLE AS amount,
               {is_return} AS is_return, {row} AS row
        FROM {source} WHERE {where} AND {q(time)} IS NOT NULL AND {q(customer)} IS NOT NULL""")


def day_sql(us: str) -> str:
    """SQL: the UTC day number of a microsecond time (floor division, also before 1970)."""
    return f"(({us}) // {DAY_US} - CASE WHEN ({us}) % {DAY_US} < 0 THEN 1 ELSE 0 END)"


def timestamp_us(at: pd.Timestamp) -> int:
    """A timestamp as microseconds since the epoch (a naive one read as UTC, as DuckDB reads it)."""
    return int(at.value // 1000)
