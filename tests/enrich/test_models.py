"""CLV and churn models on CDNOW, against the published numbers (Fader, Hardie & Lee 2005)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from shared.enrich.churn import churn_features, train_churn, training_sample
from shared.enrich.clv import (
    BgNbd,
    _aggregate,
    _per_value,
    bgnbd_negative_ll,
    expected_purchases,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_negative_ll,
    probability_alive,
    rfm_summary,
)
from shared.enrich.frames import register_orders
from shared.enrich.segments import RFM_SEGMENTS, rfm_sql

CDNOW = Path(__file__).resolve().parents[1] / "fixtures" / "cdnow" / "CDNOW_sample.txt"
END_OF_CALIBRATION = pd.Timestamp("1997-09-30")  # 39 weeks after 1997-01-01
END_OF_HOLDOUT = pd.Timestamp("1998-06-30")  # 39 more weeks


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    frame = pd.read_csv(CDNOW, sep=r"\s+", header=None, names=["master", "customer", "date", "cds", "amount"],
                        dtype={"date": str})
    frame["date"] = pd.to_datetime(frame["date"], format="%Y%m%d")
    frame["is_return"] = frame["amount"] < 0
    assert frame["customer"].nunique() == 2357
    return frame


def orders(frame: pd.DataFrame, customer: str = "customer", time: str = "date", amount: str = "amount",
           is_return: str | None = "is_return") -> duckdb.DuckDBPyConnection:
    """A connection whose view ``orders`` reads ``frame`` (what the enrichment activity reads from the lake)."""
    con = duckdb.connect()
    register_orders(con, frame, customer, time, amount, is_return)
    return con


@pytest.fixture(scope="module")
def calibration(transactions: pd.DataFrame):
    # the orders up to the as-of date; as in the paper, zero-amount transactions count (8 in the sample)
    return rfm_summary(orders(transactions), END_OF_CALIBRATION, purchases="NOT is_return")


def test_bgnbd_reproduces_fader_hardie_lee_2005(calibration) -> None:
    model = fit_bgnbd(calibration)
    assert model.converged
    assert (round(model.r, 3), round(model.alpha, 3), round(model.a, 3), round(model.b, 3)) == (
        0.243, 4.414, 0.793, 2.426)
    assert round(model.log_likelihood, 1) == -9582.4


def test_gamma_gamma_reproduces_the_published_spend_model(calibration) -> None:
    model = fit_gamma_gamma(calibration)
    assert (round(model.p, 2), round(model.q, 2), round(model.gamma, 2)) == (6.25, 3.74, 15.44)


def test_conditional_expectation_matches_the_papers_worked_example() -> None:
    model = BgNbd(0.2426, 4.4135, 0.7929, 2.4259, 0.0, 0, True)
    # FHL 2005, section 5: a customer with x = 2, t_x = 30.43, T = 38.86 buys 1.226 times in the next 39 weeks
    value = expected_purchases(model, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert round(float(value[0]), 3) == 1.226
    # P(alive) is 1 for a one-time buyer: why it is not used as a churn score
    assert probability_alive(model, np.array([0.0]), np.array([0.0]), np.array([38.86]))[0] == 1.0


@pytest.mark.parametrize("which", ["bgnbd", "gamma_gamma"])
def test_analytic_gradients_match_finite_differences(calibration, which: str) -> None:
    f = calibration.frame
    if which == "bgnbd":
        args = (f["frequency"].to_numpy(), f["recency"].to_numpy(), f["T"].to_numpy(), np.ones(len(f)))
        function, point = bgnbd_negative_ll, np.log([0.3, 4.0, 0.8, 2.5])
    else:
        repeat = f[f["frequency"] > 0]
        args = (repeat["frequency"].to_numpy(), repeat["monetary_value"].to_numpy(), np.ones(len(repeat)))
        function, point = gamma_gamma_negative_ll, np.log([6.0, 3.5, 15.0])
    analytic = function(point, *args)[1]
    step = 1e-5
    numeric = [(function(point + step * e, *args)[0] - function(point - step * e, *args)[0]) / (2 * step)
               for e in np.eye(len(point))]  # central differences
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-4)
    # the functions of the frequency evaluated once per distinct frequency: the very same numbers
    grouped = function(point, *args, _per_value(args[0]))
    assert grouped[0] == function(point, *args)[0] and np.array_equal(grouped[1], analytic)


def test_sufficient_statistics_are_the_unique_rows_in_order_with_their_counts() -> None:
    x, t = np.array([2.0, 0.0, 2.0, 1.0, 0.0, 2.0]), np.array([5.0, 0.0, 5.0, 3.0, 0.0, 4.0])
    (ux, ut), counts = _aggregate([x, t])
    assert ux.tolist() == [0.0, 1.0, 2.0, 2.0] and ut.tolist() == [0.0, 3.0, 4.0, 5.0]
    assert counts.tolist() == [2.0, 1.0, 1.0, 2.0]


def test_churn_on_cdnow_39_weeks_calibration_39_weeks_holdout(transactions: pd.DataFrame) -> None:
    """Train at week 39 on calibration features, labels from weeks 40–78; out-of-fold AUC over customers."""
    summary, _model = train_churn(orders(transactions), END_OF_HOLDOUT, 273)
    assert summary.cutoff.startswith("1997-09-30") and summary.customers == summary.population == 2357
    assert summary.auc >= 0.78  # the product's default evaluation (5 folds, seed 7); other seeds: 0.779–0.781
    assert min(summary.fold_auc) > 0.74
    assert summary.baseline_auc < summary.auc  # recency alone (the baseline's ranking) is worse
    assert summary.baseline_days in (273, 136, 68, 34, 30)
    assert summary.grade in ("A", "B", "C")
    assert 0.70 < summary.churn_rate < 0.72  # 71% of the cohort buys nothing in weeks 40-78
    assert summary.coefficients["recent_90"] < 0  # recent buyers churn less


def test_churn_definition_longer_than_the_window_counts_the_observed_days(transactions: pd.DataFrame) -> None:
    short, _ = train_churn(orders(transactions), END_OF_HOLDOUT, 180, 180)
    long, _ = train_churn(orders(transactions), END_OF_HOLDOUT, 180, 365)
    assert long.churn_rate < short.churn_rate  # a purchase up to 185 days before the cutoff also counts


def test_the_baseline_lifetime_value_is_monthly_spend_times_months_times_retention() -> None:
    """CI's baseline by hand. As of 2026-04-01 with a 365-day window: A bought before and in the window,
    B only before, C only in it. Retention = 1 of the 2 who bought before (A) = 0.5; C's monthly spend is
    120 / (365 / 30.4375) = 10.007, so 12 months give 10.007 × 12 × 0.5; B spent nothing in the window."""
    from shared.enrich.clv import baseline_lifetime_value

    at = pd.Timestamp("2026-04-01", tz="UTC")
    frame = pd.DataFrame({"c": ["A", "A", "B", "C"], "amount": [50.0, 120.0, 80.0, 120.0],
                          "t": pd.to_datetime(["2024-06-01", "2026-01-01", "2024-07-01", "2026-02-01"], utc=True)})
    value = baseline_lifetime_value(orders(frame, "c", "t", "amount", None), at, months=12)
    monthly = 120 / (365 / 30.4375)
    assert value.tolist() == pytest.approx([monthly * 12 * 0.5, 0.0, monthly * 12 * 0.5])  # A, B, C


def test_rfm_summary_counts_utc_days_up_to_the_as_of_date_in_any_session_time_zone() -> None:
    """By hand. A: three purchases on 2026-01-01 UTC (two of them one transaction: 23:30 UTC is still
    the 1st, though it is the 2nd in Berlin), a return and a zero amount (neither counts), then one
    on 2026-01-15 and one after the as-of date (ignored). x = 1 repeat day, t_x = 14 days = 2 weeks,
    T = 31 days, repeat spend 30. B: one purchase: x = 0, spend 0."""
    frame = pd.DataFrame({
        "c": ["A", "A", "A", "A", "A", "A", "B"],
        "t": pd.to_datetime(["2026-01-01 09:00", "2026-01-01 23:30", "2026-01-03", "2026-01-04",
                             "2026-01-15 12:00", "2026-03-01", "2026-01-20"], utc=True, format="ISO8601"),
        "amount": [10.0, 5.0, 99.0, 0.0, 30.0, 50.0, 7.0],
        "is_return": [False, False, True, False, False, False, False]})
    con = orders(frame, "c", "t", "amount", "is_return")
    con.execute("SET TimeZone = 'Europe/Berlin'")
    summary = rfm_summary(con, pd.Timestamp("2026-02-01 08:00", tz="UTC"))
    assert summary.customers.to_pylist() == ["A", "B"]
    assert summary.frame.to_dict("list") == {"frequency": [1.0, 0.0], "recency": [2.0, 0.0],
                                             "T": [31 / 7, 12 / 7], "monetary_value": [30.0, 0.0]}


def test_churn_features_and_labels_by_hand() -> None:
    """By hand, at 2026-04-01 with labels over (2026-04-01, 2026-06-30]. A: purchases on 01-01 (20) and
    twice at 03-20 10:00 (the file's later row, 7, is the last order), a return on 03-25, a purchase in
    the label window (not churned). B: one purchase on 2025-10-01 (recency 182 days), none later (churned).
    C: only a purchase after the cutoff: no row."""
    frame = pd.DataFrame({
        "c": ["A", "A", "A", "A", "A", "B", "C"],
        "t": pd.to_datetime(["2026-01-01", "2026-03-20 10:00", "2026-03-20 10:00", "2026-03-25", "2026-05-01",
                             "2025-10-01", "2026-05-02"], utc=True, format="ISO8601"),
        "amount": [20.0, 3.0, 7.0, 5.0, 9.0, 40.0, 1.0],
        "is_return": [False, False, False, True, False, False, False]})
    at = pd.Timestamp("2026-04-01", tz="UTC")
    customers, features, labels = churn_features(orders(frame, "c", "t", "amount", "is_return"), at,
                                                 (at, at + pd.Timedelta(days=90)))
    assert customers.to_pylist() == ["A", "B"] and labels.tolist() == [0, 1]
    a, b = features.to_dict("records")
    assert (a["recency_days"], a["frequency"], a["tenure_days"]) == (11.0, 3.0, 90.0)  # 03-20 10:00 → 11 days
    assert a["log_monetary"] == pytest.approx(np.log1p(30.0)) and a["log_aov"] == pytest.approx(np.log1p(10.0))
    assert a["log_last_order"] == pytest.approx(np.log1p(7.0))
    # 01-01 is exactly 90 days before: not in the last 90 days but in the 90 before them; trend (2 − 1) / (3 + 1)
    assert (a["recent_90"], a["recent_180"], a["trend"]) == (2.0, 3.0, 1 / 4)
    assert a["return_rate"] == pytest.approx(1 / 4)
    assert (b["recency_days"], b["recent_90"], b["recent_180"], b["trend"]) == (182.0, 0.0, 0.0, 0.0)


def test_churn_trains_on_a_stable_sample_of_at_most_the_cap(transactions: pd.DataFrame) -> None:
    con = orders(transactions)
    cutoff = END_OF_CALIBRATION
    everyone, _, _ = churn_features(con, cutoff)
    first, _, _ = churn_features(con, cutoff, sample=training_sample(con, cutoff, 1000)[1])
    again, _, _ = churn_features(con, cutoff, sample=training_sample(con, cutoff, 1000)[1])
    assert len(everyone) == 2357 and 900 < len(first) < 1100
    assert first.to_pylist() == again.to_pylist()  # the same customers every run
    assert set(first.to_pylist()) <= set(everyone.to_pylist())
    assert churn_features(con, cutoff, sample=training_sample(con, cutoff, 5000)[1])[0].to_pylist() == \
        everyone.to_pylist()


def test_rfm_scores_are_quintiles_of_ranks_with_ties_in_customer_order() -> None:
    """The definition, computed with pandas (rank "first": ties in row order, i.e. customer order; pct
    rank × 5 rounded up), against DuckDB's scores on data full of ties, buyers among non-buyers."""
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 100, 20_000):
        frame = pd.DataFrame({"i": np.arange(n), "DaysSinceLastPurchase": rng.integers(0, 30, n),
                              "TransactionCount": rng.integers(0, 6, n),
                              "TotalSpend": np.where(rng.random(n) < 0.3, 100.0, np.round(rng.gamma(2, 50, n), 1))})
        buyers = frame[frame["TransactionCount"] > 0]

        def quintile(values: pd.Series) -> np.ndarray:
            return np.ceil(values.rank(method="first", pct=True) * 5).clip(1, 5).astype(int).to_numpy()

        r = quintile(-buyers["DaysSinceLastPurchase"].astype(float))
        f, m = quintile(buyers["TransactionCount"].astype(float)), quintile(buyers["TotalSpend"])
        fm = np.ceil((f + m) / 2)
        named = [next((name for name, (r_lo, r_hi), (fm_lo, fm_hi) in RFM_SEGMENTS
                       if r_lo <= a <= r_hi and fm_lo <= b <= fm_hi), "Other") for a, b in zip(r, fm, strict=True)]
        got = duckdb.connect().execute(rfm_sql("frame WHERE TransactionCount > 0") + " ORDER BY i").df()
        assert got["i"].tolist() == buyers["i"].tolist()
        assert (got["RecencyScore"].tolist(), got["FrequencyScore"].tolist(), got["MonetaryScore"].tolist()) == (
            r.tolist(), f.tolist(), m.tolist())
        assert got["RfmScore"].tolist() == [f"{a}{b}{c}" for a, b, c in zip(r, f, m, strict=True)]
        assert got["RfmSegment"].tolist() == named
        if n == 20_000:  # every named segment and every score occur
            assert set(named) == {name for name, _, _ in RFM_SEGMENTS} and set(r) == set(range(1, 6))
