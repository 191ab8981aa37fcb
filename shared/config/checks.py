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
    problems += _type_conflicts(config)
    problems += _segment_errors(config)
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
    problems += _extreme_policy_errors(config)
    return problems


def _extreme_policy_errors(config: UnificationConfig) -> list[str]:
    """``maximum``/``minimum`` order values: text has only an alphabetical order, which picks no better
    value ("Smith" over "Jones"), so it is refused rather than merged by it."""
    from shared.merge.survivorship import attribute_types

    types = attribute_types(config)
    return [f"merge.fields.{attribute}.policy: {policy.policy} takes the largest or smallest number, date or flag, "
            f"but {attribute} is {types[attribute]}: use importance, most_recent or least_recent"
            for attribute, policy in config.merge.fields.items()
            if policy.policy in ("maximum", "minimum") and types.get(attribute) in ("string", "guid")]


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


def dimension_columns(config: UnificationConfig) -> dict[str, str]:
    """Every column the dimension can have, with its kind (``shared.enrich.outputs.Kind``): the merged
    attributes (renamed as the merge says), the ids and source keys, and what enrichment adds. An
    enrichment that is disabled, or skipped for too little data, leaves its columns out of a run."""
    from shared.enrich.outputs import ENRICHMENT_COLUMNS, MEASURE_KINDS
    from shared.merge.survivorship import attribute_types, merged_fields, source_key_columns

    kinds = {"string": "text", "guid": "text", "int64": "number", "double": "number", "decimal": "number",
             "boolean": "boolean", "date": "time", "dateTime": "time"}
    types = attribute_types(config)
    columns: dict[str, str] = {Col.CUSTOMER_ID: "text", "PreviousCustomerId": "text", "HouseholdId": "text"}
    columns.update({field.name: kinds[types[field.attribute]] for field in merged_fields(config)})
    for _index, key, alternate in source_key_columns(config):
        columns[key] = columns[alternate] = "text"
    columns.update(ENRICHMENT_COLUMNS)
    for measure in config.enrichment.measures:
        columns[measure.name] = MEASURE_KINDS.get(measure.aggregation, "any")
    return columns


def _segment_errors(config: UnificationConfig) -> list[str]:
    """Each segment condition names a dimension column and compares it with a value of its kind: a typo
    (``ChurnScor``) matched nobody, and ``RfmSegment > 3`` failed the run at its very end."""
    import difflib

    from shared.config.model import SegmentCondition, SegmentRule

    if not config.enrichment.segments:
        return []
    columns = dimension_columns(config)
    problems: list[str] = []

    def check(item: SegmentCondition | SegmentRule, where: str) -> None:
        if isinstance(item, SegmentRule):
            for join in ("all", "any"):
                for i, inner in enumerate(getattr(item, join) or []):
                    check(inner, f"{where}.{join}[{i}]")
            return
        kind = columns.get(item.field)
        if kind is None:
            close = difflib.get_close_matches(item.field, list(columns), n=3)
            problems.append(f"{where}.field: {item.field!r} is no dimension column"
                            + (f" (did you mean {', '.join(close)}?)" if close else ""))
            return
        problem = _value_problem(item.op, item.value, kind)
        if problem:
            problems.append(f"{where}: {item.field} {item.op} {item.value!r}: {problem}")

    for i, segment in enumerate(config.enrichment.segments):
        if segment.rule is not None:
            check(segment.rule, f"enrichment.segments[{i}].rule")
    return problems


def _value_problem(op: str, value: object, kind: str) -> str | None:
    """Why ``column op value`` cannot hold as meant for a column of ``kind``; None when it can."""
    if op in ("is_null", "not_null"):
        return None if value is None else f"{op} takes no value"
    if op in ("in", "not_in"):
        if not isinstance(value, list):
            return f"{op} takes a list of values"
        return next((p for v in value if (p := _value_problem("=", v, kind))), None)
    if op == "contains":
        return None if isinstance(value, str) else "contains takes a text value"
    if value is None:
        return f"{op} needs a value (is_null / not_null test for a missing one)"
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "number" and not number:
        return "the column holds numbers; the value is not one"
    if kind == "boolean" and (op not in ("=", "!=") or not isinstance(value, bool)):
        return "the column holds true/false; compare it with = or != and true or false"
    if kind == "text" and not isinstance(value, str):
        return "the column holds text; quote the value"
    if kind == "time" and not _iso_date(value):
        return "the column holds dates/times; the value is no ISO date (YYYY-MM-DD)"
    return None


def _iso_date(value: object) -> bool:
    from datetime import datetime

    try:
        datetime.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def config_warnings(config: UnificationConfig) -> list[str]:
    """What is valid but likely not meant: a table whose records no rule compares with anything (each its
    own profile), and one that no later table's rule reaches."""
    if config.unification.probabilistic.enabled:
        return []  # the model compares every table's records with every other's
    order = config.unification.match_order
    warnings: list[str] = []
    reached: set[str] = set()
    for position, name in enumerate(order):
        table = config.unification.tables.get(name)
        earlier = order[:position]
        cross = list(table.rules) if table else []
        for rule in cross:
            reached.update(rule.against if rule.against is not None else earlier)
        deduplicated = bool(table and table.deduplication.rules)
        if position and not cross:
            fate = ("none of them reaches a profile (include_all_records is false)"
                    if table and not table.include_all_records
                    else "each of its records is a profile of its own" + (" or its duplicates'" if deduplicated
                                                                            else ""))
            warnings.append(f"unification.tables.{name}: no rule matches its records with the earlier tables "
                            f"({', '.join(earlier)}): {fate}")
    for name in order[:-1]:
        table = config.unification.tables.get(name)
        if name not in reached and not (table and (table.deduplication.rules or table.rules)):
            warnings.append(f"unification.tables.{name}: no deduplication rule and no later table's rule "
                            "against it: its records are never compared")
    return warnings


def _type_conflicts(config: UnificationConfig) -> list[str]:
    """A profile attribute has one data type: mapped as a date in one source and as text in another, the
    merged column silently became text (and compared as text), as Customer Insights refuses to combine."""
    first: dict[str, tuple[str, str]] = {}  # attribute → (data type, where)
    problems: list[str] = []
    for i, source in enumerate(config.sources):
        for column, mapping in source.columns.items():
            attribute, data_type = mapping.attribute(column), mapping.resolved_data_type()
            where = f"sources[{i}].columns.{column}"
            seen = first.setdefault(attribute, (data_type, f"{source.name} ({where})"))
            if seen[0] != data_type:
                problems.append(f"{where}: {attribute} is {data_type} here but {seen[0]} in {seen[1]}: a profile "
                                f"attribute has one data type; map both alike, or give one its own name (as:)")
    return problems
