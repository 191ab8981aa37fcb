"""Run one enrichment of a run, and name the tables each one contributes to the export.

Every model writes ``enrich/<name>.model.json`` (inputs, parameters, fit diagnostics, holdout metrics)
so a data scientist can audit a run. Numeric code runs with BLAS limited to one thread: on small
machines oversubscription slowed fits 10–40×.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
from threadpoolctl import threadpool_limits

from shared.config.model import UnificationConfig
from shared.duck import copy_to_lake, lake_duckdb, parquet_source
from shared.enrich.activity import UNIFIED_ACTIVITY
from shared.enrich.affinity import AFFINITY_ORDER, affinity_sql, top_brands_sql
from shared.enrich.churn import FEATURES, score_churn, train_churn
from shared.enrich.clv import (
    baseline_lifetime_value,
    fit_bgnbd,
    fit_gamma_gamma,
    high_value_flags,
    lifetime_value,
    rfm_summary,
)
from shared.enrich.frames import ORDERS, orders_view
from shared.enrich.measures import compute_measures, reference_date
from shared.enrich.segments import rfm_sql, segment_fields, segment_members
from shared.lakeio import (
    ROW_GROUP_ROWS,
    parquet_sink,
    read_parquet_schema,
    write_json,
    write_parquet,
)
from shared.merge.customer_id import uuid5_sql
from shared.merge.survivorship import q
from shared.merge.unify import CUSTOMER, unified_files
from shared.names import Col, Enrichment
from shared.paths import RunPaths
from shared.payloads import EnrichResult
from shared.ports import Lake

CID = q(Col.CUSTOMER_ID)
SEGMENT_NAMESPACE = uuid.UUID("0b7a1c52-2f4e-4d0f-8a51-7f1e0c9d3b21")
RFM_COLUMNS = ["RecencyScore", "FrequencyScore", "MonetaryScore", "RfmScore", "RfmSegment"]
RFM_INPUTS = {"TransactionCount", "DaysSinceLastPurchase", "TotalSpend"}  # what rfm_sql reads
NO_RFM = ("SELECT NULL::BIGINT AS i, NULL::BIGINT AS RecencyScore, NULL::BIGINT AS FrequencyScore, "  # no orders
          "NULL::BIGINT AS MonetaryScore, NULL::VARCHAR AS RfmScore, NULL::VARCHAR AS RfmSegment WHERE false")
FIRST_STAGE = (Enrichment.MEASURES, Enrichment.LIFETIME_VALUE, Enrichment.CHURN, Enrichment.BRAND_AFFINITY)


@dataclass
class Outcome:
    rows: int
    path: str | None
    metrics: dict[str, float] = field(default_factory=dict)


def _customers_table(customers: pa.Array | None, frame: pd.DataFrame) -> pa.Table:
    """A per-customer table: ``CustomerId`` (kept in Arrow: millions of ids as Python strings took
    hundreds of MB) and the frame's columns, row for row."""
    if customers is None or len(customers) != len(frame):
        raise ValueError("a per-customer table needs one CustomerId per row")
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return table.add_column(0, Col.CUSTOMER_ID, customers.cast(pa.string()))


def _write_batches(lake: Lake, path: str, batches: Iterable[tuple[pa.Array, pd.DataFrame]]) -> int:
    """Write per-customer batches as they come into one Parquet file; returns the rows."""
    rows, sink = 0, None
    with contextlib.ExitStack() as stack:
        for customers, frame in batches:
            table = _customers_table(customers, frame)
            if sink is None:
                sink = stack.enter_context(parquet_sink(lake, path, table.schema))
            sink.write_table(table, row_group_size=ROW_GROUP_ROWS)
            rows += len(frame)
        if sink is None:
            raise ValueError("no customer to score")
    return rows


def run_enrichment(lake: Lake, config: UnificationConfig, run_id: str, which: Enrichment) -> Outcome:
    paths = RunPaths(run_id)
    activity = paths.unified(UNIFIED_ACTIVITY)
    output = paths.enrichment(which.value)
    as_of = pd.Timestamp(reference_date(lake, config, activity))
    with threadpool_limits(limits=1):
        if which == Enrichment.MEASURES:
            return Outcome(compute_measures(lake, config, activity, output), output)
        if which == Enrichment.LIFETIME_VALUE:
            return _lifetime_value(lake, config, paths, activity, as_of, output)
        if which == Enrichment.CHURN:
            return _churn(lake, config, paths, activity, as_of, output)
        if which == Enrichment.BRAND_AFFINITY:
            return _brand_affinity(lake, config, paths, activity, output)
        return _segments(lake, config, paths, output)


