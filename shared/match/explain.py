"""Explain why two source records did or did not end up in one customer.

For each rule that applies to the pair: every condition with both normalized values, its score and
threshold, the exceptions, and the verdict; in probabilistic mode, every comparison's level and match
weight, the total, the probability and the cannot-links; finally the two CustomerIds of the run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from shared.config.model import UnificationConfig
from shared.duck import lake_duckdb, parquet_source
from shared.lakeio import read_json
from shared.match.comparisons import NULL_LEVEL, comparison_levels
from shared.match.fellegi_sunter import FsModel, comparison_weight, probability
from shared.match.partition import MAX_BLOCK, exception_fires
from shared.match.plan import PREFIX_CHARS, MatchSetup, feature_files
from shared.match.rules import CompiledCondition, CompiledRule, compile_condition, compile_rules
from shared.match.scoring import fuzzy_scores
from shared.match.train import FsBlock
from shared.merge.survivorship import q
from shared.merge.unify import ALTERNATE_KEY
from shared.names import Col
from shared.paths import RunPaths
from shared.ports import Lake


@dataclass
class ConditionCheck:
    field: str
    left: Any
    right: Any
    score: float | None
    threshold: float
    holds: bool | None  # None: a value is missing


@dataclass
class RuleCheck:
    rule: str
    kind: str  # deduplication | match
    conditions: list[ConditionCheck]
    exceptions: list[str]
    matched: bool
    # why the rule never compared the pair although its conditions hold: a fuzzy-only rule blocks on a prefix,
    # and a block over ``MAX_BLOCK`` records is skipped
    uncompared: str | None = None


@dataclass
class Explanation:
    records: tuple[str, str]
    customer_ids: tuple[str | None, str | None]
    rules: list[RuleCheck] = field(default_factory=list)
    comparisons: list[dict[str, Any]] = field(default_factory=list)
    probability: float | None = None
    # the probabilistic blocking keys both records hold: the model compared them only under one of these
    blocking: list[str] = field(default_factory=list)
    cannot_link: list[str] = field(default_factory=list)
    verdict: str = ""


def _check(condition: CompiledCondition, a: dict[str, Any], b: dict[str, Any], base: str) -> ConditionCheck:
    left, right = a.get(condition.left.column), b.get(condition.right.column)
    if left is None or right is None:
        return ConditionCheck(condition.left.field, left, right, None, condition.threshold, None)
    if condition.exact:
        return ConditionCheck(condition.left.field, left, right, 1.0 if left == right else 0.0, 1.0, left == right)
    score = float(fuzzy_scores([left], [right], base)[0])
    return ConditionCheck(condition.left.field, left, right, round(score, 4), condition.threshold,
                          score >= condition.threshold - 1e-9)


def _record(con: duckdb.DuckDBPyConnection, table_index: int, table: str, key: str) -> dict[str, Any]:
    cursor = con.execute(f"SELECT * FROM features WHERE TableIndex = ? AND {q(Col.SOURCE_KEY)} = ? LIMIT 1",
                         [table_index, key])
    row = cursor.fetchone()
    if row is None:
        raise KeyError(f"{table} has no record with key {key!r} in this run")
    return dict(zip([d[0] for d in cursor.description or []], row, strict=True))


def _count(con: duckdb.DuckDBPyConnection, tables: list[int], conditions: list[tuple[str, Any]]) -> int:
    """Records of ``tables`` whose (SQL expression, value) conditions all hold: a block's size."""
    where = " AND ".join(["TableIndex IN (" + ", ".join(str(int(t)) for t in tables) + ")",
                          *(f"{expression} = ?" for expression, _ in conditions)])
    return int(con.execute(f"SELECT count(*) FROM features WHERE {where}", [v for _, v in conditions]).fetchall()[0][0])


def _term_frequency(con: duckdb.DuckDBPyConnection, lake: Lake, paths: RunPaths, column: str,
                    value: Any) -> float | None:
    """The share of records holding ``value`` in the run's term frequencies of ``column`` (the frequency the
    partitions adjusted an exact agreement by); None where the run kept none."""
    path = paths.match_term_frequencies(column)
    if value is None or not lake.exists(path):
        return None
    found = con.execute(f"SELECT f FROM {parquet_source(lake, [path])} WHERE v = ? LIMIT 1", [value]).fetchone()
    return None if found is None else float(found[0])


