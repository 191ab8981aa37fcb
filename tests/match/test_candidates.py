"""Candidate pairs come in bounded chunks, and the chunks hold exactly the pairs blocking stands for."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from shared.match import scoring
from shared.match.scoring import block_pairs, cross_pairs
from tests.match.test_rule_groups import scored_pairs


def _expected_block(keys: np.ndarray, max_block: int) -> set[tuple[int, int]]:
    sizes = {k: int((keys == k).sum()) for k in set(keys.tolist())}
    return {(min(a, b), max(a, b)) for a, b in itertools.combinations(range(len(keys)), 2)
            if keys[a] == keys[b] and sizes[keys[a]] <= max_block}


def _expected_cross(keys: np.ndarray, is_left: np.ndarray, max_block: int) -> set[tuple[int, int]]:
    sizes = {k: int((keys == k).sum()) for k in set(keys.tolist())}
    return {(a, b) for a in range(len(keys)) for b in range(len(keys))
            if is_left[a] and not is_left[b] and keys[a] == keys[b] and sizes[keys[a]] <= max_block}


@pytest.mark.parametrize("chunk", [1, 5, 64, 10_000])
def test_chunks_hold_every_pair_of_a_block_once_and_stay_near_the_chunk_size(chunk: int) -> None:
    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(0, 80))
        keys = rng.integers(0, max(1, n // 6), n).astype(np.int64)
        is_left = rng.random(n) < 0.4
        max_block = int(rng.integers(2, 20))
        for candidates, expected, ordered in (
                (block_pairs(keys, max_block), _expected_block(keys, max_block), False),
                (cross_pairs(keys, is_left, max_block), _expected_cross(keys, is_left, max_block), True)):
            chunks = list(candidates.chunks(chunk))
            found = [(int(a), int(b)) if ordered else (min(int(a), int(b)), max(int(a), int(b)))
                     for i, j in chunks for a, b in zip(i, j, strict=True)]
            assert len(found) == len(set(found)) == candidates.total  # every pair once
            assert set(found) == expected
            biggest_block = max(np.unique(keys, return_counts=True)[1].tolist(), default=0)
            assert all(len(i) <= chunk + biggest_block for i, _ in chunks)  # cut between positions only
            assert all(len(i) > 0 for i, _ in chunks)


def test_a_partition_scored_in_tiny_chunks_finds_the_same_pairs(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules, rule groups, cannot-links and probabilistic blocks (with the pairs an earlier block covers),
    scored a few candidates at a time, give what scoring them at once gives."""
    whole, rows, _ = scored_pairs(tmp_path / "whole", 2000)
    monkeypatch.setattr(scoring, "CANDIDATE_CHUNK", 7)
    chunked, chunked_rows, _ = scored_pairs(tmp_path / "chunked", 2000)
    assert len(whole) > 1000 and chunked == whole and rows == chunked_rows
