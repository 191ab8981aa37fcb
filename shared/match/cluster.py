"""From matched pairs to profiles, with Customer Insights semantics.

1. **Deduplication per table**: matched pairs of a table's deduplication rules (ORed) and its
   always-match pairs are closed transitively into groups (connected components). A *guard* stops
   chaining through a common value: a component larger than ``max_cluster_size`` — or one holding a
   never-match pair — is rebuilt by adding its strongest edges first and refusing any edge that would
   join a never-match pair or grow a group past the limit; such components are reported.
2. **Matching in match order**: the first table's groups are the initial profiles. Each group of a later
   table joins at most one existing profile: the link from the first rule (in the table's rule order)
   that matched any of its records, then the highest score, then the earliest table; never-match pairs
   forbid a link. A group with no link starts a profile. Later tables therefore never merge two
   profiles of earlier tables (duplicates left in the primary table stay; duplicates in later tables
   that match one profile are reduced to it).
3. Profiles holding only tables whose ``include_all_records`` is false are dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from shared.match.rules import CompiledRule

ALWAYS = -1  # priority of always-match links: before every rule


@dataclass
class Clustering:
    """Per record: its deduplication group, its profile (-1: dropped) and whether it wins its group."""

    group: np.ndarray
    profile: np.ndarray
    group_winner: np.ndarray  # record id of the group's winner, per record
    # left, right: the record pairs that joined records of two tables into one profile; None in the hybrid
    # mode read from pair files: every cross-table edge whose records share a ``component``
    links: pd.DataFrame | None
    suspect: list[dict[str, int]] = field(default_factory=list)
    component: np.ndarray | None = None  # the guarded component per record (hybrid mode)


# edges given to scipy at once: it copies a graph twice with 8-byte weights, about 40 bytes an edge, so
# the 24 M links of 10 M records took 0.9 GB in one call
COMPONENT_EDGES = 2_000_000


def components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """Connected components of records 0..n-1, labelled in order of their smallest record (scipy's order)."""
    return components_of(n, [(left, right)])


def components_of(n: int, edges: Iterable[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """``components`` over edges given in parts (e.g. one per pair file, never concatenated whole).

    Edges are added about ``COMPONENT_EDGES`` at a time, each batch over the components found so far (the
    graph contracted), so that memory follows n and the batch, not the number of edges."""
    labels: np.ndarray | None = None
    calls = waiting_edges = 0
    waiting: list[tuple[np.ndarray, np.ndarray]] = []

    def contract() -> None:
        nonlocal labels, calls, waiting_edges
        a = np.concatenate([w[0] for w in waiting]) if waiting else np.zeros(0, np.int64)
        b = np.concatenate([w[1] for w in waiting]) if waiting else np.zeros(0, np.int64)
        waiting.clear()
        waiting_edges = 0
        nodes = n if labels is None else (int(labels.max()) + 1 if n else 0)
        if labels is not None:
            a, b = labels[a], labels[b]
        graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(nodes, nodes))
        merged = connected_components(graph, directed=False)[1]
        labels = merged if labels is None else merged[labels]
        calls += 1

    for left, right in edges:
        for start in range(0, len(left), COMPONENT_EDGES):
            waiting.append((left[start:start + COMPONENT_EDGES], right[start:start + COMPONENT_EDGES]))
            waiting_edges += len(waiting[-1][0])
            if waiting_edges >= COMPONENT_EDGES:
                contract()
    if waiting or labels is None:
        contract()
    assert labels is not None
    if calls > 1:  # renumbered in order of first appearance, as one call would number them
        labels = first_appearance(labels)
    return labels


def index_type(count: int) -> type[np.int32] | type[np.int64]:
    """The integer type of positions (record ids, rows) 0..count-1: 32-bit where it fits, half the memory."""
    return np.int32 if count < 2**31 else np.int64


def first_appearance(values: np.ndarray) -> np.ndarray:
    """Codes 0..k-1 of ``values`` numbered in order of first appearance (``pd.factorize``'s codes), found
    by a stable sort: at 10 M records pandas' hash tables took the merge from 0.54 to 1.23 GB, its peak."""
    order = np.argsort(values, kind="stable")
    ordered = values[order]
    starts = np.empty(len(values), bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    del ordered
    run = np.cumsum(starts, dtype=np.int64) - 1  # per sorted position: which distinct value
    first = order[starts]  # each distinct value's first position (the sort is stable)
    rank = np.empty(len(first), index_type(len(values)))
    rank[np.argsort(first, kind="stable")] = np.arange(len(first), dtype=rank.dtype)
    codes = np.empty(len(values), rank.dtype)
    codes[order] = rank[run]
    return codes


class _UnionFind:
    """Union-find over one component's members, refusing unions that would join banned pairs or exceed a size."""

    def __init__(self, members: np.ndarray, banned: list[tuple[int, int]]) -> None:
        self.parent = {int(m): int(m) for m in members}
        self.size = {int(m): 1 for m in members}
        self.banned: dict[int, set[int]] = {}
        for a, b in banned:
            self.banned.setdefault(a, set()).add(b)
            self.banned.setdefault(b, set()).add(a)

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int, limit: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        if self.size[ra] + self.size[rb] > limit:
            return False
        banned_a, banned_b = self.banned.get(ra, set()), self.banned.get(rb, set())
        if any(self.find(x) == rb for x in banned_a) or any(self.find(x) == ra for x in banned_b):
            return False
        if self.size[ra] < self.size[rb]:
            ra, rb = rb, ra
            banned_a, banned_b = banned_b, banned_a
        self.parent[rb] = ra
        self.size[ra] += self.size[rb]
        if banned_b:
            self.banned[ra] = banned_a | banned_b
        return True


def _by_component(labels: np.ndarray, left: np.ndarray, wanted: np.ndarray) -> dict[int, np.ndarray]:
    """Row positions grouped by the component of ``left``, for the wanted components only."""
    component = labels[left]
    rows = np.flatnonzero(np.isin(component, wanted))
    if len(rows) == 0:  # e.g. no cannot-link anywhere, only components too large
        return {}
    order = rows[np.argsort(component[rows], kind="stable")]
    keys = component[order]
    bounds = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1], True])
    return {int(keys[bounds[i]]): order[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)}


