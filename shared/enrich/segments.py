"""Segments: RFM scores with named RFM segments, and rule-based segments from the config.

RFM scores are quintiles (5 = best) of recency (days since last purchase, fewer is better), frequency
and monetary value over customers with purchases; named segments follow the common R × FM grid.
Config segments combine conditions on any dimension column (profile, measure, prediction) with
``all``/``any`` and set operations (``union``, ``intersect``, ``exclude``: first minus the others).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from shared.config.model import Segment, SegmentCondition, SegmentRule

log = logging.getLogger(__name__)
RFM_SEGMENTS = [  # (name, R range, FM range) over the 1–5 scores
    ("Champions", (5, 5), (4, 5)), ("Loyal", (3, 5), (4, 5)), ("Potential Loyalist", (4, 5), (2, 3)),
    ("New Customers", (5, 5), (1, 1)), ("Promising", (4, 4), (1, 1)), ("Needs Attention", (3, 3), (3, 3)),
    ("About To Sleep", (3, 3), (1, 2)), ("Can't Lose Them", (1, 1), (4, 5)), ("At Risk", (2, 2), (4, 5)),
    ("Hibernating", (2, 2), (1, 3)), ("Lost", (1, 1), (1, 3)),
]


def rfm_sql(buyers: str) -> str:
    """RFM scores of the customers in ``buyers`` (a table or query with ``i``, the customer's position in
    CustomerId order, and the measures DaysSinceLastPurchase, TransactionCount and TotalSpend of customers
    with purchases): ``i``, RecencyScore, FrequencyScore, MonetaryScore (quintiles 1–5, 5 = best; ties
    ranked in customer order, so the scores do not depend on how the Customer table was sharded),
    RfmScore ("RFM" digits) and RfmSegment. DuckDB ranks the customers, spilling to disk as it must: at
    five million customers pandas' ranks held 600 MB beside the rules' columns."""

    def quintile(value: str) -> str:  # pandas' rank(method="first", pct=True), then ceil(rank × 5)
        rank = f"row_number() OVER (ORDER BY {value} NULLS LAST, i)::DOUBLE / count({value}) OVER ()"
        return f"least(greatest(ceil({rank} * 5), 1), 5)::BIGINT"

    named = " ".join(f"WHEN r BETWEEN {r_lo} AND {r_hi} AND fm BETWEEN {fm_lo} AND {fm_hi} THEN {_text(name)}"
                     for name, (r_lo, r_hi), (fm_lo, fm_hi) in RFM_SEGMENTS)
    scores = (f"{quintile('-DaysSinceLastPurchase::DOUBLE')} AS r, {quintile('TransactionCount::DOUBLE')} AS f, "
              f"{quintile('TotalSpend::DOUBLE')} AS m")
    return f"""
        SELECT i, r AS RecencyScore, f AS FrequencyScore, m AS MonetaryScore,
               CAST(r * 100 + f * 10 + m AS VARCHAR) AS RfmScore, CASE {named} ELSE 'Other' END AS RfmSegment
        FROM (SELECT *, ceil((f + m) / 2)::BIGINT AS fm FROM (SELECT i, {scores} FROM {buyers}))"""


def _text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _condition(frame: pd.DataFrame, condition: SegmentCondition) -> pd.Series:
    """Which rows meet the condition; a missing value meets none but ``is_null``, as in SQL (and Customer
    Insights' segments): ``TopBrand != Volt`` leaves out customers without a top brand."""
    if condition.field not in frame.columns:  # e.g. an enrichment that was disabled or had too little data
        log.warning("segment condition on %r: the field is not in this run's dimension; no customer meets it",
                    condition.field)
        return pd.Series(False, index=frame.index)
    column = frame[condition.field]
    value: Any = condition.value
    if condition.op in ("in", "not_in"):
        value = value or []
        if pd.api.types.is_datetime64_any_dtype(column):
            value = _instants(column, value)  # isin does not parse ISO strings as the comparisons do
    ops = {
        "=": lambda: column == value, "!=": lambda: (column != value) & column.notna(), ">": lambda: column > value,
        ">=": lambda: column >= value, "<": lambda: column < value, "<=": lambda: column <= value,
        "in": lambda: column.isin(value), "not_in": lambda: ~column.isin(value) & column.notna(),
        "is_null": lambda: column.isna(), "not_null": lambda: column.notna(),
        "contains": lambda: column.astype(str).str.contains(str(value), case=False, regex=False),
    }
    return ops[condition.op]().fillna(False).astype(bool)


def _instants(column: pd.Series, values: list[Any]) -> pd.DatetimeIndex:
    """ISO date strings as instants comparable with a date/time ``column``: in its zone, if it has one."""
    instants = pd.DatetimeIndex(pd.to_datetime(values))
    zone = getattr(column.dtype, "tz", None)
    if zone is not None and instants.tz is None:
        return instants.tz_localize(zone)
    return instants if zone is not None or instants.tz is None else instants.tz_convert(None)


def _rule(frame: pd.DataFrame, rule: SegmentRule) -> pd.Series:
    def evaluate(item: SegmentCondition | SegmentRule) -> pd.Series:
        return _rule(frame, item) if isinstance(item, SegmentRule) else _condition(frame, item)

    result = pd.Series(True, index=frame.index)
    if rule.all:
        for item in rule.all:
            result &= evaluate(item)
    if rule.any:
        anything = pd.Series(False, index=frame.index)
        for item in rule.any:
            anything |= evaluate(item)
        result &= anything
    return result


def segment_fields(segments: list[Segment]) -> set[str]:
    """The dimension columns the segments' conditions read."""
    def fields(item: SegmentCondition | SegmentRule) -> set[str]:
        if isinstance(item, SegmentCondition):
            return {item.field}
        return set().union(*(fields(i) for i in [*(item.all or []), *(item.any or [])]))

    return set().union(*(fields(s.rule) for s in segments if s.rule is not None))


def segment_members(frame: pd.DataFrame, segments: list[Segment]) -> dict[str, np.ndarray]:
    """Segment name → a boolean mask over the frame's rows, evaluated in config order (set operations
    use earlier segments: union is any, intersect all, exclude the first and none of the others)."""
    members: dict[str, np.ndarray] = {}
    nobody = np.zeros(len(frame), dtype=bool)
    for segment in segments:
        if segment.rule is not None:
            members[segment.name] = _rule(frame, segment.rule).to_numpy(dtype=bool)
        elif segment.union:
            members[segment.name] = np.logical_or.reduce([members[n] for n in segment.union])
        elif segment.intersect:
            members[segment.name] = np.logical_and.reduce([members[n] for n in segment.intersect])
        elif segment.exclude:
            first, *rest = segment.exclude
            members[segment.name] = members[first] & ~np.logical_or.reduce([nobody, *(members[n] for n in rest)])
        else:
            members[segment.name] = nobody.copy()
    return members