def _lifetime_value(lake: Lake, config: UnificationConfig, paths: RunPaths, activity: str, as_of: pd.Timestamp,
                    output: str) -> Outcome:
    settings = config.enrichment.lifetime_value
    if not settings.enabled:
        return Outcome(0, None, {"skipped": 1.0})
    with lake_duckdb(lake) as con:
        orders_view(con, lake, activity)
        summary = rfm_summary(con, as_of)
        if len(summary.frame) < 20:
            return Outcome(0, None, {"skipped": 1.0})
        baseline = baseline_lifetime_value(con, as_of, settings.horizon_months)
    bg = fit_bgnbd(summary)
    gg = fit_gamma_gamma(summary)
    value = lifetime_value(bg, gg, summary, settings.horizon_months, settings.annual_discount_rate)
    value["IsHighValue"] = high_value_flags(value["LifetimeValue"], settings.high_value, settings.top_percent)
    value["BaselineLifetimeValue"] = baseline.round(2)
    value = value.round({"ExpectedPurchases": 4, "ExpectedOrderValue": 2, "ProbabilityAlive": 4})
    write_json(lake, paths.enrichment_model(Enrichment.LIFETIME_VALUE.value), {
        "model": "BG/NBD + Gamma-Gamma", "as_of": as_of.isoformat(), "time_unit_days": 7,
        "customers": len(summary.frame), "repeat_customers": int((summary.frame["frequency"] > 0).sum()),
        "bgnbd": {**bg.params(), "log_likelihood": bg.log_likelihood, "iterations": bg.iterations,
                  "converged": bg.converged},
        "gamma_gamma": {**gg.params(), "log_likelihood": gg.log_likelihood, "converged": gg.converged},
        "settings": settings.model_dump(), "high_value_customers": int(value["IsHighValue"].sum()),
        "total_predicted_value": float(value["LifetimeValue"].sum())})
    write_parquet(lake, output, _customers_table(summary.customers, value))
    rows = len(value)
    return Outcome(rows, output, {"bgnbd_log_likelihood": round(bg.log_likelihood, 2)})


def _churn(lake: Lake, config: UnificationConfig, paths: RunPaths, activity: str, as_of: pd.Timestamp,
           output: str) -> Outcome:
    settings = config.enrichment.churn
    if not settings.enabled:
        return Outcome(0, None, {"skipped": 1.0})
    with lake_duckdb(lake) as con:
        orders_view(con, lake, activity)
        (buyers,) = con.sql(f"SELECT count(DISTINCT customer) FROM {ORDERS}").fetchall()[0]
        if buyers < 50:
            return Outcome(0, None, {"skipped": 1.0})
        summary, model = train_churn(con, as_of, settings.prediction_window_days, settings.churn_definition_days,
                                     settings.threshold)
        rows = _write_batches(lake, output, score_churn(model, con, as_of, settings.threshold))
    write_json(lake, paths.enrichment_model(Enrichment.CHURN.value), {
        "model": "logistic regression on RFM and trend features", "as_of": as_of.isoformat(),
        "evaluation": f"out of fold, stratified {summary.folds}-fold over customers at the cutoff",
        "features": FEATURES,
        "settings": settings.model_dump(), **asdict(summary)})
    return Outcome(rows, output, {"auc": summary.auc, "grade": float(ord(summary.grade))})


def _brand_affinity(lake: Lake, config: UnificationConfig, paths: RunPaths, activity: str, output: str) -> Outcome:
    settings = config.enrichment.brand_affinity
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP TABLE affinity AS "
                    f"{affinity_sql(parquet_source(lake, [activity]), settings.field, settings.prior_weight)}")
        copy_to_lake(con, f"SELECT * FROM affinity ORDER BY {AFFINITY_ORDER}", lake, detail_path(paths))
        rows = copy_to_lake(con, top_brands_sql("affinity"), lake, output)
        lines, brands = con.execute("SELECT coalesce(sum(Lines), 0), count(DISTINCT Brand) FROM affinity").fetchall()[0]
    write_json(lake, paths.enrichment_model(Enrichment.BRAND_AFFINITY.value), {
        "method": "smoothed share lift, percentile-scaled to 1–100", "prior_weight": settings.prior_weight,
        "lines": int(lines), "brands": int(brands)})
    return Outcome(rows, output)


