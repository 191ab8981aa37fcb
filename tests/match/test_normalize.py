"""The eleven Customer Insights normalizations, with the documented examples."""

from __future__ import annotations

import random
import string

import numpy as np
import pyarrow as pa
import pytest

from shared.match.normalize import build_alias_map, normalize_values
from shared.match.scoring import fuzzy_scores


def normalized(value: str | None, *steps: str, **kwargs: object) -> str | None:
    return normalize_values(pa.array([value], pa.string()), steps, **kwargs).to_pylist()[0]  # type: ignore[arg-type]


@pytest.mark.parametrize(("raw", "expected"), [
    ("+01 425.555.1212", "+14255551212"),   # leading zeros of the country code are ignored
    ("1 (425) 555-1212", "+14255551212"),   # 11 digits without + carry their country code
    ("(425) 555-1212", "4255551212"),       # no country code: does not match the two above
    ("425-555-1212 x 123", "4255551212"),   # extensions with a lettered prefix are ignored
    ("425.555.1212 ext. 9", "4255551212"),
    ("+44 20 7946 0958", "+442079460958"),
    ("020 7946 0958", "02079460958"),       # a national trunk prefix is kept as written
    ("", None),
])
def test_phone_normalisation_keeps_country_code_significant(raw: str, expected: str | None) -> None:
    assert normalized(raw, "phone") == expected


def test_phone_with_a_default_country_reads_national_numbers_as_international() -> None:
    assert normalized("(425) 555-1212", "phone", phone_country="1") == "+14255551212"
    assert normalized("020 7946 0958", "phone", phone_country="44") == "+442079460958"


@pytest.mark.parametrize(("raw", "expected"), [
    ("Debby", "deborah"), ("Bob", "robert"), ("Liz", "elizabeth"), ("Sandra", "sandra"), ("prof", "prof"),
    ("Professor", "prof"), ("Dr. Robert", "dr robert"), ("Jenny", "jenny"),  # Jennifer, Jane, Janet…: stays itself
])
def test_name_normalisation_resolves_nicknames_and_titles(raw: str, expected: str) -> None:
    assert normalized(raw, "name") == expected


def test_an_ambiguous_nickname_is_compatible_with_each_meaning_but_they_are_not_with_each_other() -> None:
    from shared.match.normalize import compatible_names

    def compatible(a: str, b: str) -> bool:
        left, right = (pa.array([normalized(x, "name", "lowercase")]) for x in (a, b))
        return bool(compatible_names(left, right)[0])

    assert compatible("Sam", "Samantha") and compatible("Sam", "Samuel") and compatible("Sammy", "Sam")
    assert compatible("Bob", "Robert") and compatible("Kim", "Kimberly") and compatible("Kim", "Kim")
    assert not compatible("Samuel", "Samantha") and not compatible("Karen", "Aaron")


def test_a_typo_stacked_on_a_nickname_is_read_as_the_known_names_one_edit_away() -> None:
    from shared.match.normalize import compatible_names, typo_readings

    def compatible(a: str, b: str, typos: bool = True) -> bool:
        left, right = (pa.array([normalized(x, "name", "lowercase")]) for x in (a, b))
        return bool(compatible_names(left, right, typos=typos)[0])

    assert typo_readings("ojhn") == {"john"}  # a transposition is one edit
    assert compatible("Ojhn", "Johnny") and compatible("Roebrt", "Bobby") and compatible("Jimy", "James")
    assert not compatible("Ojhn", "Johnny", typos=False)  # exact conditions keep CI's meaning
    # a known name is a name, not a typo of its neighbour: households keep Mary and Mark apart
    assert typo_readings("mark") == frozenset() and not compatible("Mark", "Mary")
    assert not compatible("Janet", "James") and typo_readings("x") == frozenset()  # an initial is no reading
    # a typo on a short nickname: "Jen" typed "Jn", "Dick" typed "Dik" (two and three letters are read too)
    assert typo_readings("jn") == {"jan", "jen", "jo", "jon"}
    assert compatible("Jn", "Jennifer") and compatible("Dik", "Richard") and not compatible("Dik", "Jennifer")
    assert compatible("Mary", "Marilyn") and compatible("Mary", "Mary")  # Mary is also a name in her own right


