"""Rules blocking on the same key share block rows, and still find exactly the pairs each finds alone."""

from __future__ import annotations

import random
import sys
from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from shared.adapters.local_lake import LocalLake
from shared.config import UnificationConfig, load_config_text
from shared.lakeio import read_json, read_parquet_many
from shared.match import plan
from shared.match.fellegi_sunter import FsModel
from shared.match.partition import score_partition
from shared.match.plan import MatchSetup, block_schema, feature_files, plan_partitions, read_partition
from shared.match.rules import compile_rules, rule_groups
from shared.paths import RunPaths
from tests.match.harness import snapshot_tables

COLUMNS = """
    columns:
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      phone: Identity.Service.Phone
      birth: Person.BirthDate"""
EMAIL = "{name: email, conditions: [{field: Email, normalize: [lowercase, whitespace]}]}"
PHONE = ("{name: phone, conditions: [{field: Phone, normalize: [phone]}, "
         "{field: FirstName, normalize: [name, lowercase], precision: high}]}")
NAME = ("{name: name_and_birth, conditions: [{field: LastName, normalize: [lowercase]}, {field: BirthDate}, "
        "{field: FirstName, normalize: [name, lowercase], precision: medium}], "
        "exceptions: [{when: differ, conditions: [{field: Email, normalize: [lowercase, whitespace]}]}]}")
CONFIG = "version: 1\nsources:" + "".join(f"""
  - name: {name}
    data_source: {name.upper()}
    table: {name.title()}
    landing: {name}
    primary_key: id{COLUMNS}""" for name in ("crm", "ecom", "pos")) + f"""
unification:
  match_order: [crm, ecom, pos]
  tables:
    crm: {{deduplication: {{rules: [{EMAIL}, {NAME}]}}}}
    ecom: {{deduplication: {{rules: [{EMAIL}, {PHONE}]}}, rules: [{EMAIL}, {PHONE}, {NAME}]}}
    pos:
      deduplication: {{rules: [{PHONE}]}}
      rules: [{EMAIL}, {PHONE}, {{name: crm_only, against: [crm], conditions: [
                {{field: LastName, normalize: [lowercase], precision: medium}},
                {{field: FirstName, normalize: [lowercase], precision: low}}]}}]
  probabilistic:   # Email and Phone read the rule groups' rows; LastName + BirthDate has rows of its own
    enabled: true
    threshold: 0.0001   # keeps nearly every candidate pair, so every pair the blocks make is compared
    comparisons: [{{field: FirstName, kind: first_name}}, {{field: Email, kind: email}}, {{field: Phone, kind: phone}}]
    blocking: [[Email], [Phone], [LastName, BirthDate]]
"""


def people(table: str, count: int, rng: random.Random) -> list[dict[str, str]]:
    """Rows drawn from small pools, so that keys repeat within and across tables in blocks of many sizes."""
    firsts, lasts = ["Ann", "Anne", "Bob", "Robert", "Cy", "Dee"], ["Lee", "Ray", "Wu"]
    return [{"id": f"{table}{i}", "first": rng.choice(firsts), "last": rng.choice(lasts),
             "email": rng.choice(["", f"p{rng.randint(0, 40)}@x.com", f"P{rng.randint(0, 40)}@X.com "]),
             "phone": rng.choice(["", f"+1 425 555 {rng.randint(0, 30):04d}"]),
             "birth": rng.choice(["", f"1990-01-{rng.randint(1, 9):02d}"])} for i in range(count)]


def planned(root: Path, config_text: str, slice_records: int = 1 << 40) -> tuple[LocalLake, UnificationConfig,
                                                                                 list[list[str]]]:
    """150 rows per table (seed 11) planned into partitions of 400 rows; (lake, config, each partition's files)."""
    lake, config = LocalLake(root), load_config_text(config_text)
    rng = random.Random(11)
    snapshots = snapshot_tables(lake, config, {t: people(t, 150, rng) for t in ("crm", "ecom", "pos")}, "run1")
    _, partitions = plan_partitions(lake, config, "run1", snapshots, 400, slice_records)
    return lake, config, partitions


def scored_pairs(root: Path, max_block: int, slice_records: int = 1 << 40,
                 config_text: str = CONFIG) -> tuple[list[tuple[int, ...]], int, int]:
    """All pairs (left, right, rule, score) over every partition, the block rows written, blocks skipped."""
    lake, config, partitions = planned(root, config_text, slice_records)
    model = FsModel.from_dict(read_json(lake, RunPaths("run1").match_model()))
    found, skipped, rows = [], 0, 0
    for files in partitions:
        block_rows = read_partition(lake, MatchSetup.of(config), files)
        pairs, stats = score_partition(config, block_rows, model, max_block)
        found += zip(*(pairs.column(c).to_pylist() for c in ("left", "right", "rule", "score")), strict=True)
        skipped += stats.skipped_blocks
        rows += block_rows.num_rows
    return sorted(found), rows, skipped


# the first names' term frequencies ride on the block rows
TF_CONFIG = CONFIG.replace("{field: FirstName, kind: first_name}",
                           "{field: FirstName, kind: first_name, term_frequency: true}")


