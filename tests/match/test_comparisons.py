"""Agreement levels of the probabilistic comparisons, on the cases that decide links."""

from __future__ import annotations

import pyarrow as pa

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