def test_typo_readings_are_every_known_name_one_edit_away() -> None:
    """The deletion index finds what a scan of every known name finds: for 3,000 values one or two edits
    (substitution, deletion, insertion, transposition) from a known name, and random strings."""
    from rapidfuzz import process
    from rapidfuzz.distance import OSA

    from shared.match.normalize import _known_set, known_names, typo_readings

    rng, names, letters = random.Random(7), known_names(), string.ascii_lowercase
    values = []
    for _ in range(2500):
        chars, at = list(rng.choice(names)), rng.randrange(8)
        spot = rng.randrange(len(chars))
        if at == 0:
            chars[spot] = rng.choice(letters)
        elif at == 1:
            del chars[spot]
        elif at == 2:
            chars.insert(spot, rng.choice(letters))
        elif at == 3 and spot + 1 < len(chars):
            chars[spot], chars[spot + 1] = chars[spot + 1], chars[spot]
        else:
            chars[spot], chars[rng.randrange(len(chars))] = rng.choice(letters), rng.choice(letters)
        values.append("".join(chars))
    values += ["".join(rng.choice(letters) for _ in range(rng.randint(1, 8))) for _ in range(500)]
    found = 0
    for value in values:
        scanned = {name for name, _, _ in process.extract(value, names, scorer=OSA.distance, score_cutoff=1,
                                                            limit=None)}
        expected = frozenset() if len(value) < 2 or value in _known_set() else scanned
        assert typo_readings(value) == expected, value
        found += bool(expected)
    assert found > 1000


@pytest.mark.parametrize(("raw", "expected"), [
    ("123 Northwest Main Street", "123 nw main st"), ("123 NW Main St.", "123 nw main st"),
    ("9 South Oak Avenue Apartment 4", "9 s oak ave apt 4"), ("PO Box 7", "po box 7"),
])
def test_address_normalisation_abbreviates(raw: str, expected: str) -> None:
    assert normalized(raw, "address") == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("Contoso Ltd.", "contoso"), ("The Microsoft Corporation", "microsoft"), ("Fabrikam, Inc", "fabrikam"),
    ("Co", "co"),  # a name made only of noise words is kept
])
def test_organization_normalisation_drops_noise_words(raw: str, expected: str) -> None:
    assert normalized(raw, "organization") == expected


@pytest.mark.parametrize("raw", ["à", "á", "â", "À", "Á", "Â", "Ã", "Ä", "Ⓐ", "Ａ"])
def test_unicode_to_ascii(raw: str) -> None:
    assert normalized(raw, "unicode_to_ascii", "lowercase") == "a"


@pytest.mark.parametrize(("raw", "expected"), [("❽", "8"), ("Ⅷ", "8"), ("room ⑫", "room 12"), ("abc", "abc")])
def test_numerals(raw: str, expected: str) -> None:
    assert normalized(raw, "numerals") == expected


def test_lower_case_whitespace_and_symbols() -> None:
    assert normalized("THIS Is aN EXamplE", "lowercase") == "this is an example"
    assert normalized(" a b\tc\n d ", "whitespace") == "abcd"
    assert normalized("!?\"#$%&'( )+,.-_/:;<=>@^_~{}`[]x", "symbols") == "x"
    assert normalized("O'Brien-Smith", "symbols", "lowercase") == "obriensmith"


def test_alias_mapping_counts_listed_values_as_equal() -> None:
    aliases = build_alias_map([["Scott", "Scooter"], ["MSFT", "Microsoft"]], ["lowercase"])
    values = [normalized(v, "alias", "lowercase", aliases=aliases) for v in ("Scooter", "msft", "Microsoft", "Bob")]
    assert values == ["scott", "msft", "msft", "bob"]


def test_custom_bypass_treats_values_as_missing() -> None:
    bypass = frozenset({"555-1212", "test@contoso.com"})
    assert normalized("555-1212", "bypass", bypass=bypass) is None
    assert normalized(" TEST@contoso.com ", "bypass", "lowercase", bypass=bypass) is None
    assert normalized("bob@contoso.com", "bypass", bypass=bypass) == "bob@contoso.com"


def test_the_documented_fuzzy_example_scores_ninety_percent() -> None:
    score = fuzzy_scores(["robert2020@hotmail.com"], ["robrt2020@hotmail.cm"])[0]
    assert score == pytest.approx(0.9)
    assert fuzzy_scores(["robert2020@hotmail.com"], ["robrt2020@hotmail.cm"], "longer")[0] == pytest.approx(20 / 22)


def test_a_transposed_pair_of_letters_is_one_typo() -> None:
    assert fuzzy_scores(["jhon"], ["john"])[0] == pytest.approx(0.75)  # Levenshtein would count two edits


@pytest.mark.parametrize(("a", "b", "expected"), [("abc", "abc", 1.0), ("abc", None, 0.0), ("", "", 1.0),
                                                  ("bob", "bobbyjoe", 0.0)])
def test_fuzzy_score_edges(a: str, b: str | None, expected: float) -> None:
    assert fuzzy_scores([a], [b])[0] == pytest.approx(expected)


