"""Pydantic models of the unification config (``c360.yaml``). Unknown keys are errors everywhere.

Names follow Customer Insights: sources are mapped tables with a primary key and semantic types;
``unification`` holds match order, deduplication and match rules (conditions ANDed, rules in order),
exceptions, custom matches and the probabilistic model; ``merge`` holds survivorship policies.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.config.semantic import SEMANTIC_TYPES, DataType

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, description="Identifier: letters, digits, underscore.")]

Normalization = Literal["whitespace", "symbols", "lowercase", "unicode_to_ascii", "numerals", "phone", "name",
                        "address", "organization", "alias", "bypass"]
Precision = Literal["low", "medium", "high", "exact"] | Annotated[int, Field(ge=1, le=100)]
PRECISION_PRESETS = {"low": 30, "medium": 60, "high": 80, "exact": 100}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class CsvOptions(Strict):
    """How to read delimited text; ``null`` means detect."""

    delimiter: str | None = Field(None, description="Field delimiter; detected from the first lines when null.")
    encoding: str | None = Field(None, description="Text encoding; BOM, then UTF-8, then cp1252 when null.")
    header: bool = Field(True, description="Whether the first record is a header.")
    quote: str = Field('"', description="Quote character.")
    columns: list[str] | None = Field(None, description="Column names when the file has no header.")
    skip_lines: int = Field(0, ge=0, le=1000, description=(
        "Lines before the header to skip: the title, date and blank lines a report export starts with."))
    decimal: Literal[".", ","] = Field(".", description=(
        "Decimal separator of numbers (\",\" in many European exports)."))
    thousands: Literal[",", ".", " ", "'"] | None = Field(None, description=(
        "Separator numbers may group thousands with (\"1.234,50\" with decimal \",\"); groups of three digits "
        "only. None by default: a grouped number is quarantined."))

    @model_validator(mode="after")
    def _separators_differ(self) -> CsvOptions:
        if self.thousands == self.decimal:
            raise ValueError(f"thousands and decimal are both {self.decimal!r}")
        return self


class ExcelOptions(Strict):
    """Which worksheet of an Excel workbook (``format: xlsx``) holds the table; its first row (after
    ``skip_rows``) is the header."""

    sheet: str | None = Field(None, description="Worksheet name; the first sheet when null.")
    skip_rows: int = Field(0, ge=0, le=1000, description="Rows above the header to skip (a report's title).")


class JsonOptions(Strict):
    """Where a JSON document (``format: jsonl``) holds its records when it is not one object per line."""

    records: str | None = Field(None, description=(
        "The member of the document's top-level object whose array holds the records (an OData export's "
        "`value`); null: one object per line, or a top-level array."))


class ColumnMapping(Strict):
    """A mapped source column: its semantic type, or an explicit data type, and an optional new name."""

    type: str | None = Field(None, description="Customer Insights semantic type, e.g. Person.FirstName.")
    as_: str | None = Field(None, alias="as", pattern=NAME_PATTERN, description="Attribute name override.")
    data_type: DataType | None = Field(None, description="Data type when no semantic type implies it.")
    format: str | None = Field(None, description=(
        "The one form of a date or date/time column's values, as a strptime pattern (\"%d/%m/%Y\" for a "
        "day-first export; without one, a slash date is read month first). Values in another form are "
        "quarantined. A time without %z is UTC."))

    @field_validator("type")
    @classmethod
    def _known_type(cls, value: str | None) -> str | None:
        if value is not None and value not in SEMANTIC_TYPES:
            raise ValueError(f"unknown semantic type {value!r}; known: {', '.join(sorted(SEMANTIC_TYPES))}")
        return value

    @model_validator(mode="after")
    def _something_mapped(self) -> ColumnMapping:
        if self.type is None and self.data_type is None:
            raise ValueError("a column needs a semantic `type` or a `data_type`")
        if self.format is not None:
            if self.resolved_data_type() not in ("date", "dateTime"):
                raise ValueError(f"`format` is for date and dateTime columns; this one is {self.resolved_data_type()}")
            if "%" not in self.format:
                raise ValueError(f"`format` {self.format!r} is no strptime pattern (such as %d/%m/%Y)")
            try:
                probe = datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
                datetime.strptime(probe.strftime(self.format), self.format)
            except ValueError as exc:
                raise ValueError(f"`format` {self.format!r} does not read back what it writes: {exc}") from exc
        return self

    def attribute(self, source_column: str) -> str:
        """The CDM attribute name the column is converted to."""
        if self.as_:
            return self.as_
        if self.type:
            return SEMANTIC_TYPES[self.type][0]
        return re.sub(r"[^A-Za-z0-9_]", "_", source_column)

    def resolved_data_type(self) -> DataType:
        if self.data_type:
            return self.data_type
        assert self.type is not None
        return SEMANTIC_TYPES[self.type][1]


def _coerce_columns(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ({"type": v} if isinstance(v, str) else v) for k, v in value.items()}
    return value


class TableBase(Strict):
    """A landed table: where its files land, how to read them, its primary key and mapped columns."""

    name: Name = Field(description="Unique name of the table in c360 (used in rules and views).")
    data_source: Name = Field(description="Data source name, as in Customer Insights.")
    table: Name = Field(description="Table name inside the data source.")
    landing: str = Field(description="Folder under the landing zone where this table's files land.")
    format: Literal["csv", "parquet", "jsonl", "xlsx", "cdm"] = "csv"
    csv: CsvOptions = CsvOptions()
    excel: ExcelOptions = ExcelOptions()
    json_: JsonOptions = Field(JsonOptions(), alias="json")  # ``json`` is a BaseModel method
    primary_key: str | list[str] = Field(
        description="Source column holding the primary key (string, integer or GUID), or a list for a composite key.")
    recency: str | None = Field(None, description="Source column with a last-modified date (most/least recent).")
    columns: dict[str, ColumnMapping] = Field(description="Source column → semantic type or mapping.")

    _columns = field_validator("columns", mode="before")(_coerce_columns)

    @field_validator("landing")
    @classmethod
    def _relative_landing(cls, value: str) -> str:
        cleaned = value.strip("/")
        if not cleaned or ".." in cleaned.split("/"):
            raise ValueError("landing must be a relative folder without '..'")
        return cleaned

    def key_columns(self) -> list[str]:
        return [self.primary_key] if isinstance(self.primary_key, str) else list(self.primary_key)

    def attributes(self) -> dict[str, str]:
        """Source column → attribute name."""
        return {column: mapping.attribute(column) for column, mapping in self.columns.items()}


class SourceTable(TableBase):
    """A customer table (ERP customers, CRM contacts, loyalty members, e-commerce accounts…)."""


class ActivityTable(TableBase):
    """Orders, order lines or other activities, linked to a customer table by a foreign key."""

    activity_type: Literal["SalesOrder", "SalesOrderLine", "Loyalty", "Feedback", "Subscription", "Other"]
    timestamp: str | None = Field(None, description="Source column with the activity time.")
    amount: str | None = Field(None, description="Source column with the amount (negative = return).")
    customer_key: str | None = Field(None, description="Source column referencing the customer table's key.")
    customer_source: Name | None = Field(None, description="Name of the customer table the key references.")
    order_key: str | None = Field(None, description="For order lines: source column referencing the order.")
    order_source: Name | None = Field(None, description="For order lines: name of the order activity table.")
    return_flag: str | None = Field(None, description="Source column flagging returns (true/1/yes).")

    @model_validator(mode="after")
    def _linked(self) -> ActivityTable:
        if not ((self.customer_key and self.customer_source) or (self.order_key and self.order_source)):
            raise ValueError("an activity needs customer_key + customer_source, or order_key + order_source")
        if self.timestamp is None and self.order_source is None:
            raise ValueError("an activity needs a timestamp column (or an order to take it from)")
        return self


class Condition(Strict):
    """One condition of a rule: a field pair, normalizations and a precision (exact by default)."""

    field: str | None = Field(None, description="Attribute compared on both sides.")
    left: str | None = Field(None, description="Attribute on the earlier table (when names differ).")
    right: str | None = Field(None, description="Attribute on the later table (when names differ).")
    normalize: list[Normalization] = Field(default_factory=list)
    precision: Precision = "exact"

    @model_validator(mode="after")
    def _pair(self) -> Condition:
        if not self.field and not (self.left and self.right):
            raise ValueError("a condition needs `field`, or both `left` and `right`")
        return self

    @property
    def left_field(self) -> str:
        return self.left or self.field or ""

    @property
    def right_field(self) -> str:
        return self.right or self.field or ""

    @property
    def threshold(self) -> float:
        value = PRECISION_PRESETS[self.precision] if isinstance(self.precision, str) else self.precision
        return value / 100.0

    @property
    def is_exact(self) -> bool:
        return self.threshold >= 1.0


class RuleException(Strict):
    """Suppress a match when all its conditions differ (twins: first names) or all match (conditions ANDed);
    a missing value on either side never triggers an exception."""

    when: Literal["differ", "match"] = "differ"
    conditions: list[Condition] = Field(min_length=1)


class Rule(Strict):
    name: Name
    conditions: list[Condition] = Field(min_length=1)
    exceptions: list[RuleException] = Field(default_factory=list)
    against: list[Name] | None = Field(None, description="Earlier tables this rule matches (default: all).")


class Winner(Strict):
    """Which row of a deduplication group wins; ties go to the largest primary key."""

    policy: Literal["most_filled", "most_recent", "least_recent"] = "most_filled"


class Deduplication(Strict):
    rules: list[Rule] = Field(default_factory=list)
    winner: Winner = Winner()


class TableUnification(Strict):
    include_all_records: bool = True
    deduplication: Deduplication = Deduplication()
    rules: list[Rule] = Field(default_factory=list, description="Cross-table rules against earlier tables.")


class KeyPair(Strict):
    table1: Name
    key1: str
    table2: Name
    key2: str


class CustomMatches(Strict):
    always_match: list[KeyPair] = Field(default_factory=list)
    never_match: list[KeyPair] = Field(default_factory=list)
    aliases: list[list[str]] = Field(default_factory=list, description="Groups of values that count as equal.")
    bypass: list[str] = Field(default_factory=list, description="Values treated as missing when matching.")


class Comparison(Strict):
    """A probabilistic comparison of one attribute, with graded agreement levels."""

    field: str
    kind: Literal["first_name", "name", "string", "address", "email", "phone", "date", "postal_code", "identifier",
                  "exact"] = "string"
    term_frequency: bool = Field(False, description="Adjust weights for how common the value is.")
    bypass: bool = Field(False, description="Values in custom.bypass (placeholders, such as a form's default date) "
                                            "count as missing: neither compared nor blocked on.")


class Probabilistic(Strict):
    """Fellegi–Sunter scoring with m/u estimated by EM; rules act as must-links, exceptions as cannot-links."""

    enabled: bool = False
    comparisons: list[Comparison] = Field(default_factory=list)
    blocking: list[list[str]] = Field(default_factory=list, description="Blocking keys (attribute lists).")
    training_blocking: list[list[str]] | None = Field(
        None, description="Blocking keys of the EM sessions that estimate m (default: `blocking`). Train on keys "
                          "whose pairs are mostly one person (email, name + birth date): keys a household shares "
                          "(address, home phone, surname) pull relatives into the match class.")
    threshold: float = Field(0.5, gt=0, lt=1, description="Match probability at or above which a pair links.")
    em_max_pairs: int = Field(300_000, ge=1000, description="Candidate pairs per EM session (a sample).")
    u_max_pairs: int = Field(500_000, ge=1000, description="Random pairs for estimating u.")
    link_only: bool = Field(False, description="Compare records of different tables only (sources are deduplicated).")
    one_to_one: bool = Field(False, description="With link_only: each record links to its single best match.")
    cannot_link: list[RuleException] = Field(default_factory=list,
                                             description="Pairs meeting an exception never link (e.g. twins).")


class Unification(Strict):
    match_order: list[Name] = Field(min_length=1)
    tables: dict[Name, TableUnification] = Field(default_factory=dict)
    custom: CustomMatches = CustomMatches()
    probabilistic: Probabilistic = Probabilistic()
    fuzzy_base_length: Literal["shorter", "longer"] = Field(
        "shorter", description="Base of the fuzzy score: the shorter string reproduces CI's documented 0.9.")
    max_cluster_size: int = Field(50, ge=2, description="Clusters larger than this are reported as suspect.")
    default_phone_country: str | None = Field(
        None, pattern=r"^[1-9][0-9]{0,2}$",
        description="Country calling code given to national phone numbers (e.g. '1'); null keeps CI's rule "
                    "that a number without a country code never matches one with it.")


class FieldPolicy(Strict):
    policy: Literal["importance", "most_recent", "least_recent", "maximum", "minimum"] | None = Field(
        None, description="importance (the default), most_recent, least_recent, or maximum / minimum: the largest "
                          "or smallest value of a number, date or flag. A consent attribute (Consent.*) defaults "
                          "to maximum: an opt-out in any source holds.")
    order: list[Name] | None = Field(None, description="Table ranking for importance (default: match order).")
    rename: str | None = Field(None, pattern=NAME_PATTERN)


class FieldGroup(Strict):
    name: Name
    fields: list[str] = Field(min_length=1, max_length=10)
    policy: Literal["importance", "most_recent", "least_recent"] = "importance"
    order: list[Name] | None = None


class Merge(Strict):
    fields: dict[str, FieldPolicy] = Field(default_factory=dict)
    groups: list[FieldGroup] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)
    custom_id_fields: list[str] = Field(default_factory=list, max_length=5,
                                        description="Up to five attributes that derive CustomerId.")
    households: bool = Field(True, description="Add HouseholdId from last name + address.")


class Measure(Strict):
    name: Name
    aggregation: Literal["sum", "average", "count", "count_unique", "max", "min", "first", "last", "argmax",
                         "argmin"]
    field: str | None = None
    of: str | None = Field(None, description="For argmax/argmin: the attribute returned.")
    activity_type: str | None = Field(None, description="Only activities of this type.")
    where: dict[str, Any] = Field(default_factory=dict, description="Equality filters on activity attributes.")
    window_days: int | None = Field(None, ge=1, description="Only activities in the last N days.")


class LifetimeValue(Strict):
    enabled: bool = True
    horizon_months: int = Field(12, ge=1, le=60)
    annual_discount_rate: float = Field(0.1, ge=0, le=1)
    high_value: Literal["pareto", "top_percent"] = "pareto"
    top_percent: float = Field(20, gt=0, le=100)


class Churn(Strict):
    enabled: bool = True
    prediction_window_days: int = Field(90, ge=7, description="Predict churn by the end of the next N days.")
    churn_definition_days: int = Field(90, ge=7, description="Days without a purchase that make a customer churned.")
    threshold: float = Field(0.5, gt=0, lt=1)


class BrandAffinity(Strict):
    enabled: bool = True
    field: str = "Brand"
    prior_weight: float = Field(5.0, ge=0, description="Pseudo-purchases shrinking small counts to the population.")


class SegmentCondition(Strict):
    field: str
    op: Literal["=", "!=", ">", ">=", "<", "<=", "in", "not_in", "is_null", "not_null", "contains"]
    value: Any = None


class SegmentRule(Strict):
    all: list[SegmentCondition | SegmentRule] | None = None
    any: list[SegmentCondition | SegmentRule] | None = None


class Segment(Strict):
    name: Name
    rule: SegmentRule | None = None
    union: list[Name] | None = None
    intersect: list[Name] | None = None
    exclude: list[Name] | None = Field(None, description="Members of the first segment not in the others.")


class Enrichment(Strict):
    as_of: str | None = Field(None, description="Reference date (ISO); default: the latest activity date.")
    measures: list[Measure] = Field(default_factory=list)
    lifetime_value: LifetimeValue = LifetimeValue()
    churn: Churn = Churn()
    brand_affinity: BrandAffinity = BrandAffinity()
    segments: list[Segment] = Field(default_factory=list)


class Export(Strict):
    history: bool = Field(True, description="Keep CustomerHistory, a type-2 history of the dimension across runs.")
    history_columns: list[str] = Field(
        default_factory=lambda: ["RfmSegment", "Segments", "TopBrand", "IsHighValue", "IsChurn"],
        description="Enrichment columns tracked in the history besides every profile column (scores that "
                    "move every day, like ChurnScore, are not).")
    file_size_mb: int = Field(256, ge=8, le=4096, description="Target Parquet file size; bigger tables split.")
    ci_csv: bool = Field(False, description="Also write a Customer Insights-style CSV export (model.json + CSV).")


class UnificationConfig(Strict):
    """The whole ``c360.yaml``."""

    version: Literal[1] = 1
    sources: list[SourceTable] = Field(min_length=1)
    activities: list[ActivityTable] = Field(default_factory=list)
    unification: Unification
    merge: Merge = Merge()
    enrichment: Enrichment = Enrichment()
    export: Export = Export()

    # -- lookups ------------------------------------------------------------------------------------

    def table(self, name: str) -> TableBase:
        for table in [*self.sources, *self.activities]:
            if table.name == name:
                return table
        raise KeyError(name)

    def source(self, name: str) -> SourceTable:
        for table in self.sources:
            if table.name == name:
                return table
        raise KeyError(name)

    def unification_of(self, name: str) -> TableUnification:
        return self.unification.tables.get(name, TableUnification())

    def all_tables(self) -> list[TableBase]:
        return [*self.sources, *self.activities]

    def semantic_types(self) -> dict[str, str]:
        """Profile attribute → its CI semantic type, the first source mapping it with one."""
        out: dict[str, str] = {}
        for source in self.sources:
            for column, mapping in source.columns.items():
                if mapping.type:
                    out.setdefault(mapping.attribute(column), mapping.type)
        return out
