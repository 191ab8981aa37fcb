"""Graded comparisons for the probabilistic mode: each kind maps a pair of values to an agreement level.

Level 0 is the strongest agreement (exact after normalization), the last level is "everything else";
``NULL_LEVEL`` means a value is missing on either side and contributes no evidence. Every kind is
computed vectorised over arrays of pairs (rapidfuzz ``cpdist``), never pair by pair in Python.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.process import cpdist

from shared.match.normalize import compatible_names
from shared.match.rules import Feature, feature
from shared.match.scoring import per_distinct_pair

NULL_LEVEL = -1

STEPS: dict[str, tuple[str, ...]] = {
    "first_name": ("name", "unicode_to_ascii", "lowercase", "symbols", "whitespace"),
    "name": ("unicode_to_ascii", "lowercase", "symbols", "whitespace"),
    "string": ("unicode_to_ascii", "lowercase", "symbols"),
    "address": ("address", "unicode_to_ascii", "lowercase", "symbols"),
    "email": ("lowercase", "whitespace"),
    "phone": ("phone",),
    "date": ("whitespace",),
    "postal_code": ("lowercase", "whitespace", "symbols"),
    "identifier": ("lowercase", "whitespace", "symbols"),
    "exact": ("lowercase", "whitespace"),
}
LEVELS: dict[str, tuple[str, ...]] = {
    "first_name": ("exact", "jaro_winkler_0.92", "jaro_winkler_0.80", "else"),
    "name": ("exact", "one_edit", "jaro_winkler_0.92", "jaro_winkler_0.80", "else"),
    "string": ("exact", "jaro_winkler_0.90", "jaro_winkler_0.70", "else"),
    "address": ("exact", "jaro_winkler_0.90", "jaro_winkler_0.70", "else"),
    "email": ("exact", "one_typo", "else"),
    "phone": ("exact", "same_last_7", "one_edit", "else"),
    "date": ("exact", "one_edit", "day_month_swapped", "same_year", "else"),
    "postal_code": ("exact", "one_edit", "same_prefix", "else"),
    "identifier": ("exact", "one_edit", "two_edits", "else"),
    "exact": ("exact", "else"),
}


@dataclass(frozen=True)
class ComparisonSpec:
    field: str
    kind: str
    term_frequency: bool = False
    bypass: bool = False  # values of ``custom.bypass`` become missing, as the CI normalization does

    @property
    def feature(self) -> Feature:
        # named as a rule condition with the same steps names it: a blocking key and a rule's key are then
        # one column, and a rule group of every table holds the blocking rule's rows (``MatchSetup``)
        return feature(self.field, (("bypass",) if self.bypass else ()) + STEPS[self.kind])

    @property
    def levels(self) -> tuple[str, ...]:
        return LEVELS[self.kind]

    @property
    def name(self) -> str:
        return f"{self.field}:{self.kind}"


def _distance(a: pa.Array, b: pa.Array, scorer: Callable[..., object]) -> np.ndarray:
    if len(a) == 0:
        return np.zeros(0)
    left = pc.fill_null(a, "").to_numpy(zero_copy_only=False)
    right = pc.fill_null(b, "").to_numpy(zero_copy_only=False)
    return np.asarray(cpdist(left, right, scorer=scorer, workers=1), dtype=np.float64)


def _digits(values: pa.Array) -> pa.Array:
    """Digits only ("1981-07-07" → "19810707"): ISO dates lose their dashes without a regex; anything else
    still non-numeric goes through one."""
    plain = pc.replace_substring(values, "-", "")
    rest = np.flatnonzero(~_true(pc.utf8_is_digit(plain)) & _true(pc.is_valid(plain)))
    if len(rest) == 0:
        return plain
    fixed = np.asarray(plain.to_numpy(zero_copy_only=False), dtype=object)
    fixed[rest] = pc.replace_substring_regex(pc.take(plain, pa.array(rest)), r"\D", "").to_numpy(zero_copy_only=False)
    return pa.array(fixed, pa.string())


def _true(mask: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(mask, False), dtype=bool)


def _select(conditions: list[np.ndarray], size: int) -> np.ndarray:
    """Level = index of the first true condition; the last level when none holds."""
    if size == 0:
        return np.zeros(0, np.int8)
    return np.select(conditions, list(range(len(conditions))), default=len(conditions)).astype(np.int8)


def comparison_levels(kind: str, a: pa.Array, b: pa.Array) -> np.ndarray:
    """Agreement level per pair of aligned string arrays (``NULL_LEVEL`` where a side is missing).

    Only pairs that are present and not equal are graded (most candidate pairs agree exactly or miss a
    value), so the string work follows the pairs that need it.
    """
    missing = _true(pc.or_(pc.is_null(a), pc.is_null(b)))
    exact = _true(pc.equal(a, b))
    levels = np.where(exact, 0, len(LEVELS[kind]) - 1).astype(np.int8)
    rows = np.flatnonzero(~missing & ~exact)
    if len(rows):
        taken = pa.array(rows)
        levels[rows] = per_distinct_pair(lambda x, y: _graded(kind, x, y), pc.take(a, taken), pc.take(b, taken))
    levels[missing] = NULL_LEVEL
    return levels


def _graded(kind: str, a: pa.Array, b: pa.Array) -> np.ndarray:
    """Levels of present, unequal pairs (never level 0)."""
    n = len(a)
    exact = np.zeros(n, bool)
    if kind in ("first_name", "name", "string", "address"):
        high, low = (0.92, 0.80) if kind in ("first_name", "name") else (0.90, 0.70)
        jw = _distance(a, b, JaroWinkler.similarity)
        close = jw >= high
        if kind == "first_name":  # a nickname and a formal name it can stand for ("sam", "samantha")
            close = close | compatible_names(a, b, typos=True)
        # a surname's typo: one edit, which Jaro-Winkler scores low when it falls early or the name is short
        # ("hernandez" / "haernandez" 0.89); first names read typos through the dictionaries instead, where
        # one edit apart are often two names ("mary" / "mark")
        one_edit = [_distance(a, b, OSA.distance) <= 1] if kind == "name" else []
        levels = _select([exact, *one_edit, close, jw >= low], n)
    elif kind == "email":
        # a typo is one edit of a letter. Addresses are built from names, so neither a similar-looking
        # address, nor the same user part at another provider, nor a number or separator added or changed
        # ("jsmith" / "jsmith2" / "j.smith", what sign-up forms suggest when "jsmith" is taken) is evidence
        # beyond the name comparisons: on the demo those pairs are mostly namesakes
        typo = _distance(a, b, OSA.distance) <= 1
        rows = np.flatnonzero(typo)  # few: the letter check (a regex) only runs on them
        if len(rows):
            near_a, near_b = pc.take(a, pa.array(rows)), pc.take(b, pa.array(rows))
            typo[rows] = _true(pc.equal(pc.replace_substring_regex(near_a, "[a-z]", ""),
                                        pc.replace_substring_regex(near_b, "[a-z]", "")))
        levels = _select([exact, typo], n)
    elif kind == "phone":
        long_enough = _true(pc.greater_equal(pc.utf8_length(a), 7))
        last = long_enough & _true(pc.equal(pc.utf8_slice_codeunits(a, -7), pc.utf8_slice_codeunits(b, -7)))
        levels = _select([exact, last, _distance(a, b, OSA.distance) <= 1], n)
    elif kind == "date":
        da, db = _digits(a), _digits(b)
        edits = _distance(da, db, OSA.distance)

        def part(x: pa.Array, start: int, stop: int) -> pa.Array:
            return pc.utf8_slice_codeunits(x, start, stop)

        eight = _true(pc.and_(pc.equal(pc.utf8_length(da), 8), pc.equal(pc.utf8_length(db), 8)))
        swapped = eight & _true(pc.equal(part(da, 0, 4), part(db, 0, 4))) & _true(
            pc.equal(part(da, 4, 6), part(db, 6, 8))) & _true(pc.equal(part(da, 6, 8), part(db, 4, 6)))
        same_year = _true(pc.and_(pc.greater_equal(pc.utf8_length(da), 4), pc.equal(part(da, 0, 4), part(db, 0, 4))))
        levels = _select([exact, edits <= 1, swapped, same_year], n)
    elif kind == "postal_code":
        prefix = _true(pc.and_(pc.greater_equal(pc.utf8_length(a), 3),
                               pc.equal(pc.utf8_slice_codeunits(a, 0, 3), pc.utf8_slice_codeunits(b, 0, 3))))
        levels = _select([exact, _distance(a, b, OSA.distance) <= 1, prefix], n)
    elif kind == "identifier":
        edits = _distance(a, b, OSA.distance)
        levels = _select([exact, edits <= 1, edits <= 2], n)
    else:
        levels = _select([exact], n)
    return levels
