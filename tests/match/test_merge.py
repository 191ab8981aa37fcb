"""Merge policies (importance, most/least recent, groups, rename, exclude) and a stable CustomerId."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shared.merge.customer_id import _assign_in_order, _held_and_parts, assign_ids, system_id
from tests.match.harness import unify
from tests.match.test_rules import config, row

MERGE = """merge:
  fields:
    FirstName: {policy: importance, order: [pos, crm]}
    Email: {policy: most_recent}
    Phone: {policy: least_recent, rename: FirstPhone}
  groups:
    - {name: identity, fields: [LastName, BirthDate], policy: most_recent}
  exclude: [ModifiedOn]
  households: false
"""


def test_merge_policies_pick_each_field(tmp_path: Path) -> None:
    crm = [row("1", "Annabel", "Lee", "old@x.com", "111", "", modified="2024-01-01")]
    pos = [row("7", "Ann", "Leigh", "new@x.com", "222", "1990-01-01", modified="2025-06-01")]
    crm[0]["email"] = "shared@x.com"
    pos[0]["email"] = "SHARED@x.com"
    text = config("\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase]}]") + MERGE
    result = unify(tmp_path, text, {"crm": crm, "pos": pos})
    profile = result.profile("Contacts", "1")
    assert profile["FirstName"] == "Ann"  # importance: pos ranked first
    assert profile["Email"] == "SHARED@x.com"  # most recent row
    assert profile["FirstPhone"] == "111"  # least recent, renamed
    assert (profile["LastName"], str(profile["BirthDate"])) == ("Leigh", "1990-01-01")  # group kept together
    assert "ModifiedOn" not in profile and "Phone" not in profile
    assert profile["CRM_Contacts_id"] == "1" and profile["POS_Members_id"] == "7"


EXTRA_COLUMNS = """      modified: Measurement.Date.Modify
      optout: Consent.DoNotEmail
      points: {data_type: int64, as: Points}
      joined: {data_type: date, as: JoinedOn}
