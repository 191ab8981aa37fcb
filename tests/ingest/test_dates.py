"""Date and timestamp columns."""

from __future__ import annotations

from datetime import date

import pyarrow as pa
import pytest

from shared.ingest import coerce


@pytest.mark.parametrize("impossible, possible, expected", [
    ("2023-02-29", "2000-02-29", date(2000, 2, 29)),
    ("2/29/2023", "2/29/2000", date(2000, 2, 29)),
    ("31.04.2023", "30.04.2023", date(2023, 4, 30)),
    ("20230431", "20230430", date(2023, 4, 30)),
])
def test_an_impossible_day_is_invalid_in_every_form_not_rolled_over(impossible: str, possible: str,
                                                                     expected: date) -> None:
    # Arrow's strptime reads 2023-02-29 as March 1: the row must be quarantined instead
    parsed, bad = coerce._parse_datetime(pa.array([impossible, possible]), True)
    assert parsed.to_pylist() == [None, expected]
    assert bad.tolist() == [True, False]