def _rule_uncompared(con: duckdb.DuckDBPyConnection, rule: CompiledRule, order: list[str], a: dict[str, Any],
                     b: dict[str, Any]) -> str | None:
    """Why ``rule`` never paired the two records (its block key differs or its block is too large), or None."""
    left = [c.left.column for c in rule.blocking]
    right = left if rule.dedupe else [c.right.column for c in rule.blocking]

    def key(record: dict[str, Any], columns: list[str]) -> tuple[Any, ...] | None:
        values: list[Any] = [record.get(c) for c in columns]
        if any(v is None for v in values):
            return None
        return (str(values[0])[:PREFIX_CHARS], *values[1:]) if rule.blocks_on_prefix else tuple(values)

    first, second = key(a, left), key(b, right)
    if first is None or second is None or first != second:
        field = rule.blocking[0].left.field
        return (f"it blocks on the first {PREFIX_CHARS} characters of {field}: {first and first[0]!r} vs "
                f"{second and second[0]!r}, so it never compared them")

    def expressions(columns: list[str]) -> list[str]:
        return [f"substr({q(c)}, 1, {PREFIX_CHARS})" if i == 0 and rule.blocks_on_prefix else q(c)
                for i, c in enumerate(columns)]

    tables = {t: i for i, t in enumerate(order)}
    size = _count(con, [tables[rule.table]] if rule.dedupe else [tables[t] for t in rule.against if t in tables],
                  list(zip(expressions(left), first, strict=True)))
    if not rule.dedupe:
        size += _count(con, [tables[rule.table]], list(zip(expressions(right), first, strict=True)))
    if size > MAX_BLOCK:
        return f"its block of {size:,} records sharing the key is over the limit of {MAX_BLOCK:,}: never compared"
    return None


def _shared_blocks(con: duckdb.DuckDBPyConnection, blocks: list[FsBlock], tables: int, a: dict[str, Any],
                   b: dict[str, Any]) -> list[str]:
    """The blocking keys whose values both records hold, in a block scoring compares (``MAX_BLOCK`` records
    at most: a larger one is skipped); ``tables``: how many tables take part."""
    shared = []
    for block in blocks:
        if not all(a.get(f.column) is not None and a.get(f.column) == b.get(f.column) for f in block.features):
            continue
        if _count(con, list(range(tables)), [(q(f.column), a[f.column]) for f in block.features]) <= MAX_BLOCK:
            shared.append(block.name.removeprefix("probabilistic:"))
    return shared


def explain_pair(lake: Lake, config: UnificationConfig, run_id: str, first: tuple[str, str],
                 second: tuple[str, str]) -> Explanation:
    """``first``/``second`` are (source table name, primary key). The features and the crosswalk are read
    by DuckDB with the keys as filters, never whole: at 5 M customers reading them whole took 3.9 GB."""
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW features AS SELECT * FROM {parquet_source(lake, feature_files(lake, run_id))}")
        return _explain(con, lake, config, run_id, first, second)


