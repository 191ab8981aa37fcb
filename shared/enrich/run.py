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
from shared.enrich.segments import rfm_scores, segment_fields, segment_members
from shared.lakeio import (
    ROW_GROUP_ROWS,
    parquet_sink,
    read_parquet_many,
    read_parquet_schema,
    write_json,
    write_parquet,
)
from shared.merge.customer_id import uuid5_sql
from shared.merge.unify import CUSTOMER, unified_files
from shared.names import Col, Enrichment
from shared.paths import RunPaths
from shared.payloads import EnrichResult
from shared.ports import Lake
from shared.sql.identifiers import quote_identifier

SEGMENT_NAMESPACE = uuid.UUID("0b7a1c52-2f4e-4d0f-8a51-7f1e0c9d3b21")
RFM_INPUTS = {"TransactionCount", "DaysSinceLastPurchase", "TotalSpend"}  # what rfm_scores reads
FIRST_STAGE = (Enrichment.MEASURES, Enrichment.LIFETIME_VALUE, Enrichment.CHURN, Enrichment.BRAND_AFFINITY)


@dataclass
class Outcome:
    rows: int
    path: str | None
    metrics: dict[str, float] = field(default_factory=dict)


def _write(lake: Lake, path: str, frame: pd.DataFrame) -> int:
    write_parquet(lake, path, pa.Table.from_pandas(frame, preserve_index=False))
    return len(frame)


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
    # only the columns the segments read: the whole dimension took 4.1 GB at five million customers
    wanted = segment_fields(config.enrichment.segments)
    frame = _columns_named(lake, unified_files(lake, paths.run_id, CUSTOMER), wanted)
    for name in FIRST_STAGE:
        path = paths.enrichment(name.value)
        if lake.exists(path):
            frame = frame.merge(_columns_named(lake, [path], wanted | RFM_INPUTS), on=Col.CUSTOMER_ID, how="left")
    rfm = rfm_scores(frame) if "TransactionCount" in frame else pd.DataFrame(columns=[Col.CUSTOMER_ID])
    frame = frame.merge(rfm, on=Col.CUSTOMER_ID, how="left")
    members = segment_members(frame, config.enrichment.segments)
    named_rows = pd.DataFrame([(cid, name) for name, ids in members.items() for cid in sorted(ids)],
                              columns=[Col.CUSTOMER_ID, "Segment"])
    rfm_rows = pd.DataFrame({Col.CUSTOMER_ID: rfm[Col.CUSTOMER_ID].to_numpy(), "SegmentProvider": "RFM",
                             "Segment": ("RFM: " + rfm["RfmSegment"].astype(str)).to_numpy() if len(rfm) else []})
    membership = pd.concat([rfm_rows, named_rows.assign(SegmentProvider="c360")[rfm_rows.columns]],
                           ignore_index=True)
    _write_membership(lake, membership_path(paths), membership)
    named = named_rows.groupby(Col.CUSTOMER_ID)["Segment"].agg(lambda s: ";".join(sorted(s)))
    columns = rfm.set_index(Col.CUSTOMER_ID) if len(rfm) else pd.DataFrame(index=pd.Index([], name=Col.CUSTOMER_ID))
    columns = columns.join(named.rename("Segments"), how="outer").reset_index()
    write_json(lake, paths.enrichment_model(Enrichment.SEGMENTS.value), {
        "segments": {name: len(ids) for name, ids in members.items()},
        "rfm_segments": rfm["RfmSegment"].value_counts().to_dict() if len(rfm) else {}})
    return Outcome(_write(lake, output, columns), output)


def _columns_named(lake: Lake, files: list[str], wanted: set[str]) -> pd.DataFrame:
    """``CustomerId`` and the ``wanted`` columns the files have, as pandas."""
    names = read_parquet_schema(lake, files[0]).names if files else [Col.CUSTOMER_ID]
    return read_parquet_many(lake, files, [c for c in names if c == Col.CUSTOMER_ID or c in wanted]).to_pandas()


def _write_membership(lake: Lake, path: str, membership: pd.DataFrame) -> None:
    """``SegmentMembership`` rows with their identifier and its UUIDv5, computed by DuckDB for all rows at
    once (a Python ``uuid5`` per row held a string per membership: a million buyers' RFM rows at least)."""
    customer = quote_identifier(Col.CUSTOMER_ID, "duckdb")
    identifier = f"{customer} || '|' || SegmentProvider || '|Customer|' || Segment"
    with lake_duckdb(lake) as con:
        con.register("membership_rows", membership)
        con.execute(f"CREATE TEMP VIEW membership AS SELECT {customer}::VARCHAR AS {customer}, "
                    "SegmentProvider::VARCHAR AS SegmentProvider, Segment::VARCHAR AS Segment FROM membership_rows")
        copy_to_lake(con, f"SELECT {customer}, SegmentProvider, Segment, 'Customer' AS SegmentMembershipType, "
                          f"{identifier} AS Identifier, "
                          f"{uuid5_sql(identifier, SEGMENT_NAMESPACE)} AS SegmentMembershipId FROM membership",
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
