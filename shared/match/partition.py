"""Score one match partition: candidate pairs per rule and block, fuzzy conditions, exceptions.

Output rows are ``(left, right, rule, score)`` for every rule a pair satisfies; choosing the first rule
and clustering happen in the merge step, which sees all partitions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from shared.config.model import Probabilistic, RuleException, UnificationConfig
from shared.match.fellegi_sunter import FsModel, match_weight, probability
from shared.match.normalize import compatible_names
from shared.match.plan import MatchSetup, member_key, tf_column
from shared.match.rules import (
    BOTH,
    LEFT,
    RIGHT,
    CompiledCondition,
    CompiledRule,
    RuleGroup,
    compile_condition,
    rule_tables,
)
from shared.match.scoring import block_pairs, cross_pairs, exact_equal, fuzzy_scores
from shared.match.train import FsBlock, pair_levels
from shared.names import Col

PAIRS_SCHEMA = pa.schema([("left", pa.int64()), ("right", pa.int64()), ("rule", pa.int16()),
                          ("score", pa.float32()), ("cannot", pa.bool_())])
MAX_BLOCK = 2000


@dataclass
class PartitionStats:
    candidate_pairs: int = 0
    matched_pairs: int = 0
    skipped_blocks: int = 0
    skipped_block_records: int = 0


def _condition_holds(condition: CompiledCondition, left: pa.Array | pa.ChunkedArray,
                     right: pa.Array | pa.ChunkedArray, base: str) -> tuple[np.ndarray, np.ndarray]:
    """(holds, known) per pair of a condition's values; unknown where either side is null."""
    left = left.combine_chunks() if isinstance(left, pa.ChunkedArray) else left
    right = right.combine_chunks() if isinstance(right, pa.ChunkedArray) else right
    known = np.asarray(pc.and_(pc.is_valid(left), pc.is_valid(right)))
    if condition.exact:
        equal, _ = exact_equal(left, right)
        return (equal | compatible_names(left, right)) & known if condition.names else equal, known
    return fuzzy_scores(left, right, base, condition.names) >= condition.threshold - 1e-9, known


def exception_fires(when: str, results: list[tuple[np.ndarray, np.ndarray]], size: int) -> np.ndarray:
    """An exception's conditions are ANDed, like a rule's: ``match`` fires when every condition is known and
    holds, ``differ`` when every condition is known and does not hold. A missing value never fires it."""
    fires = np.ones(size, bool)
    for holds, known in results:
        fires &= known & (holds if when == "match" else ~holds)
    return fires


def score_rule(rule: CompiledRule, rows: pa.Table, base: str, max_block: int,
               stats: PartitionStats, is_left: np.ndarray | None = None) -> Iterator[pa.Table]:
    """Matched pairs of one rule within one partition's rows (``is_left``: which rows are on the rule's left
    side, for rows of a rule group; by default the rows' ``side``), a table per chunk of candidates."""
    keys = np.asarray(rows.column("key"))
    if rule.dedupe:
        candidates = block_pairs(keys, max_block)
    else:
        if is_left is None:
            is_left = np.asarray(rows.column("side")) == LEFT
        candidates = cross_pairs(keys, is_left, max_block)
    stats.skipped_blocks += candidates.skipped_blocks
    stats.skipped_block_records += candidates.skipped_records
    rows = _narrow(rows, _rule_columns(rule))  # take only what the rule reads
    for i, j in candidates.chunks():
        yield _score_rule_chunk(rule, rows, i, j, base, stats)


def _rule_columns(rule: CompiledRule) -> set[str]:
    return {Col.RECORD_ID, "key", "side", "TableIndex"} | {f.column for f in rule.features(BOTH)}


def _narrow(rows: pa.Table, columns: set[str], selected: np.ndarray | None = None) -> pa.Table:
    """The rows' ``columns`` (in their order), of the ``selected`` rows: columns are dropped before rows are
    filtered, so that a rule's rows never copy the string columns that only other rules read."""
    rows = rows.select([c for c in rows.column_names if c in columns])
    return rows if selected is None else rows.filter(pa.array(selected))


