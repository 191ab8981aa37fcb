"""Cross-reference checks of a parsed config: every name a rule, policy or link uses must exist."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from shared.names import Col

if TYPE_CHECKING:
    from shared.config.model import Rule, UnificationConfig


def _duplicates(values: list[str]) -> list[str]:
    seen: set[str] = set()
    return sorted({v for v in values if v in seen or seen.add(v)})  # type: ignore[func-returns-value]


def reference_errors(config: UnificationConfig) -> list[str]:
    """Human-readable problems, each naming the key path; empty when the config is consistent."""
    problems: list[str] = []
    tables = config.all_tables()
    sources = {s.name: s for s in config.sources}
    activities = {a.name: a for a in config.activities}
    for dup in _duplicates([t.name for t in tables]):
        problems.append(f"table name {dup!r} is used twice (sources/activities)")
    for dup in _duplicates([f"{t.data_source}.{t.table}" for t in tables]):
        problems.append(f"data source + table {dup!r} is declared twice")
    landings = sorted(t.landing for t in tables)
    for a, b in itertools.pairwise(landings):
        if a == b or b.startswith(a + "/"):
            problems.append(f"landing folders overlap: {a!r} and {b!r}")
    attributes = {t.name: {*t.attributes().values(), Col.SOURCE_KEY} for t in tables}
    for table in tables:
        for dup in _duplicates(list(table.attributes().values())):
            problems.append(f"{table.name}.columns: two columns map to attribute {dup!r}; use `as:` to rename one")

    order = config.unification.match_order
    for dup in _duplicates(order):
        problems.append(f"unification.match_order lists {dup!r} twice")
    for name in order:
        if name not in sources:
            problems.append(f"unification.match_order: {name!r} is not a source table")
    for name in sources:
        if name not in order:
            problems.append(f"unification.match_order: source {name!r} is missing (every source is unified)")
    for name, settings in config.unification.tables.items():
        where = f"unification.tables.{name}"
        if name not in sources:
            problems.append(f"{where}: {name!r} is not a source table")
            continue
        position = order.index(name) if name in order else -1
        for rule in settings.deduplication.rules:
            problems += _rule_errors(rule, f"{where}.deduplication.rules.{rule.name}", name, [name], attributes)
        earlier = order[:position] if position >= 0 else []
        if settings.rules and position == 0:
            problems.append(f"{where}.rules: the first table in match order has no earlier table to match")
        for rule in settings.rules:
            against = rule.against or earlier
            for other in against:
                if other not in earlier:
                    problems.append(f"{where}.rules.{rule.name}.against: {other!r} is not earlier in match_order")
            problems += _rule_errors(rule, f"{where}.rules.{rule.name}", name,
                                     [a for a in against if a in earlier], attributes)
        for kind, rules in (("rules", settings.rules), ("deduplication.rules", settings.deduplication.rules)):
            for dup in _duplicates([r.name for r in rules]):
                problems.append(f"{where}.{kind}: rule name {dup!r} is used twice")

    for activity in config.activities:
        where = f"activities.{activity.name}"
        readable = set(activity.columns) | set(activity.key_columns())
        for key in ("timestamp", "amount", "customer_key", "order_key", "return_flag"):
            column = getattr(activity, key)
            if column and column not in activity.columns:
                problems.append(f"{where}.{key}: column {column!r} must be mapped under `columns` "
                                f"(mapped: {', '.join(sorted(readable))})")
        if activity.customer_source and activity.customer_source not in sources:
            problems.append(f"{where}.customer_source: {activity.customer_source!r} is not a source table")
        if activity.order_source and activity.order_source not in activities:
            problems.append(f"{where}.order_source: {activity.order_source!r} is not an activity table")
    custom = config.unification.custom
    for kind, pairs in (("always_match", custom.always_match), ("never_match", custom.never_match)):
        for i, pair in enumerate(pairs):
            for name in (pair.table1, pair.table2):
                if name not in sources:
                    problems.append(f"unification.custom.{kind}[{i}]: {name!r} is not a source table")
    defined: set[str] = set()
    for i, segment in enumerate(config.enrichment.segments):
        for kind in ("union", "intersect", "exclude"):
            for name in getattr(segment, kind) or []:
                if name not in defined:
                    problems.append(f"enrichment.segments[{i}].{kind}: {name!r} is not a segment defined before "
                                    f"{segment.name!r}")
        if sum(x is not None for x in (segment.rule, segment.union, segment.intersect, segment.exclude)) != 1:
            problems.append(f"enrichment.segments[{i}]: give exactly one of rule, union, intersect, exclude")
        defined.add(segment.name)
    source_attributes = set().union(*(attributes[s] for s in sources)) if sources else set()
    probabilistic = config.unification.probabilistic
    for i, comparison in enumerate(probabilistic.comparisons):
        if comparison.field not in source_attributes:
            problems.append(f"unification.probabilistic.comparisons[{i}].field: no source maps {comparison.field!r}")
    for key in ("blocking", "training_blocking"):
        for i, fields in enumerate(getattr(probabilistic, key) or []):
            for field in fields:
                if field not in source_attributes:
                    problems.append(f"unification.probabilistic.{key}[{i}]: no source maps {field!r}")
            if not fields:
                problems.append(f"unification.probabilistic.{key}[{i}]: a blocking key needs at least one attribute")
    if probabilistic.enabled and not probabilistic.comparisons:
        problems.append("unification.probabilistic.comparisons: the probabilistic mode needs at least one comparison")
    if probabilistic.enabled and not probabilistic.blocking:
        problems.append("unification.probabilistic.blocking: the probabilistic mode needs at least one blocking key "
                        "(it compares only records that share one)")
    for field in [*config.merge.fields, *config.merge.exclude, *config.merge.custom_id_fields]:
        if field not in source_attributes:
            problems.append(f"merge: no source maps attribute {field!r}")
    for group in config.merge.groups:
        for field in group.fields:
            if field not in source_attributes:
                problems.append(f"merge.groups.{group.name}: no source maps attribute {field!r}")
    return problems


def _rule_errors(rule: Rule, where: str, table: str, against: list[str],
                 attributes: dict[str, set[str]]) -> list[str]:
    problems = []
    conditions = [*rule.conditions, *(c for e in rule.exceptions for c in e.conditions)]
    for condition in conditions:
        if condition.right_field not in attributes.get(table, set()):
            problems.append(f"{where}: {table!r} has no attribute {condition.right_field!r}")
        for other in against:
            if condition.left_field not in attributes.get(other, set()):
                problems.append(f"{where}: {other!r} has no attribute {condition.left_field!r}")
    return problems
