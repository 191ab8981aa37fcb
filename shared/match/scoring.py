"""Vectorised candidate pairs and condition scores (numpy + rapidfuzz; no per-pair Python loop).

The fuzzy score is Customer Insights': ``(base length − edit distance) / base length`` with
Levenshtein distance, clamped at 0. The base is the *shorter* string by default, which reproduces the
documented example (robert2020@hotmail.com vs robrt2020@hotmail.cm = 0.9); ``longer`` gives the usual
normalized similarity (0.909 there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import OSA
from rapidfuzz.process import cpdist

from shared.match.normalize import DISTINCT_SAMPLE, DISTINCT_SHARE, compatible_names

Strings: TypeAlias = pa.Array | pa.ChunkedArray | list[str | None]
# candidate pairs scored at once: about 0.75 KB each while a probabilistic block is scored (compared
# values, levels, weights). A 1 M-customer partition of 1.4 M candidates peaked at 1,205 MB scored at
# once, 1,103 / 736 / 553 MB in chunks of 1 M / 500 k / 250 k, in the same time, with the same pairs
CANDIDATE_CHUNK = 250_000


def fuzzy_scores(left: Strings, right: Strings, base: str = "shorter", names: bool = False) -> np.ndarray:
    """Element-wise CI scores for two aligned string arrays; a null on either side scores 0. With ``names``
    (name-normalized values) a nickname scores 1 against a formal name it can stand for.

    Equal values score 1 without more work: only the present, unequal pairs are measured and read as names
    (at 1 M customers 63 % of the pairs that rule conditions score agree)."""
    left, right = _string_array(left), _string_array(right)
    score = np.zeros(len(left))
    if len(left) == 0:
        return score
    equal, present = exact_equal(left, right)
    score[equal] = 1.0
    rows = np.flatnonzero(present & ~equal)
    if len(rows) == 0:
        return score
    taken = pa.array(rows)

    def measure(a: pa.Array, b: pa.Array) -> np.ndarray:
        measured = _edit_scores(a, b, base)  # below 1: the values differ
        if names:
            measured[compatible_names(a, b, typos=True)] = 1.0
        return measured

    score[rows] = per_distinct_pair(measure, pc.take(left, taken), pc.take(right, taken))
    return score


MIN_PAIRS = 1_024  # fewer pairs are measured as they come


def per_distinct_pair(measure: Callable[[pa.Array, pa.Array], np.ndarray], a: pa.Array, b: pa.Array) -> np.ndarray:
    """``measure(a, b)`` for an element-wise measure of two aligned arrays of present values, computed once
    per distinct (a, b) pair where pairs repeat: within a block, rule conditions compare the same first
    names again and again (at 1 M customers a quarter of the pairs they measured were distinct). Where
    pairs hardly repeat (e-mail addresses, phones), judged on the first pairs, every pair is measured. The
    same rule as ``normalize_values``' for single values, with its share and sample size."""
    if len(a) < MIN_PAIRS or a.null_count or b.null_count:
        return measure(a, b)
    head = min(len(a), DISTINCT_SAMPLE)
    if head < len(a) and len(np.unique(_pair_keys(a.slice(0, head), b.slice(0, head))[0])) > DISTINCT_SHARE * head:
        return measure(a, b)
    keys, dictionary_a, dictionary_b, width = _pair_keys(a, b)
    pairs, inverse = np.unique(keys, return_inverse=True)
    if len(pairs) > DISTINCT_SHARE * len(a):
        return measure(a, b)
    distinct_a = pc.take(dictionary_a, pa.array(pairs // width))
    distinct_b = pc.take(dictionary_b, pa.array(pairs % width))
    return measure(distinct_a, distinct_b)[inverse]


def _pair_keys(a: pa.Array, b: pa.Array) -> tuple[np.ndarray, pa.Array, pa.Array, int]:
    """One integer per (a, b) value pair (a's dictionary code × b's dictionary size + b's code), the two
    dictionaries and b's dictionary size."""
    encoded_a, encoded_b = pc.dictionary_encode(a), pc.dictionary_encode(b)
    width = len(encoded_b.dictionary)
    keys = np.asarray(encoded_a.indices, np.int64) * width + np.asarray(encoded_b.indices, np.int64)
    return keys, encoded_a.dictionary, encoded_b.dictionary, width


def _edit_scores(a: pa.Array, b: pa.Array, base: str) -> np.ndarray:
    """``(base length − edit distance) / base length`` of present values, clamped to [0, 1]."""
    distance = cpdist(a.to_numpy(zero_copy_only=False), b.to_numpy(zero_copy_only=False), scorer=OSA.distance,
                      workers=1).astype(np.float64)  # a transposition is one edit
    la = np.asarray(pc.utf8_length(a), np.float64)
    lb = np.asarray(pc.utf8_length(b), np.float64)
    length = np.minimum(la, lb) if base == "shorter" else np.maximum(la, lb)
    with np.errstate(divide="ignore", invalid="ignore"):
        score = np.where(length > 0, (length - distance) / length, np.where(distance == 0, 1.0, 0.0))
    return np.clip(score, 0.0, 1.0)


def _string_array(values: Strings) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        return values.combine_chunks()
    return values if isinstance(values, pa.Array) else pa.array(values, pa.string())


def exact_equal(left: pa.Array, right: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(equal, known): equality where both sides are present."""
    known = np.asarray(pc.and_(pc.is_valid(left), pc.is_valid(right)))
    equal = np.asarray(pc.fill_null(pc.equal(left, right), False))
    return known & equal, known


@dataclass(frozen=True)
class Candidates:
    """Candidate pairs of positions, produced in chunks of about ``chunk`` pairs so that scoring holds one
    chunk at a time: a partition's rows are bounded, its pairs are not (a block of 10,000 records alone
    makes 50 M). Each sorted position ``k`` pairs with ``count[k]`` consecutive sorted positions from
    ``first[k]``; ``order`` maps sorted positions back to rows."""

    order: np.ndarray
    source: np.ndarray
    first: np.ndarray
    count: np.ndarray
    skipped_blocks: int
    skipped_records: int

    @property
    def total(self) -> int:
        return int(self.count.sum())

    def chunks(self, chunk: int | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(i, j) row positions, chunk by chunk (``CANDIDATE_CHUNK`` pairs by default), in one fixed order;
        a chunk ends between two positions."""
        chunk = chunk or CANDIDATE_CHUNK
        ends = np.cumsum(self.count)
        if len(ends) == 0 or ends[-1] == 0:
            return
        cuts = np.searchsorted(ends, np.arange(chunk, int(ends[-1]), chunk), side="right")
        bounds = np.unique(np.r_[0, cuts, len(ends)])
        for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            count = self.count[a:b]
            total = int(count.sum())
            if total == 0:
                continue
            offsets = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
            yield (self.order[np.repeat(self.source[a:b], count)],
                   self.order[np.repeat(self.first[a:b], count) + offsets])


def block_pairs(keys: np.ndarray, max_block: int) -> Candidates:
    """All i<j pairs of positions sharing a key, skipping blocks larger than ``max_block``.

    Fully vectorised: positions are sorted by key, then each position is paired with the following
    positions of its block (``Candidates.chunks`` expands them with ``np.repeat``).
    """
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    if len(sorted_keys) == 0:
        empty = np.zeros(0, np.int64)
        return Candidates(order, empty, empty, empty, 0, 0)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_keys)])
    too_big = sizes > max_block
    ends = np.repeat(starts + sizes, sizes)
    allowed = np.repeat(~too_big, sizes)
    position = np.arange(len(sorted_keys))
    follow = np.where(allowed, ends - position - 1, 0)
    return Candidates(order, position, position + 1, follow, int(too_big.sum()), int(sizes[too_big].sum()))


def cross_pairs(keys: np.ndarray, is_left: np.ndarray, max_block: int) -> Candidates:
    """All (left, right) pairs of positions sharing a key, left side × right side per block."""
    order = np.lexsort((~is_left, keys))  # by key, left rows first within a key
    sorted_keys, sorted_left = keys[order], is_left[order]
    if len(sorted_keys) == 0:
        empty = np.zeros(0, np.int64)
        return Candidates(order, empty, empty, empty, 0, 0)
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    sizes = np.diff(np.r_[starts, len(sorted_keys)])
    lefts = np.add.reduceat(sorted_left.astype(np.int64), starts)
    rights = sizes - lefts
    too_big = sizes > max_block
    lefts_ok = np.where(too_big, 0, lefts)
    # each left row of a block pairs with every right row of the block
    block_of = np.repeat(np.arange(len(starts)), sizes)
    is_l = sorted_left & ~np.repeat(too_big, sizes)
    count = np.where(is_l, rights[block_of], 0)
    first_right = (starts + lefts_ok)[block_of]
    both = (lefts > 0) & (rights > 0)
    skipped = too_big & both
    return Candidates(order, np.arange(len(sorted_keys)), first_right, count, int(skipped.sum()),
                      int(sizes[skipped].sum()))