def member_rows(rows: pa.Table, rule_column: np.ndarray, setup: MatchSetup, member: int,
                columns: set[str]) -> pa.Table | None:
    """A rule group's or blocking rule's block rows (``columns`` of them, its key in ``key``): its own rows,
    and its row family's rows that hold a key of it (``RowFamily``); None if there are none."""
    found = []
    if (own := rule_column == member).any():
        found.append(_narrow(rows, columns, own))
    family = setup.family_of.get(member)
    if family is not None:
        key = member_key(member)
        held = (rule_column == family) & np.asarray(rows.column(key).is_valid(), bool)
        if held.any():
            shared = _narrow(rows, columns | {key}, held)
            keys = shared.column(key)
            shared = shared.drop_columns([key])
            found.append(shared.set_column(shared.schema.get_field_index("key"), "key", keys))
    return pa.concat_tables(found) if found else None


def _score_rule_chunk(rule: CompiledRule, rows: pa.Table, i: np.ndarray, j: np.ndarray, base: str,
                      stats: PartitionStats) -> pa.Table:
    """The chunk's pairs that meet every condition and no exception. Each condition reads only the pairs
    the conditions before it kept, and only its own columns."""
    stats.candidate_pairs += len(i)
    score = np.ones(len(i))
    alive = np.arange(len(i))

    def values(condition: CompiledCondition) -> tuple[pa.ChunkedArray, pa.ChunkedArray]:
        return (rows.column(condition.left.column).take(pa.array(i[alive])),
                rows.column(condition.right.column).take(pa.array(j[alive])))

    for condition in rule.scored:
        if len(alive) == 0:
            break
        measured = fuzzy_scores(*values(condition), base, condition.names)
        score[alive] = np.minimum(score[alive], measured)
        alive = alive[measured >= condition.threshold - 1e-9]
    for exception in rule.exceptions:
        if len(alive) == 0:
            break
        results = [_condition_holds(c, *values(c), base) for c in exception.conditions]
        alive = alive[~exception_fires(exception.when, results, len(alive))]
    ids = np.asarray(rows.column(Col.RECORD_ID))
    left_ids, right_ids = ids[i[alive]], ids[j[alive]]
    if rule.dedupe:
        left_ids, right_ids = np.minimum(left_ids, right_ids), np.maximum(left_ids, right_ids)
    stats.matched_pairs += len(alive)
    return pa.table({"left": left_ids, "right": right_ids, "rule": np.full(len(alive), rule.id, np.int16),
                     "score": score[alive].astype(np.float32), "cannot": np.zeros(len(alive), bool)},
                    schema=PAIRS_SCHEMA)


def _covered_by(earlier: list[FsBlock], lefts: pa.Table, rights: pa.Table) -> np.ndarray:
    """Pairs that an earlier blocking rule also produces (they agree on all of its features): scored there."""
    covered = np.zeros(lefts.num_rows, bool)
    for block in earlier:
        agree = np.ones(lefts.num_rows, bool)
        for feature in block.features:
            left, right = lefts.column(feature.column), rights.column(feature.column)
            agree &= exact_equal(left.combine_chunks(), right.combine_chunks())[0]
        covered |= agree
    return covered


