"""Pairwise and cluster precision/recall/F1 of a clustering against the truth (transitive closure included)."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd


def _pairs_count(sizes: pd.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def evaluate(truth: Mapping[str, str] | pd.Series, predicted: Mapping[str, str] | pd.Series) -> dict[str, float]:
    """``truth``/``predicted``: record id → cluster id (records missing from ``predicted`` are singletons)."""
    t = pd.Series(truth, dtype=object)
    p = pd.Series(predicted, dtype=object).reindex(t.index)
    p = p.where(p.notna(), "single:" + pd.Series(t.index, index=t.index).astype(str))
    frame = pd.DataFrame({"t": t.to_numpy(), "p": p.to_numpy()})
    both = _pairs_count(frame.groupby(["t", "p"]).size())
    true_pairs = _pairs_count(frame.groupby("t").size())
    found_pairs = _pairs_count(frame.groupby("p").size())
    precision = both / found_pairs if found_pairs else 1.0
    recall = both / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    true_clusters = set(frame.groupby("t").apply(lambda g: frozenset(g.index), include_groups=False))
    found_clusters = set(frame.groupby("p").apply(lambda g: frozenset(g.index), include_groups=False))
    exact = len(true_clusters & found_clusters)
    c_precision, c_recall = exact / max(len(found_clusters), 1), exact / max(len(true_clusters), 1)
    c_f1 = 2 * c_precision * c_recall / (c_precision + c_recall) if c_precision + c_recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "cluster_precision": c_precision,
            "cluster_recall": c_recall, "cluster_f1": c_f1, "true_pairs": true_pairs, "found_pairs": found_pairs,
            "clusters": len(found_clusters), "true_clusters": len(true_clusters)}
