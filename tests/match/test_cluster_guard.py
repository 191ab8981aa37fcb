"""The guard on transitive clustering: components too large or holding a cannot-link are rebuilt
strongest edge first; the rest stay plain connected components. Also the merge's clustering read from the
pair files (links and cannot-links in row groups of their own) against the same links held in memory."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from shared.adapters.local_lake import LocalLake
from shared.lakeio import write_parquet, write_parquet_split
from shared.match import cluster
from shared.match.cluster import guarded_groups
from shared.match.partition import PAIRS_SCHEMA
from shared.merge import unify


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


def test_clustering_read_from_pair_files_equals_clustering_over_links_held_at_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The merge's hybrid clustering reads the pair files three times and holds labels only; it must give
    what ``cluster_edges`` gives over the same links held in memory: groups, winners, profiles (one table
    not kept on its own), the guard's rebuilds (components too large, cannot-links inside) and the links,
    for files written links-first and for files of the older, mixed layout."""
    rng = np.random.default_rng(11)
    n, names = 3000, ["ERP", "CRM", "POS"]
    table_of = rng.integers(0, 3, n).astype(np.int16)
    rank = rng.permutation(n).astype(np.int32)
    rules = [SimpleNamespace(id=0, priority=0), SimpleNamespace(id=1, priority=1)]  # 7: a probabilistic link

    def near(count: int) -> tuple[np.ndarray, np.ndarray]:  # pairs of nearby ids: components of a few dozen
        left = rng.integers(0, n - 8, count)
        return left, left + rng.integers(1, 8, count)

    files = []
    for index in range(6):
        left, right = near(500)
        far = rng.integers(0, n, (2, 700))  # cannot-links, mostly between components, some inside
        c_left, c_right = near(40)
        table = pa.table({
            "left": np.r_[left, far[0], c_left], "right": np.r_[right, far[1], c_right],
            "rule": np.r_[rng.choice([0, 1, 7], len(left)), np.full(740, 7)].astype(np.int16),
            "score": np.r_[rng.random(len(left)), np.zeros(740)].astype(np.float32),
            "cannot": np.r_[np.zeros(len(left), bool), np.ones(740, bool)]}, schema=PAIRS_SCHEMA)
        table = table.take(rng.permutation(len(table)))
        lake = LocalLake(tmp_path)
        path = f"pairs/part-{index}.parquet"
        pieces = (pa.Table.from_batches([b]) for b in table.to_batches(max_chunksize=97))  # as scored, in chunks
        (write_parquet_split(lake, path, pieces, PAIRS_SCHEMA, "cannot") if index % 2
         else write_parquet(lake, path, table))
        files.append(path)
    always = pd.DataFrame({"left": [10, 400], "right": [2900, 1500]}, dtype=np.int64)
    never = pd.DataFrame({"left": [20, 600], "right": [22, 603]}, dtype=np.int64)
    include_all = {"ERP": True, "CRM": True, "POS": False}
    monkeypatch.setattr(unify, "PAIR_BATCH_ROWS", 300)  # several batches per file
    monkeypatch.setattr(cluster, "COMPONENT_EDGES", 250)  # components found over the contracted graph

    streamed = unify.cluster_from_files(lake, files, table_of, rules, always, never, names, include_all, 12, rank)
    pairs = unify._read_pairs(lake, files, n, always)
    edges, cannot = cluster.probabilistic_edges(pairs, rules, always, False)  # type: ignore[arg-type]
    held = cluster.cluster_edges(pd.DataFrame({"TableIndex": table_of}), edges, cannot, names, include_all, never,
                                 12, rank)

    assert streamed.suspect == held.suspect
    assert any(s["cannot_links"] for s in held.suspect) and any(s["records"] > 12 for s in held.suspect)
    assert (held.profile == -1).any()  # profiles of POS records alone are dropped
    for name in ("group", "profile", "group_winner"):
        assert getattr(streamed, name).tolist() == getattr(held, name).tolist(), name
    # the links the SQL finds: every cross-table link whose records share a component
    assert streamed.links is None and streamed.component is not None
    links = pairs[~pairs["cannot"]]
    left, right = links["left"].to_numpy(), links["right"].to_numpy()
    found = (table_of[left] != table_of[right]) & (streamed.component[left] == streamed.component[right])
    assert held.links is not None
    held_links = set(zip(held.links["left"].tolist(), held.links["right"].tolist(), strict=True))
    in_files = set(zip(left.tolist(), right.tolist(), strict=True))
    assert set(zip(left[found].tolist(), right[found].tolist(), strict=True)) == held_links & in_files


def test_pair_files_hold_links_and_cannot_links_in_separate_row_groups(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A match partition writes its pairs as they are scored, links and cannot-links in row groups that
    never mix, each kind in its order, so that the merge reads one kind and skips the other's row groups;
    row groups are full but for each kind's last."""
    import pyarrow.parquet as pq

    from shared import lakeio

    monkeypatch.setattr(lakeio, "ROW_GROUP_ROWS", 1000)
    rng = np.random.default_rng(3)
    cannot = rng.random(12_345) < 0.8
    table = pa.table({"left": np.arange(len(cannot)), "cannot": cannot})
    chunks = (table.slice(start, size) for start, size in zip([0, 5, 2000, 2777], [5, 1995, 777, 9568],
                                                             strict=True))
    lake = LocalLake(tmp_path)
    write_parquet_split(lake, "pairs.parquet", chunks, table.schema, "cannot")
    meta = pq.ParquetFile(tmp_path / "pairs.parquet").metadata
    groups = [(meta.row_group(g).column(1).statistics.min, meta.row_group(g).column(1).statistics.max,
               meta.row_group(g).num_rows) for g in range(meta.num_row_groups)]
    assert all(low == high for low, high, _ in groups)  # one kind per row group
    for value in (False, True):
        sizes = [rows for low, _, rows in groups if low == value]
        assert sizes[:-1] == [1000] * (len(sizes) - 1) and 0 < sizes[-1] <= 1000
        rows = [b.column("left").to_numpy() for b in lakeio.iter_parquet_batches(
            lake, "pairs.parquet", ["left"], flag=("cannot", value))]
        assert np.concatenate(rows).tolist() == np.flatnonzero(cannot == value).tolist()


def test_codes_by_first_appearance_equal_pandas_factorize() -> None:
    rng = np.random.default_rng(9)
    for size in [0, 1, 2, 5, 100, 10_000]:
        for high in [1, 3, 50, 10**9]:
            values = rng.integers(0, high, size)
            assert cluster.first_appearance(values).tolist() == pd.factorize(values)[0].tolist()
