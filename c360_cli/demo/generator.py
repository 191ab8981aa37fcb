"""Write the demo: four customer systems, their orders and lines, the config, and the ground truth.

Every system sees a different, noisy subset of the same people: duplicates inside a system, typos,
nicknames, reformatted phones, moved addresses, missing fields, households and twins. Purchases follow
a Pareto/NBD-like process (purchase rate, dropout, spend level) so lifetime value and churn are real.
"""

from __future__ import annotations

import json
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from c360_cli.demo import noise
from c360_cli.demo.activity import make_activities
from c360_cli.demo.people import People, make_people

PART_ROWS = 500_000
CONFIG_FILE = "c360.yaml"
TRUTH_FILE = "truth.csv"


@dataclass(frozen=True)
class DemoSpec:
    customers: int = 10_000
    seed: int = 42
    as_of: date = date(2026, 10, 31)
    years: int = 3
    activities: bool = True


@dataclass(frozen=True)
class SourceStyle:
    """How one system captures people."""

    name: str
    coverage: float
    duplicates: float
    nickname: float
    typo: float
    email_missing: float
    phone_missing: float
    birth_present: float
    phone_style: str
    upper: float = 0.0
    lower: float = 0.0
    old_address: float = 0.5
    alt_email: float = 0.3
    abbreviate: float = 0.3
    accents: float = 0.3


STYLES = [
    SourceStyle("erp", 0.38, 0.02, 0.03, 0.02, 0.25, 0.10, 0.75, "us_paren", upper=0.5, old_address=0.7,
                abbreviate=0.1, accents=0.0),
    SourceStyle("crm", 0.50, 0.04, 0.08, 0.03, 0.10, 0.15, 0.50, "intl_dash", old_address=0.5, abbreviate=0.5),
    SourceStyle("ecom", 0.50, 0.05, 0.12, 0.02, 0.0, 0.30, 0.25, "e164", lower=0.15, old_address=0.2,
                alt_email=0.5, abbreviate=0.6),
    SourceStyle("pos", 0.55, 0.05, 0.15, 0.04, 0.35, 0.05, 0.40, "digits", upper=0.2, old_address=0.3),
]


@dataclass
class DemoSummary:
    people: int
    records: dict[str, int] = field(default_factory=dict)
    activity_rows: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)


def _records(people: People, style: SourceStyle, rng: np.random.Generator, covered: np.ndarray) -> pd.DataFrame:
    p = people.frame
    n = len(p)
    member = covered
    extra = np.flatnonzero(member & (rng.random(n) < style.duplicates))
    index = np.concatenate([np.flatnonzero(member), extra])
    is_dup = np.concatenate([np.zeros(member.sum(), bool), np.ones(len(extra), bool)])
    order = rng.permutation(len(index))
    index, is_dup = index[order], is_dup[order]
    rows = p.iloc[index].reset_index(drop=True)
    m = len(rows)
    typo_rate = np.where(is_dup, style.typo * 3, style.typo)
    first = noise.nicknames(rows["first"].to_numpy(dtype=object), style.nickname + 0.1 * is_dup.mean(), rng)
    first = noise.apply_typos(first, float(typo_rate.mean()), rng)
    last = noise.apply_typos(rows["last"].to_numpy(dtype=object), float(typo_rate.mean()), rng)
    first, last = noise.accents(first, style.accents, rng), noise.accents(last, style.accents, rng)
    first = noise.case(first, style.upper, style.lower, rng)
    last = noise.case(last, style.upper, style.lower, rng)
    use_old = rows["moved"].to_numpy() & ((rng.random(m) < style.old_address) | is_dup)
    street = np.where(use_old, rows["old_street"], rows["street"]).astype(object)
    street = noise.abbreviate_streets(street, style.abbreviate, rng)
    use_alt = rows["has_alt_email"].to_numpy() & ((rng.random(m) < style.alt_email) | (is_dup & (style.name == "ecom")))
    email = np.where(use_alt, rows["alt_email"], rows["email"]).astype(object)
    email = noise.case(noise.apply_typos(email, 0.005, rng), 0.03, 0.0, rng)
    phone_digits = np.where(rng.random(m) < 0.6, rows["mobile"], rows["home_phone"]).astype(object)
    phone_digits = noise.apply_typos(phone_digits, 0.003, rng)
    modified = np.datetime64("2023-11-01") + rng.integers(0, 1090, m).astype("timedelta64[D]")
    return pd.DataFrame({
        "person_id": rows["person_id"],
        "first": first, "last": last,
        "email": noise.blank(email, style.email_missing, rng),
        "phone": noise.phone_format(noise.blank(phone_digits, style.phone_missing, rng), style.phone_style, rng),
        "street": noise.blank(street, 0.04, rng),
        "city": np.where(use_old, rows["old_city"], rows["city"]),
        "state": np.where(use_old, rows["old_state"], rows["state"]),
        "postal_code": np.where(use_old, rows["old_postal_code"], rows["postal_code"]),
        "birth_date": pd.Series(rows["birth_date"]).where(rng.random(m) < style.birth_present, pd.NaT),
        "gender": rows["gender"],
        "modified": modified,
    })


