"""The unification config: validated with errors that name the file, the line, the key path and the expectation."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from c360_cli.demo.config import DEMO_CONFIG
from c360_cli.main import app
from shared.config import load_config, load_config_text
from shared.config.load import config_json_schema
from shared.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_the_demo_config_is_valid() -> None:
    config = load_config_text(DEMO_CONFIG)
    assert config.unification.match_order[0] == "erp_customers"
    assert config.source("crm_contacts").attributes()["emailaddress1"] == "Email"


@pytest.mark.parametrize(("change", "expected"), [
    (("Person.FirstName", "Person.Firstname"), ["sources[0].columns.FirstName.type", "unknown semantic type"]),
    (("format: csv\n    csv:", "format: xls\n    csv:"),
     ["sources[0].format", "'csv', 'parquet', 'jsonl', 'xlsx' or 'cdm'"]),
    (("primary_key: CustomerNo\n", "primary_key: CustomerNo\n    hue: blue\n"),
     ["sources[0].hue", "unknown key 'hue' (the keys here: columns, csv, data_source,"]),
    (("primary_key: CustomerNo\n", "primary_key: CustomerNo\n    recncy: updated\n"),
     ["sources[0].recncy: unknown key 'recncy' (did you mean recency?)"]),
    (("precision: high}", "precision: 130}"), ["precision", "less than or equal to 100"]),
])
def test_schema_errors_name_file_line_key_path_and_expectation(tmp_path: Path, change: tuple[str, str],
                                                                expected: list[str]) -> None:
    path = tmp_path / "c360.yaml"
    path.write_text(DEMO_CONFIG.replace(*change, 1), encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert f"{path}:" in message
    for fragment in expected:
        assert fragment in message
    line = int(message.split(f"{path}:")[1].split(":")[0])
    changed = [n for n, text in enumerate(path.read_text().splitlines(), start=1)
               if change[1].split("\n")[-1].strip() in text or change[1].split("\n")[0].strip() in text]
    assert line in changed, (line, changed)


@pytest.mark.parametrize(("change", "expected"), [
    (("match_order: [erp_customers, crm_contacts, ecom_accounts, pos_members]",
      "match_order: [erp_customers, crm_contacts, ecom_accounts]"), "source 'pos_members' is missing"),
    (("{field: Email, normalize: [whitespace, lowercase]}", "{field: Emial, normalize: [whitespace, lowercase]}"),
     "has no attribute 'Emial'"),
    (("customer_source: erp_customers", "customer_source: erp_customer"), "'erp_customer' is not a source table"),
    (("exclude: [LoyalOrChampions, HighValueAtRisk]", "exclude: [LoyalOrChampions, Nope]"),
     "'Nope' is not a segment defined before"),
    (("timestamp: OrderDate", "timestamp: OrderDay"), "column 'OrderDay' must be mapped"),
    (("blocking: [[Email], [Phone],", "blocking: [[Emial], [Phone],"),
     r"unification.probabilistic.blocking\[0\]: no source maps 'Emial'"),
    (("training_blocking: [[Email], [LastName, BirthDate]", "training_blocking: [[Email], [LastName, Birthdate]"),
     r"unification.probabilistic.training_blocking\[1\]: no source maps 'Birthdate'"),
    (("training_blocking: [[Email],", "training_blocking: [[],"),
     r"training_blocking\[0\]: a blocking key needs at least one attribute"),
])
def test_cross_reference_errors_name_the_key_path(change: tuple[str, str], expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_config_text(DEMO_CONFIG.replace(*change, 1), "c360.yaml")


def test_yaml_syntax_errors_are_reported_with_the_file() -> None:
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML"):
        load_config_text("sources: [\n", "bad.yaml")


def test_committed_json_schema_matches_the_models() -> None:
    committed = json.loads((ROOT / "schemas" / "c360.schema.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(config_json_schema(), sort_keys=True)), \
        "schemas/c360.schema.json is stale: run `make schema`"


def test_c360_validate_reports_valid_and_invalid_files(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(DEMO_CONFIG, encoding="utf-8")
    bad.write_text(DEMO_CONFIG.replace("format: parquet", "format: excel", 1), encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(app, ["validate", str(good)])
    assert ok.exit_code == 0 and "valid" in ok.output
    failed = runner.invoke(app, ["validate", str(bad)])
    assert failed.exit_code == 1 and "format" in failed.output and "bad.yaml" in failed.output


THREE_TABLES = """
version: 1
sources:
""" + "".join(f"""  - {{name: {name}, data_source: {name.upper()}, table: T, landing: {name}, primary_key: id,
     columns: {{email: Identity.Service.Email}}}}
