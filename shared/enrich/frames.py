"""Loading enrichment inputs (unified activity, measures) as pandas frames."""

from __future__ import annotations

import pandas as pd

from shared.lakeio import read_parquet
from shared.names import Col
from shared.ports import Lake


def orders_frame(lake: Lake, activity_path: str) -> pd.DataFrame:
    """SalesOrder activities: customer, time, amount, return flag (tz-aware UTC times)."""
    table = read_parquet(lake, activity_path, [Col.CUSTOMER_ID, Col.ACTIVITY_TYPE, Col.ACTIVITY_TIME, Col.AMOUNT,
                                               Col.IS_RETURN])
    frame = table.to_pandas()
    frame = frame[frame[Col.ACTIVITY_TYPE] == "SalesOrder"].drop(columns=[Col.ACTIVITY_TYPE])
    frame[Col.AMOUNT] = frame[Col.AMOUNT].fillna(0.0).astype(float)
    return frame.dropna(subset=[Col.ACTIVITY_TIME])


def lines_frame(lake: Lake, activity_path: str, field: str) -> pd.DataFrame:
    table = read_parquet(lake, activity_path, [Col.CUSTOMER_ID, Col.ACTIVITY_TYPE, field, Col.AMOUNT, Col.IS_RETURN])
    frame = table.to_pandas()
    return frame[(frame[Col.ACTIVITY_TYPE] == "SalesOrderLine") & frame[field].notna() & ~frame[Col.IS_RETURN]]