def partition_rows(root: Path, slice_records: int) -> tuple[list[list[tuple[object, ...]]], list[int]]:
    """Each partition's block rows (sorted), and how many files each partition was read from."""
    lake, config, partitions = planned(root, TF_CONFIG, slice_records)
    tables = [read_partition(lake, MatchSetup.of(config), files) for files in partitions]
    return [sorted(zip(*(t.column(c).to_pylist() for c in t.column_names), strict=True)) for t in tables], \
        [len(files) for files in partitions]


def test_slices_write_every_partition_the_rows_of_one_pass(tmp_path: Path) -> None:
    """450 records in slices of 100 (five ``write_block_rows`` activities): each partition gets the rows that
    one slice over all records writes, term frequencies included, and scoring finds the same pairs."""
    whole, whole_files = partition_rows(tmp_path / "whole", 1 << 40)
    sliced, sliced_files = partition_rows(tmp_path / "sliced", 100)
    assert whole_files == [1] * len(whole) and len(whole) > 3
    assert max(sliced_files) == 5 and sliced == whole
    assert sum(len(rows) for rows in whole) > 1000
    tf = [i for i, f in enumerate(block_schema(MatchSetup.of(load_config_text(TF_CONFIG)))) if f.name.startswith("tf_")]
    assert tf and any(row[i] is not None for rows in sliced for row in rows for i in tf)
    assert scored_pairs(tmp_path / "pairs", 2000, 100, TF_CONFIG) == scored_pairs(tmp_path / "pairs1", 2000,
                                                                                  config_text=TF_CONFIG)


@pytest.mark.parametrize("max_block", [4, 2000])  # 4: many blocks over the limit, skipped per rule as before
def test_grouped_block_rows_give_the_pairs_of_rules_scored_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                 max_block: int) -> None:
    setup = MatchSetup.of(load_config_text(CONFIG))
    assert len(setup.block_rows) == 2  # probabilistic Email and Phone read the rule groups' rows
    grouped, grouped_rows, grouped_skips = scored_pairs(tmp_path / "grouped", max_block)

    def no_groups(rules: list, order: list[str]) -> tuple[list, list]:
        return [], rules

    monkeypatch.setattr(plan, "rule_groups", no_groups)  # MatchSetup, which plan and partitions both use
    alone, alone_rows, alone_skips = scored_pairs(tmp_path / "alone", max_block)
    assert grouped == alone and grouped_skips == alone_skips
    if max_block > 4:
        rules = {r.id for r in setup.rules} | {b.id for b in setup.blocks}
        assert len(grouped) > 1000 and {p[2] for p in grouped} == rules
    else:
        assert len(grouped) > 100 and grouped_skips > 100
    assert grouped_rows < 0.6 * alone_rows


# two blocking rules sharing the birth date: a row family
FAMILY_CONFIG = TF_CONFIG.replace("blocking: [[Email], [Phone], [LastName, BirthDate]]",
                                  "blocking: [[Email], [Phone], [LastName, BirthDate], [FirstName, BirthDate]]")


@pytest.mark.parametrize("max_block", [4, 2000])
def test_a_row_family_writes_a_row_per_record_and_its_members_find_their_own_pairs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, max_block: int) -> None:
    """The blocking rules on last name + birth date and first name + birth date share one row per record
    (partitioned by the birth date), and score exactly the pairs they score with rows of their own, which
    they get where a birth date is held by too many records (here: by any record at all)."""
    setup = MatchSetup.of(load_config_text(FAMILY_CONFIG))
    dated = sorted(b.id for b in setup.blocks if "BirthDate" in b.name)
    assert [sorted(f.members) for f in setup.families] == [dated] and "BirthDate" in setup.families[0].column
    family, family_rows, family_skips = scored_pairs(tmp_path / "family", max_block, 100, FAMILY_CONFIG)
    monkeypatch.setattr(plan, "FAMILY_VALUE_RECORDS", 0)
    apart, apart_rows, apart_skips = scored_pairs(tmp_path / "apart", max_block, 100, FAMILY_CONFIG)
    assert family == apart and family_skips == apart_skips
    assert {p[2] for p in family} >= set(dated) and len(family) > 100
    assert family_rows < apart_rows
    if max_block == 4:
        assert family_skips > 10


def test_the_same_steps_in_any_order_are_one_feature_whose_rule_group_rows_a_blocking_rule_reads() -> None:
    """An ``identifier`` comparison normalizes as lower case, white space, symbols; a rule listing the same
    steps in another order normalizes the same way (the fixed order), so both read one column, and blocking
    on it reads the rule group's rows instead of writing the records again."""
    text = CONFIG.replace("normalize: [lowercase, whitespace]}]}", "normalize: [symbols, whitespace, lowercase]}]}")
    text = text.replace("{field: Email, kind: email}", "{field: Email, kind: identifier}")
    setup = MatchSetup.of(load_config_text(text))
    email = next(g for g in setup.groups if g.rules[0].name == "email")
    block = next(b for b in setup.blocks if b.name == "probabilistic:Email")
    assert [f.column for f in block.features] == list(email.key_columns)
    assert setup.block_rows[block.id] == email.id and len(setup.block_rows) == 2
    assert len({f.column for f in setup.features if f.field == "Email"}) == 1