""" for name in ("erp", "crm", "pos")) + """
unification:
  match_order: [erp, crm, pos]
  tables:
    ERP_TABLE
    crm:
      rules: [{name: email, conditions: [{field: Email}]}]
"""


@pytest.mark.parametrize(("erp", "warned"), [
    ("erp: {deduplication: {rules: [{name: email, conditions: [{field: Email}]}]}}", ["pos"]),
    ("erp: {}", ["pos"]),  # crm's rule reaches erp
])
def test_c360_validate_warns_of_a_table_no_rule_compares(tmp_path: Path, erp: str, warned: list[str]) -> None:
    """Valid, but likely not meant: pos is in the match order and no rule matches its records, so each is a
    profile of its own; the warnings do not fail validation."""
    path = tmp_path / "c360.yaml"
    path.write_text(THREE_TABLES.replace("ERP_TABLE", erp), encoding="utf-8")
    result = CliRunner(env={"COLUMNS": "200"}).invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("warning: ")]
    assert [line.split("unification.tables.")[1].split(":")[0] for line in lines] == warned, result.output
    assert "no rule matches its records with the earlier tables (erp, crm): each of its records is a profile of " \
           "its own" in lines[0]


def test_a_table_that_nothing_compares_is_warned_of_and_the_probabilistic_model_compares_all() -> None:
    from shared.config.checks import config_warnings

    lonely = load_config_text(THREE_TABLES.replace("ERP_TABLE", "erp: {}").replace(
        "rules: [{name: email, conditions: [{field: Email}]}]",
        "rules: [{name: email, conditions: [{field: Email}], against: [erp]}]").replace(
        "match_order: [erp, crm, pos]", "match_order: [pos, erp, crm]"))
    assert [w.split(":")[0] for w in config_warnings(lonely)] == ["unification.tables.erp", "unification.tables.pos"]
    assert "no deduplication rule and no later table's rule against it" in config_warnings(lonely)[1]
    dropped = load_config_text(THREE_TABLES.replace("ERP_TABLE", "erp: {}\n    pos: {include_all_records: false}"))
    assert config_warnings(dropped)[-1].endswith("none of them reaches a profile (include_all_records is false)")
    probabilistic = DEMO_CONFIG
    assert "probabilistic:" in probabilistic and config_warnings(load_config_text(probabilistic)) == []


def test_an_attribute_mapped_with_two_data_types_is_refused_naming_both() -> None:
    """The merged BirthDate became text when one source mapped it as a string: dates compared as text, and
    Power BI lost its date column."""
    text = THREE_TABLES.replace("ERP_TABLE", "erp: {}").replace(
        "  - {name: pos, data_source: POS, table: T, landing: pos, primary_key: id,\n     columns: {email: "
        "Identity.Service.Email}}",
        "  - {name: pos, data_source: POS, table: T, landing: pos, primary_key: id,\n     columns: {email: "
        "{type: Identity.Service.Email, data_type: guid}}}")
    with pytest.raises(ConfigError) as error:
        load_config_text(text, "c360.yaml")
    assert ("sources[2].columns.email: Email is guid here but string in erp (sources[0].columns.email)"
            in str(error.value)), str(error.value)
    renamed = text.replace("data_type: guid}", "data_type: guid, as: EmailId}")
    assert load_config_text(renamed).source("pos").attributes()["email"] == "EmailId"


def test_maximum_or_minimum_of_text_is_refused_and_of_a_number_accepted() -> None:
    """Text has only an alphabetical order: "the largest e-mail address" picks no better value."""
    text = THREE_TABLES.replace("ERP_TABLE", "erp: {}") + "merge:\n  fields:\n    Email: {policy: maximum}\n"
    with pytest.raises(ConfigError) as error:
        load_config_text(text, "c360.yaml")
    assert "merge.fields.Email.policy: maximum takes the largest or smallest number, date or flag, but Email is " \
           "string" in str(error.value), str(error.value)
    counted = text.replace("columns: {email: Identity.Service.Email}}",
                           "columns: {email: Identity.Service.Email, n: {data_type: int64, as: Visits}}}"
                           ).replace("Email: {policy: maximum}", "Visits: {policy: minimum}")
    assert load_config_text(counted).merge.fields["Visits"].policy == "minimum"


def test_readme_documents_every_config_key() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Configuration"):readme.index("## Settings")]
    schema = config_json_schema()
    keys = set(schema["properties"])
    for definition in schema["$defs"].values():
        keys |= set(definition.get("properties", {}))
    missing = sorted(k for k in keys if not re.search(rf"\b{re.escape(k)}\b", section))
    assert not missing, f"README's configuration section does not mention: {missing}"


@pytest.mark.parametrize(("key", "expected"), [
    ("comparisons", "the probabilistic mode needs at least one comparison"),
    ("blocking", "the probabilistic mode needs at least one blocking key"),
])
def test_the_probabilistic_mode_needs_comparisons_and_blocking_keys(key: str, expected: str) -> None:
    # the demo's comparisons (a list of lines) or blocking keys (a flow list over two lines), emptied
    pattern = (r"    comparisons:\n(      .*\n)+" if key == "comparisons" else
               r"    blocking: \[\[.*\n.*\]\]\n")
    text, replaced = re.subn(pattern, f"    {key}: []\n", DEMO_CONFIG, count=1)
    assert replaced == 1
    with pytest.raises(ConfigError, match=expected):
        load_config_text(text, "c360.yaml")


def test_c360_run_refuses_a_missing_or_invalid_config_file_by_name(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEMO_CONFIG.replace("format: parquet", "format: excel", 1), encoding="utf-8")
    runner = CliRunner()
    for config, expected in ((tmp_path / "missing.yaml", "missing.yaml: cannot read config"),
                             (bad, "bad.yaml:")):
        result = runner.invoke(app, ["run", "--lake", str(tmp_path / "lake"), "--config", str(config)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        assert "error:" in result.output and expected in " ".join(result.output.split())
    assert not (tmp_path / "lake").exists() or not any((tmp_path / "lake").rglob("c360.yaml"))
    too_few = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--customers", "0"])
    assert too_few.exit_code == 2 and "--customers" in too_few.output


@pytest.mark.parametrize(("mapping", "message"), [
    ('{type: Person.FirstName, format: "%d/%m/%Y"}', "`format` is for date and dateTime columns; this one is string"),
    ('{type: Person.BirthDate, format: "dd/mm/yyyy"}', "is no strptime pattern"),
    ('{type: Person.BirthDate, format: "%d/%m/%Y%"}', "does not read back what it writes"),
])
def test_a_date_format_is_checked_where_it_is_written(mapping: str, message: str) -> None:
    text = f"""
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm
    format: csv
    primary_key: id
    columns:
      col: {mapping}
