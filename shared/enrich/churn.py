"""Transactional churn: ``ChurnScore`` = P(no purchase in the prediction window), and ``IsChurn``.

A logistic regression on recency, frequency, monetary and trend features is trained at a past cutoff
(the reference date minus the window), labelled by whether each customer bought in the following
window, evaluated on a customer holdout, then applied to features at the reference date. It is compared
with Customer Insights' baseline — "churned if no purchase in the last T days", T found by halving the
window down to a month — and graded as CI does: A ≥ 50% accuracy and churn-class accuracy at least 10
points above the baseline's; B ≥ 50% and above the baseline; C otherwise. (BG/NBD's P(alive) is not
used: it is 1 for every one-time buyer and ranks churn worse than chance.)
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

FEATURES = ["recency_days", "frequency", "log_monetary", "log_aov", "tenure_days", "recent_90", "recent_180",
            "trend", "interpurchase_days", "recency_ratio", "return_rate"]


def churn_features(orders: pd.DataFrame, customer: str, time: str, amount: str, is_return: str,
                   at: pd.Timestamp) -> pd.DataFrame:
    """Features from the orders up to ``at`` (one row per customer with a purchase by then)."""
    past = orders[orders[time] <= at]
    purchases = past[~past[is_return]]
    g = purchases.groupby(customer)
    last, first = g[time].max(), g[time].min()
    count = g.size()
    spend = g[amount].sum().clip(lower=0)
    recent_90 = purchases[purchases[time] > at - pd.Timedelta(days=90)].groupby(customer).size()
    recent_180 = purchases[purchases[time] > at - pd.Timedelta(days=180)].groupby(customer).size()
    prior_90 = purchases[(purchases[time] <= at - pd.Timedelta(days=90)) &
                         (purchases[time] > at - pd.Timedelta(days=180))].groupby(customer).size()
    returns = past[past[is_return]].groupby(customer).size()
    frame = pd.DataFrame({"recency_days": (at - last).dt.days.astype(float), "frequency": count.astype(float),
                          "tenure_days": (at - first).dt.days.astype(float)})
    frame["log_monetary"] = np.log1p(spend)
    frame["log_aov"] = np.log1p(spend / count)
    frame["recent_90"] = recent_90.reindex(frame.index).fillna(0)
    frame["recent_180"] = recent_180.reindex(frame.index).fillna(0)
    frame["trend"] = (frame["recent_90"] - prior_90.reindex(frame.index).fillna(0)) / (frame["frequency"] + 1)
    frame["interpurchase_days"] = frame["tenure_days"] / frame["frequency"].clip(lower=1)
    frame["recency_ratio"] = frame["recency_days"] / (frame["interpurchase_days"] + 30)
    frame["return_rate"] = returns.reindex(frame.index).fillna(0) / (frame["frequency"] + returns.reindex(
        frame.index).fillna(0))
    return frame[FEATURES]


def churn_labels(orders: pd.DataFrame, customer: str, time: str, is_return: str, start: pd.Timestamp,
                 days: int, index: pd.Index) -> pd.Series:
    """1 = no purchase in (start, start + days]."""
    window = orders[(orders[time] > start) & (orders[time] <= start + pd.Timedelta(days=days)) & ~orders[is_return]]
    return pd.Series((~index.isin(window[customer].unique())).astype(int), index=index)


@dataclass
class ChurnModel:
    window_days: int
    cutoff: str
    auc: float
    accuracy: float
    churn_accuracy: float
    baseline_days: int
    baseline_accuracy: float
    baseline_churn_accuracy: float
    grade: str
    train_customers: int
    holdout_customers: int
    churn_rate: float
    coefficients: dict[str, float] = field(default_factory=dict)


def baseline_rule(features: pd.DataFrame, labels: pd.Series, window: int) -> int:
    """CI's baseline: the T in window, window/2, … (≥ 30 days) whose "no purchase in T" rule is most accurate."""
    best_days, best_accuracy = window, -1.0
    days = window
    while True:
        predicted = (features["recency_days"] > days).astype(int)
        accuracy = float((predicted == labels).mean())
        if accuracy > best_accuracy:
            best_days, best_accuracy = days, accuracy
        if days <= 30:
            break
        days = max(30, days // 2)
    return best_days


def _grade(accuracy: float, churn_accuracy: float, baseline_churn_accuracy: float) -> str:
    if accuracy >= 0.5 and churn_accuracy >= baseline_churn_accuracy + 0.10:
        return "A"
    if accuracy >= 0.5 and churn_accuracy >= baseline_churn_accuracy:
        return "B"
    return "C"


def train_churn(orders: pd.DataFrame, customer: str, time: str, amount: str, is_return: str, as_of: pd.Timestamp,
                window: int, threshold: float = 0.5, seed: int = 7) -> tuple[ChurnModel, object]:
    """Fit at ``as_of - window``; labels from the following window; 25% of customers held out."""
    cutoff = as_of - pd.Timedelta(days=window)
    features = churn_features(orders, customer, time, amount, is_return, cutoff)
    labels = churn_labels(orders, customer, time, is_return, cutoff, window, features.index)
    stratify = labels if labels.nunique() > 1 and labels.value_counts().min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(features, labels, test_size=0.25, random_state=seed,
                                                        stratify=stratify)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000, C=1.0))
    if y_train.nunique() < 2:
        raise ValueError("churn needs both churned and retained customers at the training cutoff")
    model.fit(x_train, y_train)
    probability = model.predict_proba(x_test)[:, 1]
    predicted = (probability >= threshold).astype(int)
    churned = y_test == 1
    days = baseline_rule(x_train, y_train, window)
    base = (x_test["recency_days"] > days).astype(int)
    auc = float(roc_auc_score(y_test, probability)) if y_test.nunique() > 1 else float("nan")
    accuracy = float((predicted == y_test).mean())
    churn_accuracy = float((predicted[churned.to_numpy()] == 1).mean()) if churned.any() else float("nan")
    base_accuracy = float((base == y_test).mean())
    base_churn = float((base[churned] == 1).mean()) if churned.any() else float("nan")
    coefficients = dict(zip(FEATURES, model[-1].coef_[0].round(4).tolist(), strict=True))
    summary = ChurnModel(window, cutoff.isoformat(), round(auc, 4), round(accuracy, 4), round(churn_accuracy, 4),
                         days, round(base_accuracy, 4), round(base_churn, 4),
                         _grade(accuracy, churn_accuracy, base_churn), len(x_train), len(x_test),
                         round(float(labels.mean()), 4), coefficients)
    return summary, model


def score_churn(model: object, orders: pd.DataFrame, customer: str, time: str, amount: str, is_return: str,
                as_of: pd.Timestamp, threshold: float) -> pd.DataFrame:
    features = churn_features(orders, customer, time, amount, is_return, as_of)
    score = model.predict_proba(features)[:, 1]  # type: ignore[attr-defined]
    return pd.DataFrame({"ChurnScore": np.round(score, 4), "IsChurn": score >= threshold}, index=features.index)