def score_block(block: FsBlock, rows: pa.Table, model: FsModel, settings: Probabilistic, max_block: int,
                stats: PartitionStats, columns: set[str], earlier: list[FsBlock] | None = None) -> Iterator[pa.Table]:
    """Probabilistic links (and cannot-link pairs) of one blocking rule within a partition, a table per chunk
    of candidates: a large block holds millions of them. A pair that an earlier blocking rule also produces
    is left to that rule, so every candidate pair is considered once."""
    candidates = block_pairs(np.asarray(rows.column("key")), max_block)
    stats.skipped_blocks += candidates.skipped_blocks
    stats.skipped_block_records += candidates.skipped_records
    tables = np.asarray(rows.column("TableIndex")) if settings.link_only else None
    rows = _narrow(rows, {Col.RECORD_ID} | columns)  # ``MatchSetup.probabilistic_columns``: what scoring reads
    keyed = rows.select(sorted({f.column for b in earlier or [] for f in b.features}))
    for i, j in candidates.chunks():
        if tables is not None:
            different = tables[i] != tables[j]
            i, j = i[different], j[different]
        if len(i) and earlier:  # gather only the earlier rules' key columns for every candidate
            fresh = ~_covered_by(earlier, keyed.take(pa.array(i)), keyed.take(pa.array(j)))
            i, j = i[fresh], j[fresh]
        stats.candidate_pairs += len(i)
        if len(i):
            yield _score_block_chunk(block, rows, i, j, model, settings, stats)


def _score_block_chunk(block: FsBlock, rows: pa.Table, i: np.ndarray, j: np.ndarray, model: FsModel,
                       settings: Probabilistic, stats: PartitionStats) -> pa.Table:
    """The chunk's links, then its cannot-links. A cannot-link is kept whatever its weight, and only its two
    records are read from it (the merge's guard), so it is not scored: its ``score`` is null. At 1 M
    customers 4.1 M of the 5.8 M candidates of the blocking rules are cannot-links (households)."""
    cannot = _cannot_links(settings.cannot_link, rows, i, j)
    li, rj = i[~cannot], j[~cannot]
    lefts, rights = rows.take(pa.array(li)), rows.take(pa.array(rj))
    levels = pair_levels(model.comparisons, lefts, rights)
    tf = np.full(levels.shape, np.nan)
    for index, comparison in enumerate(model.comparisons):
        if comparison.term_frequency and tf_column(comparison.feature) in rows.column_names:
            tf[:, index] = np.asarray(pc.fill_null(lefts.column(tf_column(comparison.feature)), np.nan))
    chance = probability(match_weight(levels, model, tf))
    link = chance >= settings.threshold
    ids = np.asarray(rows.column(Col.RECORD_ID))
    left_ids = np.concatenate([ids[li[link]], ids[i[cannot]]])
    right_ids = np.concatenate([ids[rj[link]], ids[j[cannot]]])
    links = int(link.sum())
    stats.matched_pairs += links
    is_cannot = np.arange(len(left_ids)) >= links
    score = pa.array(np.concatenate([chance[link], np.zeros(len(left_ids) - links)]).astype(np.float32),
                     mask=is_cannot)
    return pa.table({"left": np.minimum(left_ids, right_ids), "right": np.maximum(left_ids, right_ids),
                     "rule": np.full(len(left_ids), block.id, np.int16), "score": score, "cannot": is_cannot},
                    schema=PAIRS_SCHEMA)


def _cost(condition: CompiledCondition) -> int:
    """How much a condition costs per pair, relatively: exact before fuzzy, plain before names (nicknames)."""
    return (0 if condition.exact else 2) + condition.names


