"""The guard on transitive clustering: components too large or holding a cannot-link are rebuilt
strongest edge first; the rest stay plain connected components."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shared.match.cluster import guarded_groups


def edges(*rows: tuple[int, int, int, float]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["left", "right", "priority", "score"])


def no_cannot() -> pd.DataFrame:
    return pd.DataFrame({"left": pd.Series(dtype=np.int64), "right": pd.Series(dtype=np.int64)})


def together(labels: np.ndarray) -> set[frozenset[int]]:
    groups: dict[int, set[int]] = {}
    for record, label in enumerate(labels.tolist()):
        groups.setdefault(label, set()).add(record)
    return {frozenset(g) for g in groups.values()}


def test_a_chain_through_a_common_value_is_cut_at_its_weakest_links_and_reported() -> None:
    # 0-1-2-3-4 chained; 5-6 a separate pair whose strong edge must not count for the chain
    chain = edges((0, 1, 1000, 0.99), (1, 2, 1000, 0.60), (2, 3, 1000, 0.95), (3, 4, 1000, 0.97),
                  (5, 6, 1, 1.0))
    labels, suspect = guarded_groups(7, chain, no_cannot(), limit=3)
    assert together(labels) == {frozenset({0, 1}), frozenset({2, 3, 4}), frozenset({5, 6})}
    assert suspect == [{"records": 5, "groups_after_guard": 2, "refused_edges": 1, "cannot_links": 0}]


def test_rule_links_come_before_probabilistic_ones_and_a_cannot_link_is_honoured() -> None:
    # 0 and 2 are different people; 1 is linked to 2 by a rule (priority 0) and to 0 by a stronger score
    graph = edges((0, 1, 1000, 0.999), (1, 2, 0, 0.5), (3, 4, 1000, 0.9))
    cannot = pd.DataFrame({"left": [0], "right": [2]})
    labels, suspect = guarded_groups(5, graph, cannot, limit=100)
    assert together(labels) == {frozenset({0}), frozenset({1, 2}), frozenset({3, 4})}
    assert suspect == [{"records": 3, "groups_after_guard": 2, "refused_edges": 1, "cannot_links": 1}]


def test_components_without_trouble_are_plain_connected_components() -> None:
    graph = edges((0, 1, 5, 0.1), (1, 2, 1000, 0.2), (3, 4, 1000, 0.3))
    labels, suspect = guarded_groups(6, graph, no_cannot(), limit=10)
    assert together(labels) == {frozenset({0, 1, 2}), frozenset({3, 4}), frozenset({5})}
    assert suspect == []
