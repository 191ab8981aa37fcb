"""Date and timestamp columns: the whole-column cast gives exactly what the per-pattern parse gives."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pytest

from shared.ingest import coerce

COLUMNS = [
    ["2024-12-09T00:00:00Z", None, "2024-12-09 00:00:00+0130", "2024-12-09T10:11:12.5-05:00"],
    ["2024-12-09T00:00:00", "2024-12-09T00:00:00Z"],  # one without a zone: read as UTC
    ["2024-12-09T00:00Z"],
    ["2024-02-30T00:00:00Z", "2024-01-01T00:00:00Z"],  # an impossible day
    ["1965-01-04", None, "2000-02-29"],
    ["2023-02-29", "2000-01-01"],
    ["01/02/2000", "2000-01-01"],  # two forms in one column
    ["2024-12-09T00:00:00.123456789Z"],  # nanoseconds
    ["20000101", "31.12.1999"],
    [None, None],
]


def _by_patterns(text: pa.Array, as_date: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[pa.Array, np.ndarray]:
    with monkeypatch.context() as patched:
        patched.setattr(coerce, "_parse_uniform", lambda values, as_date: None)
        return coerce._parse_datetime(text, as_date)


@pytest.mark.parametrize("values", COLUMNS)
@pytest.mark.parametrize("as_date", [False, True])
def test_the_whole_column_cast_agrees_with_the_patterns(values: list[str | None], as_date: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    text = pa.array(values, pa.string())
    parsed, bad = coerce._parse_datetime(text, as_date)
    expected, expected_bad = _by_patterns(text, as_date, monkeypatch)
    assert parsed.equals(expected)
    assert np.array_equal(bad, expected_bad)


def test_iso_columns_take_the_whole_column_cast_and_others_the_patterns() -> None:
    zoned = pa.array(["2024-12-09T00:00:00Z", None, "2024-12-09 01:30:00+0130"])
    assert coerce._parse_uniform(zoned, False).to_pylist() == [datetime(2024, 12, 9, tzinfo=UTC), None,
                                                                datetime(2024, 12, 9, tzinfo=UTC)]
    assert coerce._parse_uniform(pa.array(["1965-01-04", None]), True).to_pylist() == [date(1965, 1, 4), None]
    assert coerce._parse_uniform(pa.array(["2024-12-09T00:00:00"]), False) is None  # no zone
    assert coerce._parse_uniform(pa.array(["2023-02-29"]), True) is None  # no such day: quarantined below
    bad = coerce._parse_datetime(pa.array(["2023-02-29", "2000-01-01"]), True)[1]
    assert bad.tolist() == [True, False]


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
