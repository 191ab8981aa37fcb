"""Customer attribute measures: built-in KPIs plus the measures defined in the config.

Built in (from SalesOrder activities): total spend (returns subtract), transaction count (purchases),
average order value, first and last purchase, tenure and days since last purchase at the reference
date, and return rate (returns / all orders). Configured measures aggregate any activity attribute
with Sum, Average, Count, Count unique, Max, Min, First, Last (ties in time: by source key), ArgMax,
ArgMin, with equality filters, an activity type and a time window ending at the reference date.
"""

from __future__ import annotations

from shared.config.model import Measure, UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.merge.survivorship import q
from shared.names import Col
from shared.ports import Lake
from shared.sql.identifiers import duckdb_value, quote_literal

MEASURES = "CustomerMeasure"


def measure_expression(measure: Measure, as_of: str) -> str:
    """The aggregate for one configured measure over ``activity`` rows, windows ending at ``as_of`` (SQL)."""
    filters = [f"{q(Col.ACTIVITY_TYPE)} = {duckdb_value(measure.activity_type)}"] if measure.activity_type else []
    filters += [f"{q(k)} = {duckdb_value(v)}" for k, v in measure.where.items()]
    if measure.window_days:
        filters.append(f"{q(Col.ACTIVITY_TIME)} > {as_of} - INTERVAL {int(measure.window_days)} DAY")
    where = " AND ".join(filters) or "true"
    field = q(measure.field) if measure.field else "*"
    time = q(Col.ACTIVITY_TIME)
    simple = {"sum": "sum", "average": "avg", "count": "count", "max": "max", "min": "min"}
    if measure.aggregation in simple:
        aggregate = f"{simple[measure.aggregation]}({field})"
    elif measure.aggregation == "count_unique":
        aggregate = f"count(DISTINCT {field})"
    elif measure.aggregation in ("first", "last"):
        # activities at the same time (the lines of one order) are ordered by their source key
        aggregate = (f"{'arg_min' if measure.aggregation == 'first' else 'arg_max'}({field}, "
                     f"({time}, SourceActivityId))")
    else:
        aggregate = f"{'arg_max' if measure.aggregation == 'argmax' else 'arg_min'}({q(measure.of or '')}, {field})"
    return f"{aggregate} FILTER (WHERE {where})"


def measures_sql(config: UnificationConfig, activity: str, as_of_iso: str) -> str:
    as_of = f"{quote_literal(as_of_iso, 'duckdb')}::TIMESTAMPTZ"
    order = f"{q(Col.ACTIVITY_TYPE)} = 'SalesOrder'"
    purchase = f"{order} AND NOT {q(Col.IS_RETURN)}"
    built_in = [
        f"round(coalesce(sum({q(Col.AMOUNT)}) FILTER (WHERE {order}), 0), 2) AS TotalSpend",
        f"count(*) FILTER (WHERE {purchase}) AS TransactionCount",
        f"round(avg({q(Col.AMOUNT)}) FILTER (WHERE {purchase}), 2) AS AverageOrderValue",
        f"min({q(Col.ACTIVITY_TIME)}) FILTER (WHERE {purchase}) AS FirstPurchase",
        f"max({q(Col.ACTIVITY_TIME)}) FILTER (WHERE {purchase}) AS LastPurchase",
        f"date_diff('day', min({q(Col.ACTIVITY_TIME)}) FILTER (WHERE {purchase}), {as_of}) AS TenureDays",
        f"date_diff('day', max({q(Col.ACTIVITY_TIME)}) FILTER (WHERE {purchase}), {as_of}) AS DaysSinceLastPurchase",
        f"round(count(*) FILTER (WHERE {order} AND {q(Col.IS_RETURN)})::DOUBLE / "
        f"nullif(count(*) FILTER (WHERE {order}), 0), 4) AS ReturnRate",
    ]
    custom = [f"{measure_expression(m, as_of)} AS {q(m.name)}" for m in config.enrichment.measures]
    return (f"SELECT {q(Col.CUSTOMER_ID)}, {', '.join(built_in + custom)} FROM {activity} "
            f"WHERE {q(Col.ACTIVITY_TIME)} <= {as_of} GROUP BY {q(Col.CUSTOMER_ID)}")


def reference_date(lake: Lake, config: UnificationConfig, activity_path: str) -> str:
    """The as-of date of enrichment: the config's, else the latest activity time."""
    if config.enrichment.as_of:
        return config.enrichment.as_of
    with lake_duckdb(lake) as con:
        row = con.execute(f"SELECT max({q(Col.ACTIVITY_TIME)}) "
                          f"FROM {parquet_source(lake, [activity_path])}").fetchall()[0]
    return (row[0].isoformat() if row and row[0] else "1970-01-01T00:00:00+00:00")


def compute_measures(lake: Lake, config: UnificationConfig, activity_path: str, output: str) -> int:
    as_of = reference_date(lake, config, activity_path)
    with lake_duckdb(lake) as con:
        return copy_to_lake(con, measures_sql(config, parquet_source(lake, [activity_path]), as_of) +
                            f" ORDER BY {q(Col.CUSTOMER_ID)}", lake, output)
