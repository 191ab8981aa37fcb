"""Customer Insights' ordered matching (rules only) against a plain restatement of its rule, on random
pairs: the first table's groups are the first profiles; each later group joins the profile of its best
link (first rule, then the highest score, the earliest table, the lowest profile), unless a never-match
pair forbids it, or starts a profile of its own; always-match pairs link before every rule."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from shared.match.cluster import ALWAYS, cluster

TABLES = ["erp", "crm", "pos"]
RULES = [SimpleNamespace(id=0, dedupe=True, priority=0), SimpleNamespace(id=1, dedupe=True, priority=0),
         SimpleNamespace(id=2, dedupe=True, priority=0),
         SimpleNamespace(id=3, dedupe=False, priority=0), SimpleNamespace(id=4, dedupe=False, priority=1),
         SimpleNamespace(id=5, dedupe=False, priority=2)]


def restated(table_of: np.ndarray, pairs: pd.DataFrame, always: pd.DataFrame,
             never: pd.DataFrame) -> np.ndarray:
    """The rule as written, a group and a link at a time."""
    n = len(table_of)
    dedupe = pairs[pairs["rule"] <= 2]
    same = [(a, b) for a, b in zip(always["left"], always["right"], strict=True) if table_of[a] == table_of[b]]
    left = np.r_[dedupe["left"].to_numpy(), [a for a, _ in same]].astype(int)
    right = np.r_[dedupe["right"].to_numpy(), [b for _, b in same]].astype(int)
    groups = connected_components(coo_matrix((np.ones(len(left)), (left, right)), shape=(n, n)),
                                  directed=False)[1]  # numbered by smallest record
    links = [(int(a), int(b), {3: 0, 4: 1, 5: 2}[int(r)], float(s)) for a, b, r, s in
             pairs[pairs["rule"] > 2][["left", "right", "rule", "score"]].itertuples(index=False)]
    links += [(int(a), int(b), ALWAYS, 1.0) for a, b in zip(always["left"], always["right"], strict=True)
              if table_of[a] != table_of[b]]
    profile = np.full(n, -1)
    for table in range(len(TABLES)):
        for group in sorted({int(groups[r]) for r in np.flatnonzero(table_of == table)}):
            members = set(np.flatnonzero(groups == group).tolist())
            options = []
            for a, b, priority, score in links:
                mine, other = (b, a) if b in members else (a, b) if a in members else (None, None)
                if mine is None or table_of[other] >= table or profile[other] < 0:
                    continue
                forbidden = any((x in members and profile[y] == profile[other]) or
                                (y in members and profile[x] == profile[other])
                                for x, y in zip(never["left"], never["right"], strict=True))
                if not forbidden:
                    options.append((priority, -score, int(table_of[other]), int(profile[other])))
            new = max(profile.max() + 1, 0)
            chosen = min(options)[3] if options else new
            profile[list(members)] = chosen
    return profile


@pytest.mark.parametrize("seed", range(12))
def test_ordered_matching_equals_the_rule_as_written(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 60))
    table_of = np.sort(rng.integers(0, len(TABLES), n)).astype(np.int16)  # record ids in match order
    rows = []
    for _ in range(int(rng.integers(n, 3 * n))):
        a, b = sorted(rng.choice(n, 2, replace=False).tolist())
        rule = int(rng.integers(0, 3)) if table_of[a] == table_of[b] else int(rng.integers(3, 6))
        if table_of[a] == table_of[b] and rule != table_of[a]:
            continue  # a table's deduplication rule
        rows.append((a, b, rule, float(rng.choice([0.5, 0.7, 0.9, 1.0]))))  # ties on purpose
    pairs = pd.DataFrame(rows, columns=["left", "right", "rule", "score"]).astype(
        {"left": np.int32, "right": np.int32, "rule": np.int16, "score": np.float32})
    pairs["cannot"] = False
    cross = [(a, b) for a, b in (sorted(rng.choice(n, 2, replace=False).tolist()) for _ in range(4))
             if table_of[a] != table_of[b]]
    always = pd.DataFrame(cross[:2], columns=["left", "right"], dtype=np.int64)
    never = pd.DataFrame(cross[2:], columns=["left", "right"], dtype=np.int64)
    expected = restated(table_of, pairs, always, never)
    result = cluster(pd.DataFrame({"TableIndex": table_of}), pairs.copy(), RULES, TABLES,  # type: ignore[arg-type]
                     {t: True for t in TABLES}, always, never, 1000, np.arange(n))
    assert result.profile.tolist() == expected.tolist()
    assert len(set(expected.tolist())) < n  # the seed made some profiles of several records
