"""Loading enrichment inputs (unified activity, measures) as pandas frames."""

from __future__ import annotations

import pandas as pd

from shared.lakeio import read_parquet
from shared.names import Col
from shared.ports import Lake


def orders_frame(lake: Lake, activity_path: str) -> pd.DataFrame:
    """SalesOrder activities: customer, time, amount, return flag (tz-aware UTC times). Filtered while the
    file is read: orders and their lines share the table, and the lines never become Python objects."""
    table = read_parquet(lake, activity_path, [Col.CUSTOMER_ID, Col.ACTIVITY_TYPE, Col.ACTIVITY_TIME, Col.AMOUNT,
                                               Col.IS_RETURN], filters=[(Col.ACTIVITY_TYPE, "==", "SalesOrder")])
    frame = table.drop_columns([Col.ACTIVITY_TYPE]).to_pandas()
    frame[Col.AMOUNT] = frame[Col.AMOUNT].fillna(0.0).astype(float)
    return frame.dropna(subset=[Col.ACTIVITY_TIME])
