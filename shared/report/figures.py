"""The figures of a run report, computed from what the run wrote to the lake (``report.json``).

When the run published, entity figures come from its export — the files the views read — so the report
and the views agree. Sources come from the conversion and snapshot steps and the quarantine; timings from
the step records; "what changed" compares with the previous published run's report.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np

from shared.duck import lake_duckdb, parquet_source
from shared.export.dimension import HISTORY
from shared.lakeio import parquet_files, read_json
from shared.merge.survivorship import q
from shared.merge.unify import ALTERNATE_KEY, CUSTOMER, MATCH_PAIRS, unified_files
from shared.names import Enrichment
from shared.paths import RunPaths
from shared.ports import Lake
from shared.runs import current, read_run_record

TOP = 10
SCORE_BINS = [i / 20 for i in range(21)]


def entity_files(lake: Lake, run_id: str, entity: str) -> list[str]:
    """An entity's files: the export when the run exported it, else its unified table."""
    exported = parquet_files(lake, RunPaths(run_id).export_table(entity))
    if exported:
        return exported
    return unified_files(lake, run_id, entity)


def _histogram(values: Sequence[float | None] | np.ndarray, edges: list[float]) -> dict[str, Any]:
    """Counts per bin (a value on an inner edge goes to the bin above; the outer bins are open-ended)."""
    array = np.asarray([v for v in values if v is not None] if isinstance(values, list) else values, np.float64)
    array = array[~np.isnan(array)]
    index = np.searchsorted(np.asarray(edges[1:-1], np.float64), array, side="right")
    counts = np.bincount(index, minlength=len(edges) - 1)[: len(edges) - 1]
    return {"edges": edges, "counts": [int(c) for c in counts]}


def _sources(lake: Lake, run_id: str, steps: list[dict[str, Any]]) -> dict[str, Any]:
    table: dict[str, dict[str, Any]] = defaultdict(lambda: {"files": 0, "landed": 0, "accepted": 0,
                                                            "quarantined": 0, "failed_files": 0})
    for step in steps:
        if step.get("step") == "convert_source_file" and step.get("table"):
            row = table[step["table"]]
            row["files"] += 1
            row["landed"] += int(step.get("rows") or 0)
            row["accepted"] += int(step.get("accepted") or 0)
            row["quarantined"] += int(step.get("quarantined") or 0)
            row["failed_files"] += int(step.get("status") == "Failed" or bool(step.get("error")))
    applied = next((s for s in steps if s.get("step") == "apply_source_changes"), {})
    for name, rows in (applied.get("tables") or {}).items():
        table[name]["snapshot_rows"] = int(rows)
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    by_table: dict[str, list[str]] = defaultdict(list)
    for path in parquet_files(lake, f"quarantine/{run_id}"):
        by_table[path.split("/")[2]].append(path)
    if by_table:
        with lake_duckdb(lake) as con:
            for name, paths in by_table.items():
                for field, reason, count in con.execute(
                        f"SELECT Field, split_part(Reason, ':', 1), count(*) FROM {parquet_source(lake, paths)} "
                        "GROUP BY ALL").fetchall():
                    reasons[name][f"{field or '(row)'}: {reason}"] += int(count)
    for name, counter in reasons.items():
        table[name]["top_reasons"] = [{"reason": r, "rows": n} for r, n in counter.most_common(5)]
    return dict(sorted(table.items()))


def duplicate_keys(steps: list[dict[str, Any]]) -> int:
    applied = next((s for s in steps if s.get("step") == "apply_source_changes"), {})
    return sum(int(n) for n in (applied.get("duplicates") or {}).values())


