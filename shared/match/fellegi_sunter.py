"""Fellegi–Sunter: m/u probabilities per comparison level, estimated without labels; match weights.

``u`` (agreement among non-matches) comes from random record pairs; ``m`` (agreement among matches)
from expectation maximisation on blocked candidate pairs, one session per blocking rule, never
estimating the comparisons a session blocks on (they agree by construction). Term-frequency
adjustment replaces ``u`` of an exact agreement by the value's frequency, so "Smith = Smith" weighs
less than "Zywicki = Zywicki". Everything is vectorised over level matrices (pairs × comparisons).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from shared.match.comparisons import NULL_LEVEL, ComparisonSpec

SMOOTHING = 0.5  # pseudo-count per level, so no level has probability 0
MIN_PROBABILITY = 1e-6


@dataclass
class FsModel:
    comparisons: list[ComparisonSpec]
    m: list[list[float]]
    u: list[list[float]]
    prior: float  # probability that two random records match
    diagnostics: dict[str, Any] = field(default_factory=dict)

    def weights(self) -> list[np.ndarray]:
        """log2(m/u) per comparison and level."""
        return [np.log2(np.maximum(np.asarray(m), MIN_PROBABILITY) / np.maximum(np.asarray(u), MIN_PROBABILITY))
                for m, u in zip(self.m, self.u, strict=True)]

    def to_dict(self) -> dict[str, Any]:
        return {"comparisons": [asdict(c) for c in self.comparisons], "m": self.m, "u": self.u, "prior": self.prior,
                "diagnostics": self.diagnostics}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FsModel:
        return cls([ComparisonSpec(**c) for c in data["comparisons"]], data["m"], data["u"], data["prior"],
                   data.get("diagnostics", {}))


def level_frequencies(levels: np.ndarray, count: int, weights: np.ndarray | None = None) -> list[float]:
    """Smoothed frequency of each level among pairs where the comparison is not null."""
    known = levels != NULL_LEVEL
    w = np.ones(len(levels)) if weights is None else np.asarray(weights, dtype=np.float64)
    totals = np.bincount(levels[known].astype(np.int64), weights=w[known], minlength=count)[:count] + SMOOTHING
    return (totals / totals.sum()).tolist()


def estimate_u(levels: np.ndarray, comparisons: list[ComparisonSpec]) -> list[list[float]]:
    """u from random pairs (columns of ``levels`` are comparisons)."""
    return [level_frequencies(levels[:, i], len(c.levels)) for i, c in enumerate(comparisons)]


def _log_likelihood_ratio(levels: np.ndarray, m: list[np.ndarray], u: list[np.ndarray],
                          skip: set[int] = frozenset()) -> np.ndarray:  # type: ignore[assignment]
    total = np.zeros(levels.shape[0])
    for i in range(levels.shape[1]):
        if i in skip:
            continue
        column = levels[:, i]
        known = column != NULL_LEVEL
        index = np.where(known, column, 0)
        total += np.where(known, np.log(np.maximum(m[i][index], MIN_PROBABILITY))
                          - np.log(np.maximum(u[i][index], MIN_PROBABILITY)), 0.0)
    return total


def level_patterns(levels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct rows of a level matrix and their counts (rows packed into one int64 code, 4 bits a level)."""
    if len(levels) == 0:
        return levels, np.zeros(0)
    shifted = levels.astype(np.int64) + 1  # NULL_LEVEL (-1) → 0
    codes = np.zeros(len(levels), np.int64)
    for column in range(levels.shape[1]):
        codes |= shifted[:, column] << (4 * column)
    unique, counts = np.unique(codes, return_counts=True)
    patterns = np.column_stack([((unique >> (4 * column)) & 0xF) - 1 for column in range(levels.shape[1])])
    return patterns.astype(np.int8), counts.astype(np.float64)


def _e_step(ratio: np.ndarray, share: float, counts: np.ndarray) -> tuple[np.ndarray, float]:
    """Posterior match probability per pattern (log likelihood ratio ``ratio``) and the new match share."""
    logit = np.log(share / (1 - share)) + ratio
    posterior = 1.0 / (1.0 + np.exp(-np.clip(logit, -60, 60)))
    return posterior, float(np.clip(np.dot(posterior, counts) / max(counts.sum(), 1), 1e-6, 1 - 1e-6))


