"""The eleven Customer Insights normalizations, applied at match time only (profiles keep original values).

Order when several are selected (CI does not document it; decided in docs/decisions.md):
bypass → alias → type (phone, name, address, organization) → Unicode to ASCII → numerals → lower case →
symbols → whitespace → alias and bypass again on the result, so that "MSFT" meets "Microsoft Corp".
Vectorised: pyarrow kernels where they exist; Python mappings run once per *distinct* value.
"""

from __future__ import annotations

import csv
import functools
import itertools
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from importlib import resources

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from anyascii import anyascii
from rapidfuzz.distance import OSA

ORDER = ("phone", "name", "address", "organization", "unicode_to_ascii", "numerals", "lowercase", "symbols",
         "whitespace")
_SYMBOLS = r"[\p{P}\p{S}]"
_KERNEL_TEXT = r"^[\t\n\f\r\x20-\x7e]*$"  # text the Arrow kernels normalize exactly as the Python functions
_EXTENSION = re.compile(r"\s*(?:[,;]\s*)?(?:ext\.?|extension|x)\s*\.?\s*\d+\s*$", re.IGNORECASE)


def _rows(name: str) -> list[list[str]]:
    text = resources.files("shared.match.data").joinpath(name).read_text(encoding="utf-8")
    return [row for row in csv.reader(line for line in text.splitlines() if line and not line.startswith("#"))]


@functools.cache
def given_names() -> frozenset[str]:
    """Common given names carried in their own right ("mary" is a name, not only a nickname of Marilyn)."""
    return frozenset(row[0] for row in _rows("given_names.csv"))


@functools.cache
def known_names() -> tuple[str, ...]:
    """Every name the dictionaries know: formal names, nicknames and given names."""
    return tuple(sorted(set(nickname_map()) | given_names()))


@functools.cache
def _known_set() -> frozenset[str]:
    return frozenset(known_names())


@functools.cache
def _lookup_arrays() -> tuple[pa.Array, pa.Array]:
    """(nicknames, every known name) as Arrow arrays for ``pc.is_in``, built once rather than per call."""
    return pa.array(sorted(name_candidates()), pa.string()), pa.array(known_names(), pa.string())


@functools.lru_cache(maxsize=65536)
def typo_readings(value: str) -> frozenset[str]:
    """Known names one edit (OSA: a transposition counts once) from a value the dictionaries do not know.

    "ojhn" reads as john, so it is compatible with john's nicknames; a known name ("mark") is a name in its
    own right and reads as nothing else. Short values are read too ("jn" as jan, jen, jo, jon): typos on
    three-letter nicknames are common, and on the 100 k demo reading them kept 170 true pairs from being
    cannot-linked; a single letter is an initial, not a typo.
    """
    if len(value) < 2 or value in _known_set():
        return frozenset()
    index = _deletion_index()
    candidates = {name for key in _deletions(value) for name in index.get(key, ())}
    return frozenset(name for name in candidates if OSA.distance(value, name, score_cutoff=1) <= 1)


def _deletions(value: str) -> set[str]:
    """The value and every string one deletion from it."""
    return {value} | {value[:i] + value[i + 1:] for i in range(len(value))}


@functools.cache
def _deletion_index() -> dict[str, tuple[str, ...]]:
    """Each known name and each string one deletion from it → those names. Two strings one edit apart (OSA)
    share a key: a substitution or a transposition leaves both one deletion from a common string, an
    insertion leaves the shorter one deletion from the longer. So the names one edit from a value are
    among those its own keys reach, checked by distance: a lookup of a few keys instead of a scan of
    every known name (6.5 instead of 64 µs per value, the same names for 25,000 test values)."""
    index: dict[str, list[str]] = {}
    for name in known_names():
        for key in _deletions(name):
            index.setdefault(key, []).append(name)
    return {key: tuple(names) for key, names in index.items()}


