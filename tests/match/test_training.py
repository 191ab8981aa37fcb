"""EM training rules apart from prediction rules: households must not teach EM that relatives match."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from shared.config.model import Probabilistic
from shared.match.train import blocking_rules, comparison_specs, train_model

SETTINGS = {
    "enabled": True,
    "comparisons": [{"field": "FirstName", "kind": "first_name"}, {"field": "LastName", "kind": "name"},
                    {"field": "Email", "kind": "email"}, {"field": "Street", "kind": "address"}],
    "blocking": [["Email"], ["Street"]],
}
FIRST = ["anna", "bruno", "carla", "dmitri", "elena", "farid", "greta", "hiro", "ines", "jonas", "kira", "lars"]


def households(count: int) -> pa.Table:
    """``count`` two-person households (shared surname and street, own first name and email); every person
    has two records that agree on everything."""
    rng = np.random.default_rng(1)
    rows: dict[str, list[object]] = {"RecordId": [], "TableIndex": []}
    columns = {c.field: c.feature.column for c in comparison_specs(Probabilistic(**SETTINGS))}
    for column in columns.values():
        rows[column] = []
    for house in range(count):
        street, last = f"{house} main st", f"surname{house}"
        firsts = rng.choice(len(FIRST), 2, replace=False)
        for member in range(2):
            for table in range(2):
                rows["RecordId"].append(len(rows["RecordId"]))
                rows["TableIndex"].append(table)
                rows[columns["FirstName"]].append(FIRST[firsts[member]])
                rows[columns["LastName"]].append(last)
                rows[columns["Email"]].append(f"{FIRST[firsts[member]]}.{last}@x.com")
                rows[columns["Street"]].append(street)
    return pa.table(rows)


def train(training: list[list[str]] | None) -> tuple[list[float], float]:
    """m of the first-name comparison and the prior, trained on the households."""
    settings = Probabilistic(**SETTINGS, training_blocking=training)
    features = households(1500)
    con = duckdb.connect()
    con.register("features", features)
    model = train_model(con, settings, blocking_rules(settings, 0), features.num_rows, [features.num_rows // 2] * 2,
                        training=blocking_rules(settings, 0, training=True))
    return model.m[0], model.prior


def test_training_on_a_household_key_takes_relatives_for_matches() -> None:
    m_first, _ = train(None)  # trains on [Street] too: each street pairs 2 true and 4 relative pairs
    assert m_first[-1] > 0.25  # "first names differ" looks common among matches (the labels say never)


def test_training_on_email_keeps_relatives_out_and_the_prior_follows() -> None:
    m_first, prior = train([["Email"]])
    assert m_first[-1] < 0.05
    records = 6000
    true_pairs = 3000  # one per person
    assert abs(prior * records * (records - 1) / 2 - true_pairs) / true_pairs < 0.1


def test_the_model_does_not_depend_on_the_order_records_arrive_in() -> None:
    """Parallel scans deliver rows in varying order; the samples (and so the model and the customers)
    must depend on the records alone. 60 k records: more than the record sample, as at scale."""
    settings = Probabilistic(**SETTINGS, training_blocking=[["Email"]])
    features = households(15_000)
    shuffled = features.take(np.random.default_rng(3).permutation(features.num_rows))
    models = []
    for table in (features, shuffled):
        con = duckdb.connect()
        con.register("features", table)
        models.append(train_model(con, settings, blocking_rules(settings, 0), table.num_rows,
                                  [table.num_rows // 2] * 2, training=blocking_rules(settings, 0, training=True)))
    assert models[0].to_dict() == models[1].to_dict()