def detail_path(paths: RunPaths) -> str:
    return paths.enrichment("brand_affinity_detail")


def membership_path(paths: RunPaths) -> str:
    return paths.enrichment("segment_membership")


def _segments(lake: Lake, config: UnificationConfig, paths: RunPaths, output: str) -> Outcome:
    """RFM scores and the config's segments. Customers are rows in CustomerId order; their ids and the
    RFM scores stay in DuckDB, pandas holds only the columns the rules read and a mask per segment (ids as
    Python strings, sets of them and a tuple per membership took 5.3 GB at five million customers with
    orders; pandas' RFM ranks 600 MB more)."""
    segments = config.enrichment.segments
    sources = [unified_files(lake, paths.run_id, CUSTOMER)]
    sources += [[path] for name in FIRST_STAGE if lake.exists(path := paths.enrichment(name.value))]
    # DuckDB at half its usual limit: pandas holds the rules' columns beside it (1.56 GB against 2.1 GB on
    # a synthetic 5 M customers; the joins spill a little, 63 s against 50 s)
    with lake_duckdb(lake, memory_limit="512MB") as con:
        wanted = segment_fields(segments)
        scored = _segment_dimension(con, lake, sources, wanted)
        con.execute("CREATE TEMP TABLE rfm_rows AS " + (rfm_sql("segment_dimension WHERE TransactionCount > 0")
                                                          if scored else NO_RFM))
        members = segment_members(_segment_frame(con, wanted), segments)
        rfm_counts = dict(con.execute("SELECT RfmSegment, count(*) FROM rfm_rows GROUP BY ALL "
                                      "ORDER BY 2 DESC, 1").fetchall())
        names, rows = _membership_tables(sorted(rfm_counts), members)
        con.register("segment_names", names)
        con.register("config_rows", rows)
        # RFM segments first, each customer's in customer order; then each config segment's members
        con.execute("CREATE TEMP VIEW membership_rows AS SELECT r.i, n.code, 0 AS part FROM rfm_rows r "
                    "JOIN segment_names n ON n.SegmentProvider = 'RFM' AND n.Segment = 'RFM: ' || r.RfmSegment "
                    "UNION ALL SELECT i, code, code + 1 AS part FROM config_rows")
        con.execute(f"CREATE TEMP VIEW membership AS SELECT d.{CID}, n.SegmentProvider, n.Segment, m.part, m.i "
                    "FROM membership_rows m JOIN segment_dimension d ON d.i = m.i "
                    "JOIN segment_names n ON n.code = m.code")
        _write_membership(con, lake, membership_path(paths))
        rfm_columns = "".join(f"r.{c}, " for c in RFM_COLUMNS) if scored else ""
        written = copy_to_lake(con, f"""
            SELECT d.{CID}, {rfm_columns}s.Segments FROM segment_dimension d
            LEFT JOIN rfm_rows r ON r.i = d.i
            LEFT JOIN (SELECT m.i, string_agg(n.Segment, ';' ORDER BY n.Segment) AS Segments
                       FROM config_rows m JOIN segment_names n ON n.code = m.code GROUP BY m.i) s ON s.i = d.i
            WHERE r.i IS NOT NULL OR s.i IS NOT NULL ORDER BY d.i""", lake, output)
    write_json(lake, paths.enrichment_model(Enrichment.SEGMENTS.value), {
        "segments": {name: int(mask.sum()) for name, mask in members.items()}, "rfm_segments": rfm_counts})
    return Outcome(written, output)


def _membership_tables(rfm_names: list[str], members: dict[str, np.ndarray]) -> tuple[pa.Table, pa.Table]:
    """(``segment_names``: code, SegmentProvider, Segment — the RFM segments', then the config's;
    ``config_rows``: i, code — each config segment's members in config and customer order)."""
    names = pa.table({"code": pa.array(range(len(rfm_names) + len(members)), pa.int32()),
                      "SegmentProvider": ["RFM"] * len(rfm_names) + ["c360"] * len(members),
                      "Segment": [f"RFM: {n}" for n in rfm_names] + list(members)})
    positions = [np.flatnonzero(mask) for mask in members.values()]
    codes = [np.full(len(p), len(rfm_names) + k) for k, p in enumerate(positions)]
    return names, pa.table({"i": np.concatenate([np.zeros(0, np.int64), *positions]).astype(np.int64),
                            "code": np.concatenate([np.zeros(0, np.int32), *codes]).astype(np.int32)})