@functools.cache
def name_candidates() -> dict[str, frozenset[str]]:
    """nickname → every formal name (lowercase) it can stand for ("sam" → samuel, samantha)."""
    rows = _rows("nicknames.csv")
    formals = {formal for formal, _ in rows} | given_names()
    candidates: dict[str, set[str]] = {}
    for formal, nicknames in rows:
        for nick in filter(None, (n.strip() for n in nicknames.split(";"))):
            candidates.setdefault(nick, set()).add(formal)
    for nick, names in candidates.items():
        if nick in formals:  # "kim" is also given in its own right
            names.add(nick)
    return {nick: frozenset(names) for nick, names in candidates.items()}


@functools.cache
def nickname_map() -> dict[str, str]:
    """nickname or formal name → the name it normalizes to (lowercase).

    Every formal name maps to itself (so "Sandra" stays Sandra although it is also a nickname of
    Alexandra); a nickname with one meaning maps to it ("Bob" → robert); an ambiguous nickname ("Sam":
    Samuel or Samantha) stays itself — comparisons accept it against any of its meanings
    (``compatible_names``), so it neither blocks nor links the two formal names to each other.
    """
    rows = _rows("nicknames.csv")
    mapping = {formal: formal for formal, _ in rows}
    for nick, names in name_candidates().items():
        mapping.setdefault(nick, next(iter(names)) if len(names) == 1 else nick)
    return mapping


@functools.lru_cache(maxsize=262144)
def _meanings(value: str, typos: bool) -> frozenset[str]:
    """Every name ``value`` can stand for: itself and the formal names it is a nickname of and, with
    ``typos``, the same for each known name one edit away. Two values are compatible (``compatible_names``)
    exactly when their meanings share a name: when they are equal, one is a formal name the other stands
    for, or both stand for one formal name, as written or read through a typo."""
    candidates = name_candidates()
    readings = (typo_readings(value) if typos else frozenset()) | {value}
    return frozenset().union(*({reading} | candidates.get(reading, frozenset()) for reading in readings))