@pytest.mark.parametrize("base", ["shorter", "longer"])
def test_fuzzy_scores_over_arrays_score_each_pair_as_alone(base: str) -> None:
    """Scored together, 3,000 pairs (equal, missing, empty, one to three edits apart, nicknames) score what
    each scores alone: equal and missing values are settled without being measured, so every pair's score
    must not depend on its neighbours."""
    from shared.match.normalize import compatible_names

    rng, names = random.Random(3), ["bob", "robert", "ojhn", "john", "johnny", "sam", "samantha", "mary", "mark"]
    left: list[str | None] = []
    right: list[str | None] = []
    for _ in range(3000):
        a = rng.choice([*names, "", None, "".join(rng.choice(string.ascii_lowercase) for _ in range(5))])
        b = rng.choice([a, a, None, rng.choice(names), (a or "x")[:-1] + rng.choice("xyz"), (a or "") + "s"])
        left.append(a)
        right.append(b)
    for names_too in (False, True):
        together = fuzzy_scores(left, right, base, names_too)
        alone = [fuzzy_scores([a], [b], base)[0] for a, b in zip(left, right, strict=True)]
        if names_too:
            compatible = [a is not None and b is not None and bool(compatible_names(
                pa.array([a]), pa.array([b]), typos=True)[0]) for a, b in zip(left, right, strict=True)]
            alone = [1.0 if c else s for s, c in zip(alone, compatible, strict=True)]
        assert together.tolist() == pytest.approx(alone)
        assert 0 < sum(s == 1.0 for s in alone) < 2000 and sum(0 < s < 1 for s in alone) > 100


@pytest.mark.parametrize("typos", [False, True])
def test_compatible_names_over_arrays_decide_each_pair_as_the_pairwise_definition(typos: bool) -> None:
    """``compatible_names`` decides nicknames without a Python step per pair (each value's meanings, numbered,
    meet per pair); over 20,000 pairs of dictionary names, nicknames, typos on them, unknown and missing
    values, it must give exactly what the definition gives one pair at a time."""
    from shared.match import normalize

    candidates = normalize.name_candidates()

    def nickname_of(x: str, y: str) -> bool:  # equal, one a formal name of the other, or one formal name of both
        cx, cy = candidates.get(x, frozenset()), candidates.get(y, frozenset())
        return x == y or y in cx or x in cy or bool(cx & cy)

    def definition(a: str | None, b: str | None) -> bool:  # read through typos, values the dictionaries lack
        if a is None or b is None:
            return False
        readings_a, readings_b = ({v, *(normalize.typo_readings(v) if typos else ())} for v in (a, b))
        return any(nickname_of(x, y) for x in readings_a for y in readings_b)

    rng = random.Random(11)
    meanings = sorted(candidates.items())  # nickname → the formal names it stands for
    known = sorted(normalize.known_names())

    def typo(name: str) -> str:
        i = rng.randrange(1, len(name)) if len(name) > 1 else 0
        return rng.choice([name[:i] + name[i + 1:], name[:i] + rng.choice("aeiouy") + name[i + 1:],
                           name[:i - 1] + name[i] + name[i - 1] + name[i + 1:] if i else name])

    def pair() -> tuple[str | None, str | None]:
        nickname, formal = rng.choice(meanings)
        kin = rng.choice(sorted(formal))
        a, b = rng.choice([(nickname, kin), (kin, nickname), (nickname, rng.choice(meanings)[0]),
                           (kin, rng.choice(known)), (rng.choice(known), rng.choice(known)), (nickname, nickname),
                           (nickname, None), ("j", kin)])
        return (typo(a) if a and rng.random() < 0.3 else a), (typo(b) if b and rng.random() < 0.3 else b)

    left, right = map(list, zip(*(pair() for _ in range(20_000)), strict=True))
    vectorised = normalize.compatible_names(pa.array(left, pa.string()), pa.array(right, pa.string()), typos)
    pairwise = np.asarray([definition(a, b) for a, b in zip(left, right, strict=True)])
    assert vectorised.tolist() == pairwise.tolist()
    unequal = np.asarray([a != b for a, b in zip(left, right, strict=True)])
    assert 1_500 < int((pairwise & unequal).sum()) < 15_000  # compatible pairs of two values are common