def _unification(lake: Lake, run_id: str, config_sources: dict[str, tuple[str, str]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    keys = entity_files(lake, run_id, ALTERNATE_KEY)
    clusters = read_json(lake, RunPaths(run_id).unified("clusters").replace(".parquet", ".json"), default={})
    if not keys:
        return out
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW keys AS SELECT * FROM {parquet_source(lake, keys)}")
        # each profile's records, aggregated once for the counts, the size histogram and the largest: four
        # scans of the keys took 1.9 s at a million customers
        con.execute("CREATE TEMP TABLE sizes AS SELECT CustomerId, count(*) AS n FROM keys GROUP BY CustomerId")
        records, profiles = con.execute("SELECT sum(n), count(CustomerId) FROM sizes").fetchall()[0]
        out["records"], out["profiles"] = int(records or 0), profiles
        per_source = con.execute(
            "SELECT DataSourceName, TableName, count(*) AS records, count(*) FILTER (WHERE IsDeduplicationWinner) "
            "AS winners, count(DISTINCT CustomerId) AS profiles FROM keys GROUP BY ALL ORDER BY ALL").fetchall()
        names = {v: k for k, v in config_sources.items()}
        out["per_source"] = [{"source": names.get((d, t), f"{d}.{t}"), "records": r,
                              "merged_in_source": r - w, "profiles": p} for d, t, r, w, p in per_source]
        sizes = con.execute("SELECT n, count(*) FROM sizes GROUP BY n ORDER BY n").fetchall()
        out["cluster_sizes"] = {str(n): c for n, c in sizes}
        largest = con.execute(  # the tables of the largest only: aggregating them for a million took 1.6 s
            f"WITH top AS (SELECT CustomerId, n FROM sizes ORDER BY n DESC, CustomerId LIMIT {TOP}) "
            "SELECT t.CustomerId, t.n, string_agg(DISTINCT k.TableName, ', ' ORDER BY "
            "k.TableName) FROM top t JOIN keys k USING (CustomerId) GROUP BY t.CustomerId, t.n "
            "ORDER BY t.n DESC, t.CustomerId").fetchall()
        out["largest_clusters"] = [{"customer_id": c, "records": n, "tables": t} for c, n, t in largest]
        pairs = entity_files(lake, run_id, MATCH_PAIRS)
        if pairs:
            con.execute(f"CREATE TEMP VIEW pairs AS SELECT * FROM {parquet_source(lake, pairs)}")
            rules = con.execute("SELECT Rule, count(*) AS pairs, count(*) FILTER (WHERE Linked) AS linked FROM pairs "
                                "GROUP BY Rule ORDER BY linked DESC, Rule").fetchall()
            out["matches_per_rule"] = [{"rule": r, "pairs": p, "linked": k} for r, p, k in rules]
            scores = con.execute("SELECT Score::DOUBLE AS s FROM pairs WHERE Score IS NOT NULL").fetchnumpy()["s"]
            out["score_histogram"] = _histogram(scores, SCORE_BINS)
    out["ids"] = {"new": clusters.get("new_ids", 0), "merges": clusters.get("merges", 0),
                  "splits": clusters.get("splits", 0)}
    out["suspect_clusters"] = len(clusters.get("suspect_clusters", []))
    return out


def _enrichment(lake: Lake, run_id: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    customers = entity_files(lake, run_id, CUSTOMER)
    if not customers:
        return out
    with lake_duckdb(lake) as con:
        con.execute(f"CREATE TEMP VIEW customer AS SELECT * FROM {parquet_source(lake, customers)}")
        columns = {row[0] for row in con.execute("DESCRIBE customer").fetchall()}
        if "LifetimeValue" in columns:
            values = [r[0] for r in con.execute("SELECT LifetimeValue FROM customer WHERE LifetimeValue IS NOT NULL")
                      .fetchall()]
            top = max(values, default=0.0)
            edges = [round(top * i / 20, 2) for i in range(21)] if top > 0 else [0.0, 1.0]
            out["lifetime_value"] = {"customers": len(values), "total": round(sum(values), 2),
                                     "histogram": _histogram(values, edges)}
        if "ChurnScore" in columns:
            scores = [r[0] for r in con.execute("SELECT ChurnScore FROM customer WHERE ChurnScore IS NOT NULL")
                      .fetchall()]
            churned = con.execute("SELECT count(*) FILTER (WHERE IsChurn) FROM customer").fetchall()[0][0]
            out["churn"] = {"customers": len(scores), "predicted_churn": int(churned),
                            "histogram": _histogram(scores, SCORE_BINS)}
        if "TopBrand" in columns:
            out["top_brands"] = [{"brand": b, "customers": n} for b, n in con.execute(
                f"SELECT TopBrand, count(*) AS n FROM customer WHERE TopBrand IS NOT NULL GROUP BY TopBrand "
                f"ORDER BY n DESC, TopBrand LIMIT {TOP}").fetchall()]
        if "RfmSegment" in columns:
            out["rfm_segments"] = {s: n for s, n in con.execute(
                "SELECT RfmSegment, count(*) FROM customer WHERE RfmSegment IS NOT NULL "
                "GROUP BY ALL ORDER BY 2 DESC, 1")
                .fetchall()}
        membership = entity_files(lake, run_id, "SegmentMembership")
        if membership:
            out["segments"] = {s: n for s, n in con.execute(
                f"SELECT Segment, count(*) FROM {parquet_source(lake, membership)} WHERE SegmentProvider = 'c360' "
                "GROUP BY ALL ORDER BY 2 DESC, 1").fetchall()}
    models = {}
    for name in (Enrichment.LIFETIME_VALUE, Enrichment.CHURN, Enrichment.BRAND_AFFINITY, Enrichment.SEGMENTS):
        model = read_json(lake, RunPaths(run_id).enrichment_model(name.value), default=None)
        if model is not None:
            models[name.value] = model
    out["models"] = models
    return out


def _completeness(lake: Lake, run_id: str, attributes: dict[str, dict[str, str]]) -> list[dict[str, Any]]:
    """Per profile attribute: how many source records hold a value, and how many profiles do after the merge
    (what unification adds: a phone from the POS on a web profile). ``attributes``: table → attribute →
    its column in ``Customer`` (renamed by the merge; absent when excluded)."""
    plan = read_json(lake, RunPaths(run_id).match_plan, default=None)
    customers = entity_files(lake, run_id, CUSTOMER)
    if not plan or not customers:
        return []
    snapshots = {name: path for name, path in plan.get("tables", {}).items()
                 if name in attributes and lake.exists(path)}

    def filled(column: str, types: dict[str, str]) -> str:  # blank text holds no value either
        return f"count(NULLIF(trim({q(column)}), ''))" if types[column] == "VARCHAR" else f"count({q(column)})"

    rows: dict[str, dict[str, Any]] = {}
    records = 0  # every source record, whether its table maps the attribute or not: as profiles are counted
    with lake_duckdb(lake) as con:
        for name, path in snapshots.items():
            present = {row[0]: row[1] for row in con.execute(
                f"DESCRIBE SELECT * FROM {parquet_source(lake, [path])}").fetchall()}
            mapped = [a for a in attributes[name] if a in present]
            counts = con.execute(f"SELECT {', '.join(['count(*)', *(filled(a, present) for a in mapped)])} "
                                 f"FROM {parquet_source(lake, [path])}").fetchall()[0]
            records += int(counts[0])
            for attribute, count in zip(mapped, counts[1:], strict=True):
                row = rows.setdefault(attribute, {"attribute": attribute, "records_filled": 0})
                row["records_filled"] += int(count)
        for row in rows.values():
            row["records"] = records
        final = {a: column for table in attributes.values() for a, column in table.items()}
        present = {row[0]: row[1] for row in con.execute(
            f"DESCRIBE SELECT * FROM {parquet_source(lake, customers[:1])}").fetchall()}
        shown = [a for a in rows if final.get(a) in present]
        if shown:
            counts = con.execute(f"SELECT count(*), {', '.join(filled(final[a], present) for a in shown)} "
                                 f"FROM {parquet_source(lake, customers)}").fetchall()[0]
            for attribute, count in zip(shown, counts[1:], strict=True):
                rows[attribute].update(column=final[attribute], profiles=int(counts[0]), profiles_filled=int(count))
    return [rows[a] for a in shown] if shown else []


def _timings(steps: list[dict[str, Any]]) -> dict[str, Any]:
    per_step: dict[str, dict[str, float]] = {}
    for step in steps:
        row = per_step.setdefault(step.get("step", "?"), {"activities": 0, "seconds": 0.0, "slowest": 0.0})
        row["activities"] += 1
        row["seconds"] = round(row["seconds"] + float(step.get("seconds") or 0.0), 3)
        row["slowest"] = max(row["slowest"], float(step.get("seconds") or 0.0))
    starts = [s["started"] for s in steps if s.get("started")]
    ends = [s["finished"] for s in steps if s.get("finished")]
    return {"steps": per_step, "first_started": min(starts, default=None), "last_finished": max(ends, default=None)}


def freshness(figures: dict[str, Any], files: list[dict[str, Any]], previous: dict[str, Any] | None) -> None:
    """Each source's latest landed file (by its last-modified time): this run's, or the one the previous
    published report knew — so a feed that stopped delivering shows its age in days at the run's start."""
    latest: dict[str, str] = {name: row["latest_file"] for name, row in ((previous or {}).get("sources") or {}).items()
                              if row.get("latest_file")}
    for ref in files:
        if ref.get("table") and ref.get("last_modified") and ref["last_modified"] > latest.get(ref["table"], ""):
            latest[ref["table"]] = ref["last_modified"]
    started = figures["run"].get("started")
    for name, moment in latest.items():
        row = figures["sources"].setdefault(name, {})
        row["latest_file"] = moment
        if started:
            age = datetime.fromisoformat(started) - datetime.fromisoformat(moment)
            row["latest_file_age_days"] = round(max(age.total_seconds(), 0) / 86400, 1)


def run_figures(lake: Lake, run_id: str, sources: dict[str, tuple[str, str]],
                attributes: dict[str, dict[str, str]] | None = None,
                previous: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the report shows, as JSON-ready values. ``sources``: name → (data source, table);
    ``attributes``: per source, its profile attributes and their ``Customer`` columns (``_completeness``);
    ``previous``: the previous published run's report (``freshness``)."""
    record = read_run_record(lake, run_id)
    steps = record.pop("steps", [])
    files = record.pop("files", None) or []
    pointer = current(lake)
    figures: dict[str, Any] = {
        "run": {k: record.get(k) for k in ("run_id", "status", "mode", "trigger", "started", "finished", "error",
                                            "published")},
        "published_now": bool(pointer and pointer.get("run_id") == run_id),
        "sources": _sources(lake, run_id, steps),
        "unification": _unification(lake, run_id, sources),
        "completeness": _completeness(lake, run_id, attributes or {}),
        "enrichment": _enrichment(lake, run_id),
        "timings": _timings(steps),
        "history_rows": _history_rows(lake, run_id),
    }
    freshness(figures, files, previous)
    figures["key_numbers"] = {
        "customers": figures["unification"].get("profiles", 0),
        "records": figures["unification"].get("records", 0),
        "quarantined_rows": sum(s.get("quarantined", 0) for s in figures["sources"].values()),
        "duplicate_keys_dropped": duplicate_keys(steps),
        "new_ids": figures["unification"].get("ids", {}).get("new", 0),
        "merges": figures["unification"].get("ids", {}).get("merges", 0),
        "splits": figures["unification"].get("ids", {}).get("splits", 0),
        "total_lifetime_value": figures["enrichment"].get("lifetime_value", {}).get("total"),
        "predicted_churn": figures["enrichment"].get("churn", {}).get("predicted_churn"),
    }
    return figures


def _history_rows(lake: Lake, run_id: str) -> dict[str, int]:
    files = parquet_files(lake, RunPaths(run_id).export_table(HISTORY))
    if not files:
        return {}
    with lake_duckdb(lake) as con:
        total, current_rows = con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE IsCurrent) FROM {parquet_source(lake, files)}").fetchall()[0]
    return {"rows": int(total), "current": int(current_rows)}


def changes(figures: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    """What moved since the previous published run's report (None on the first run)."""
    if not previous:
        return {}
    now, before = figures["key_numbers"], previous.get("key_numbers", {})
    delta = {k: (now.get(k) or 0) - (before.get(k) or 0) for k in ("customers", "records", "quarantined_rows")}
    sources_now = {k: v.get("snapshot_rows", 0) for k, v in figures["sources"].items()}
    sources_before = {k: v.get("snapshot_rows", 0) for k, v in previous.get("sources", {}).items()}
    delta["source_rows"] = {k: sources_now.get(k, 0) - sources_before.get(k, 0)
                            for k in sorted(set(sources_now) | set(sources_before))
                            if sources_now.get(k, 0) != sources_before.get(k, 0)}
    return {"previous_run": previous.get("run", {}).get("run_id"), **delta}