def _explain(con: duckdb.DuckDBPyConnection, lake: Lake, config: UnificationConfig, run_id: str,
             first: tuple[str, str], second: tuple[str, str]) -> Explanation:
    order = config.unification.match_order
    paths = RunPaths(run_id)
    ta, tb = order.index(first[0]), order.index(second[0])
    if tb < ta:
        first, second, ta, tb = second, first, tb, ta
    a, b = _record(con, ta, *first), _record(con, tb, *second)
    crosswalk = parquet_source(lake, [paths.unified(ALTERNATE_KEY)])
    ids = []
    for name, key in (first, second):
        source = config.source(name)
        found = con.execute(f"SELECT {q(Col.CUSTOMER_ID)} FROM {crosswalk} WHERE {q(Col.DATA_SOURCE)} = ? "
                            f"AND {q(Col.TABLE)} = ? AND AlternateValue = ? LIMIT 1",
                            [source.data_source, source.table, key]).fetchone()
        ids.append(None if found is None else str(found[0]))
    result = Explanation((f"{first[0]}:{first[1]}", f"{second[0]}:{second[1]}"), (ids[0], ids[1]))
    base = config.unification.fuzzy_base_length
    for rule in compile_rules(config):
        applies = (rule.dedupe and ta == tb and rule.table == first[0]) or (
            not rule.dedupe and rule.table == second[0] and first[0] in rule.against)
        if not applies:
            continue
        checks = [_check(c, a, b, base) for c in rule.conditions]
        fired = []
        for exception in rule.exceptions:
            outcome = [_check(c, a, b, base) for c in exception.conditions]
            results = [(np.asarray([c.holds is True]), np.asarray([c.holds is not None])) for c in outcome]
            if exception_fires(exception.when, results, 1)[0]:
                fired.append(f"{exception.when}: " + ", ".join(f"{c.field} {c.left!r} vs {c.right!r}" for c in outcome))
        uncompared = _rule_uncompared(con, rule, order, a, b) if all(c.holds for c in checks) else None
        matched = all(c.holds for c in checks) and not fired and uncompared is None
        result.rules.append(RuleCheck(rule.name, "deduplication" if rule.dedupe else "match", checks, fired, matched,
                                      uncompared))
    settings = config.unification.probabilistic
    if settings.enabled and lake.exists(paths.match_model()):
        model = FsModel.from_dict(read_json(lake, paths.match_model()))
        weights = model.weights()
        total = float(np.log2(model.prior / (1 - model.prior)))
        for i, comparison in enumerate(model.comparisons):
            column = comparison.feature.column
            level = int(comparison_levels(comparison.kind, pa.array([a.get(column)], pa.string()),
                                          pa.array([b.get(column)], pa.string()))[0])
            frequency = _term_frequency(con, lake, paths, column, a.get(column)) \
                if comparison.term_frequency and level == 0 else None
            weight = float(comparison_weight(model, i, np.asarray([level]),
                                             np.asarray([np.nan if frequency is None else frequency]), weights)[0])
            total += weight
            result.comparisons.append({"comparison": comparison.name, "left": a.get(column), "right": b.get(column),
                                       "level": "missing" if level == NULL_LEVEL else comparison.levels[level],
                                       "weight": round(weight, 2), "term_frequency": frequency})
        result.probability = float(probability(np.asarray([total]))[0])
        if not (settings.link_only and ta == tb):
            result.blocking = _shared_blocks(con, MatchSetup.of(config).blocks, len(order), a, b)
        for cannot in settings.cannot_link:
            outcome = [_check(compile_condition(condition), a, b, base) for condition in cannot.conditions]
            results = [(np.asarray([c.holds is True]), np.asarray([c.holds is not None])) for c in outcome]
            if exception_fires(cannot.when, results, 1)[0]:
                result.cannot_link.append(", ".join(f"{c.field} {c.left!r} vs {c.right!r}" for c in outcome))
    result.verdict = _verdict(result, config, ta != tb)
    return result


def _verdict(result: Explanation, config: UnificationConfig, across_tables: bool) -> str:
    same = result.customer_ids[0] is not None and result.customer_ids[0] == result.customer_ids[1]
    matched = [r.rule for r in result.rules if r.matched]
    threshold = config.unification.probabilistic.threshold
    would_link = result.probability is not None and result.probability >= threshold and not result.cannot_link
    linked_probabilistically = would_link and bool(result.blocking)
    why_not = ("it compares records of different tables only (link_only)"
               if config.unification.probabilistic.link_only and not across_tables else "no blocking key pairs them")
    unblocked = (f"the model would link them ({result.probability:.3f} ≥ {threshold}) but {why_not}, so it never "
                 "compared them") if would_link and not result.blocking else ""
    if same:
        why = (f"rule {matched[0]!r} matched them" if matched else
               "the probabilistic model linked them" if linked_probabilistically else
               "they were joined transitively through other records" + (f" ({unblocked})" if unblocked else ""))
        return f"one customer: {why}"
    if result.cannot_link:
        return "two customers: a cannot-link keeps them apart (" + "; ".join(result.cannot_link) + ")"
    if matched or linked_probabilistically:
        reason = ("the later table's record joined another profile first (match order: a record joins one profile)"
                  if across_tables and not config.unification.probabilistic.enabled
                  else "a never-match pair, a cannot-link inside their component or the cluster-size guard "
                       "separated them")
        return f"two customers although they match: {reason}"
    misses = [f"{r.rule}: " + (r.uncompared or ", ".join(f"{c.field} {'missing' if c.holds is None else 'differs'}"
                                                         for c in r.conditions if not c.holds))
              for r in result.rules if not r.matched and not r.exceptions]
    excepted = [f"{r.rule}: exception ({'; '.join(r.exceptions)})" for r in result.rules if r.exceptions]
    parts = misses + excepted
    if unblocked:
        parts.append(unblocked)
    elif result.probability is not None:
        parts.append(f"match probability {result.probability:.3f} < {threshold}")
    return "two customers: " + ("; ".join(parts) if parts else "no rule applies to these tables")
