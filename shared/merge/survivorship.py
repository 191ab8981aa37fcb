"""Survivorship: the merged value of every field of a profile, by Customer Insights' merge policies.

Candidates are the deduplication *winner rows* of a profile's groups. ``importance`` takes the first
non-null value in a table ranking (default: match order; within a table the most recent row first);
``most_recent``/``least_recent`` use each row's recency (``RecordModified``; rows without one count as
oldest); ``maximum``/``minimum`` take the largest or smallest value of a number, date or flag. A consent
flag (``Consent.*``, boolean) defaults to ``maximum``: an opt-out in any source holds, whichever source
ranks first — Customer Insights' importance default would let a ranked source's ``false`` hide another's
``true``. A *group of fields* picks one row for all its fields, so an address is never stitched
together from two sources. Runs as DuckDB SQL so memory stays bounded at millions of profiles.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config.model import FieldGroup, FieldPolicy, UnificationConfig
from shared.names import Col
from shared.sql.identifiers import quote_identifier, quote_literal

SYSTEM = {Col.SOURCE_KEY, Col.SOURCE_FILE, Col.SOURCE_LINE, Col.RECORD_MODIFIED}
CONSENT = "Consent."  # the semantic types of consent flags: Consent.DoNotEmail, …
EXTREMES = {"maximum": "max", "minimum": "min"}  # policies of a value's order, not a row's


def q(name: str) -> str:
    return quote_identifier(name, "duckdb")


@dataclass(frozen=True)
class OutputField:
    attribute: str
    name: str  # after rename


def merged_fields(config: UnificationConfig) -> list[OutputField]:
    """Every mapped attribute of the source tables, in first-seen order, minus exclusions, renamed."""
    seen: list[str] = []
    for source in config.sources:
        for attribute in source.attributes().values():
            if attribute not in seen and attribute not in SYSTEM and attribute not in config.merge.exclude:
                seen.append(attribute)
    renames = {k: v.rename for k, v in config.merge.fields.items() if v.rename}
    return [OutputField(a, renames.get(a, a)) for a in seen]


def field_policy(config: UnificationConfig, attribute: str) -> str:
    """An attribute's merge policy: the configured one; else ``maximum`` for a boolean consent flag (an
    opt-out in any source holds), else ``importance``, Customer Insights' default."""
    configured = config.merge.fields.get(attribute, FieldPolicy()).policy
    if configured:
        return configured
    consent = config.semantic_types().get(attribute, "").startswith(CONSENT)
    return "maximum" if consent and attribute_types(config).get(attribute) == "boolean" else "importance"


def attribute_types(config: UnificationConfig) -> dict[str, str]:
    """Profile attribute → its data type (one per attribute: the config check refuses two)."""
    return {mapping.attribute(column): mapping.resolved_data_type()
            for source in config.sources for column, mapping in source.columns.items()}


def _rank_case(order: list[str], table_index: dict[str, int]) -> str:
    whens = " ".join(f"WHEN {table_index[t]} THEN {rank}" for rank, t in enumerate(order) if t in table_index)
    return f"(CASE TableIndex {whens} ELSE {len(order)} END)"


def _policy_expression(fields: list[str], policy: str, order: list[str], table_index: dict[str, int],
                       single: bool = False, every_record: bool = False) -> str:
    """An aggregate returning a struct of ``fields`` from the row the policy picks; with ``single`` (one
    field), the field's value itself: a struct per field and row cost a fifth of the aggregate's CPU.
    ``every_record``: the rows are every record's, and the row policies pick among the winners' alone."""
    struct = q(fields[0]) if single else "struct_pack(" + ", ".join(f"{q(f)} := {q(f)}" for f in fields) + ")"
    if policy in EXTREMES:  # one field's own values, over every record (a group picks a row): nulls skipped
        return f"{EXTREMES[policy]}({struct})"
    present = " OR ".join(f"{q(f)} IS NOT NULL" for f in fields)
    present = f"is_winner AND ({present})" if every_record else present
    recency = f"coalesce({q(Col.RECORD_MODIFIED)}, TIMESTAMPTZ '1900-01-01 00:00:00+00')"
    if policy == "most_recent":
        key = f"({recency}, {q(Col.SOURCE_KEY)})"
        return f"arg_max({struct}, {key}) FILTER (WHERE {present})"
    if policy == "least_recent":
        key = f"({recency}, {q(Col.SOURCE_KEY)})"
        return f"arg_min({struct}, {key}) FILTER (WHERE {present})"
    rank = _rank_case(order, table_index)
    key = f"({rank}, -epoch({recency}), {q(Col.SOURCE_KEY)})"
    return f"arg_min({struct}, {key}) FILTER (WHERE {present})"


def reads_every_record(config: UnificationConfig) -> bool:
    """Whether a merged field takes ``maximum``/``minimum``: those read every record of a profile, not only
    its deduplication winners — an opt-out on a duplicate account holds as much as on the winner."""
    grouped = {a for group in config.merge.groups for a in group.fields}
    return any(field_policy(config, f.attribute) in EXTREMES
               for f in merged_fields(config) if f.attribute not in grouped)


