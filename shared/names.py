"""One spelling per name: functions, activities, lake folders, CDM attributes.

Everything that is referenced from more than one place is defined here once.
"""

from __future__ import annotations

from enum import StrEnum

ORCHESTRATOR = "unify_customers"
# the orchestrator's status step while files of an open incremental hour wait (``c360 run`` leaves on it)
WAITING_FOR_HOUR = "waiting for an incremental hour to close"
# the statuses a run record ends in
RUN_ENDED = ("Completed", "Skipped", "Failed")


class Activity(StrEnum):
    """Activity function names (``verb_object``)."""

    CHECK_LANDING = "check_landing"
    PREPARE_RUN = "prepare_run"
    CONVERT_SOURCE_FILE = "convert_source_file"
    APPLY_SOURCE_CHANGES = "apply_source_changes"
    PLAN_MATCH_PARTITIONS = "plan_match_partitions"
    WRITE_FEATURES = "write_features"
    TRAIN_MATCH_MODEL = "train_match_model"
    COUNT_BLOCK_KEYS = "count_block_keys"
    WRITE_BLOCK_ROWS = "write_block_rows"
    MATCH_PARTITION = "match_partition"
    MERGE_CLUSTERS = "merge_clusters"
    WRITE_CUSTOMER_SHARD = "write_customer_shard"
    WRITE_LINEAGE_TABLE = "write_lineage_table"
    UNIFY_ACTIVITIES = "unify_activities"
    ENRICH_PROFILES = "enrich_profiles"
    EXPORT_TABLES = "export_tables"
    DESCRIBE_EXPORT = "describe_export"
    PUBLISH_SQL_VIEWS = "publish_sql_views"
    FINISH_RUN = "finish_run"


class ExportPart(StrEnum):
    """The export's parts, each written by its own ``export_tables`` activity, side by side."""

    DIMENSION = "dimension"  # Customer with the enrichments that join it, and its type-2 history
    LINEAGE = "lineage"  # AlternateKey, ConflationMatchPairs and the deduplication tables: needs no enrichment
    ENRICHMENT = "enrichment"  # the enrichment tables of their own: UnifiedActivity, BrandAffinity, ...


class Enrichment(StrEnum):
    """The enrichment fan-out: each runs as its own ``enrich_profiles`` activity instance."""

    MEASURES = "measures"
    LIFETIME_VALUE = "lifetime_value"
    CHURN = "churn"
    BRAND_AFFINITY = "brand_affinity"
    SEGMENTS = "segments"


class Lineage(StrEnum):
    """The merge's lineage tables, each written by its own ``write_lineage_table`` activity."""

    ALTERNATE_KEY = "AlternateKey"  # every source record → CustomerId: the crosswalk kept between runs
    DEDUPLICATION = "Deduplication"  # one table per source: group, winner, rule and score per record
    MATCH_PAIRS = "ConflationMatchPairs"  # cross-table pairs with rule, score and whether they linked

    @property
    def reads_pairs(self) -> bool:
        """Whether the table is built from the run's pair files (``AlternateKey`` needs the labels alone)."""
        return self is not Lineage.ALTERNATE_KEY


class Lake:
    """Top-level lake folders (paths are relative to the lake container, ``/``-separated)."""

    LANDING = "landing"
    CONFIG = "config"
    SYSTEM = "system"
    RUNS = "system/runs"
    LEDGER = "system/ledger"
    CURATED = "curated"
    CURRENT = "curated/_current.json"


class Col:
    """CDM attribute names used by the pipeline (source entities and the customer dimension)."""

    # system columns every converted source entity carries
    SOURCE_KEY = "SourceKey"
    SOURCE_FILE = "SourceFile"
    SOURCE_LINE = "SourceLine"
    RECORD_MODIFIED = "RecordModified"
    # person / contact attributes (from Customer Insights semantic types)
    FIRST_NAME = "FirstName"
    MIDDLE_NAME = "MiddleName"
    LAST_NAME = "LastName"
    FULL_NAME = "FullName"
    BIRTH_DATE = "BirthDate"
    GENDER = "Gender"
    EMAIL = "Email"
    PHONE = "Phone"
    GOVERNMENT_ID = "GovernmentId"
    STREET = "Street"
    CITY = "City"
    STATE = "State"
    POSTAL_CODE = "PostalCode"
    COUNTRY = "Country"
    COMPANY_NAME = "CompanyName"
    # unification
    CUSTOMER_ID = "CustomerId"
    PREVIOUS_CUSTOMER_ID = "PreviousCustomerId"
    DATA_SOURCE = "DataSourceName"
    TABLE = "TableName"
    RECORD_ID = "RecordId"
    # activities (CDM SalesOrder / SalesOrderLine semantics)
    ACTIVITY_ID = "ActivityId"
    ACTIVITY_TYPE = "ActivityType"
    ACTIVITY_TIME = "ActivityTimeStamp"
    ORDER_ID = "OrderId"
    AMOUNT = "Amount"
    PRODUCT_ID = "ProductId"
    PRODUCT_NAME = "ProductName"
    BRAND = "Brand"
    QUANTITY = "Quantity"
    IS_RETURN = "IsReturn"
    CUSTOMER_KEY = "CustomerKey"
