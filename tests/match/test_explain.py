"""``c360 explain`` shows rules, conditions, normalized values, scores and the verdict."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from shared.config import load_config_text
from shared.match.explain import Explanation, _shared_blocks, _verdict, explain_pair
from shared.match.partition import MAX_BLOCK
from shared.match.rules import Feature
from shared.match.train import FsBlock
from tests.match.harness import unify
from tests.match.test_probabilistic import PROBABILISTIC, people
from tests.match.test_rules import config, row


def test_explain_names_the_rule_that_matched_and_the_one_that_did_not(tmp_path: Path) -> None:
    text = config()
    crm = [row("1", "Ann", "Lee", "ann@x.com", birth="1990-01-01"), row("2", "Bo", "Ray", "bo@x.com")]
    pos = [row("7", "Ann", "Lee", "ANN@x.com", birth="1991-01-01")]
    result = unify(tmp_path, text, {"crm": crm, "pos": pos})
    explained = explain_pair(result.lake, load_config_text(text), result.run_id, ("pos", "7"), ("crm", "1"))
    assert explained.records == ("crm:1", "pos:7")  # ordered by match order
    email, name = explained.rules
    assert email.matched and email.conditions[0].left == "ann@x.com" == email.conditions[0].right
    assert not name.matched and [c.field for c in name.conditions if not c.holds] == ["BirthDate"]
    assert explained.verdict == "one customer: rule 'email' matched them"
    apart = explain_pair(result.lake, load_config_text(text), result.run_id, ("crm", "2"), ("pos", "7"))
    assert apart.verdict.startswith("two customers: email: Email differs")
    with pytest.raises(KeyError, match="crm has no record with key 'nope' in this run"):
        explain_pair(result.lake, load_config_text(text), result.run_id, ("crm", "nope"), ("pos", "7"))


def test_explain_shows_probabilistic_weights_and_cannot_links(tmp_path: Path) -> None:
    crm, pos = people(300)
    crm.append(row("twinA", "Emma", "Zywicki", "", "5559990000", "2001-02-03"))
    pos.append(row("twinB", "Olivia", "Zywicki", "", "5559990000", "2001-02-03"))
    result = unify(tmp_path, PROBABILISTIC, {"crm": crm, "pos": pos})
    explained = explain_pair(result.lake, load_config_text(PROBABILISTIC), result.run_id, ("crm", "twinA"),
                             ("pos", "twinB"))
    levels = {c["comparison"]: c["level"] for c in explained.comparisons}
    assert levels["LastName:name"] == "exact" and levels["Email:email"] == "missing"
    assert explained.blocking == ["LastName", "Phone"]  # blocking: [[LastName], [Email], [Phone]]
    assert explained.cannot_link and "two customers: a cannot-link" in explained.verdict


def test_explain_weighs_a_pair_as_scoring_did_term_frequencies_included(tmp_path: Path) -> None:
    text = PROBABILISTIC.replace("{field: LastName, kind: name}", "{field: LastName, kind: name, term_frequency: true}")
    assert text != PROBABILISTIC
    crm, pos = people(300)
    result = unify(tmp_path, text, {"crm": crm, "pos": pos})
    pairs = result.table("ConflationMatchPairs")
    linked = pairs[pairs["Linked"]].head(40)
    assert len(linked) == 40
    adjusted = 0
    for pair in linked.itertuples():
        explained = explain_pair(result.lake, load_config_text(text), result.run_id, (pair.Table1, pair.Key1),
                                 (pair.Table2, pair.Key2))
        # the probability the partition scored and ConflationMatchPairs kept, weight for weight
        assert explained.probability == pytest.approx(pair.Score, rel=1e-6, abs=1e-9), pair
        last = next(c for c in explained.comparisons if c["comparison"] == "LastName:name")
        adjusted += last["level"] == "exact" and last["term_frequency"] is not None
    assert adjusted >= 30  # the surnames' frequencies were applied, not only looked up


def test_explain_tells_a_pair_no_blocking_key_paired_from_one_the_model_linked() -> None:
    config = load_config_text(PROBABILISTIC)  # threshold 0.5
    ids = ("c1", "c1")

    def verdict(blocking: list[str], ids: tuple[str | None, str | None] = ids) -> str:
        explained = Explanation(("crm:1", "pos:2"), ids, probability=0.93, blocking=blocking)
        return _verdict(explained, config, across_tables=True)

    assert verdict(["Email"]) == "one customer: the probabilistic model linked them"
    assert verdict([]) == ("one customer: they were joined transitively through other records (the model would "
                           "link them (0.930 ≥ 0.5) but no blocking key pairs them, so it never compared them)")
    assert verdict([], ("c1", "c2")) == ("two customers: the model would link them (0.930 ≥ 0.5) but no blocking "
                                         "key pairs them, so it never compared them")
    linking = load_config_text(PROBABILISTIC.replace("    enabled: true\n", "    enabled: true\n    link_only: true\n"))
    assert linking.unification.probabilistic.link_only
    same_table = Explanation(("crm:1", "crm:2"), ("c1", "c2"), probability=0.93)
    assert _verdict(same_table, linking, across_tables=False) == (
        "two customers: the model would link them (0.930 ≥ 0.5) but it compares records of different tables only "
        "(link_only), so it never compared them")


def test_a_block_over_the_size_limit_pairs_nobody() -> None:
    block = FsBlock(0, "probabilistic:Email", (Feature("Email", ()),))
    column = block.features[0].column
    a, b = {column: "shared@x.com"}, {column: "shared@x.com"}
    con = duckdb.connect()
    for size, paired in ((MAX_BLOCK, ["Email"]), (MAX_BLOCK + 1, [])):
        values = ["shared@x.com"] * size + ["other@x.com", None]
        con.register("features", pa.table({"TableIndex": [0] * len(values), column: values}))
        assert _shared_blocks(con, [block], 1, a, b) == paired, size
    assert _shared_blocks(con, [block], 1, a, {column: None}) == []


def test_explain_says_when_a_rule_never_compared_a_pair_its_conditions_accept(tmp_path: Path) -> None:
    """A rule of fuzzy conditions alone blocks on a prefix; a block over the size limit is skipped. Either way
    the rule's conditions hold for the pair, yet the rule never compared it."""
    fuzzy = """
        - name: fuzzy_first
          conditions: [{field: FirstName, normalize: [lowercase], precision: medium}]"""
    text = config(fuzzy)
    crm = [row("1", "John", "Lee")] + [row(f"s{i}", "Ann", "Lee", "same@x.com") for i in range(MAX_BLOCK + 1)]
    result = unify(tmp_path, text, {"crm": crm, "pos": [row("7", "Jon", "Lee")]})
    explained = explain_pair(result.lake, load_config_text(text), result.run_id, ("crm", "1"), ("pos", "7"))
    (rule,) = explained.rules
    assert all(c.holds for c in rule.conditions) and not rule.matched
    assert explained.verdict == ("two customers: fuzzy_first: it blocks on the first 3 characters of FirstName: "
                                 "'joh' vs 'jon', so it never compared them")
    crowded = explain_pair(result.lake, load_config_text(text), result.run_id, ("crm", "s0"), ("crm", "s1"))
    assert crowded.customer_ids[0] != crowded.customer_ids[1] and not crowded.rules[0].matched
    assert crowded.verdict == ("two customers: same_email: its block of 2,001 records sharing the key is over the "
                               "limit of 2,000: never compared")