def _keyed(records: pd.DataFrame, style: SourceStyle, rng: np.random.Generator) -> pd.DataFrame:
    n = len(records)
    if style.name == "erp":
        keys = pd.Series(np.arange(n) + 100001).map("C{:07d}".format)
    elif style.name == "crm":
        blob = rng.bytes(16 * n)
        keys = pd.Series([str(uuid.UUID(bytes=blob[i:i + 16], version=4)) for i in range(0, 16 * n, 16)])
    elif style.name == "pos":
        keys = pd.Series(rng.permutation(n) + 5_000_000)
    else:
        keys = pd.Series(np.arange(n) + 1).map("ACC-{:08X}".format)
    return records.assign(key=keys.to_numpy())


def _write_table(table: pa.Table, folder: Path, stem: str, fmt: str, summary: DemoSummary, root: Path,
                 bom: bool = False, delimiter: str = ",") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for part, start in enumerate(range(0, max(table.num_rows, 1), PART_ROWS)):
        chunk = table.slice(start, PART_ROWS)
        name = f"{stem}.{fmt}" if table.num_rows <= PART_ROWS else f"{stem}_{part:03d}.{fmt}"
        path = folder / name
        if fmt == "csv":
            with path.open("wb") as handle:
                if bom:
                    handle.write(b"\xef\xbb\xbf")
                pacsv.write_csv(chunk, handle, pacsv.WriteOptions(delimiter=delimiter, quoting_style="needed"))
        elif fmt == "parquet":
            pq.write_table(chunk, path, compression="zstd")
        else:
            chunk.to_pandas().to_json(path, orient="records", lines=True, date_format="iso", force_ascii=False)
        summary.files.append(path.relative_to(root).as_posix())


def _iso_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.strftime("%Y-%m-%d").where(pd.notna(values), None)


