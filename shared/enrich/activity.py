"""The unified activity table: every order and order line of every source, linked to its CustomerId.

Orders reach a customer through their foreign key to a customer table, via the crosswalk
(``AlternateKey``); order lines through their order. Activity ids are deterministic GUIDs of
``table|key``, so reruns give the same ids. A negative amount (or a return flag) marks a return.
"""

from __future__ import annotations

from shared.config.model import ActivityTable, UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.merge.survivorship import q
from shared.merge.unify import ALTERNATE_KEY
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake
from shared.sql.identifiers import quote_literal

UNIFIED_ACTIVITY = "UnifiedActivity"
_OPTIONAL = {Col.PRODUCT_ID: "ProductId", Col.PRODUCT_NAME: "ProductName", Col.BRAND: "Brand",
             Col.QUANTITY: "Quantity"}


def _attribute(activity: ActivityTable, column: str | None) -> str | None:
    if column is None:
        return None
    mapping = activity.columns.get(column)
    return mapping.attribute(column) if mapping else None


def _lit(value: str) -> str:
    return quote_literal(value, "duckdb")


def _activity_select(config: UnificationConfig, activity: ActivityTable, snapshots: dict[str, str],
                     lake: Lake) -> str | None:
    path = snapshots.get(activity.name)
    if path is None:
        return None
    amount = _attribute(activity, activity.amount)
    flag = _attribute(activity, activity.return_flag)
    source_ref = f"{parquet_source(lake, [path])} a"
    if activity.customer_key and activity.customer_source:
        customer_table = config.source(activity.customer_source)
        customer_key = f"a.{q(_attribute(activity, activity.customer_key) or activity.customer_key)}"
        time = f"a.{q(_attribute(activity, activity.timestamp) or '')}"
        order_id = f"a.{q(Col.SOURCE_KEY)}"
        joins = ""
    else:
        order = config.table(activity.order_source or "")
        assert isinstance(order, ActivityTable)
        order_path = snapshots.get(order.name)
        if order_path is None:
            return None
        customer_table = config.source(order.customer_source or "")
        customer_key = f"o.{q(_attribute(order, order.customer_key) or '')}"
        time = f"o.{q(_attribute(order, order.timestamp) or '')}"
        order_id = f"a.{q(_attribute(activity, activity.order_key) or '')}"
        joins = (f"LEFT JOIN {parquet_source(lake, [order_path])} o ON o.{q(Col.SOURCE_KEY)} = "
                 f"CAST({order_id} AS VARCHAR)")
    amount_sql = f"CAST(a.{q(amount)} AS DOUBLE)" if amount else "NULL::DOUBLE"
    is_return = f"coalesce({amount_sql} < 0, false)"
    if flag:
        is_return = f"(coalesce(CAST(a.{q(flag)} AS BOOLEAN), false) OR {is_return})"
    extras = []
    columns = {m.attribute(c) for c, m in activity.columns.items()}
    for attribute, alias in _OPTIONAL.items():
        extras.append(f"CAST(a.{q(attribute)} AS VARCHAR) AS {q(alias)}" if attribute in columns
                      and alias != "Quantity" else
                      (f"CAST(a.{q(attribute)} AS BIGINT) AS {q(alias)}" if attribute in columns
                       else f"NULL AS {q(alias)}"))
    table_key = f"{activity.data_source}|{activity.table}"
    return (
        f"SELECT x.{q(Col.CUSTOMER_ID)}, "
        f"CAST(md5({_lit(table_key + '|')} || a.{q(Col.SOURCE_KEY)})::UUID AS VARCHAR) AS {q(Col.ACTIVITY_ID)}, "
        f"{_lit(activity.data_source)} AS {q(Col.DATA_SOURCE)}, {_lit(activity.table)} AS SourceTableName, "
        f"a.{q(Col.SOURCE_KEY)} AS SourceActivityId, {_lit(activity.activity_type)} AS {q(Col.ACTIVITY_TYPE)}, "
        f"CAST({time} AS TIMESTAMPTZ) AS {q(Col.ACTIVITY_TIME)}, CAST({order_id} AS VARCHAR) AS {q(Col.ORDER_ID)}, "
        f"{amount_sql} AS {q(Col.AMOUNT)}, {is_return} AS {q(Col.IS_RETURN)}, {', '.join(extras)} "
        f"FROM {source_ref} {joins} "
        f"LEFT JOIN crosswalk x ON x.{q(Col.DATA_SOURCE)} = {_lit(customer_table.data_source)} "
        f"AND x.{q(Col.TABLE)} = {_lit(customer_table.table)} AND x.AlternateValue = CAST({customer_key} AS VARCHAR)"
    )


def unify_activities(lake: Lake, config: UnificationConfig, run_id: str, snapshots: dict[str, str]) -> dict[str, int]:
    """Write ``unified/UnifiedActivity.parquet``; returns counts (rows, linked, unlinked)."""
    paths = RunPaths(run_id)
    with lake_duckdb(lake) as con:
        selects = [s for a in config.activities if (s := _activity_select(config, a, snapshots, lake))]
        con.execute(f"CREATE TEMP VIEW crosswalk AS SELECT {q(Col.CUSTOMER_ID)}, {q(Col.DATA_SOURCE)}, "
                    f"{q(Col.TABLE)}, AlternateValue FROM {parquet_source(lake, [paths.unified(ALTERNATE_KEY)])}")
        if not selects:  # no activity tables configured (or landed yet): an empty table of the full shape
            selects = [f"SELECT NULL::VARCHAR AS {q(Col.CUSTOMER_ID)}, NULL::VARCHAR AS {q(Col.ACTIVITY_ID)}, "
                       f"NULL::VARCHAR AS {q(Col.DATA_SOURCE)}, NULL::VARCHAR AS SourceTableName, "
                       f"NULL::VARCHAR AS SourceActivityId, NULL::VARCHAR AS {q(Col.ACTIVITY_TYPE)}, "
                       f"NULL::TIMESTAMPTZ AS {q(Col.ACTIVITY_TIME)}, NULL::VARCHAR AS {q(Col.ORDER_ID)}, "
                       f"NULL::DOUBLE AS {q(Col.AMOUNT)}, NULL::BOOLEAN AS {q(Col.IS_RETURN)}, "
                       + ", ".join(f"NULL::{'BIGINT' if a == 'Quantity' else 'VARCHAR'} AS {q(a)}"
                                   for a in _OPTIONAL.values()) + " WHERE false"]
        query = " UNION ALL BY NAME ".join(f"({s})" for s in selects)
        con.execute(f"CREATE TEMP TABLE activity AS {query}")
        counted = con.execute(f"SELECT count(*), count({q(Col.CUSTOMER_ID)}) FROM activity").fetchall()
        rows, linked = counted[0] if counted else (0, 0)
        copy_to_lake(con, f"SELECT * FROM activity WHERE {q(Col.CUSTOMER_ID)} IS NOT NULL "
                          f"ORDER BY {q(Col.CUSTOMER_ID)}, {q(Col.ACTIVITY_TIME)}",
                     lake, paths.unified(UNIFIED_ACTIVITY))
    return {"rows": int(rows), "linked": int(linked), "unlinked": int(rows) - int(linked)}
