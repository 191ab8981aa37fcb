"""``c360 preview``: one extract converted as a run would, with no lake — typed rows and rejected rows."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from c360_cli.main import app

CONFIG = """
version: 1
sources:
  - name: crm
    data_source: CRM
    table: Contacts
    landing: crm/contacts
    format: csv
    primary_key: id
    csv: {decimal: ","}
    columns:
      first: Person.FirstName
      email: Identity.Service.Email
      born: Person.BirthDate
      points: {data_type: double}
  - name: web
    data_source: Web
    table: Accounts
    landing: web/accounts
    format: csv
    primary_key: id
    columns:
      first: Person.FirstName
unification:
  match_order: [crm, web]
"""


def preview(tmp_path: Path, *options: str) -> Result:
    config = tmp_path / "c360.yaml"
    config.write_text(CONFIG, encoding="utf-8")
    return CliRunner(env={"COLUMNS": "160"}).invoke(app, ["preview", "--config", str(config), *options])


def test_an_extract_in_its_tables_landing_folder_is_shown_typed_with_its_rejected_rows(tmp_path: Path) -> None:
    folder = tmp_path / "landing" / "crm" / "contacts" / "FullData"
    folder.mkdir(parents=True)
    extract = folder / "contacts.csv"
    extract.write_text("id;first;email;born;points;loyalty_tier\n1;Ann;ann@x.com;1990-01-02;12,5;gold\n"
                       "2;Bo;bo@x.com;02/30/1990;3;\n3;Cy;cy@x.com;;x;\n", encoding="utf-8")
    result = preview(tmp_path, str(extract), "--rows", "1")
    assert result.exit_code == 0, result.output
    output = result.output
    assert "as crm (csv): 3 rows read, 1 accepted, 2 quarantined" in " ".join(output.split())
    assert "columns of the file no mapping reads: loyalty_tier" in output
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip() for line in output.splitlines()
            if line.startswith("│ ") and line.count("│") == 3}
    assert rows["BirthDate ← born (date32[day])"] == "1990-01-02" and rows["points (double)"] == "12.5"
    assert rows["FirstName ← first (string)"] == "Ann" and rows["SourceKey (string)"] == "1"
    reasons = [line for line in output.splitlines() if line.startswith("│ 2 ") or line.startswith("│ 3 ")]
    assert "born" in reasons[0] and "not a number (decimal ',', no thousands separator): 'x'" in reasons[1], output


def test_a_file_quarantined_whole_fails_naming_why_and_an_unplaced_file_needs_its_table(tmp_path: Path) -> None:
    extract = tmp_path / "elsewhere.csv"
    extract.write_text("id,first\n1,Ann\n", encoding="utf-8")
    unplaced = preview(tmp_path, str(extract))
    assert unplaced.exit_code == 2 and "pass --table: tables of the file's format: crm, web" in unplaced.output
    whole = preview(tmp_path, str(extract), "--table", "crm")
    assert whole.exit_code == 2
    assert ("the file is quarantined whole: MappingError: mapped column(s) missing from the file: born, email, "
            "points") in " ".join(whole.output.split()), whole.output
    fits = preview(tmp_path, str(extract), "--table", "web")
    assert fits.exit_code == 0 and "1 rows read, 1 accepted, 0 quarantined" in fits.output, fits.output
    assert preview(tmp_path, str(extract), "--table", "pos").exit_code == 2