unification:
  match_order: [crm]
"""
    with pytest.raises(ConfigError) as error:
        load_config_text(text, "c360.yaml")
    assert message in str(error.value) and "sources[0].columns.col" in str(error.value), str(error.value)


def test_a_condition_with_a_mistyped_key_is_reported_as_a_condition_not_as_a_nested_rule_too() -> None:
    """Conditions and nested rules are one list: pydantic reports the failure of each; the branch with the
    fewest errors is what the user meant. A value too long to show is cut with an ellipsis, not mid-quote."""
    probe = "    - name: Probe\n      rule: {all: [{fild: ChurnScore, op: \">=\", value: 0.5}]}\n"
    with pytest.raises(ConfigError) as error:
        load_config_text(DEMO_CONFIG.replace("  segments:\n", "  segments:\n" + probe, 1), "c360.yaml")
    problems = str(error.value).splitlines()[1:]
    assert [p.split(": ", 1)[1] for p in problems] == [
        "enrichment.segments[0].rule.all[0].field: Field required",
        "enrichment.segments[0].rule.all[0].fild: unknown key 'fild' (did you mean field?)"], problems
    nested = "    - name: Probe\n      rule: {all: [{any: [{fild: ChurnScore, op: \">=\", value: 0.5}]}]}\n"
    with pytest.raises(ConfigError) as error:
        load_config_text(DEMO_CONFIG.replace("  segments:\n", "  segments:\n" + nested, 1), "c360.yaml")
    assert [p.split(": ", 1)[1] for p in str(error.value).splitlines()[1:]] == [
        "enrichment.segments[0].rule.all[0].any[0].field: Field required",
        "enrichment.segments[0].rule.all[0].any[0].fild: unknown key 'fild' (did you mean field?)"]
    long = "x" * 200
    with pytest.raises(ConfigError) as error:
        load_config_text(DEMO_CONFIG.replace("format: csv\n", f"format: {long}\n", 1), "c360.yaml")
    assert f"(got '{'x' * 78}…)" in str(error.value), str(error.value)


@pytest.mark.parametrize(("condition", "message"), [
    ('{field: ChurnScor, op: ">=", value: 0.5}', "'ChurnScor' is no dimension column (did you mean ChurnScore"),
    ('{field: RfmSegment, op: ">", value: 3}', "RfmSegment > 3: the column holds text; quote the value"),
    ('{field: TotalSpend, op: ">", value: lots}', "the column holds numbers; the value is not one"),
    ('{field: IsChurn, op: ">", value: true}', "compare it with = or != and true or false"),
    ('{field: LastPurchase, op: "<", value: last year}', "the value is no ISO date"),
    ('{field: RfmSegment, op: in, value: Loyal}', "in takes a list of values"),
    ('{field: Phone, op: is_null, value: x}', "is_null takes no value"),
    ('{field: Phone, op: "=", value: null}', "needs a value (is_null / not_null test for a missing one)"),
    ('{field: Gender, op: "=", value: F}', "'Gender' is no dimension column"),  # excluded by the merge
    ('{field: Email, op: not_null}', "'Email' is no dimension column"),  # renamed EmailAddress
])
def test_segment_conditions_name_a_dimension_column_and_a_value_of_its_kind(condition: str, message: str) -> None:
    """A typo matched nobody (a warning in the log), a text column compared with a number failed the run at its
    end ("Invalid comparison between dtype=str and int"): both are config errors, named where they are."""
    probe = f"    - name: Probe\n      rule: {{all: [{condition}]}}\n"
    text = DEMO_CONFIG.replace("  segments:\n", "  segments:\n" + probe, 1)
    text = text.replace("merge:\n", "merge:\n  exclude: [Gender]\n", 1).replace(
        "    Email: {policy: most_recent}", "    Email: {policy: most_recent, rename: EmailAddress}", 1)
    with pytest.raises(ConfigError) as error:
        load_config_text(text, "c360.yaml")
    assert message in str(error.value) and "enrichment.segments[0].rule.all[0]" in str(error.value), str(error.value)


def test_segment_conditions_on_any_dimension_column_of_the_right_kind_load() -> None:
    conditions = ['{field: LastPurchase, op: ">=", value: "2026-01-01"}', '{field: IsChurn, op: "=", value: false}',
                  '{field: RfmSegment, op: not_in, value: [Lost]}', '{field: TopBrand, op: contains, value: Volt}',
                  '{field: CRM_Contacts_contactid, op: not_null}', '{field: BirthDate, op: "<", value: "1990-01-01"}',
                  '{field: FavouriteStoreChannel, op: "=", value: Web}']  # an argmax measure: any kind
    probe = "".join(f"    - name: Probe{i}\n      rule: {{all: [{c}]}}\n" for i, c in enumerate(conditions))
    load_config_text(DEMO_CONFIG.replace("  segments:\n", "  segments:\n" + probe, 1), "c360.yaml")