def _source_tables(records: dict[str, pd.DataFrame]) -> dict[str, pa.Table]:
    erp, crm, ecom, pos = records["erp"], records["crm"], records["ecom"], records["pos"]
    return {
        "erp/customers": pa.table({
            "CustomerNo": erp["key"], "FirstName": erp["first"], "LastName": erp["last"], "Street": erp["street"],
            "ZipCode": erp["postal_code"], "City": erp["city"], "State": erp["state"],
            "Country": ["US"] * len(erp), "Phone": erp["phone"], "Email": erp["email"],
            "BirthDate": _iso_dates(erp["birth_date"]), "ModifiedOn": _iso_dates(erp["modified"])}),
        "crm/contacts": pa.table({
            "contactid": crm["key"], "firstname": crm["first"], "lastname": crm["last"],
            "emailaddress1": crm["email"], "telephone1": crm["phone"], "address1_line1": crm["street"],
            "address1_city": crm["city"], "address1_stateorprovince": crm["state"],
            "address1_postalcode": crm["postal_code"], "address1_country": ["United States"] * len(crm),
            "birthdate": _iso_dates(crm["birth_date"]),
            "gendercode": crm["gender"].map({"F": "2", "M": "1"}),
            "modifiedon": pd.to_datetime(crm["modified"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "donotemail": np.where(np.arange(len(crm)) % 11 == 0, "true", "false")}),
        "ecom/accounts": pa.table({
            "account_id": ecom["key"], "email": ecom["email"], "first_name": ecom["first"],
            "last_name": ecom["last"], "phone": ecom["phone"], "street": ecom["street"], "city": ecom["city"],
            "state": ecom["state"], "zip": ecom["postal_code"], "birthday": _iso_dates(ecom["birth_date"]),
            "updated_at": pd.to_datetime(ecom["modified"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"),
            # an unsubscribe link's flag: where the person's CRM contact says false, the merge must keep true
            "email_opt_out": pa.array(np.arange(len(ecom)) % 7 == 0)}),
        "pos/members": pa.table({
            "MemberId": pa.array(pos["key"].astype("int64")), "GivenName": pos["first"],
            "FamilyName": pos["last"], "Mobile": pos["phone"], "Email": pos["email"],
            "PostCode": pos["postal_code"], "DateOfBirth": pa.array(pd.to_datetime(pos["birth_date"]).dt.date),
            "UpdatedAt": pa.array(pd.to_datetime(pos["modified"]))}),
    }


def write_demo(out: Path, spec: DemoSpec, progress: Callable[[str], None] = lambda _: None) -> DemoSummary:
    """Generate the demo into ``out`` (``landing/``, ``c360.yaml``, ``truth.csv``); deterministic per seed."""
    rng = np.random.default_rng(spec.seed)
    landing = out / "landing"
    if landing.exists():
        shutil.rmtree(landing)
    summary = DemoSummary(people=spec.customers)
    progress(f"people: {spec.customers:,}")
    people = make_people(spec.customers, rng, spec.as_of)
    draws = np.column_stack([rng.random(spec.customers) < s.coverage for s in STYLES])
    nobody = ~draws.any(axis=1)
    draws[np.flatnonzero(nobody), rng.integers(0, len(STYLES), nobody.sum())] = True
    records: dict[str, pd.DataFrame] = {}
    for column, style in enumerate(STYLES):
        progress(f"source system {style.name}")
        records[style.name] = _keyed(_records(people, style, rng, draws[:, column]), style, rng)
    tables = _source_tables(records)
    formats = {"erp/customers": ("csv", True, ";"), "crm/contacts": ("csv", False, ","),
               "ecom/accounts": ("jsonl", False, ","), "pos/members": ("parquet", False, ",")}
    truth = []
    for (folder, table), style in zip(tables.items(), STYLES, strict=True):
        fmt, bom, delimiter = formats[folder]
        _write_table(table, landing / folder / "FullData", folder.split("/")[1], fmt, summary, out, bom, delimiter)
        summary.records[folder] = table.num_rows
        frame = records[style.name]
        truth.append(pd.DataFrame({"Table": folder.replace("/", "_"), "SourceKey": frame["key"].astype(str),
                                   "PersonId": frame["person_id"]}))
    pd.concat(truth).to_csv(out / TRUTH_FILE, index=False)
    if spec.activities:
        progress("orders and order lines")
        for folder, (table, fmt) in make_activities(people, records, rng, spec).items():
            _write_table(table, landing / folder / "FullData", folder.split("/")[1], fmt, summary, out)
            summary.activity_rows[folder] = table.num_rows
    from c360_cli.demo.config import DEMO_CONFIG

    (out / CONFIG_FILE).write_text(DEMO_CONFIG, encoding="utf-8")
    (out / "demo.json").write_text(json.dumps({"people": spec.customers, "seed": spec.seed,
                                               "as_of": spec.as_of.isoformat(), "records": summary.records,
                                               "activities": summary.activity_rows}, indent=2), encoding="utf-8")
    return summary