def test_rules_group_by_key_columns_and_prefix_blocking() -> None:
    config = load_config_text(CONFIG)
    groups, alone = rule_groups(compile_rules(config), list(config.unification.match_order))
    names = sorted(sorted({r.name for r in g.rules}) for g in groups)
    # email rules share the e-mail key; phone rules the phone key; name + birth its two exact fields;
    # crm_only has no exact condition and blocks on a prefix of the last name
    assert names == [["crm_only"], ["email"], ["name_and_birth"], ["phone"]]
    assert not alone and all(g.id < 0 for g in groups)
    assert next(g for g in groups if g.rules[0].name == "crm_only").prefix
    assert pa.scalar(next(g for g in groups if g.rules[0].name == "email").tables).as_py() == [0, 1, 2]


def block_dates(root: Path, config_text: str) -> tuple[set[object], list[object]]:
    """The birth dates keying the probabilistic ``[LastName, BirthDate]`` blocks, and the compared dates."""
    lake, config, partitions = planned(root, config_text)
    setup = MatchSetup.of(config)
    block = next(b for b in setup.blocks if b.name == "probabilistic:LastName+BirthDate")
    date = next(f for f in block.features if f.field == "BirthDate").column
    rows = pa.concat_tables([read_partition(lake, setup, files) for files in partitions])
    keyed = rows.filter(pc.equal(rows.column("rule"), block.id)).column(date).to_pylist()
    compared = read_parquet_many(lake, feature_files(lake, "run1")).column(date).to_pylist()
    return set(keyed), compared


def test_a_bypassed_placeholder_is_neither_blocked_on_nor_compared(tmp_path: Path) -> None:
    """A comparison with ``bypass: true`` reads the bypass list's values as missing, like CI's normalization:
    a placeholder birth date makes no block, and its records compare as having no date."""
    comparisons = "comparisons: [{field: FirstName, kind: first_name}"
    compared = CONFIG.replace(comparisons, "comparisons: [{field: BirthDate, kind: date, bypass: BYPASS}, "
                                           "{field: FirstName, kind: first_name}")
    placeholder = "  custom:\n    bypass: ['1990-01-05']\n"
    keyed, values = block_dates(tmp_path / "kept", compared.replace("BYPASS", "false") + placeholder)
    assert "1990-01-05" in keyed and "1990-01-05" in values
    bypassed_keys, bypassed = block_dates(tmp_path / "bypassed", compared.replace("BYPASS", "true") + placeholder)
    assert bypassed_keys == keyed - {"1990-01-05"}
    assert [None if v == "1990-01-05" else v for v in values] == bypassed


def test_rows_alone_in_their_block_are_not_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Five slices write only the block rows whose (rule, key) another row holds too, counted over every
    slice (a key's other rows are often in another slice), and scoring finds the same pairs as from all
    rows: a row alone in its block pairs with nothing. Values drawn from pools ten times wider than
    ``people``'s leave many keys to one row. With more shared keys than a slice may hold (``SHARED_KEYS_MAX``)
    the slices write every row, and scoring finds the same pairs."""
    narrow = people

    def spread(table: str, count: int, rng: random.Random) -> list[dict[str, str]]:
        return [{**row, "email": row["email"].replace("@", f"{rng.randint(0, 9)}@"),
                 "phone": row["phone"] and row["phone"] + str(rng.randint(0, 9)),
                 "birth": row["birth"] and row["birth"].replace("-01-", f"-{rng.randint(1, 10):02d}-")}
                for row in narrow(table, count, rng)]

    monkeypatch.setattr(sys.modules[__name__], "people", spread)
    kept, _ = partition_rows(tmp_path / "kept", 100)
    kept_pairs = scored_pairs(tmp_path / "kept_pairs", 4, 100, TF_CONFIG)
    # past ``SHARED_KEYS_MAX`` keys the key count keeps none, and the slices write every row
    monkeypatch.setattr(plan, "SHARED_KEYS_MAX", 0)
    full, _ = partition_rows(tmp_path / "full", 100)
    keys = RunPaths("run1").match_shared_keys
    assert LocalLake(tmp_path / "kept").exists(keys) and not LocalLake(tmp_path / "full").exists(keys)
    full_pairs = scored_pairs(tmp_path / "full_pairs", 4, 100, TF_CONFIG)
    holders = Counter((row[0], row[2]) for rows in full for row in rows)  # (rule, key)
    alone = sum(1 for rows in full for row in rows if holders[row[0], row[2]] == 1)
    assert kept == [[row for row in rows if holders[row[0], row[2]] > 1] for rows in full]
    assert alone > 100 and sum(map(len, kept)) == sum(map(len, full)) - alone
    assert kept_pairs[0] == full_pairs[0] and len(kept_pairs[0]) > 100
    assert kept_pairs[2] == full_pairs[2] > 0  # the same blocks over the limit skipped