def _compatible_rows(left: pa.Array, right: pa.Array, typos: bool) -> np.ndarray:
    """``compatible_names`` of aligned present values without a Python step per pair: each distinct value's
    meanings are looked up once, numbered, and a pair is compatible when one number appears on both sides
    (the pair's numbers from both sides, sorted, hold a repeat). At 1 M customers the partitions ask this
    of about 1.1 M pairs, nearly all distinct within their chunk, so a cache of decided pairs did not spare
    the Python loop over them: the 51 partitions' scoring took 12.7-13.7 CPU seconds with that loop and
    12.0-12.8 with this, for the same 8,971,499 pairs."""
    encoded = pc.dictionary_encode(pa.concat_arrays([left, right]))
    values = encoded.dictionary.to_pylist()
    numbers: dict[str, int] = {}
    meanings = [[numbers.setdefault(name, len(numbers)) for name in _meanings(v, typos)] for v in values]
    sizes = np.fromiter(map(len, meanings), np.int64, len(meanings))
    flat = np.fromiter(itertools.chain.from_iterable(meanings), np.int64, int(sizes.sum()))
    starts = np.cumsum(sizes) - sizes
    codes = np.asarray(encoded.indices, np.int64)
    n = len(left)
    pair_of, number_of = [], []
    for side in (codes[:n], codes[n:]):
        count = sizes[side]
        pair_of.append(np.repeat(np.arange(n), count))
        offset = np.repeat(starts[side] - (np.cumsum(count) - count), count)
        number_of.append(flat[offset + np.arange(int(count.sum()))])
    keys = np.sort(np.concatenate(pair_of) * len(numbers) + np.concatenate(number_of))
    out = np.zeros(n, bool)
    out[keys[1:][keys[1:] == keys[:-1]] // len(numbers)] = True
    return out


def compatible_names(left: pa.Array, right: pa.Array, typos: bool = False) -> np.ndarray:
    """Per pair of name-normalized values: True when one can be a nickname of the other, or both nicknames
    of one formal name ("sam" ~ "samantha", "sam" ~ "sammy"); equal values are compatible too. With
    ``typos``, a value the dictionaries do not know is also read as the known names one edit away, so a
    typo stacked on a nickname still fits ("ojhn" ~ "johnny"). Only pairs where a nickname (or, with
    ``typos``, a value the dictionaries do not know) is involved are looked at (``_compatible_rows``)."""
    listed, known = _lookup_arrays()
    involved = pc.or_(pc.is_in(left, listed), pc.is_in(right, listed))
    if typos:
        unknown = pc.or_(pc.invert(pc.is_in(left, known)), pc.invert(pc.is_in(right, known)))
        involved = pc.or_(involved, unknown)
    out = np.asarray(pc.fill_null(pc.equal(left, right), False)).copy()
    present = np.asarray(pc.and_(pc.is_valid(left), pc.is_valid(right)))
    rows = np.flatnonzero(np.asarray(pc.fill_null(involved, False)) & ~out & present)
    if len(rows):
        taken = pa.array(rows)
        out[rows] = _compatible_rows(pc.take(left, taken), pc.take(right, taken), typos)
    return out


@functools.cache
def title_map() -> dict[str, str]:
    return {variant: canonical for variant, canonical in _rows("titles.csv")}


@functools.cache
def address_map() -> dict[str, str]:
    return {word: abbreviation for word, abbreviation in _rows("address.csv")}


@functools.cache
def organization_noise() -> frozenset[str]:
    return frozenset(row[0] for row in _rows("organization.csv"))


def _map_distinct(values: pa.Array, function: Callable[[str], str | None]) -> pa.Array:
    """Apply a Python function to each distinct value once (names and cities repeat a lot)."""
    encoded = pc.dictionary_encode(values)
    dictionary = encoded.dictionary.to_pylist()
    mapped = pa.array([function(v) for v in dictionary], pa.string())
    return pc.take(mapped, encoded.indices)


def _ascii_fast(values: pa.Array, kernels: Callable[[pa.Array], pa.Array],
                function: Callable[[str], str | None]) -> pa.Array:
    """``kernels`` (Arrow) on plain ASCII values, ``function`` once per distinct other value.

    The kernels give what ``function`` gives on printable ASCII with tabs and line breaks; elsewhere they
    may not (RE2's ``\\d`` and ``\\s`` are ASCII-only, and Python's ``\\s`` and ``str.strip`` also take
    ``\\v`` and ``\\x1c``–``\\x1f``), so other text takes the Python path. At 1 M customers
    the Python path per distinct phone and street cost about 15 s of the features step.
    """
    plain = pc.fill_null(pc.match_substring_regex(values, _KERNEL_TEXT), True)
    fast = kernels(values)
    if pc.all(plain).as_py():
        return fast
    others = pc.if_else(plain, pa.scalar(None, pa.string()), values)
    return pc.if_else(plain, fast, _map_distinct(others, lambda v: function(v) if v is not None else None))


def _phone_kernels(values: pa.Array, default_country: str | None) -> pa.Array:
    """``normalize_phone_value`` for ASCII text, with Arrow kernels."""
    text = pc.replace_substring_regex(pc.utf8_trim_whitespace(values), "(?i)" + _EXTENSION.pattern, "")
    digits = pc.replace_substring_regex(text, r"\D", "")
    stripped = pc.utf8_ltrim(digits, characters="0")
    marked = pc.or_(pc.starts_with(text, "+"), pc.starts_with(digits, "00"))
    long_without_trunk = pc.and_(pc.greater_equal(pc.utf8_length(digits), 11), pc.invert(pc.starts_with(digits, "0")))
    international = pc.or_(marked, long_without_trunk)
    national = pc.binary_join_element_wise("+" + default_country, stripped, "") if default_country else digits
    out = pc.if_else(international, pc.binary_join_element_wise("+", stripped, ""), national)
    return pc.if_else(pc.equal(digits, ""), pa.scalar(None, pa.string()), out)


def _address_kernels(values: pa.Array) -> pa.Array:
    """``normalize_address_value`` for ASCII text, with Arrow kernels: tokens, abbreviations, joined."""
    words = address_map()
    spaced = pc.utf8_trim(pc.replace_substring_regex(pc.utf8_lower(values), "[^a-z0-9]+", " "), " ")
    tokens = pc.split_pattern(spaced, " ")
    flat = pc.list_flatten(tokens)
    index = pc.index_in(flat, value_set=pa.array(list(words), pa.string()))
    mapped = pc.if_else(pc.is_null(index), flat, pc.take(pa.array(list(words.values()), pa.string()), index))
    lists = pa.ListArray.from_arrays(tokens.offsets, mapped, mask=pc.is_null(tokens))
    return pc.replace_substring(pc.binary_join(lists, " "), "p o box", "po box")


def normalize_phone_value(text: str, default_country: str | None = None) -> str | None:
    """Digits only; extensions dropped; the country code stays significant.

    ``+`` or ``00`` marks an international number: its country code's leading zeros are dropped
    (+01 = +1). Without one, 11+ digits not starting with 0 are read as carrying a country code
    ("1 (425) 555-1212" = +1 425 555 1212); shorter numbers are national and do not match an
    international one.
    """
    text = _EXTENSION.sub("", text.strip())
    digits = re.sub(r"\D", "", text)
    if not digits:
        return None
    international = text.lstrip().startswith("+") or digits.startswith("00")
    if international or (len(digits) >= 11 and not digits.startswith("0")):
        return "+" + digits.lstrip("0")
    if default_country:  # opt-in: read national numbers as numbers of this country (trunk 0 dropped)
        return "+" + default_country + digits.lstrip("0")
    return digits


def _tokens(text: str) -> list[str]:
    return re.findall(r"[a-z0-9]+", anyascii(text).lower())


def normalize_name_value(text: str) -> str:
    """Nicknames → formal names, titles → canonical abbreviations ("Debby" → "deborah", "professor" → "prof")."""
    names, titles = nickname_map(), title_map()
    return " ".join(titles.get(t) or names.get(t, t) for t in _tokens(text))


def normalize_address_value(text: str) -> str:
    """USPS-style abbreviations for suffixes, directionals and units ("Street" → "st", "Northwest" → "nw")."""
    words = address_map()
    joined = " ".join(words.get(t, t) for t in _tokens(text))
    return joined.replace("p o box", "po box")


def normalize_organization_value(text: str) -> str:
    """Company names without noise words ("Contoso Ltd." → "contoso")."""
    noise = organization_noise()
    kept = [t for t in _tokens(text) if t not in noise]
    return " ".join(kept) if kept else " ".join(_tokens(text))


def numerals_value(text: str) -> str:
    """Unicode number symbols → digits: ❽ and Ⅷ both become 8."""
    if text.isascii():
        return text
    out = []
    for char in text:
        if not char.isascii() and unicodedata.category(char).startswith("N"):
            value = unicodedata.numeric(char, None)
            out.append(str(int(value)) if value is not None and float(value).is_integer() else char)
        else:
            out.append(char)
    return "".join(out)


def _nullify(values: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(values, ""), pa.scalar(None, pa.string()), values)


def build_alias_map(groups: Iterable[Sequence[str]], steps: Sequence[str]) -> dict[str, str]:
    """Each alias group maps every member (normalized by ``steps``) to the group's first member."""
    mapping: dict[str, str] = {}
    for group in groups:
        normalized = [normalize_values(pa.array([v], pa.string()), steps).to_pylist()[0] for v in group]
        canonical = normalized[0]
        for raw, value in zip(group, normalized, strict=True):
            for key in (raw.strip().lower(), value):
                if key:
                    mapping.setdefault(key, canonical)
    return mapping


def _apply_step(step: str, values: pa.Array, phone_country: str | None) -> pa.Array:
    if step == "phone":
        return _ascii_fast(values, lambda a: _phone_kernels(a, phone_country),
                           lambda v: normalize_phone_value(v, phone_country))
    if step == "name":
        return _map_distinct(values, lambda v: normalize_name_value(v) if v is not None else None)
    if step == "address":
        return _ascii_fast(values, _address_kernels, normalize_address_value)
    if step == "organization":
        return _map_distinct(values, lambda v: normalize_organization_value(v) if v is not None else None)
    if step == "unicode_to_ascii":
        return _ascii_fast(values, lambda a: a, anyascii)
    if step == "numerals":
        return _ascii_fast(values, lambda a: a, numerals_value)
    if step == "lowercase":
        return pc.utf8_lower(values)
    if step == "symbols":
        return pc.replace_substring_regex(values, _SYMBOLS, "")
    assert step == "whitespace", step
    return pc.replace_substring_regex(values, r"\s+", "")


DISTINCT_SHARE = 0.5  # normalize the distinct values, not the rows, where they are at most this share
DISTINCT_SAMPLE = 10_000  # first rows whose share of distinct values decides whether to encode them all
_DISTINCT = ("<distinct>",)  # the memo's key for the values' dictionary encoding (None: not worth it)


def normalize_values(values: pa.Array, steps: Sequence[str], aliases: dict[str, str] | None = None,
                     bypass: frozenset[str] = frozenset(), phone_country: str | None = None,
                     memo: dict[tuple[str, ...], pa.Array] | None = None) -> pa.Array:
    """Normalize a string array with the selected steps (in the fixed order above); nulls stay null.

    Every step works value by value, so where values repeat (names, cities, postal codes, dates) the
    distinct values are normalized and the rows take theirs: at 1 M customers the features step's Arrow
    kernels (regular expressions mostly) took 9.1 s of its 11.5 s of CPU row by row.

    ``memo`` holds what earlier calls over the same ``values`` (and phone country) computed, keyed by the
    steps applied so far: a call whose steps start alike resumes from the longest of them (a field is
    normalized several ways, e.g. a first name with and without nicknames resolved). Calls with bypass or
    alias lookups change their input first, so they neither read nor fill it."""
    values = pc.cast(values, pa.string()) if values.type != pa.string() else values
    # one choice per ``values``: the memo then holds the distinct values' steps, or the rows'
    encoded = memo[_DISTINCT] if memo is not None and _DISTINCT in memo else _repeats(values)
    if memo is not None:
        memo[_DISTINCT] = encoded
    if encoded is not None:
        normalized = _normalize(encoded.dictionary, steps, aliases, bypass, phone_country, memo)
        return pc.take(normalized, encoded.indices)
    return _normalize(values, steps, aliases, bypass, phone_country, memo)


def _repeats(values: pa.Array) -> pa.DictionaryArray | None:
    """The values dictionary-encoded where they repeat enough; None where they are nearly all distinct
    (e-mail addresses, phones, streets), judged on a sample first: encoding those cost more than it saved."""
    sample = values.slice(0, DISTINCT_SAMPLE)
    if len(sample) and len(pc.unique(sample)) > DISTINCT_SHARE * len(sample):
        return None
    encoded = pc.dictionary_encode(values)
    return encoded if len(encoded.dictionary) <= DISTINCT_SHARE * len(values) else None


def _normalize(values: pa.Array, steps: Sequence[str], aliases: dict[str, str] | None, bypass: frozenset[str],
               phone_country: str | None, memo: dict[tuple[str, ...], pa.Array] | None) -> pa.Array:
    selected = set(steps)
    bypassing = "bypass" in selected and bypass
    aliasing = "alias" in selected and aliases

    def apply_lookups(array: pa.Array) -> pa.Array:
        if bypassing:
            lowered = pc.utf8_lower(pc.utf8_trim_whitespace(array))
            array = pc.if_else(pc.is_in(lowered, pa.array(sorted(bypass), pa.string())),
                               pa.scalar(None, pa.string()), array)
        if aliasing:
            assert aliases is not None
            array = _map_distinct(array, lambda v: aliases.get(v.strip().lower(), v) if v is not None else None)
        return array

    values = apply_lookups(values)
    ordered = tuple(step for step in ORDER if step in selected)
    shared = memo if memo is not None and not bypassing and not aliasing else None
    done = 0
    if shared is not None:
        done = next((k for k in range(len(ordered), 0, -1) if ordered[:k] in shared), 0)
        values = shared[ordered[:done]] if done else values
    for applied, step in enumerate(ordered[done:], done + 1):
        values = _apply_step(step, values, phone_country)
        if shared is not None:
            shared[ordered[:applied]] = values
    if bypassing or aliasing:
        values = apply_lookups(values)
    return _nullify(pc.utf8_trim_whitespace(values))