def _cannot_links(exceptions: list[RuleException], rows: pa.Table, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Per candidate pair, whether a cannot-link fires (``exception_fires`` for each, ORed). Each exception
    reads only the pairs no other has caught, and each of its conditions only the pairs its earlier conditions
    left firing, the cheapest first (``_cost``): a fuzzy first-name comparison costs far more than a date's."""
    cannot = np.zeros(len(i), bool)
    compiled = [(e.when, sorted((compile_condition(c) for c in e.conditions), key=_cost)) for e in exceptions]
    for when, conditions in sorted(compiled, key=lambda e: sum(map(_cost, e[1]))):
        firing = np.flatnonzero(~cannot)
        for condition in conditions:
            if len(firing) == 0:
                break
            left = rows.column(condition.left.column).take(pa.array(i[firing]))
            right = rows.column(condition.right.column).take(pa.array(j[firing]))
            firing = firing[exception_fires(when, [_condition_holds(condition, left, right, "shorter")], len(firing))]
        cannot[firing] = True
    return cannot


def cannot_links_within(exceptions: list[RuleException], rows: pa.Table, groups: np.ndarray,
                        max_group: int) -> tuple[np.ndarray, np.ndarray]:
    """(i, j): every pair of rows of one group (``groups``, per row) where a cannot-link fires, as row
    positions; groups larger than ``max_group`` are left out. Candidate pairs are what blocking paired, so
    a cannot-link between two records no blocking rule pairs is never seen there; the merge asks this of
    the components its links make, whose records a chain of links joins."""
    found_i, found_j = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
    for i, j in block_pairs(groups, max_group).chunks():
        cannot = _cannot_links(exceptions, rows, i, j)
        found_i.append(i[cannot])
        found_j.append(j[cannot])
    return np.concatenate(found_i), np.concatenate(found_j)


def _score_group(group: RuleGroup, rows: pa.Table, order: list[str], base: str, max_block: int,
                 stats: PartitionStats) -> Iterator[pa.Table]:
    """Each rule of a group on its own tables' rows of the group, paired as it would be alone."""
    tables = np.asarray(rows.column("TableIndex"))
    for rule in group.rules:
        left_tables, right_tables = rule_tables(rule, order)
        on_left, on_right = np.isin(tables, left_tables), np.isin(tables, right_tables)
        if not on_left.any() or not (rule.dedupe or on_right.any()):
            continue
        taking_part = on_left | on_right
        yield from score_rule(rule, _narrow(rows, _rule_columns(rule), taking_part), base, max_block, stats,
                              None if rule.dedupe else on_left[taking_part])


def score_partition(config: UnificationConfig, rows: pa.Table, model: FsModel | None = None,
                    max_block: int = MAX_BLOCK) -> tuple[pa.Table, PartitionStats]:
    """The partition's pairs as one table (``scored_pairs`` collected)."""
    stats = PartitionStats()
    outputs = list(scored_pairs(config, rows, model, stats, max_block))
    return (pa.concat_tables(outputs) if outputs else PAIRS_SCHEMA.empty_table()), stats


def scored_pairs(config: UnificationConfig, rows: pa.Table, model: FsModel | None, stats: PartitionStats,
                 max_block: int = MAX_BLOCK) -> Iterator[pa.Table]:
    """The partition's pairs (links and cannot-links), a table per chunk of candidates, rule groups first,
    then rules alone, then blocking rules: the activity writes them as they come, so that its memory does
    not follow its output (20 M cannot-links in one partition at 10 M records)."""
    base = config.unification.fuzzy_base_length
    rule_column = np.asarray(rows.column("rule"))
    order = list(config.unification.match_order)
    setup = MatchSetup.of(config)
    for group in setup.groups:
        columns = set().union(*(_rule_columns(rule) for rule in group.rules))
        if (subset := member_rows(rows, rule_column, setup, group.id, columns)) is not None:
            yield from _score_group(group, subset, order, base, max_block, stats)
    for rule in setup.alone:
        selected = rule_column == rule.id
        if not selected.any():
            continue
        subset = _narrow(rows, _rule_columns(rule), selected)
        if not rule.dedupe:
            side = np.asarray(subset.column("side"))
            if not ((side == LEFT).any() and (side == RIGHT).any()):
                continue
        elif not (np.asarray(subset.column("side")) == BOTH).any():
            continue
        yield from score_rule(rule, subset, base, max_block, stats)
    settings = config.unification.probabilistic
    if settings.enabled and model is not None:
        blocks = setup.blocks
        columns = {Col.RECORD_ID, "key", "TableIndex"} | setup.probabilistic_columns
        for position, block in enumerate(blocks):
            subset = member_rows(rows, rule_column, setup, setup.block_rows.get(block.id, block.id), columns)
            if subset is not None:
                yield from score_block(block, subset, model, settings, max_block * 5, stats,
                                       setup.probabilistic_columns, blocks[:position])
