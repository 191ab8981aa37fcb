"""Match rules compiled from the config: features (field + normalizations) and conditions to evaluate.

A *feature* is one normalized column; every feature is computed once per record ("normalise once,
then score"). A rule's exact conditions form its blocking key; fuzzy conditions and exceptions are
scored on the candidate pairs the key produces.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from shared.config.model import Condition, Rule, UnificationConfig
from shared.match.normalize import ORDER

LEFT, RIGHT, BOTH = 0, 1, 2


@dataclass(frozen=True)
class Feature:
    field: str
    steps: tuple[str, ...]

    @property
    def column(self) -> str:
        digest = hashlib.sha1("|".join(self.steps).encode()).hexdigest()[:6]
        return f"f_{self.field}_{digest}"


def _feature(field: str, steps: list[str]) -> Feature:
    lookups = [s for s in ("alias", "bypass") if s in steps]
    ordered = [s for s in ORDER if s in steps]
    return Feature(field, tuple(lookups + ordered))


@dataclass(frozen=True)
class CompiledCondition:
    left: Feature
    right: Feature
    threshold: float

    @property
    def exact(self) -> bool:
        return self.threshold >= 1.0


def compile_condition(condition: Condition) -> CompiledCondition:
    return CompiledCondition(_feature(condition.left_field, condition.normalize),
                             _feature(condition.right_field, condition.normalize), condition.threshold)


@dataclass(frozen=True)
class CompiledException:
    when: str  # differ | match
    conditions: tuple[CompiledCondition, ...]


@dataclass(frozen=True)
class CompiledRule:
    """A rule of one table: deduplication (both sides in ``table``) or matching against earlier tables."""

    id: int
    name: str
    table: str
    against: tuple[str, ...]
    dedupe: bool
    priority: int  # position within the table's rule list: lower runs first
    conditions: tuple[CompiledCondition, ...]
    exceptions: tuple[CompiledException, ...]

    @property
    def blocking(self) -> tuple[CompiledCondition, ...]:
        exact = tuple(c for c in self.conditions if c.exact)
        return exact or self.conditions[:1]

    @property
    def blocks_on_prefix(self) -> bool:
        """True when the rule has no exact condition: it blocks on a prefix of its first fuzzy field."""
        return not any(c.exact for c in self.conditions)

    @property
    def scored(self) -> tuple[CompiledCondition, ...]:
        return tuple(c for c in self.conditions if not c.exact)

    def features(self, side: int) -> set[Feature]:
        """Features a side of this rule needs in its partition rows (fuzzy conditions and exceptions)."""
        conditions = [*self.scored, *(c for e in self.exceptions for c in e.conditions)]
        if side == LEFT:
            return {c.left for c in conditions}
        if side == RIGHT:
            return {c.right for c in conditions}
        return {c.left for c in conditions} | {c.right for c in conditions}


def _compile(rule: Rule, rule_id: int, table: str, against: tuple[str, ...], dedupe: bool,
             priority: int) -> CompiledRule:
    return CompiledRule(rule_id, rule.name, table, against, dedupe, priority,
                        tuple(compile_condition(c) for c in rule.conditions),
                        tuple(CompiledException(e.when, tuple(compile_condition(c) for c in e.conditions))
                              for e in rule.exceptions))


def compile_rules(config: UnificationConfig) -> list[CompiledRule]:
    """Every deduplication and cross-table rule, numbered; ``against`` defaults to all earlier tables."""
    rules: list[CompiledRule] = []
    order = config.unification.match_order
    for position, table in enumerate(order):
        settings = config.unification_of(table)
        for priority, rule in enumerate(settings.deduplication.rules):
            rules.append(_compile(rule, len(rules), table, (table,), True, priority))
        for priority, rule in enumerate(settings.rules):
            against = tuple(rule.against or order[:position])
            rules.append(_compile(rule, len(rules), table, against, False, priority))
    return rules


def features_by_table(config: UnificationConfig, rules: list[CompiledRule]) -> dict[str, set[Feature]]:
    """The features each source table must compute: those of rules it takes part in, on its side."""
    needed: dict[str, set[Feature]] = {s.name: set() for s in config.sources}
    for rule in rules:
        for condition in [*rule.conditions, *(c for e in rule.exceptions for c in e.conditions)]:
            needed[rule.table].add(condition.right)
            if rule.dedupe:
                needed[rule.table].add(condition.left)
            for other in rule.against:
                needed[other].add(condition.left)
    return needed
