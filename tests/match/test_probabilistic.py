"""The probabilistic mode: EM recovers m without labels; twins and households stay apart."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.lakeio import parquet_files, read_parquet, read_parquet_many, write_parquet
from shared.match.comparisons import ComparisonSpec
from shared.match.fellegi_sunter import estimate_u, expectation_maximisation, starting_m
from shared.match.partition import _cannot_links, _condition_holds, exception_fires
from shared.match.plan import feature_files
from shared.match.rules import compile_condition
from shared.merge.unify import _cannot_links_among_edges, _cannot_links_in_chains, _chain_suspects
from shared.paths import RunPaths
from tests.match.harness import unify
from tests.match.test_rules import row

PROBABILISTIC = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    primary_key: id
    columns: &columns
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      phone: Identity.Service.Phone
      birth: Person.BirthDate
  - name: pos
    data_source: POS
    table: Members
    landing: pos
    primary_key: id
    columns: *columns
unification:
  match_order: [crm, pos]
  probabilistic:
    enabled: true
    comparisons:
      - {field: FirstName, kind: first_name}
      - {field: LastName, kind: name}
      - {field: BirthDate, kind: date}
      - {field: Email, kind: email}
      - {field: Phone, kind: phone}
    blocking: [[LastName], [Email], [Phone]]
    cannot_link:
      - when: differ
        conditions: [{field: FirstName, normalize: [name, lowercase], precision: medium}]
"""


def test_em_recovers_agreement_rates_of_matches_without_labels() -> None:
    rng = np.random.default_rng(3)
    comparisons = [ComparisonSpec("a", "exact"), ComparisonSpec("b", "exact"), ComparisonSpec("c", "exact")]
    true_m = [0.95, 0.85, 0.7]
    u_rate = [0.02, 0.05, 0.1]
    matches, non_matches = 3000, 27000
    levels = np.vstack([
        np.column_stack([(rng.random(matches) > m).astype(np.int8) for m in true_m]),
        np.column_stack([(rng.random(non_matches) > u).astype(np.int8) for u in u_rate])])
    u = estimate_u(levels[matches:], comparisons)
    m, share, _ = expectation_maximisation(levels, comparisons, u, starting_m(comparisons), set(), iterations=200)
    assert abs(share - 0.1) < 0.01
    for estimate, truth in zip(m, true_m, strict=True):
        assert abs(estimate[0] - truth) < 0.02