def _segment_dimension(con: duckdb.DuckDBPyConnection, lake: Lake, sources: list[list[str]], wanted: set[str]) -> bool:
    """Table ``segment_dimension``: ``i`` (the row's position in CustomerId order), ``CustomerId``, the
    ``wanted`` columns and the RFM inputs, each from the first source (Customer shards, then the
    first-stage enrichments) that has it. One join at a time, as the export. True if the RFM inputs are
    there (a run with activities)."""
    taken: list[str] = []
    last = 0
    for index, files in enumerate(sources):
        names = read_parquet_schema(lake, files[0]).names if files else [Col.CUSTOMER_ID]
        reads = wanted if index == 0 else wanted | RFM_INPUTS
        new = [c for c in names if c in reads and c not in taken and c != Col.CUSTOMER_ID]
        if index and not new:
            continue
        select = ", ".join(q(c) for c in [Col.CUSTOMER_ID, *new])
        source = parquet_source(lake, files) if files else f"(SELECT NULL::VARCHAR AS {CID} WHERE false)"
        if index == 0:
            con.execute(f"CREATE TEMP TABLE segment_0 AS SELECT {select} FROM {source}")
        else:
            picked = "".join(f", e.{q(c)}" for c in new)
            con.execute(f"CREATE TEMP TABLE segment_{index} AS SELECT base.*{picked} FROM segment_{last} base "
                        f"LEFT JOIN (SELECT {select} FROM {source}) e USING ({CID})")
            con.execute(f"DROP TABLE segment_{last}")
        taken += new
        last = index
    con.execute(f"CREATE TEMP TABLE segment_dimension AS SELECT row_number() OVER (ORDER BY {CID}) - 1 AS i, * "
                f"FROM segment_{last}")
    con.execute(f"DROP TABLE segment_{last}")
    return set(taken) >= RFM_INPUTS


def _segment_frame(con: duckdb.DuckDBPyConnection, wanted: set[str]) -> pd.DataFrame:
    """The ``wanted`` columns that exist (the dimension's, then the RFM scores'), as pandas in customer
    order; the ids only if a rule names them."""
    present = {c for c, in con.execute("SELECT column_name FROM (DESCRIBE segment_dimension)").fetchall()}
    columns = [f"d.{q(c)}" for c in sorted(wanted & (present - {"i"}))]
    columns += [f"r.{q(c)}" for c in RFM_COLUMNS if c in wanted and c not in present]
    if not columns:
        return pd.DataFrame(index=pd.RangeIndex(con.execute("SELECT count(*) FROM segment_dimension").fetchall()[0][0]))
    table = con.sql(f"SELECT {', '.join(columns)} FROM segment_dimension d LEFT JOIN rfm_rows r ON r.i = d.i "
                    "ORDER BY d.i").to_arrow_table()
    # dates as datetime64, not Python dates: a rule compares them with an ISO date string, as timestamps
    return table.to_pandas(split_blocks=True, self_destruct=True, date_as_object=False)


def _write_membership(con: duckdb.DuckDBPyConnection, lake: Lake, path: str) -> None:
    """``SegmentMembership`` rows (view ``membership``, by ``part``, then in customer order) with their
    identifier and its UUIDv5, computed by DuckDB for all rows at once."""
    identifier = f"{CID} || '|' || SegmentProvider || '|Customer|' || Segment"
    copy_to_lake(con, f"SELECT {CID}, SegmentProvider, Segment, 'Customer' AS SegmentMembershipType, "
                      f"{identifier} AS Identifier, "
                      f"{uuid5_sql(identifier, SEGMENT_NAMESPACE)} AS SegmentMembershipId "
                      "FROM membership ORDER BY part, i",
                 lake, path)


def exported_tables(results: Sequence[EnrichResult]) -> list[tuple[str, str, bool]]:
    """(entity, path, joins the customer dimension) for the enrichment outputs of a run."""
    out: list[tuple[str, str, bool]] = []
    for result in results:
        if result.path is None:
            continue
        out.append((result.enrichment, result.path, True))
        paths = RunPaths(result.run_id)
        if result.enrichment == Enrichment.BRAND_AFFINITY:
            out.append(("BrandAffinity", detail_path(paths), False))
        if result.enrichment == Enrichment.SEGMENTS:
            out.append(("SegmentMembership", membership_path(paths), False))
    if results:
        out.append(("UnifiedActivity", RunPaths(results[0].run_id).unified(UNIFIED_ACTIVITY), False))
    return out