"""


def _with_extra_columns(text: str) -> str:
    assert "      modified: Measurement.Date.Modify\n" in text
    return text.replace("      modified: Measurement.Date.Modify\n", EXTRA_COLUMNS, 1)


def test_an_opt_out_in_any_source_holds_and_maximum_minimum_order_values(tmp_path: Path) -> None:
    """A consent flag merges by ``maximum`` unless configured: CRM ranks first and says false, POS says true,
    and the profile must not be e-mailed. ``maximum``/``minimum`` pick by value, not by row."""
    crm = [{**row("1", "Ann", "Lee", "ann@x.com"), "optout": "false", "points": "40", "joined": "2019-03-01"},
           {**row("2", "Bob", "Ray", "bob@x.com"), "optout": "false", "points": "", "joined": ""}]
    pos = [{**row("7", "Ann", "Lee", "ANN@x.com"), "optout": "true", "points": "15", "joined": "2017-08-09"},
           {**row("8", "Bob", "Ray", "BOB@x.com"), "optout": "", "points": "5", "joined": "2020-01-02"}]
    rules = "\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase]}]"
    policies = "merge:\n  fields:\n    Points: {policy: maximum}\n    JoinedOn: {policy: minimum}\n"
    result = unify(tmp_path, _with_extra_columns(config(rules)) + policies, {"crm": crm, "pos": pos})
    ann, bob = result.profile("Contacts", "1"), result.profile("Contacts", "2")
    assert ann["DoNotEmail"] is True  # importance would take CRM's false (CRM is first in match order)
    assert bob["DoNotEmail"] is False  # a missing value is no opt-out: the other source's false stands
    assert (ann["Points"], str(ann["JoinedOn"])) == (40, "2017-08-09")
    assert (bob["Points"], str(bob["JoinedOn"])) == (5, "2020-01-02")  # nulls are skipped
    # Cy's opt-out is on a CRM duplicate that loses the deduplication (less filled): it holds all the same
    cy = [{**row("3", "Cy", "Poe", "cy@x.com", "555", "1970-01-01"), "optout": "false", "points": "", "joined": ""},
          {**row("4", "Cy", "Poe", "CY@x.com"), "optout": "true", "points": "", "joined": ""}]
    zed = [{**row("9", "Zed", "Q"), "optout": "", "points": "", "joined": ""}]
    duplicate = unify(tmp_path / "dup", _with_extra_columns(config(rules)), {"crm": cy, "pos": zed})
    winners = duplicate.table("Deduplication_CRM_Contacts").set_index("SourceKey")["Deduplication_WinnerId"]
    assert winners["4"] == "3"
    assert duplicate.profile("Contacts", "4")["DoNotEmail"] is True
    assert duplicate.profile("Contacts", "4")["Phone"] == "555"  # the other fields still come from the winner
    # configured, CI's importance default comes back: CRM's value wins
    importance = "merge:\n  fields:\n    DoNotEmail: {policy: importance}\n"
    again = unify(tmp_path / "ci", _with_extra_columns(config(rules)) + importance, {"crm": crm, "pos": pos})
    assert again.profile("Contacts", "1")["DoNotEmail"] is False


def test_source_key_columns_name_the_winner_and_every_key_of_each_table(tmp_path: Path) -> None:
    """CI's key columns: ``{DS}_{Table}_{PK}`` the table's deduplication winner, ``…_Alternate`` all its keys
    in key order; both null where the profile has no record of that table."""
    crm = [row("2", "Ann", "Lee", "ann@x.com"), row("10", "Ann", "Lee", "ANN@x.com ", "555", "1990-01-01"),
           row("3", "Bob", "Ray", "bob@x.com")]
    result = unify(tmp_path, config(), {"crm": crm, "pos": [row("9", "Zed", "Q"), row("7", "Bob", "Ray", "bob@x.com")]})
    columns = ["CRM_Contacts_id", "CRM_Contacts_id_Alternate", "POS_Members_id", "POS_Members_id_Alternate"]
    got = {}
    for table, key in [("Contacts", "2"), ("Contacts", "3"), ("Members", "9")]:
        profile = result.profile(table, key)
        got[key] = [None if pd.isna(profile[c]) else profile[c] for c in columns]
    assert got == {"2": ["10", "10;2", None, None],  # 10 is the most filled; keys sorted as text
                   "3": ["3", "3", "7", "7"],
                   "9": [None, None, "9", "9"]}
    assert len(result.customers) == 3


def test_importance_falls_through_nulls_and_group_skips_an_empty_row(tmp_path: Path) -> None:
    crm = [row("1", "", "Lee", "a@x.com", "", "1990-01-01", modified="2026-01-01")]
    pos = [row("7", "Ann", "", "a@x.com", "", "", modified="2026-02-01")]
    text = config("\n        - name: email\n          conditions: [{field: Email}]") + MERGE
    profile = unify(tmp_path, text, {"crm": crm, "pos": pos}).profile("Members", "7")
    assert profile["FirstName"] == "Ann"
    assert (profile["LastName"], str(profile["BirthDate"])) == ("Lee", "1990-01-01")


def test_customer_id_is_stable_across_runs_with_a_merge_and_a_split(tmp_path: Path) -> None:
    text = config("\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase]}]")
    lake = tmp_path / "lake"
    ann, bob = row("1", "Ann", "Lee", "ann@x.com"), row("2", "Bob", "Ray", "bob@x.com")
    first = unify(lake, text, {"crm": [ann, bob], "pos": [row("7", "Ann", "Lee", "ANN@x.com")]}, "r1")
    ann_id, bob_id = first.customer_of("Contacts", "1"), first.customer_of("Contacts", "2")
    assert ann_id != bob_id and first.together(("Contacts", "1"), ("Members", "7"))
    # run 2: an unchanged input keeps every id
    again = unify(lake, text, {"crm": [ann, bob], "pos": [row("7", "Ann", "Lee", "ANN@x.com")]}, "r2", first)
    assert again.customer_of("Contacts", "1") == ann_id and again.customer_of("Contacts", "2") == bob_id
    # run 3: Bob's CRM row gets Ann's email: the two profiles merge; one id survives, the other is listed
    merged = unify(lake, text, {"crm": [ann, {**bob, "email": "ann@x.com"}],
                                "pos": [row("7", "Ann", "Lee", "ANN@x.com")]}, "r3", again)
    survivor = merged.customer_of("Contacts", "1")
    assert merged.together(("Contacts", "1"), ("Contacts", "2"))
    assert survivor == ann_id  # Ann's profile held more records
    assert merged.profile("Contacts", "1")["PreviousCustomerId"] == bob_id
    primary = merged.keys[merged.keys["IsPrimary"]]["AlternateValue"].item()
    assert primary == "2"  # the CRM rows tie on filled columns: the larger key wins the deduplication group
    # run 4: they split again; the part holding the previous primary record keeps the id
    split = unify(lake, text, {"crm": [ann, bob], "pos": [row("7", "Ann", "Lee", "ANN@x.com")]}, "r4", merged)
    assert split.customer_of("Contacts", "2") == ann_id
    other = split.profile("Contacts", "1")
    assert other["CustomerId"] not in (ann_id, bob_id) and other["PreviousCustomerId"] == ann_id
    assert split.together(("Contacts", "1"), ("Members", "7"))


def test_a_rebuild_from_scratch_reproduces_the_ids(tmp_path: Path) -> None:
    text = config()
    tables = {"crm": [row("1", "Ann", "Lee", "ann@x.com")], "pos": [row("7", "Zed", "Q", "z@x.com")]}
    a = unify(tmp_path / "a", text, tables)
    b = unify(tmp_path / "b", text, tables)
    assert sorted(a.customers["CustomerId"]) == sorted(b.customers["CustomerId"])


def test_custom_customer_id_from_configured_fields(tmp_path: Path) -> None:
    text = config() + "merge:\n  custom_id_fields: [Email, Phone]\n"
    tables = {"crm": [row("1", "Ann", "Lee", "ann@x.com"), row("2", "Bob", "Ray")],
              "pos": [row("7", "Ann", "Lee", "ann@x.com", "555")]}
    result = unify(tmp_path, text, tables)
    assert result.customer_of("Contacts", "1") == system_id("custom|Contactsann@x.com|Members555")
    assert result.customer_of("Contacts", "2") != system_id("custom|")  # no values: a system id


def test_system_ids_are_uuid5_of_the_natural_key() -> None:
    import uuid

    import duckdb
    import pyarrow as pa

    from shared.merge.customer_id import NAMESPACE, uuid5_sql

    keys = ["", "ERP|Customers|C0001", "custom|Zoë|漢字", "x" * 500]
    for key in keys:
        assert system_id(key) == str(uuid.uuid5(NAMESPACE, key))
    keys += [f"CRM|Contacts|{i}" for i in range(2000)]  # every variant digit (8, 9, a, b) many times over
    with duckdb.connect() as con:  # the SQL twin, for a whole column at once; any namespace; null stays null
        con.register("keys", pa.table({"k": [*keys, None], "i": range(len(keys) + 1)}))
        for namespace in (NAMESPACE, uuid.NAMESPACE_URL):
            query = f"SELECT {uuid5_sql('k', namespace)} FROM keys ORDER BY i"
            found = [row[0] for row in con.execute(query).fetchall()]
            assert found == [str(uuid.uuid5(namespace, k)) for k in keys] + [None]
            assert {u[19] for u in found[:-1]} == set("89ab")


def _id_scenario(rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame | None, pd.Series | None]:
    """Random profiles over a previous crosswalk (merges, splits, dropped records) and custom keys; a
    third of them made to clash (shared custom keys, an old id minted from a record now primary elsewhere)."""
    n = int(rng.integers(1, 60))
    clash = rng.random() < 0.3
    keys = np.array([f"S|T|{i}" for i in range(n)], dtype=object)
    current = pd.DataFrame({"profile": pd.factorize(rng.integers(0, max(1, n // 2), n))[0], "record_key": keys})
    current["is_primary"] = ~current.duplicated("profile")
    previous = None
    if rng.random() < 0.7:
        before = pd.factorize(rng.integers(0, max(1, n // 2), n))[0]
        old_ids = np.array([system_id(f"old{i}") for i in range(before.max() + 1)], dtype=object)
        kept = rng.random(n) < 0.8
        previous = pd.DataFrame({"record_key": keys[kept], "CustomerId": old_ids[before][kept]})
        previous["is_primary"] = ~previous.duplicated("CustomerId")
        if clash and len(previous):
            last_primary = current["record_key"][current["is_primary"]].iloc[-1]
            previous.loc[previous.index[0], "CustomerId"] = system_id(last_primary)
    custom = None
    if rng.random() < 0.4:
        profiles = np.unique(current["profile"])
        spread = len(profiles) if clash else 10**9
        custom = pd.Series([None if rng.random() < 0.3 else f"k{rng.integers(0, spread)}" for _ in profiles],
                           index=profiles, dtype=object)
    return current, previous, custom


def test_ids_handed_out_column_wise_equal_the_profile_by_profile_rules() -> None:
    """``assign_ids`` works on whole columns; the profile-by-profile loop it falls back to on a clash states
    the rules (held and custom ids first, then derived ones, variants for ids already given)."""
    rng = np.random.default_rng(7)
    clashes = 0
    for _ in range(300):
        current, previous, custom = _id_scenario(rng)
        fast = assign_ids(current, previous, custom)
        profiles = np.sort(current["profile"].unique())
        primaries = current[current["is_primary"]]
        held, parts = _held_and_parts(current, previous)
        primary_key = pd.Series(primaries["record_key"].to_numpy(), index=primaries["profile"])
        by_profile = _assign_in_order(profiles, primary_key, held, parts, custom.reindex(profiles) if custom is not None
                                      else pd.Series(None, index=profiles, dtype=object))
        assert fast.customer_id.tolist() == by_profile.customer_id.tolist()
        assert fast.previous.tolist() == by_profile.previous.tolist()
        assert (fast.merges, fast.splits, fast.new) == (by_profile.merges, by_profile.splits, by_profile.new)
        assert fast.customer_id.is_unique  # a clash always ends in distinct ids
        clashes += custom is not None and custom.dropna().duplicated().any()
    assert clashes > 10  # the fallback was exercised


def _held_and_parts_stated(current: pd.DataFrame, previous: pd.DataFrame | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The holder rule in plain pandas, as first written: the reference for the DuckDB version."""
    joined = current.merge(previous[["record_key", "CustomerId"]], on="record_key", how="inner")
    counts = joined.groupby(["CustomerId", "profile"]).size().rename("n").reset_index()
    prev_primary = previous[previous["is_primary"]][["record_key", "CustomerId"]]
    anchor = prev_primary.merge(current[["record_key", "profile"]], on="record_key", how="inner")
    anchor_of = anchor.drop_duplicates("CustomerId", keep="last").set_index("CustomerId")["profile"]
    counts = counts.sort_values(["CustomerId", "n", "profile"], ascending=[True, False, True])
    most = counts.drop_duplicates("CustomerId").set_index("CustomerId")["profile"]
    totals = counts.groupby("CustomerId")["n"].sum()
    holder = anchor_of.reindex(totals.index).fillna(most.reindex(totals.index)).astype(np.int64)
    held = pd.DataFrame({"profile": holder.to_numpy(), "n": totals.to_numpy(), "old": totals.index.astype(str)})
    parts = pd.DataFrame({"profile": counts["profile"].to_numpy(), "old": counts["CustomerId"].astype(str).to_numpy()})
    return held, parts