def test_arrow_kernels_give_what_the_python_normalizations_give() -> None:
    """Phone and address normalization run as Arrow kernels on plain ASCII values and as the documented
    Python functions on the rest (control characters Python counts as whitespace, non-ASCII text); the
    result must equal the Python functions value for value."""
    import random

    from shared.match import normalize

    rng = random.Random(5)
    phones = ["".join(rng.choice("0123456789 +-().,;xXeEtT#/\tns\n\v\x1c\x00") for _ in range(rng.randint(0, 22)))
              for _ in range(20_000)] + ["+1 (425) 555-1212 ext. 12", "00441234", "000", "+", " ", "1 x 2"]
    for country in (None, "1", "44"):
        fast = normalize._ascii_fast(pa.array(phones), lambda a, c=country: normalize._phone_kernels(a, c),
                                     lambda v, c=country: normalize.normalize_phone_value(v, c)).to_pylist()
        assert fast == [normalize.normalize_phone_value(p, country) for p in phones]
    words = [*normalize.address_map(), "P.O.", "p", "o", "box", "Main", "12th", "#4", "-", ",", "  ", "\v", "\x1f"]
    streets = [" ".join(rng.choice(words) for _ in range(rng.randint(0, 6))) for _ in range(20_000)]
    streets += ["", "...", "P O Box 12", "p. o. box 7", "12 North Street"]
    fast = normalize._ascii_fast(pa.array(streets), normalize._address_kernels, normalize.normalize_address_value)
    assert fast.to_pylist() == [
        normalize.normalize_address_value(s) for s in streets]


def test_text_beyond_ascii_takes_the_python_path() -> None:
    values = pa.array(["Straße 5", "１２３ North Street", None, "12 North Street", "+٣ 425 555"])
    assert normalize_values(values, ["address"]).to_pylist() == [
        "strasse 5", "123 n st", None, "12 n st", "3 425 555"]
    assert normalize_values(values, ["numerals"]).to_pylist()[1] == "123 North Street"
    assert normalize_values(values, ["phone"]).to_pylist()[4] == "+٣425555"  # Python's \d reads Arabic-Indic digits


def test_step_lists_that_start_alike_share_their_common_steps() -> None:
    values = pa.array(["  Dr. Bill  O'Brien ", "Élodie-Anne", None, "ROBERT"], pa.string())
    step_lists = [("name", "unicode_to_ascii", "lowercase"), ("name", "unicode_to_ascii", "lowercase", "symbols"),
                  ("name", "unicode_to_ascii", "lowercase", "symbols", "whitespace"), ("unicode_to_ascii",),
                  ("lowercase", "whitespace")]
    memo: dict[tuple[str, ...], pa.Array] = {}
    shared = [normalize_values(values, steps, memo=memo).to_pylist() for steps in step_lists]
    assert shared == [normalize_values(values, steps).to_pylist() for steps in step_lists]
    assert ("name", "unicode_to_ascii", "lowercase", "symbols") in memo
    # a later list resumes from the longest list of steps already applied: planted, it shows through
    memo[("name", "unicode_to_ascii", "lowercase")] = pa.array(["x.y", None, None, "z"], pa.string())
    del memo[("name", "unicode_to_ascii", "lowercase", "symbols")]
    assert normalize_values(values, ("name", "lowercase", "symbols", "unicode_to_ascii"),
                            memo=memo).to_pylist() == ["xy", None, None, "z"]
    # lookups change the input first: a bypass list neither reads the memo nor fills it
    bypassed = ("bypass", "name", "unicode_to_ascii", "lowercase")
    before = dict(memo)
    found = normalize_values(values, bypassed, bypass=frozenset({"robert"}), memo=memo).to_pylist()
    assert found == normalize_values(values, bypassed, bypass=frozenset({"robert"})).to_pylist()
    assert found[0] != "x.y" and found[3] is None
    assert memo.keys() == before.keys()


def test_repeated_values_are_normalized_once_each_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.match import normalize

    rng = random.Random(11)
    pool = ["  Dr. Bill  O'Brien ", "Élodie-Anne", "ROBERT", "bob", "+1 (425) 555-1212", "12 North Street",
            "Straße 5", "", " ", "١٢٣", None]
    repeated = pa.array(["ROBERT", *(rng.choice(pool) for _ in range(30_000))], pa.string())  # 11 distinct: encoded
    distinct = pa.array([f"{rng.choice(pool) or ''} {n}" for n in range(30_000)], pa.string())  # not encoded
    assert normalize._repeats(repeated) is not None and normalize._repeats(distinct) is None
    step_lists = [("name", "unicode_to_ascii", "lowercase", "symbols"), ("phone",), ("address", "lowercase"),
                  ("numerals", "whitespace"), ("bypass", "lowercase"), ("alias", "lowercase")]
    aliases = {"bob": "robert"}
    for values in (repeated, distinct):
        memo: dict[tuple[str, ...], pa.Array] = {}
        shared = [normalize_values(values, steps, aliases, frozenset({"bob"}), "1", memo).to_pylist()
                  for steps in step_lists]
        with monkeypatch.context() as patched:  # row by row
            patched.setattr(normalize, "_repeats", lambda array: None)
            alone = [normalize_values(values, steps, aliases, frozenset({"bob"}), "1").to_pylist()
                     for steps in step_lists]
        assert shared == alone