def guarded_groups(n: int, edges: pd.DataFrame, cannot: pd.DataFrame,
                   limit: int) -> tuple[np.ndarray, list[dict[str, int]]]:
    """Connected components, rebuilt strongest-edge-first where they are too large or hold a cannot-link.

    ``edges`` has columns left, right, priority, score; ``cannot`` has left, right. Only the affected
    components are rebuilt, each from its own edges, so the cost follows the size of the problem.
    """
    labels = components(n, edges["left"].to_numpy(), edges["right"].to_numpy())
    return guard(labels, lambda bad: edges[np.isin(labels[edges["left"].to_numpy()], bad)], cannot, limit)


def guard(labels: np.ndarray, edges_in: Callable[[np.ndarray], pd.DataFrame], cannot: pd.DataFrame,
          limit: int) -> tuple[np.ndarray, list[dict[str, int]]]:
    """``guarded_groups`` over components already found: ``edges_in(bad)`` returns the edges (left, right,
    priority, score) of the components ``bad`` only, so that the merge can read them from the pair files
    instead of holding every edge. ``labels`` is relabelled in place."""
    n = len(labels)
    if n == 0:
        return labels, []
    sizes = np.bincount(labels)
    c_left, c_right = cannot["left"].to_numpy(np.int64), cannot["right"].to_numpy(np.int64)
    inside = labels[c_left] == labels[c_right]
    bad = np.union1d(np.flatnonzero(sizes > limit), labels[c_left[inside]])
    if len(bad) == 0:
        return labels, []
    affected = edges_in(bad)  # sort only the edges to rebuild
    ordered = affected.sort_values(["priority", "score", "left", "right"], ascending=[True, False, True, True])
    e_left, e_right = ordered["left"].to_numpy(np.int64), ordered["right"].to_numpy(np.int64)
    del affected, ordered
    edge_rows = _by_component(labels, e_left, bad)
    cannot_rows = _by_component(labels, c_left[inside], bad)
    c_left_in, c_right_in = c_left[inside], c_right[inside]
    members_of = _by_component(labels, np.arange(n), bad)
    suspect = []
    next_label = int(labels.max()) + 1
    for component in bad.tolist():
        members = members_of[component]
        banned = list(zip(c_left_in[cannot_rows.get(component, [])].tolist(),
                          c_right_in[cannot_rows.get(component, [])].tolist(), strict=True))
        finder = _UnionFind(members, banned)
        rows = np.sort(edge_rows.get(component, np.zeros(0, np.int64)))  # keep the strength order
        refused = 0
        for a, b in zip(e_left[rows].tolist(), e_right[rows].tolist(), strict=True):
            refused += not finder.union(a, b, limit)
        roots = np.asarray([finder.find(int(m)) for m in members])
        _, relabel = np.unique(roots, return_inverse=True)
        labels[members] = next_label + relabel
        next_label += int(relabel.max()) + 1
        if len(members) > limit or refused:
            suspect.append({"records": len(members), "groups_after_guard": int(relabel.max()) + 1,
                            "refused_edges": refused, "cannot_links": len(banned)})
    return labels, suspect