def survivorship_sql(config: UnificationConfig, candidates: str, columns: set[str]) -> str:
    """SELECT profile, <merged fields…> FROM ``candidates``: the winner rows with TableIndex or, where
    ``reads_every_record``, every record's row with TableIndex and ``is_winner``.

    ``columns`` are the attributes the candidate rows actually have (a source may not have landed yet);
    the others come out as typed nulls so the dimension keeps one shape.
    """
    every_record = reads_every_record(config)
    order = config.unification.match_order
    table_index = {name: i for i, name in enumerate(order)}
    fields = merged_fields(config)
    available = {f.attribute for f in fields} & columns
    grouped: dict[str, FieldGroup] = {}
    for group in config.merge.groups:
        for attribute in group.fields:
            if attribute in available:
                grouped[attribute] = group
    aggregates, selects = [], []
    for group in config.merge.groups:
        members = [a for a in group.fields if a in available]
        if not members:
            continue
        alias = f"g_{group.name}"
        expression = _policy_expression(members, group.policy, group.order or order, table_index,
                                        every_record=every_record)
        aggregates.append(f"{expression} AS {q(alias)}")
    for field in fields:
        if field.attribute in grouped:
            alias = f"g_{grouped[field.attribute].name}"
            selects.append(f"{q(alias)}.{q(field.attribute)} AS {q(field.name)}")
            continue
        if field.attribute not in available:
            selects.append(f"NULL AS {q(field.name)}")
            continue
        ranking = config.merge.fields.get(field.attribute, FieldPolicy()).order
        alias = f"v_{field.attribute}"
        expression = _policy_expression([field.attribute], field_policy(config, field.attribute), ranking or order,
                                        table_index, single=True, every_record=every_record)
        aggregates.append(f"{expression} AS {q(alias)}")
        selects.append(f"{q(alias)} AS {q(field.name)}")
    inner = f"SELECT profile, {', '.join(aggregates)} FROM {candidates} GROUP BY profile"
    return f"SELECT profile, {', '.join(selects)} FROM ({inner})"


def source_key_columns(config: UnificationConfig) -> list[tuple[int, str, str]]:
    """(table index, primary-key column name, alternate column name) per source: ``{DS}_{Table}_{PK}``."""
    out = []
    for index, name in enumerate(config.unification.match_order):
        source = config.source(name)
        pk = "_".join(source.key_columns())
        column = f"{source.data_source}_{source.table}_{pk}"
        out.append((index, column, f"{column}_Alternate"))
    return out


def source_keys_sql(config: UnificationConfig, members: str) -> str:
    """Per profile: each table's primary-row key and all its keys (``;``-joined) as CI's key columns.

    One small aggregate per table, joined on the profile: one aggregate over every record with a filtered
    ``string_agg(… ORDER BY …)`` per table spilled its states at 1 M customers (4.0-5.7 s, against 1.5 s)."""
    key = q(Col.SOURCE_KEY)
    per_table, columns, joins = [], [], []
    for index, column, alternate in source_key_columns(config):
        per_table.append(f"k{index} AS (SELECT profile, arg_min({key}, (NOT is_primary_row, {key})) "
                         f"FILTER (WHERE is_winner) AS {q(column)}, "
                         f"array_to_string(list_sort(list({key})), ';') AS {q(alternate)} "
                         f"FROM {members} WHERE TableIndex = {index} GROUP BY profile)")
        columns.append(f"k{index}.{q(column)}, k{index}.{q(alternate)}")
        joins.append(f"LEFT JOIN k{index} USING (profile)")
    profiles = f"profiles AS (SELECT DISTINCT profile FROM {members})"
    return (f"WITH {', '.join([profiles, *per_table])} SELECT p.profile, {', '.join(columns)} "
            f"FROM profiles p {' '.join(joins)}")


def household_sql(config: UnificationConfig, customers: str) -> str | None:
    """HouseholdId: UUIDv5-like hash of normalized last name + street + postal code (when all are mapped)."""
    names = {f.name for f in merged_fields(config)}
    last, street, postal = "LastName", "Street", "PostalCode"
    if not config.merge.households or not {last, street, postal} <= names:
        return None
    key = (f"lower(regexp_replace(strip_accents({q(last)}), '[^A-Za-z]', '', 'g')) || '|' || "
           f"lower(regexp_replace({q(street)}, '[^A-Za-z0-9]', '', 'g')) || '|' || "
           f"regexp_replace({q(postal)}, '\\s', '', 'g')")
    return (f"SELECT profile, CASE WHEN {q(last)} IS NULL OR {q(street)} IS NULL OR {q(postal)} IS NULL THEN NULL "
            f"ELSE md5({quote_literal('household|', 'duckdb')} || {key}) END AS household_key FROM {customers}")
