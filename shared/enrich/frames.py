"""Loading enrichment inputs (unified activity, measures) as pandas frames."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shared.names import Col
from shared.ports import Lake


def _activities(lake: Lake, activity_path: str, columns: list[str], activity_type: str) -> pa.Table:
    """The unified activity's rows of one type, filtered while the file is read: orders and their lines
    share the table, and the other type's rows never become Python objects."""
    with lake.open_read(activity_path) as handle:
        return pq.read_table(handle, columns=columns, filters=[(Col.ACTIVITY_TYPE, "==", activity_type)])


def orders_frame(lake: Lake, activity_path: str) -> pd.DataFrame:
    """SalesOrder activities: customer, time, amount, return flag (tz-aware UTC times)."""
    table = _activities(lake, activity_path, [Col.CUSTOMER_ID, Col.ACTIVITY_TYPE, Col.ACTIVITY_TIME, Col.AMOUNT,
                                              Col.IS_RETURN], "SalesOrder")
    frame = table.drop_columns([Col.ACTIVITY_TYPE]).to_pandas()
    frame[Col.AMOUNT] = frame[Col.AMOUNT].fillna(0.0).astype(float)
    return frame.dropna(subset=[Col.ACTIVITY_TIME])