def priority_of(rules: list[CompiledRule]) -> dict[int, int]:
    """Rule id → priority (rank in the rule order) of the match rules; probabilistic links rank 1000."""
    return {r.id: r.priority for r in rules}


def _by_rule(rule: np.ndarray, values: dict[int, int], default: int, dtype: type) -> np.ndarray:
    """Per pair, the value of its rule id (an array lookup, not a Python call per pair)."""
    lookup: np.ndarray = np.full(max([int(rule.max()) if len(rule) else 0, *values]) + 1, default, dtype)
    for rule_id, value in values.items():
        lookup[rule_id] = value
    return lookup[rule]


def priorities(rule: np.ndarray, rules: list[CompiledRule]) -> np.ndarray:
    """Per pair, the priority of its rule (1000 for probabilistic links)."""
    return _by_rule(rule, priority_of(rules), 1000, np.int16)


def mutual_best(links: pd.DataFrame) -> pd.DataFrame:
    """One-to-one linkage: keep a link only if each side is the other's most probable match."""
    if links.empty:
        return links
    best_left = links.sort_values(["left", "score", "right"], ascending=[True, False, True]).drop_duplicates("left")
    best_right = links.sort_values(["right", "score", "left"], ascending=[True, False, True]).drop_duplicates("right")
    return best_left.merge(best_right[["left", "right"]], on=["left", "right"])


