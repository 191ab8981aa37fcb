"""Agreement levels of the probabilistic comparisons, on the cases that decide links."""

from __future__ import annotations

import random

import pyarrow as pa
import pytest

from shared.match.comparisons import LEVELS, NULL_LEVEL, comparison_levels


def levels(kind: str, pairs: list[tuple[str | None, str | None]]) -> list[str]:
    left, right = pa.array([a for a, _ in pairs], pa.string()), pa.array([b for _, b in pairs], pa.string())
    return [("null" if x == NULL_LEVEL else LEVELS[kind][x]) for x in comparison_levels(kind, left, right).tolist()]


def test_an_email_typo_is_one_letter_and_name_built_lookalikes_are_no_evidence() -> None:
    assert levels("email", [
        ("jsmith@gmail.com", "jsmith@gmail.com"),     # exact
        ("jsmiht@gmail.com", "jsmith@gmail.com"),     # a transposed letter: a typo
        ("jsmith@gmial.com", "jsmith@gmail.com"),     # a typo in the domain
        ("jsmith@gmail.com", "jsmith2@gmail.com"),    # "jsmith" was taken: another person
        ("kwalker6@x.com", "kwalker66@x.com"),        # a number changed
        ("j.smith@gmail.com", "jsmith@gmail.com"),    # a separator: another way to write a name
        ("mary.r@icloud.com", "mary.r@gmail.com"),    # the same user part at another provider
        ("jsmith@gmail.com", None),
    ]) == ["exact", "one_typo", "one_typo", "else", "else", "else", "else", "null"]


def test_a_surname_typo_is_one_edit_wherever_it_falls_and_first_names_read_typos_through_the_dictionaries() -> None:
    """A surname one edit from another (Splink's name levels have it too) is its own level above Jaro-Winkler's,
    which scores an early or a short typo low; first names have no such level: "mary" / "mark" are two names."""
    assert levels("name", [
        ("hernandez", "hernandez"),
        ("hernandez", "haernandez"),   # an inserted letter, early: Jaro-Winkler 0.89
        ("adams", "ahams"),            # a substitution in a short name
        ("moore", "mroore"),
        ("hansen", "hanssen"),
        ("hernandez", "hernandes"),    # one edit late in the name: still one edit
        ("smith", "smyths"),           # two edits, Jaro-Winkler 0.88
        ("smith", "jones"),
        (None, "jones"),
    ]) == ["exact", "one_edit", "one_edit", "one_edit", "one_edit", "one_edit", "jaro_winkler_0.80", "else", "null"]
    assert levels("first_name", [("mary", "mark"), ("ojhn", "john")]) == ["jaro_winkler_0.80", "jaro_winkler_0.92"]


def test_repeated_value_pairs_are_measured_once_each_with_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    from shared.match import comparisons, scoring

    rng = random.Random(5)
    names = ["john", "jon", "johnny", "jhon", "ojhn", "sam", "samantha", "sammy", "élodie", "elodie", "bill",
             "william", "robert", "bob", "x"]
    # 20 k pairs of 15 names: they repeat (each pair measured once); 20 k pairs of numbered names: they do not
    repeated = [(rng.choice(names), rng.choice(names)) for _ in range(20_000)]
    distinct = [(f"{rng.choice(names)}{n}", f"{rng.choice(names)}{n + rng.randrange(3)}") for n in range(20_000)]
    measured: list[int] = []
    original = scoring.per_distinct_pair

    def counting(measure, a, b):  # type: ignore[no-untyped-def]
        return original(lambda x, y: measured.append(len(x)) or measure(x, y), a, b)

    for pairs in (repeated, distinct):
        left, right = pa.array([a for a, _ in pairs], pa.string()), pa.array([b for _, b in pairs], pa.string())
        kinds = ["first_name", "name", "string", "email", "phone", "date", "postal_code", "identifier"]
        measured.clear()
        with monkeypatch.context() as patched:
            patched.setattr(scoring, "per_distinct_pair", counting)
            patched.setattr(comparisons, "per_distinct_pair", counting)
            once = [comparison_levels(kind, left, right).tolist() for kind in kinds]
            once_scores = [scoring.fuzzy_scores(left, right, base, names).tolist()
                           for base in ("shorter", "longer") for names in (True, False)]
        measured_pairs = sum(measured)
        with monkeypatch.context() as patched:  # every pair measured as it comes
            patched.setattr(scoring, "MIN_PAIRS", 10 ** 9)
            assert [comparison_levels(kind, left, right).tolist() for kind in kinds] == once
            assert [scoring.fuzzy_scores(left, right, base, names).tolist()
                    for base in ("shorter", "longer") for names in (True, False)] == once_scores
        unequal = sum(a != b for a, b in pairs)
        if pairs is repeated:  # at most 15 × 15 value pairs per call
            assert measured_pairs <= (len(kinds) + 4) * 15 * 15
        else:
            assert measured_pairs == (len(kinds) + 4) * unequal