def expectation_maximisation(levels: np.ndarray, comparisons: list[ComparisonSpec], u: list[list[float]],
                             m_start: list[list[float]], fixed: set[int], iterations: int = 40,
                             tolerance: float = 1e-6) -> tuple[list[list[float]], float, int]:
    """EM for m (and the match share among these pairs) with u held fixed.

    ``fixed`` comparisons are the ones the session blocks on: every pair agrees on them, so they carry no
    evidence here — they are left out of the likelihood and keep their m.
    """
    m = [np.asarray(x, dtype=np.float64) for x in m_start]
    u_arrays = [np.asarray(x, dtype=np.float64) for x in u]
    # the likelihood depends on a pair only through its level pattern: iterate over distinct patterns
    patterns, counts = level_patterns(levels)
    share = 0.1
    done = 0
    for done in range(1, iterations + 1):  # noqa: B007 - returned: the iterations it took
        ratio = _log_likelihood_ratio(patterns, m, u_arrays, fixed)
        posterior, new_share = _e_step(ratio, share, counts)
        change = abs(new_share - share)
        share = new_share
        for i, comparison in enumerate(comparisons):
            if i in fixed:
                continue
            estimate = np.asarray(level_frequencies(patterns[:, i], len(comparison.levels), posterior * counts))
            change = max(change, float(np.abs(estimate - m[i]).max()))
            m[i] = estimate
        if change < tolerance:
            break
    return [x.tolist() for x in m], share, done


def match_share(levels: np.ndarray, comparisons: list[ComparisonSpec], u: list[list[float]], m: list[list[float]],
                fixed: set[int], iterations: int = 100, tolerance: float = 1e-7) -> float:
    """The share of matches among these pairs with m and u held fixed (EM on the share alone)."""
    patterns, counts = level_patterns(levels)
    if counts.sum() == 0:
        return 0.0
    ratio = _log_likelihood_ratio(patterns, [np.asarray(x, dtype=np.float64) for x in m],
                                  [np.asarray(x, dtype=np.float64) for x in u], fixed)
    share = 0.1
    for _ in range(iterations):
        _, new_share = _e_step(ratio, share, counts)
        if abs(new_share - share) < tolerance:
            return new_share
        share = new_share
    return share


def starting_m(comparisons: list[ComparisonSpec]) -> list[list[float]]:
    """Agreement is likely among matches: most mass on exact, decreasing, little on 'else'."""
    out = []
    for comparison in comparisons:
        k = len(comparison.levels)
        raw = np.asarray([0.85] + [0.1 / max(k - 2, 1)] * (k - 2) + [0.05]) if k > 1 else np.asarray([1.0])
        out.append((raw / raw.sum()).tolist())
    return out


def match_weight(levels: np.ndarray, model: FsModel, tf_exact: np.ndarray | None = None) -> np.ndarray:
    """Total match weight (bits) per pair: prior + Σ log2(m/u), exact levels term-frequency adjusted.

    ``tf_exact`` (pairs × comparisons, NaN where unused) holds the frequency of the agreeing value.
    """
    weights = model.weights()
    total = np.full(levels.shape[0], math.log2(model.prior / (1 - model.prior)))
    for i in range(len(model.comparisons)):
        total += comparison_weight(model, i, levels[:, i], None if tf_exact is None else tf_exact[:, i], weights)
    return total


def comparison_weight(model: FsModel, index: int, column: np.ndarray, tf: np.ndarray | None = None,
                      weights: list[np.ndarray] | None = None) -> np.ndarray:
    """One comparison's weight (bits) per pair: log2(m/u) of its level, 0 where a value is missing, and at the
    exact level of a term-frequency comparison log2(u_exact / frequency of the agreeing value) on top (NaN
    frequency: unadjusted). ``c360 explain`` shows these, so its total is the one scoring used."""
    comparison = model.comparisons[index]
    weights = model.weights() if weights is None else weights
    known = column != NULL_LEVEL
    contribution = np.where(known, weights[index][np.where(known, column, 0)], 0.0)
    if comparison.term_frequency and tf is not None:
        adjust = (column == 0) & ~np.isnan(tf)
        u_exact = max(model.u[index][0], MIN_PROBABILITY)
        contribution = np.where(adjust, contribution + np.log2(u_exact / np.maximum(tf, MIN_PROBABILITY)),
                                contribution)
    return contribution


def probability(weight: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp2(-np.clip(weight, -200, 200)))