def probabilistic_edges(pairs: pd.DataFrame, rules: list[CompiledRule], always: pd.DataFrame,
                        one_to_one: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The edges of the hybrid mode (left, right, priority, score: rule links first, then probabilistic
    ones, each in pair order, then always-match pairs) and the cannot-links (left, right). Built from
    arrays, each column copied once: at 10 M records the links are 24 M rows, and the caller frees
    ``pairs`` before clustering so that the merge activity fits one instance's memory."""
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    rule, score = pairs["rule"].to_numpy(), pairs["score"].to_numpy()
    cannot = pairs["cannot"].to_numpy(bool) if "cannot" in pairs else np.zeros(len(pairs), bool)
    cannot_pairs = pd.DataFrame({"left": left[cannot], "right": right[cannot]})
    is_rule = np.isin(rule, np.fromiter(priority_of(rules), np.int64)) & ~cannot
    is_probabilistic = ~is_rule & ~cannot
    if one_to_one:
        best = mutual_best(pairs[is_probabilistic].sort_values("score", ascending=False).drop_duplicates(
            ["left", "right"]))
        rows = np.flatnonzero(is_rule)
        parts = [(left[rows], right[rows], priorities(rule[rows], rules), score[rows]),
                 (best["left"].to_numpy(), best["right"].to_numpy(), np.full(len(best), 1000, np.int16),
                  best["score"].to_numpy())]
    else:
        index = index_type(len(pairs))
        rows = np.concatenate([np.flatnonzero(is_rule).astype(index), np.flatnonzero(is_probabilistic).astype(index)])
        parts = [(left[rows], right[rows], priorities(rule[rows], rules), score[rows])]
    del is_rule, is_probabilistic, cannot, rows
    if len(always):
        parts.append((always["left"].to_numpy(), always["right"].to_numpy(), np.full(len(always), ALWAYS, np.int16),
                      np.ones(len(always), np.float32)))
    columns = ("left", "right", "priority", "score")
    if len(parts) == 1:  # the usual case: the columns as they are, not concatenated copies
        return pd.DataFrame(dict(zip(columns, parts[0], strict=True)), copy=False), cannot_pairs
    return pd.DataFrame({name: np.concatenate([part[i] for part in parts]) for i, name in enumerate(columns)}), \
        cannot_pairs


def cluster_edges(records: pd.DataFrame, edges: pd.DataFrame, cannot: pd.DataFrame, table_names: list[str],
                  include_all: dict[str, bool], never: pd.DataFrame, limit: int, winner_rank: np.ndarray) -> Clustering:
    """Groups and profiles of the hybrid mode from its edges and cannot-links (``probabilistic_edges``): rule
    matches are must-links, probabilistic links are added, cannot-links are honoured; profiles are the
    guarded connected components across all tables (match order ranks survivorship only). Consumes
    ``edges``: its columns are dropped once read, so that their memory is free for the rest."""
    n = len(records)
    table_of = records["TableIndex"].to_numpy()
    component, suspect = guarded_groups(n, edges, pd.concat([never, cannot], ignore_index=True), limit)
    e_left, e_right = edges["left"].to_numpy(), edges["right"].to_numpy()
    linked = (table_of[e_left] != table_of[e_right]) & (component[e_left] == component[e_right])
    frame = pd.DataFrame({"left": e_left[linked], "right": e_right[linked]})
    del e_left, e_right, linked
    for column in list(edges.columns):  # consumed: its columns are freed before the groups are numbered
        del edges[column]
    return profiles_of(component, table_of, table_names, include_all, winner_rank, frame, suspect)


def profiles_of(component: np.ndarray, table_of: np.ndarray, table_names: list[str], include_all: dict[str, bool],
                winner_rank: np.ndarray, links: pd.DataFrame | None, suspect: list[dict[str, int]]) -> Clustering:
    """Groups (one per component and table, numbered in order of first appearance), their winners and the
    profiles (components, numbered likewise, minus the excluded) of the hybrid mode's guarded components.
    ``links`` None: every cross-table edge inside a component linked it (the merge finds them in SQL)."""
    group = first_appearance(component.astype(np.int64) * (int(table_of.max()) + 1) + table_of)
    profile = _drop_excluded(first_appearance(component), table_of, table_names, include_all)
    return Clustering(group, profile, _group_winners(group, winner_rank), links, suspect, component)


def _group_winners(group: np.ndarray, winner_rank: np.ndarray) -> np.ndarray:
    """Per record, the record id of its group's winner: the lowest ``winner_rank`` (``group`` labels are
    non-negative, with gaps allowed)."""
    order = np.lexsort((winner_rank, group))
    first = np.r_[True, group[order][1:] != group[order][:-1]]
    winners = np.empty(int(group.max()) + 1, index_type(len(group)))
    winners[group[order][first]] = order[first]
    return winners[group]


def cluster(records: pd.DataFrame, pairs: pd.DataFrame, rules: list[CompiledRule], table_names: list[str],
            include_all: dict[str, bool], always: pd.DataFrame, never: pd.DataFrame, limit: int,
            winner_rank: np.ndarray) -> Clustering:
    """Groups and profiles for every record.

    ``records`` is indexed by RecordId 0..n-1 with a ``TableIndex``; ``pairs`` has left, right, rule, score;
    ``always``/``never`` have left, right record ids; ``winner_rank`` orders records within a group
    (lowest wins: the deduplication winner policy, ties to the largest key).

    Works on the pairs' columns as arrays, each selection made once, and consumes ``pairs`` (its columns
    are dropped once read, so that they are freed when the cross-table links have been taken from them):
    the frame copies of an earlier version (a filtered frame, one with the priorities, the cross-table
    links, one per table) and a dict of every group's profile took the 5 M-customer merge to 4.2 GB.
    """
    n = len(records)
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Clustering(empty, empty, empty, pd.DataFrame(columns=["left", "right"]))
    left, right = pairs["left"].to_numpy(), pairs["right"].to_numpy()
    rule_ids, score = pairs["rule"].to_numpy(), pairs["score"].to_numpy()
    if "cannot" in pairs and pairs["cannot"].to_numpy(bool).any():
        keep = ~pairs["cannot"].to_numpy(bool)
        left, right, rule_ids, score = left[keep], right[keep], rule_ids[keep], score[keep]
    for column in list(pairs.columns):
        del pairs[column]
    table_of = records["TableIndex"].to_numpy()
    dedupe = _by_rule(rule_ids, {r.id: r.dedupe for r in rules}, False, np.bool_)
    links = {"left": left, "right": right, "priority": priorities(rule_ids, rules), "score": score}
    del left, right, rule_ids, score
    a_left, a_right = always["left"].to_numpy(np.int64), always["right"].to_numpy(np.int64)
    a_same = table_of[a_left] == table_of[a_right]
    same_table_never = never[table_of[never["left"].to_numpy()] == table_of[never["right"].to_numpy()]]
    group, suspect = guarded_groups(n, pd.DataFrame(_with_always(links, dedupe, a_left[a_same], a_right[a_same])),
                                    same_table_never, limit)
    group_winner = _group_winners(group, winner_rank)

    # cross-table links (left: the earlier table, as record ids run in match order), then the always-match
    # pairs oriented the same way
    a_left, a_right = a_left[~a_same], a_right[~a_same]
    swap = table_of[a_left] > table_of[a_right]
    cross = _with_always(links, ~dedupe, np.where(swap, a_right, a_left), np.where(swap, a_left, a_right))
    del links, dedupe
    right_table = table_of[cross["right"]]
    never_pairs = never[table_of[never["left"].to_numpy()] != table_of[never["right"].to_numpy()]]

    ids = index_type(n)
    profile: np.ndarray = np.full(n, -1, ids)
    group_profile: np.ndarray = np.full(int(group.max()) + 1, -1, ids)  # per group label; -1: none yet
    chosen: list[np.ndarray] = []
    for table_index in range(len(table_names)):
        members = np.flatnonzero(table_of == table_index)
        if len(members) == 0:
            continue
        rows = np.flatnonzero(right_table == table_index).astype(ids)  # none in the first table
        groups = group[cross["right"][rows]]
        profiles = profile[cross["left"][rows]]
        linked = profiles >= 0
        rows, groups, profiles = rows[linked], groups[linked], profiles[linked]
        if len(never_pairs) and len(rows):
            forbidden = _forbidden(never_pairs, group, profile, table_of, table_index)
            allowed = np.fromiter(((g, p) not in forbidden for g, p in zip(groups.tolist(), profiles.tolist(),
                                                                          strict=True)), bool, len(rows))
            rows, groups, profiles = rows[allowed], groups[allowed], profiles[allowed]
        if len(rows):
            # per group the link of the first rule, then the best score, the earliest table, the lowest profile
            order = np.lexsort((profiles, table_of[cross["left"][rows]], -cross["score"][rows],
                                cross["priority"][rows], groups))
            first = order[np.r_[True, groups[order][1:] != groups[order][:-1]]]
            chosen.append(rows[first])
            group_profile[groups[first]] = profiles[first]
        next_profile = int(profile.max()) + 1 if (profile >= 0).any() else 0
        groups_here = np.unique(group[members])
        new_groups = groups_here[group_profile[groups_here] < 0]  # unlinked: new profiles, in group order
        group_profile[new_groups] = np.arange(next_profile, next_profile + len(new_groups), dtype=ids)
        profile[members] = group_profile[group[members]]
    profile = _drop_excluded(profile, table_of, table_names, include_all)
    picked = np.concatenate(chosen) if chosen else np.zeros(0, np.int64)
    links_frame = pd.DataFrame({"left": cross["left"][picked], "right": cross["right"][picked]})
    return Clustering(group, profile, group_winner, links_frame, suspect)


def _with_always(links: dict[str, np.ndarray], rows: np.ndarray, left: np.ndarray,
                 right: np.ndarray) -> dict[str, np.ndarray]:
    """The selected ``links`` and the always-match pairs ``left``-``right`` after them (first priority), with
    the links' record id type."""
    priority, score, ids = links["priority"], links["score"], links["left"].dtype
    return {"left": np.concatenate([links["left"][rows], left.astype(ids)]),
            "right": np.concatenate([links["right"][rows], right.astype(ids)]),
            "priority": np.concatenate([priority[rows], np.full(len(left), ALWAYS, priority.dtype)]),
            "score": np.concatenate([score[rows], np.ones(len(left), score.dtype)])}


def _forbidden(never: pd.DataFrame, group: np.ndarray, profile: np.ndarray, table_of: np.ndarray,
               table_index: int) -> set[tuple[int, int]]:
    """(group of this table, profile) pairs that a never-match pair keeps apart."""
    a, b = never["left"].to_numpy(), never["right"].to_numpy()
    here_a, here_b = table_of[a] == table_index, table_of[b] == table_index
    out = set()
    for later, earlier in ((a[here_a], b[here_a]), (b[here_b], a[here_b])):
        for g, p in zip(group[later].tolist(), profile[earlier].tolist(), strict=True):
            if p >= 0:
                out.add((g, p))
    return out


def _drop_excluded(profile: np.ndarray, table_of: np.ndarray, table_names: list[str],
                   include_all: dict[str, bool]) -> np.ndarray:
    keeps = np.asarray([include_all.get(name, True) for name in table_names])
    if keeps.all():
        return profile
    kept_profiles = np.unique(profile[keeps[table_of]])
    return np.where(np.isin(profile, kept_profiles), profile, -1)
