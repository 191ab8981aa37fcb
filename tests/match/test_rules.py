"""Customer Insights matching semantics on tiny tables, through the real plan/score/merge steps."""

from __future__ import annotations

from pathlib import Path

from tests.match.harness import unify

BASE = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    recency: modified
    columns: &columns
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      phone: Identity.Service.Phone
      birth: Person.BirthDate
      modified: Measurement.Date.Modify
  - name: pos
    data_source: POS
    table: Members
    landing: pos
    primary_key: id
    recency: modified
    columns: *columns
unification:
  match_order: [crm, pos]
  tables:
    crm:
      deduplication:
        rules:
          - name: same_email
            conditions: [{field: Email, normalize: [lowercase, whitespace]}]
    pos:
      include_all_records: INCLUDE
      rules: RULES
"""
EMAIL_THEN_NAME = """
        - name: email
          conditions: [{field: Email, normalize: [lowercase]}]
        - name: name_and_birth
          conditions:
            - {field: LastName, normalize: [lowercase]}
            - {field: FirstName, normalize: [name, lowercase], precision: high}
            - {field: BirthDate}"""


def row(key: str, first: str, last: str, email: str = "", phone: str = "", birth: str = "",
        modified: str = "2026-01-01") -> dict[str, str]:
    return {"id": key, "first": first, "last": last, "email": email, "phone": phone, "birth": birth,
            "modified": modified}


def config(rules: str = EMAIL_THEN_NAME, include: str = "true", extra: str = "") -> str:
    return BASE.replace("RULES", rules).replace("INCLUDE", include) + extra


def test_deduplication_is_transitive_and_the_winner_is_the_most_filled_row(tmp_path: Path) -> None:
    crm = [row("1", "Ann", "Lee", "ann@x.com"), row("2", "Ann", "Lee", "ANN@x.com ", "555", "1990-01-01"),
           row("3", "Bob", "Ray", "bob@x.com")]
    result = unify(tmp_path, config(), {"crm": crm, "pos": [row("9", "Zed", "Q")]})
    assert result.together(("Contacts", "1"), ("Contacts", "2"))
    assert not result.together(("Contacts", "1"), ("Contacts", "3"))
    dedup = result.table("Deduplication_CRM_Contacts").set_index("SourceKey")
    assert dedup.loc["1", "Deduplication_WinnerId"] == "2"  # most filled
    assert dedup.loc["1", "Rule"] == "same_email"


def test_the_first_rule_that_matches_decides_and_later_tables_join_one_profile(tmp_path: Path) -> None:
    crm = [row("1", "Ann", "Lee", "ann@x.com", birth="1990-01-01"), row("2", "Anne", "Lee", "anne@y.com",
                                                                        birth="1980-05-05")]
    # pos 7 has Ann's email (rule 1) and Anne's name and birth date (rule 2): rule 1 wins
    pos = [row("7", "Anne", "Lee", "ann@x.com", birth="1980-05-05")]
    result = unify(tmp_path, config(), {"crm": crm, "pos": pos})
    assert result.together(("Members", "7"), ("Contacts", "1"))
    assert not result.together(("Contacts", "1"), ("Contacts", "2"))  # a later table never merges two profiles
    pairs = result.table("ConflationMatchPairs")
    linked = pairs[pairs["Linked"]]
    assert linked["Rule"].tolist() == ["email"]


def test_an_exception_suppresses_the_match_of_twins(tmp_path: Path) -> None:
    rules = """
        - name: phone
          conditions: [{field: Phone, normalize: [phone]}, {field: LastName, normalize: [lowercase]}]
          exceptions:
            - when: differ
              conditions: [{field: FirstName, normalize: [name, lowercase], precision: medium}]"""
    crm = [row("1", "Emma", "Stone", phone="(425) 555-0101"), row("2", "Robert", "Stone", phone="425 555 0102")]
    pos = [row("7", "Olivia", "Stone", phone="4255550101"), row("8", "Bob", "Stone", phone="425-555-0102")]
    result = unify(tmp_path, config(rules), {"crm": crm, "pos": pos})
    assert not result.together(("Members", "7"), ("Contacts", "1"))  # twin: same phone, other first name
    assert result.together(("Members", "8"), ("Contacts", "2"))  # Bob = Robert


def test_always_and_never_match_pairs_override_the_rules(tmp_path: Path) -> None:
    extra = """  custom:
    always_match: [{table1: crm, key1: "1", table2: pos, key2: "7"}]
    never_match: [{table1: crm, key1: "2", table2: pos, key2: "8"}]