def test_holders_of_previous_ids_joined_in_duckdb_follow_the_stated_rule() -> None:
    """Who holds each previous id, computed in DuckDB (2 M keys a side at a million customers), equals the
    rule in plain pandas, also when an id has several primary records or none left."""
    rng = np.random.default_rng(11)
    compared = 0
    for _ in range(300):
        current, previous, _ = _id_scenario(rng)
        if previous is None or not len(previous):
            continue
        if rng.random() < 0.3:  # a second primary record for one id, and an id whose primary is gone
            previous.loc[previous.index[-1], "is_primary"] = True
            previous = previous[previous.index != previous.index[0]]
        held, parts = _held_and_parts(current, previous)
        want_held, want_parts = _held_and_parts_stated(current, previous)
        pd.testing.assert_frame_equal(held.reset_index(drop=True), want_held.reset_index(drop=True),
                                      check_dtype=False)
        pd.testing.assert_frame_equal(parts.reset_index(drop=True), want_parts.reset_index(drop=True),
                                      check_dtype=False)
        compared += 1
    assert compared > 150


@pytest.mark.parametrize(("shard_customers", "pass_rows"), [(250_000, 3), (2, 1_000), (2, 3)],
                         ids=["passes", "shards", "shards-and-passes"])
def test_survivorship_in_shards_and_passes_gives_the_same_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                  shard_customers: int, pass_rows: int) -> None:
    """Large runs merge in shards (one activity each) and, inside a shard, in passes of bounded size; the
    profiles must not change."""
    from shared.merge import unify as unify_module
    from shared.merge.unify import CUSTOMER, unified_files

    crm = [row(str(i), f"First{i % 7}", f"Last{i % 5}", f"p{i % 9}@x.com", str(100 + i), f"1990-01-{i % 28 + 1:02d}",
               modified=f"2026-01-{i % 28 + 1:02d}") for i in range(60)]
    pos = [row(str(i), f"First{i % 7}", f"Last{i % 3}", f"P{i % 9}@X.com", str(200 + i % 4), "",
               modified=f"2025-02-{i % 28 + 1:02d}") for i in range(40)]
    text = config("\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase]}]") + MERGE
    one = unify(tmp_path / "one", text, {"crm": crm, "pos": pos}).customers
    monkeypatch.setattr(unify_module, "SURVIVORSHIP_ROWS", pass_rows)
    cut = unify(tmp_path / "many", text, {"crm": crm, "pos": pos}, shard_customers=shard_customers)
    many = cut.customers
    assert len(one) == 9  # one profile per e-mail
    assert len(unified_files(cut.lake, cut.run_id, CUSTOMER)) == -(-9 // shard_customers)
    columns = sorted(one.columns)
    assert one[columns].sort_values("CustomerId").reset_index(drop=True).equals(
        many[columns].sort_values("CustomerId").reset_index(drop=True))


def test_the_passes_of_a_shard_split_its_profiles_evenly() -> None:
    """A shard's profiles all leave one remainder by the shard count; the passes must still split them."""
    import duckdb

    from shared.merge.unify import in_pass

    shards, passes = 4, 2
    with duckdb.connect() as con:
        counts = [con.execute(f"SELECT count(*) FROM range(1000) t(profile) WHERE profile % {shards} = 1 "
                              f"AND {in_pass(shards, passes, index)}").fetchall()[0][0] for index in range(passes)]
    assert counts == [125, 125]
