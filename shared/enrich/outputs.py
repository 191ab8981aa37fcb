"""The columns enrichment adds to the dimension, and their kind: what a segment condition may name.

Checked against the dimension a demo run publishes (``tests/test_pipeline_e2e.py``), so this list cannot
drift from what the enrichments write.
"""

from __future__ import annotations

from typing import Literal

Kind = Literal["number", "text", "boolean", "time", "any"]

ENRICHMENT_COLUMNS: dict[str, Kind] = {
    # built-in measures (shared.enrich.measures)
    "TotalSpend": "number", "TransactionCount": "number", "AverageOrderValue": "number", "FirstPurchase": "time",
    "LastPurchase": "time", "TenureDays": "number", "DaysSinceLastPurchase": "number", "ReturnRate": "number",
    # lifetime value (shared.enrich.clv)
    "ExpectedPurchases": "number", "ExpectedOrderValue": "number", "LifetimeValue": "number",
    "ProbabilityAlive": "number", "IsHighValue": "boolean", "BaselineLifetimeValue": "number",
    # churn (shared.enrich.churn)
    "ChurnScore": "number", "IsChurn": "boolean",
    # brand affinity (shared.enrich.affinity)
    "TopBrand": "text", "TopBrandAffinity": "number", "TopBrandLevel": "text",
    # RFM and segments (shared.enrich.segments)
    "RecencyScore": "number", "FrequencyScore": "number", "MonetaryScore": "number", "RfmScore": "text",
    "RfmSegment": "text", "Segments": "text",
}

MEASURE_KINDS: dict[str, Kind] = {"sum": "number", "average": "number", "count": "number", "count_unique": "number"}
