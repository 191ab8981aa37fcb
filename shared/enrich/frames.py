"""Loading enrichment inputs (unified activity, measures) as pandas frames."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
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


def line_counts(lake: Lake, activity_path: str, field: str) -> pd.DataFrame:
    """Per (customer, ``field`` value): ``Lines`` bought, returns and lines without a value left out.
    Counted in Arrow: a million customers' 7.4 M order lines as pandas rows took brand affinity to 3.5 GB."""
    table = _activities(lake, activity_path, [Col.CUSTOMER_ID, Col.ACTIVITY_TYPE, field, Col.IS_RETURN],
                        "SalesOrderLine")
    kept = table.filter(pc.and_(pc.is_valid(table[field]), pc.invert(pc.fill_null(table[Col.IS_RETURN], False))))
    counts = kept.group_by([Col.CUSTOMER_ID, field]).aggregate([([], "count_all")])
    frame = counts.to_pandas().rename(columns={"count_all": "Lines"})
    return frame[[Col.CUSTOMER_ID, field, "Lines"]]