"""
    crm = [row("1", "Ann", "Lee", "ann@x.com"), row("2", "Bob", "Ray", "bob@x.com")]
    pos = [row("7", "Zoe", "Kay", "zoe@x.com"), row("8", "Bob", "Ray", "bob@x.com")]
    result = unify(tmp_path, config(extra=extra), {"crm": crm, "pos": pos})
    assert result.together(("Contacts", "1"), ("Members", "7"))
    assert not result.together(("Contacts", "2"), ("Members", "8"))


def test_unmatched_records_of_a_table_without_include_all_records_are_dropped(tmp_path: Path) -> None:
    crm = [row("1", "Ann", "Lee", "ann@x.com")]
    pos = [row("7", "Ann", "Lee", "ann@x.com"), row("8", "Solo", "One", "solo@x.com")]
    result = unify(tmp_path, config(include="false"), {"crm": crm, "pos": pos})
    assert set(result.keys["AlternateValue"]) == {"1", "7"}
    assert len(result.customers) == 1


def test_bypassed_values_never_match(tmp_path: Path) -> None:
    extra = "  custom:\n    bypass: [test@example.com]\n"
    rules = "\n        - name: email\n          conditions: [{field: Email, normalize: [lowercase, bypass]}]"
    crm = [row("1", "Ann", "Lee", "test@example.com")]
    pos = [row("7", "Bob", "Ray", "TEST@example.com")]
    result = unify(tmp_path, config(rules, extra=extra), {"crm": crm, "pos": pos})
    assert not result.together(("Contacts", "1"), ("Members", "7"))


def test_fuzzy_precision_presets_decide_on_the_documented_score(tmp_path: Path) -> None:
    def linked(precision: str) -> bool:
        rules = f"""
        - name: email
          conditions: [{{field: Email, normalize: [lowercase], precision: {precision}}}]"""
        crm = [row("1", "Robert", "Lee", "robert2020@hotmail.com")]
        pos = [row("7", "Robert", "Lee", "robrt2020@hotmail.cm")]
        result = unify(tmp_path / precision, config(rules), {"crm": crm, "pos": pos})
        return result.together(("Contacts", "1"), ("Members", "7"))

    assert linked("high") and linked("90") and not linked("91") and not linked("exact")


def test_the_winner_policy_picks_each_group_winner_and_ties_go_to_the_largest_key(tmp_path: Path) -> None:
    """Most recent, least recent and most filled, over one group of four e-mail duplicates: two share the
    latest date, one has no date (never the most recent; the least recent, as if older than any date) but
    the most fields."""
    crm = [row("1", "Ann", "Lee", "ann@x.com", modified="2026-03-01"),
           row("2", "Ann", "Lee", "ann@x.com", modified="2026-05-01"),
           row("3", "Ann", "Lee", "ann@x.com", phone="555", birth="1990-01-01", modified=""),
           row("4", "Ann", "Lee", "ann@x.com", modified="2026-05-01"),
           row("5", "Bob", "Ray", "bob@x.com", modified="2026-02-01")]
    winners = {}
    for policy in ("most_recent", "least_recent", "most_filled"):
        text = config().replace("""          - name: same_email
            conditions: [{field: Email, normalize: [lowercase, whitespace]}]""", f"""          - name: same_email
            conditions: [{{field: Email, normalize: [lowercase, whitespace]}}]
        winner: {{policy: {policy}}}""")
        result = unify(tmp_path / policy, text, {"crm": crm, "pos": [row("9", "Zed", "Q")]})
        dedup = result.table("Deduplication_CRM_Contacts").set_index("SourceKey")
        winners[policy] = dedup.loc["1", "Deduplication_WinnerId"]
        assert dedup.loc["5", "Deduplication_WinnerId"] == "5"
    assert winners == {"most_recent": "4", "least_recent": "3", "most_filled": "3"}


def test_a_config_without_any_rule_makes_a_customer_per_record(tmp_path: Path) -> None:
    """No deduplication, match or blocking rule at all: nothing is blocked, and every record (duplicates
    included) is its own customer — the block keys and rows steps ran SQL over an empty union before."""
    text = BASE.split("  tables:")[0]
    assert "rules" not in text
    crm = [row("1", "Ann", "Lee", "ann@x.com"), row("2", "Ann", "Lee", "ann@x.com")]
    result = unify(tmp_path, text, {"crm": crm, "pos": [row("9", "Ann", "Lee", "ann@x.com")]})
    assert len(result.customers) == 3 and result.customers["CustomerId"].is_unique
    assert not result.together(("Contacts", "1"), ("Contacts", "2"))
