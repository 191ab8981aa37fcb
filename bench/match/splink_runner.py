"""Run Splink (latest, its own environment) on a benchmark set with its standard models; one JSON line.

Models follow Splink's own examples: NameComparison, DateOfBirthComparison, Damerau–Levenshtein and
exact comparisons with term-frequency adjustments, u by random sampling, m by EM over two or more
blocking rules, then ``predict`` and ``cluster_pairwise_predictions_at_threshold`` at the same match
probability c360 uses (0.5 unless THRESHOLD is set).
    python bench/match/splink_runner.py DATASET DATA_DIR [--demo-people N]
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
THRESHOLD = float(os.environ.get("BENCH_THRESHOLD", "0.5"))


def febrl_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    return frame.astype(object).where(frame.notna(), None)


def demo_frame(folder: Path) -> pd.DataFrame:
    """The four demo sources in one schema, cleaned the way a Splink user would (case, phone digits)."""
    import pyarrow.parquet as pq

    landing = folder / "landing"

    def phone(series: pd.Series) -> pd.Series:
        digits = series.astype("string").str.replace(r"\D", "", regex=True)
        return digits.str[-10:].where(digits.str.len() >= 10)

    parts = []
    erp = pd.concat(pd.read_csv(p, sep=";", dtype=str, encoding="utf-8-sig")
                    for p in sorted((landing / "erp/customers").rglob("*.csv")))
    parts.append(pd.DataFrame({"table": "erp_customers", "key": erp["CustomerNo"], "first_name": erp["FirstName"],
                               "surname": erp["LastName"], "dob": erp["BirthDate"], "email": erp["Email"],
                               "phone": phone(erp["Phone"]), "postcode": erp["ZipCode"], "street": erp["Street"],
                               "city": erp["City"]}))
    crm = pd.concat(pd.read_csv(p, dtype=str) for p in sorted((landing / "crm/contacts").rglob("*.csv")))
    parts.append(pd.DataFrame({"table": "crm_contacts", "key": crm["contactid"], "first_name": crm["firstname"],
                               "surname": crm["lastname"], "dob": crm["birthdate"], "email": crm["emailaddress1"],
                               "phone": phone(crm["telephone1"]), "postcode": crm["address1_postalcode"],
                               "street": crm["address1_line1"], "city": crm["address1_city"]}))
    ecom = pd.concat(pd.read_json(p, lines=True, dtype=False)
                     for p in sorted((landing / "ecom/accounts").rglob("*.jsonl")))
    parts.append(pd.DataFrame({"table": "ecom_accounts", "key": ecom["account_id"], "first_name": ecom["first_name"],
                               "surname": ecom["last_name"], "dob": ecom["birthday"], "email": ecom["email"],
                               "phone": phone(ecom["phone"]), "postcode": ecom["zip"].astype("string"),
                               "street": ecom["street"], "city": ecom["city"]}))
    pos = pd.concat(pq.read_table(p).to_pandas() for p in sorted((landing / "pos/members").rglob("*.parquet")))
    parts.append(pd.DataFrame({"table": "pos_members", "key": pos["MemberId"].astype(str),
                               "first_name": pos["GivenName"], "surname": pos["FamilyName"],
                               "dob": pos["DateOfBirth"].astype("string"), "email": pos["Email"],
                               "phone": phone(pos["Mobile"]), "postcode": pos["PostCode"], "street": None,
                               "city": None}))
    frame = pd.concat(parts, ignore_index=True)
    for column in ("first_name", "surname", "email", "street", "city"):
        frame[column] = frame[column].astype("string").str.lower().str.strip()
    frame["unique_id"] = frame["table"] + "|" + frame["key"].astype(str)
    return frame.astype(object).where(frame.notna(), None)


def main() -> None:
    import splink.comparison_library as cl
    from memory import TreePeak
    from metrics import evaluate
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    dataset, data = sys.argv[1], Path(sys.argv[2])
    people = int(sys.argv[sys.argv.index("--demo-people") + 1]) if "--demo-people" in sys.argv else None
    memory = TreePeak().start()  # measured as for c360 (Splink runs in this one process)
    started = time.perf_counter()
    db_api = DuckDBAPI()
    if dataset in ("febrl3", "febrl4"):
        names = ["febrl3"] if dataset == "febrl3" else ["febrl4a", "febrl4b"]
        frames = [febrl_frame(data / f"{n}.parquet") for n in names]
        truth = {f"{n}|{r}": t for n, f in zip(names, frames, strict=True)
                 for r, t in zip(f["rec_id"], f["truth"], strict=True)}
        for n, f in zip(names, frames, strict=True):
            f["unique_id"] = n + "|" + f["rec_id"]
        blocking = [block_on("soc_sec_id"), block_on("given_name", "surname"), block_on("date_of_birth"),
                    block_on("postcode"), block_on("street_number", "address_1")]
        settings = SettingsCreator(
            unique_id_column_name="unique_id", link_type="dedupe_only" if dataset == "febrl3" else "link_only",
            blocking_rules_to_generate_predictions=blocking,
            comparisons=[cl.NameComparison("given_name").configure(term_frequency_adjustments=True),
                         cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                         cl.DateOfBirthComparison("date_of_birth", input_is_string=True, datetime_format="%Y%m%d",
                                                  invalid_dates_as_null=True),
                         cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
                         cl.ExactMatch("street_number").configure(term_frequency_adjustments=True),
                         cl.DamerauLevenshteinAtThresholds("postcode", [1, 2]).configure(
                             term_frequency_adjustments=True)])
        sdfs = [db_api.register(f.drop(columns=["truth"])) for f in frames]
        linker = Linker(sdfs if len(sdfs) > 1 else sdfs[0], settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("soc_sec_id"), block_on("given_name", "surname", "date_of_birth")], recall=0.8)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        for rule in (block_on("date_of_birth"), block_on("postcode")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
    elif dataset == "rldata10000":
        frame = febrl_frame(data / "rldata10000.parquet")
        truth = dict(zip(frame["rec_id"], frame["truth"], strict=True))
        frame["unique_id"] = frame["rec_id"]
        settings = SettingsCreator(
            unique_id_column_name="unique_id", link_type="dedupe_only",
            blocking_rules_to_generate_predictions=[block_on("fname_c1"), block_on("lname_c1"),
                                                    block_on("birth_date")],
            comparisons=[cl.NameComparison("fname_c1").configure(term_frequency_adjustments=True),
                         cl.NameComparison("lname_c1").configure(term_frequency_adjustments=True),
                         cl.DateOfBirthComparison("birth_date", input_is_string=True, datetime_format="%Y-%m-%d",
                                                  invalid_dates_as_null=True)])
        linker = Linker(db_api.register(frame.drop(columns=["truth"])), settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("fname_c1", "lname_c1", "birth_date")], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        for rule in (block_on("fname_c1"), block_on("lname_c1"), block_on("birth_date")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
    else:
        folder = data / f"demo-{people}"
        frame = demo_frame(folder)
        truth_frame = pd.read_csv(folder / "truth.csv", dtype=str)
        truth = dict(zip(truth_frame["Table"] + "|" + truth_frame["SourceKey"], truth_frame["PersonId"], strict=True))
        settings = SettingsCreator(
            unique_id_column_name="unique_id", link_type="dedupe_only",
            blocking_rules_to_generate_predictions=[block_on("email"), block_on("phone"), block_on("surname", "dob"),
                                                    block_on("first_name", "dob"), block_on("postcode", "surname"),
                                                    block_on("postcode", "first_name"), block_on("postcode", "street"),
                                                    block_on("first_name", "surname", "city")],
            comparisons=[cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
                         cl.NameComparison("surname").configure(term_frequency_adjustments=True),
                         cl.DateOfBirthComparison("dob", input_is_string=True, datetime_format="%Y-%m-%d",
                                                  invalid_dates_as_null=True),
                         cl.EmailComparison("email"), cl.DamerauLevenshteinAtThresholds("phone", [1, 2]),
                         cl.PostcodeComparison("postcode"), cl.JaroWinklerAtThresholds("street", [0.9, 0.7]),
                         cl.ExactMatch("city").configure(term_frequency_adjustments=True)])
        linker = Linker(db_api.register(frame), settings)
        linker.training.estimate_probability_two_random_records_match(
            [block_on("email"), block_on("first_name", "surname", "dob")], recall=0.7)
        linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
        for rule in (block_on("surname", "dob"), block_on("email"), block_on("phone")):
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
    predictions = linker.inference.predict(threshold_match_probability=min(THRESHOLD, 0.01))
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=THRESHOLD)
    result = clusters.as_pandas_dataframe()
    seconds = time.perf_counter() - started
    predicted = dict(zip(result["unique_id"], result["cluster_id"].astype(str), strict=True))
    metrics = evaluate(truth, predicted)
    # for reference only (uses the labels): Splink's best F1 over a threshold sweep
    sweep = {}
    for threshold in (0.01, 0.1, 0.5, 0.9, 0.99):
        swept = linker.clustering.cluster_pairwise_predictions_at_threshold(
            predictions, threshold_match_probability=threshold).as_pandas_dataframe()
        sweep[threshold] = evaluate(truth, dict(zip(swept["unique_id"], swept["cluster_id"].astype(str),
                                                    strict=True)))["f1"]
    best = max(sweep, key=lambda t: sweep[t])
    metrics.update(best_threshold_with_labels=best, best_f1_with_labels=sweep[best])
    memory.stop()
    print(json.dumps({"tool": "splink", "dataset": dataset, "seconds": seconds, "peak_mb": memory.peak_mb, **metrics}))


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
