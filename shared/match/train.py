"""Train the probabilistic model from the prepared features, without labels, in bounded memory.

* ``u``: levels of random record pairs drawn from a sample of records.
* ``m``: one EM session per *training* blocking rule (``training_blocking``, by default the blocking
  rules), on candidate pairs of a sample of records joined to all records sharing their key (DuckDB),
  not estimating the comparisons the rule blocks on; a comparison's m is the mean over its sessions.
* prior: with m and u fixed, each prediction blocking rule's match share (EM on the share alone) ×
  the pairs the rule generates on the whole data, over all possible pairs; the largest (the rule that
  captures most matches) is used.

Why training rules apart from prediction rules (as Splink separates them): EM splits candidate pairs
into two classes, and on pairs blocked by what a household shares — an address, a home phone, a
surname — relatives agree on nearly everything, so the "match" class absorbs them. On the demo's 100 k
people, sessions blocked on postal code + surname estimated m(first names differ) at 0.45 where the
labels say 0.001, and the mean over all sessions let a differing first name cost 2 bits (6.7 once fixed).

Samples are chosen by a seeded hash of their ids, not by DuckDB reservoir samples: a
reservoir depends on the order parallel scans deliver rows in, so two runs over the same 1 M-customer
input trained different models and ended in different customers (1,005,551 and 1,005,418).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa

from shared.config.model import Probabilistic
from shared.match.comparisons import ComparisonSpec, comparison_levels
from shared.match.fellegi_sunter import FsModel, estimate_u, expectation_maximisation, match_share, starting_m
from shared.match.rules import Feature
from shared.merge.survivorship import q

log = logging.getLogger(__name__)
RECORD_SAMPLE = 40_000
SEED = 42
# a seeded pseudo-random order that depends on the record ids alone, never on the order rows arrive in
SAMPLE_ORDER = f"ORDER BY hash(RecordId, {SEED}), RecordId"


@dataclass(frozen=True)
class FsBlock:
    """A probabilistic blocking rule: records sharing all these features become candidate pairs."""

    id: int
    name: str
    features: tuple[Feature, ...]


def comparison_specs(settings: Probabilistic) -> list[ComparisonSpec]:
    return [ComparisonSpec(c.field, c.kind, c.term_frequency, c.bypass) for c in settings.comparisons]


def blocking_rules(settings: Probabilistic, first_id: int, training: bool = False) -> list[FsBlock]:
    """Blocking keys use the normalization of the field's comparison (exact-match normalization otherwise).

    ``training``: the EM training rules (``training_blocking``, defaulting to ``blocking``).
    """
    by_field = {c.field: c.feature for c in comparison_specs(settings)}
    keys = settings.training_blocking if training and settings.training_blocking is not None else settings.blocking
    blocks = []
    for i, fields in enumerate(keys):
        features = tuple(by_field.get(f, ComparisonSpec(f, "exact").feature) for f in fields)
        blocks.append(FsBlock(first_id + i, "probabilistic:" + "+".join(fields), features))
    return blocks


def pair_levels(comparisons: list[ComparisonSpec], left: pa.Table, right: pa.Table) -> np.ndarray:
    """Levels matrix (pairs × comparisons) for aligned left/right rows."""
    if left.num_rows == 0:
        return np.zeros((0, len(comparisons)), np.int8)
    columns = [comparison_levels(c.kind, left.column(c.feature.column).combine_chunks(),
                                 right.column(c.feature.column).combine_chunks()) for c in comparisons]
    return np.column_stack(columns)


def _pairs_in_rule(con: duckdb.DuckDBPyConnection, block: FsBlock, link_only: bool) -> float:
    key = ", ".join(q(f.column) for f in block.features)
    present = " AND ".join(f"{q(f.column)} IS NOT NULL" for f in block.features)
    if link_only:
        sql = (f"SELECT sum(n * n - sq) / 2 FROM (SELECT count(*) AS n, sum(c * c) AS sq FROM ("
               f"SELECT {key}, TableIndex, "
               f"count(*)::DOUBLE AS c FROM features WHERE {present} GROUP BY ALL) GROUP BY {key})")
    else:
        sql = (f"SELECT sum(n * (n - 1)) / 2 FROM (SELECT count(*)::DOUBLE AS n FROM features WHERE {present} "
               f"GROUP BY {key})")
    row = con.execute(sql).fetchall()[0]
    return float(row[0] or 0.0) if row else 0.0


def train_model(con: duckdb.DuckDBPyConnection, settings: Probabilistic, blocks: list[FsBlock],
                records: int, table_sizes: list[int], training: list[FsBlock] | None = None) -> FsModel:
    """``con`` has a ``features`` view of the prepared records (RecordId, TableIndex, feature columns);
    ``blocks`` are the prediction blocking rules, ``training`` the EM training rules (default: ``blocks``)."""
    training = blocks if training is None else training
    comparisons = comparison_specs(settings)
    columns = sorted({c.feature.column for c in comparisons})
    select = ", ".join(["RecordId", "TableIndex", *(q(c) for c in columns)])
    rng = np.random.default_rng(SEED)
    # one record sample for u and for every EM session (each session joins it to all records)
    # the sample's ids first, then their rows: a top-N over the whole rows took 2.1 s at 1 M customers, 0.7 s so
    con.execute(f"CREATE OR REPLACE TEMP TABLE training_sample AS SELECT * FROM features WHERE RecordId IN "
                f"(SELECT RecordId FROM features {SAMPLE_ORDER} LIMIT {RECORD_SAMPLE}) {SAMPLE_ORDER}")
    sample = con.sql(f"SELECT {select} FROM training_sample {SAMPLE_ORDER}").to_arrow_table()
    n = sample.num_rows
    pairs = min(settings.u_max_pairs, max(n * (n - 1) // 2, 1))
    left, right = rng.integers(0, max(n, 1), pairs), rng.integers(0, max(n, 1), pairs)
    keep = left != right
    if settings.link_only:
        tables = np.asarray(sample.column("TableIndex"))
        keep &= tables[left] != tables[right] if n else keep
    left, right = left[keep], right[keep]
    u = estimate_u(pair_levels(comparisons, sample.take(pa.array(left)), sample.take(pa.array(right))), comparisons)
    m = starting_m(comparisons)
    estimates: dict[int, list[list[float]]] = {i: [] for i in range(len(comparisons))}
    sessions: list[dict[str, Any]] = []
    levels_of: dict[tuple[Feature, ...], np.ndarray] = {}

    def session_levels(block: FsBlock) -> np.ndarray:
        if block.features not in levels_of:
            levels_of[block.features] = pair_levels(comparisons, *_blocked_pairs(con, block, select, settings))
        return levels_of[block.features]

    def fixed_of(block: FsBlock) -> set[int]:
        return {i for i, c in enumerate(comparisons) if c.feature in block.features}

    for block in training:
        levels = session_levels(block)
        if levels.shape[0] < 100:
            log.warning("EM session %s: only %d pairs, skipped", block.name, levels.shape[0])
            continue
        fixed = fixed_of(block)
        session_m, share, iterations = expectation_maximisation(levels, comparisons, u, m, fixed)
        for i in range(len(comparisons)):
            if i not in fixed:
                estimates[i].append(session_m[i])
        sessions.append({"blocking": block.name, "training": True, "pairs": int(levels.shape[0]),
                         "match_share": round(share, 6), "iterations": iterations, "fixed": sorted(fixed)})
    for i, found in estimates.items():
        if found:
            m[i] = np.mean(np.asarray(found), axis=0).tolist()
    total_pairs = _all_pairs(records, table_sizes, settings.link_only)
    priors = []
    for block in blocks:
        levels = session_levels(block)
        if levels.shape[0] < 100:
            continue
        share = match_share(levels, comparisons, u, m, fixed_of(block))
        rule_pairs = _pairs_in_rule(con, block, settings.link_only)
        priors.append(share * rule_pairs / max(total_pairs, 1.0))
        sessions.append({"blocking": block.name, "training": False, "pairs": int(levels.shape[0]),
                         "match_share": round(share, 6), "pairs_in_rule": rule_pairs})
    prior = float(np.clip(max(priors, default=1.0 / max(records, 2)), 1e-12, 0.5))
    diagnostics = {"u_pairs": len(left), "record_sample": n, "sessions": sessions, "total_pairs": total_pairs,
                   "prior_match_weight": round(math.log2(prior / (1 - prior)), 3)}
    return FsModel(comparisons, m, u, prior, diagnostics)


def _all_pairs(records: int, table_sizes: list[int], link_only: bool) -> float:
    if link_only:
        return float((sum(table_sizes) ** 2 - sum(s * s for s in table_sizes)) / 2)
    return records * (records - 1) / 2


def _blocked_pairs(con: duckdb.DuckDBPyConnection, block: FsBlock, select: str,
                   settings: Probabilistic) -> tuple[pa.Table, pa.Table]:
    """Candidate pairs of one blocking rule: the record sample (``training_sample``) joined to every record
    sharing its key."""
    on = " AND ".join(f"l.{q(f.column)} = r.{q(f.column)}" for f in block.features)
    other = " AND l.TableIndex <> r.TableIndex" if settings.link_only else ""
    columns = [_plain(c.strip()) for c in select.split(",")]
    left_cols = ", ".join(f"l.{q(c)} AS {q('l_' + c)}" for c in columns)
    right_cols = ", ".join(f"r.{q(c)} AS {q('r_' + c)}" for c in columns)
    join = f"FROM training_sample l JOIN features r ON {on} AND l.RecordId <> r.RecordId{other}"
    total = con.sql(f"SELECT count(*) {join}").fetchall()[0][0]
    # about em_max_pairs pairs, kept by a seeded hash of their ids: streamed, where ORDER BY … LIMIT held
    # every candidate row (RLdata10000: peak 741 → 1,105 MB)
    keep = "" if total <= settings.em_max_pairs else \
        f" WHERE hash(l.RecordId, r.RecordId, {SEED}) < {int(settings.em_max_pairs / total * 2 ** 64)}::UBIGINT"
    joined = con.sql(f"SELECT {left_cols}, {right_cols} {join}{keep}").to_arrow_table()
    ids = np.asarray(joined.column("l_RecordId")), np.asarray(joined.column("r_RecordId"))
    joined = joined.take(pa.array(np.lexsort((ids[1], ids[0]))))  # one order, so EM sums alike on every run
    left = pa.table({c: joined.column("l_" + c) for c in columns})
    right = pa.table({c: joined.column("r_" + c) for c in columns})
    return left, right


def _plain(column: str) -> str:
    return column.strip('"')
