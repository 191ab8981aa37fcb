"""Brand affinity: how much more a customer buys a brand than the population does, on a 1–100 scale.

For customer c and brand b with n_cb purchased lines out of n_c, the share is shrunk towards the
population share p_b with ``prior_weight`` pseudo-lines (empirical-Bayes smoothing, so one purchase is
not "very high" affinity): s_cb = (n_cb + k·p_b) / (n_c + k). The lift s_cb / p_b is mapped to 1–100 by
the population's lift distribution (percentile rank), and the levels follow Customer Insights: Very high
85–100, High 70–84, Medium 35–69, Low 1–34. Share of voice is the customer's brand shares rescaled to
100 across the brands they bought.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.names import Col

LEVELS = [(85, "Very high"), (70, "High"), (35, "Medium"), (1, "Low")]


def affinity_level(score: pd.Series) -> pd.Series:
    return pd.Series(np.select([score >= t for t, _ in LEVELS], [name for _, name in LEVELS], default="Low"),
                     index=score.index)


def brand_affinity(counts: pd.DataFrame, field: str, prior_weight: float) -> pd.DataFrame:
    """One row per (customer, brand) bought: lines, share, lift, AffinityScore, AffinityLevel, ShareOfVoice;
    ``counts``: the lines bought per (customer, brand), ``Lines``, in any order (``frames.line_counts``)."""
    if counts.empty:
        return pd.DataFrame(columns=[Col.CUSTOMER_ID, "Brand", "Lines", "AffinityScore", "AffinityLevel",
                                     "ShareOfVoice"])
    population = counts.groupby(field)["Lines"].sum() / counts["Lines"].sum()
    per_customer = counts.groupby(Col.CUSTOMER_ID)["Lines"].transform("sum")
    p = counts[field].map(population)
    share = (counts["Lines"] + prior_weight * p) / (per_customer + prior_weight)
    lift = share / p
    score = np.clip(np.ceil(lift.rank(pct=True, method="average") * 100), 1, 100).astype(int)
    raw_share = counts["Lines"] / per_customer
    out = pd.DataFrame({Col.CUSTOMER_ID: counts[Col.CUSTOMER_ID], "Brand": counts[field],
                        "Lines": counts["Lines"].astype(int), "Lift": lift.round(4), "AffinityScore": score,
                        "ShareOfVoice": (raw_share * 100).round(1)})
    out["AffinityLevel"] = affinity_level(out["AffinityScore"])
    return out.sort_values([Col.CUSTOMER_ID, "AffinityScore", "Brand"], ascending=[True, False, True])


def top_brands(affinity: pd.DataFrame) -> pd.DataFrame:
    """Per customer: the brand with the highest affinity (ties: most lines, then name)."""
    ranked = affinity.sort_values([Col.CUSTOMER_ID, "AffinityScore", "Lines", "Brand"],
                                  ascending=[True, False, False, True])
    top = ranked.drop_duplicates(Col.CUSTOMER_ID)
    return pd.DataFrame({Col.CUSTOMER_ID: top[Col.CUSTOMER_ID], "TopBrand": top["Brand"],
                         "TopBrandAffinity": top["AffinityScore"], "TopBrandLevel": top["AffinityLevel"]})