def people(n: int) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
    """Distinct background people in both tables, so u and m have something to learn from."""
    rng = np.random.default_rng(5)
    firsts = ["Ann", "Bob", "Cyd", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lou"]
    crm, pos = [], []
    for i in range(n):
        first, last = firsts[i % len(firsts)], f"Name{rng.integers(0, 400)}"
        birth = f"19{rng.integers(40, 99)}-0{rng.integers(1, 9)}-1{rng.integers(0, 9)}"
        crm.append(row(f"c{i}", first, last, f"p{i}@x.com", f"555{i:07d}", birth))
        email = f"p{i}@x.com" if i % 3 else ""
        pos.append(row(f"m{i}", first if i % 5 else first.upper(), last, email, f"555{i:07d}" if i % 2 else "",
                       birth if i % 4 else ""))
    return crm, pos


def test_probabilistic_links_true_matches_and_keeps_twins_and_households_apart(tmp_path: Path) -> None:
    crm, pos = people(600)
    # twins: same surname, birth date, phone and address data; different first names
    crm.append(row("twinA", "Emma", "Zywicki", "", "5559990000", "2001-02-03"))
    pos.append(row("twinB", "Olivia", "Zywicki", "", "5559990000", "2001-02-03"))
    # a household: same surname and phone, different first name and birth date
    crm.append(row("dad", "Robert", "Quist", "", "5558880000", "1960-01-01"))
    pos.append(row("kid", "Lucy", "Quist", "", "5558880000", "1995-07-07"))
    # a true match with a typo in the surname and a nickname
    crm.append(row("rob", "Robert", "Kowalski", "rob.k@x.com", "5557770000", "1970-03-03"))
    pos.append(row("bob", "Bob", "Kowalsky", "rob.k@x.com", "", "1970-03-03"))
    result = unify(tmp_path, PROBABILISTIC, {"crm": crm, "pos": pos})
    assert not result.together(("Contacts", "twinA"), ("Members", "twinB"))
    assert not result.together(("Contacts", "dad"), ("Members", "kid"))
    assert result.together(("Contacts", "rob"), ("Members", "bob"))
    linked = sum(result.together(("Contacts", f"c{i}"), ("Members", f"m{i}")) for i in range(600))
    assert linked >= 590
    assert len(result.customers) <= 600 + 6 + 10


def test_a_cannot_link_inside_a_chained_component_splits_it(tmp_path: Path) -> None:
    """Ann (crm) links to Ann (pos) on name, e-mail and birth date. An always-match pair ties pos Ann to
    crm Beth, whom crm Ann was compared with (one home phone) and cannot be (another first name). The
    guard keeps the always-match pair and refuses the link that would make Ann and Beth one customer."""
    crm, pos = people(300)
    crm += [row("ann", "Ann", "Zellweger", "ann.z@x.com", "5551112222", "1980-01-01"),
            row("beth", "Beth", "Quarrington", "beth.q@y.com", "5551112222", "1985-05-05")]
    pos.append(row("ann2", "Ann", "Zellweger", "ann.z@x.com", "", "1980-01-01"))
    config = PROBABILISTIC + """  custom:
    always_match: [{table1: pos, key1: ann2, table2: crm, key2: beth}]
"""
    result = unify(tmp_path, config, {"crm": crm, "pos": pos})
    assert result.together(("Members", "ann2"), ("Contacts", "beth"))
    assert not result.together(("Contacts", "ann"), ("Contacts", "beth"))
    assert not result.together(("Contacts", "ann"), ("Members", "ann2"))


def test_a_cannot_link_between_records_no_blocking_rule_pairs_still_splits_their_chain(tmp_path: Path) -> None:
    """crm Ann Zellweger (born 1980) and pos Ann Zellweger, whose birth date is missing, share a phone; pos
    Ann and a second pos Ann Zellweger (born 1985) share an e-mail. Blocking on e-mail and phone alone, no
    key joins the first and the third, so their cannot-link (different birth dates) is no candidate pair's:
    the merge finds it inside the component the two links make, and the two Anns born apart are two
    customers."""
    crm, pos = people(300)
    crm.append(row("ann", "Ann", "Zellweger", "", "5551112222", "1980-01-01"))
    pos += [row("ann2", "Ann", "Zellweger", "ann.z@x.com", "5551112222", ""),
            row("ann3", "Ann", "Zellweger", "ann.z@x.com", "", "1985-05-05")]
    config = PROBABILISTIC.replace("blocking: [[LastName], [Email], [Phone]]", "blocking: [[Email], [Phone]]") + """\
      - when: differ
        conditions: [{field: BirthDate}]
"""
    result = unify(tmp_path, config, {"crm": crm, "pos": pos})
    paths = RunPaths(result.run_id)
    features = read_parquet_many(result.lake, feature_files(result.lake, result.run_id)).to_pandas()
    record = {(int(t), k): int(r)
              for t, k, r in features[["TableIndex", "SourceKey", "RecordId"]].itertuples(index=False)}
    ann, ann2, ann3 = record[(0, "ann")], record[(1, "ann2")], record[(1, "ann3")]
    pairs = pd.concat([read_parquet(result.lake, p).to_pandas()
                       for p in parquet_files(result.lake, paths.match_pairs(0).rsplit("/", 1)[0])])
    pair = {frozenset((int(a), int(b))): bool(c)
            for a, b, c in pairs[["left", "right", "cannot"]].itertuples(index=False)}
    # the chain: two links; the third pair was never a candidate
    assert pair[frozenset((ann, ann2))] is False and pair[frozenset((ann2, ann3))] is False
    assert frozenset((ann, ann3)) not in pair
    assert not result.together(("Contacts", "ann"), ("Members", "ann3"))
    assert result.together(("Contacts", "ann"), ("Members", "ann2")) or result.together(("Members", "ann2"),
                                                                                         ("Members", "ann3"))


def test_one_to_one_linkage_checks_cannot_links_across_a_chain_of_three_tables(tmp_path: Path) -> None:
    """One-to-one linkage keeps a link where each record is the other's best match; over three tables
    that still chains: crm Ann (born 1980) and pos Ann (no birth date) share a phone, pos Ann and web Ann
    (born 1985) an e-mail, each the other's best. Blocking on e-mail and phone never pairs crm Ann with web
    Ann, so their cannot-link (different birth dates) is found inside the chain, and they are two customers."""
    crm, pos = people(300)
    web = [dict(r, id=f"w{i}") for i, r in enumerate(pos[:150])]
    crm.append(row("ann", "Ann", "Zellweger", "", "5551112222", "1980-01-01"))
    pos.append(row("ann2", "Ann", "Zellweger", "ann.z@x.com", "5551112222", ""))
    web.append(row("ann3", "Ann", "Zellweger", "ann.z@x.com", "", "1985-05-05"))
    sources = PROBABILISTIC.split("unification:")[0] + """\
  - name: web
    data_source: Web
    table: Accounts
    landing: web
    primary_key: id
    columns: *columns
"""
    config = sources + "unification:" + PROBABILISTIC.split("unification:")[1].replace(
        "match_order: [crm, pos]", "match_order: [crm, pos, web]").replace(
        "blocking: [[LastName], [Email], [Phone]]",
        "blocking: [[Email], [Phone]]\n    link_only: true\n    one_to_one: true") + """\
      - when: differ
        conditions: [{field: BirthDate}]
"""
    result = unify(tmp_path, config, {"crm": crm, "pos": pos, "web": web})
    assert result.together(("Contacts", "c1"), ("Members", "m1"))  # linkage works at all
    assert result.together(("Contacts", "ann"), ("Members", "ann2")) or result.together(("Members", "ann2"),
                                                                                         ("Accounts", "ann3"))
    assert not result.together(("Contacts", "ann"), ("Accounts", "ann3"))
    # a pair an edge joins directly (a rule's must-link, a best match) is never cannot-linked by the chain check
    edges = pd.DataFrame({"left": [0, 1, 5], "right": [1, 2, 6]})

    def chained(labels: np.ndarray) -> pd.DataFrame:
        assert labels[0] == labels[1] == labels[2] != labels[5] == labels[6]
        return pd.DataFrame({"left": [0, 0, 5], "right": [1, 2, 6]})

    found = _cannot_links_among_edges(edges, 8, chained)
    assert found.values.tolist() == [[0, 2]]


def test_the_chain_check_reads_only_components_with_two_different_values_and_finds_every_cannot_link(
        tmp_path: Path) -> None:
    """Components of 3-6 records with random first names and birth dates (some missing): the chain check
    finds exactly the pairs every exception's ``_cannot_links`` finds over all pairs of each component of
    three to ``limit`` records, while its pre-filter (two different known values in each condition's column)
    leaves out components that cannot hold one; a ``match`` exception (equal values fire it) leaves none out."""
    config = load_config_text(PROBABILISTIC + """\
      - when: differ
        conditions: [{field: BirthDate}]
""")
    exceptions = config.unification.probabilistic.cannot_link
    columns = {compiled.left.column: compiled.left.field
               for compiled in (compile_condition(c) for e in exceptions for c in e.conditions)}
    values = {"FirstName": ["Ann", "Anne", "Bob", "Robert", None], "BirthDate": ["1990-01-01", "1991-01-01", None]}
    rng = np.random.default_rng(11)
    labels = np.repeat(np.arange(400), rng.integers(1, 7, 400))
    n, limit = len(labels), 5
    width = {"FirstName": 2, "BirthDate": 3}  # few distinct values in a component, so many are left out
    start = {column: rng.integers(0, len(values[field]) - width[field] + 1, 400) for column, field in columns.items()}
    rows = pa.table({"RecordId": np.arange(n, dtype=np.int64),
                     **{column: pa.array([values[field][k] for k in start[column][labels] + rng.integers(
                         0, width[field], n)], pa.string()) for column, field in columns.items()}})
    lake = LocalLake(tmp_path)
    write_parquet(lake, "features/a.parquet", rows.slice(0, n // 2))
    write_parquet(lake, "features/b.parquet", rows.slice(n // 2))
    files = ["features/a.parquet", "features/b.parquet"]
    expected = set()
    sizes = np.bincount(labels)
    for component in np.flatnonzero((sizes >= 3) & (sizes <= limit)):
        at = np.flatnonzero(labels == component)
        i, j = (a.ravel() for a in np.meshgrid(at, at, indexing="ij"))
        i, j = i[i < j], j[i < j]
        expected |= {(int(a), int(b)) for a, b in zip(i[_cannot_links(exceptions, rows, i, j)],
                                                      j[_cannot_links(exceptions, rows, i, j)], strict=True)}
    found = _cannot_links_in_chains(lake, files, exceptions, limit, labels)
    assert expected and {(min(a, b), max(a, b)) for a, b in found.itertuples(index=False)} == expected
    member = (sizes >= 3) & (sizes <= limit)
    suspect = _chain_suspects(lake, files, exceptions, labels, member)
    assert not (suspect & ~member).any() and 0 < suspect.sum() < member.sum()
    matching = [exceptions[0].model_copy(update={"when": "match"}), *exceptions[1:]]
    assert np.array_equal(_chain_suspects(lake, files, matching, labels, member), member)


def test_cannot_links_read_only_the_pairs_still_open_and_find_what_every_condition_on_every_pair_finds() -> None:
    """``_cannot_links`` evaluates the cheap exceptions first and each condition only on the pairs still
    firing; the result is every exception's ``exception_fires`` over all pairs, ORed (nulls never fire)."""
    config = load_config_text(PROBABILISTIC.replace("""    cannot_link:
      - when: differ""", """    cannot_link:
      - when: match
        conditions: [{field: Email}, {field: LastName, normalize: [lowercase], precision: low}]
      - when: differ
        conditions: [{field: BirthDate}]
      - when: differ"""))
    exceptions = config.unification.probabilistic.cannot_link
    compiled = [[compile_condition(c) for c in e.conditions] for e in exceptions]
    rng = np.random.default_rng(7)
    values = {"FirstName": ["Ann", "Anne", "Bob", "Robert", "Rob", None],
              "LastName": ["Lee", "LEE", "Leigh", "Ray", None],
              "Email": ["a@x", "b@x", None], "BirthDate": ["1990-01-01", "1991-01-01", None]}
    columns = {c.left.column: values[c.left.field] for conditions in compiled for c in conditions}
    rows = pa.table({column: pa.array(rng.choice(np.array(choices, object), 400).tolist(), pa.string())
                     for column, choices in columns.items()})
    i, j = rng.integers(0, 400, 3000), rng.integers(0, 400, 3000)
    expected = np.zeros(len(i), bool)
    for exception, conditions in zip(exceptions, compiled, strict=True):
        results = [_condition_holds(c, rows.column(c.left.column).take(pa.array(i)),
                                    rows.column(c.right.column).take(pa.array(j)), "shorter") for c in conditions]
        expected |= exception_fires(exception.when, results, len(i))
    assert 0 < expected.sum() < len(i)
    assert np.array_equal(_cannot_links(exceptions, rows, i, j), expected)


def test_a_cannot_link_is_written_unscored_and_a_link_with_its_score(tmp_path: Path) -> None:
    """Only the merge's guard reads a cannot-link, and only its two records: it is written with a null score
    (not weighed at all), a link with its probability."""
    crm, pos = people(300)
    crm.append(row("dad", "Robert", "Quist", "", "5558880000", "1960-01-01"))
    pos.append(row("kid", "Lucy", "Quist", "", "5558880000", "1995-07-07"))
    result = unify(tmp_path, PROBABILISTIC, {"crm": crm, "pos": pos})
    folder = tmp_path / RunPaths(result.run_id).match_pairs(0).rsplit("/", 1)[0]
    pairs = pd.concat([pd.read_parquet(path) for path in sorted(folder.glob("*.parquet"))])
    cannot = pairs["cannot"].to_numpy(bool)
    assert cannot.any() and (~cannot).any()
    assert pairs["score"][cannot].isna().all()
    assert pairs["score"][~cannot].between(0.5, 1.0).all()  # the threshold's default is 0.5
