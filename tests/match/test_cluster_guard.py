"""The guard on transitive clustering: components too large or holding a cannot-link are rebuilt
strongest edge first; the rest stay plain connected components."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from shared.match import cluster
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


def test_components_found_edge_batch_by_edge_batch_equal_one_scipy_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """Batches of edges over the graph contracted so far give scipy's labels, numbered as scipy numbers
    them (by smallest record), also for empty graphs, self-loops, repeated edges and edges in parts."""
    rng = np.random.default_rng(5)
    for _ in range(200):
        n = int(rng.integers(0, 200))
        m = int(rng.integers(0, 400)) if n else 0
        left, right = rng.integers(0, max(n, 1), m), rng.integers(0, max(n, 1), m)
        graph = coo_matrix((np.ones(m, np.int8), (left, right)), shape=(n, n))
        expected = connected_components(graph, directed=False)[1]
        monkeypatch.setattr(cluster, "COMPONENT_EDGES", int(rng.integers(1, 40)))
        found = cluster.components(n, left, right)
        assert found.tolist() == expected.tolist()
        cuts = np.sort(rng.integers(0, m + 1, int(rng.integers(0, 5))))  # the edges in parts, as files give them
        parts = list(zip(np.split(left, cuts), np.split(right, cuts), strict=True))
        assert cluster.components_of(n, parts).tolist() == expected.tolist()
