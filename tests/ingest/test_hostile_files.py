"""A corpus of hostile files: each row lands in the entity or the quarantine with the right reason."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shared.adapters.local_lake import LocalLake
from shared.config import load_config_text
from shared.config.model import TableBase
from shared.ingest.convert import Conversion, convert_file
from shared.lakeio import read_parquet

CONFIG = """
version: 1
sources:
  - name: contacts
    data_source: CRM
    table: Contacts
    landing: crm/contacts
    format: csv
    primary_key: id
    columns:
      id: {data_type: string}
      first: Person.FirstName
      last: Person.LastName
      email: Identity.Service.Email
      birth: Person.BirthDate
      points: {data_type: int64}
      vip: {data_type: boolean}
  - name: members
    data_source: POS
    table: Members
    landing: pos/members
    format: jsonl
    primary_key: id
    columns:
      id: {data_type: string}
      first: Person.FirstName
      points: {data_type: int64}
unification:
  match_order: [contacts, members]
"""
HEADER = "id,first,last,email,birth,points,vip\n"


@pytest.fixture()
def lake(tmp_path: Path) -> LocalLake:
    return LocalLake(tmp_path / "lake")


def table(name: str = "contacts", **changes: object) -> TableBase:
    config = load_config_text(CONFIG)
    source = config.source(name)
    return source.model_copy(update=changes) if changes else source


def convert(lake: LocalLake, data: bytes, name: str = "f.csv", source: TableBase | None = None) -> tuple[
        Conversion, list[dict[str, object]], list[dict[str, object]]]:
    lake.write_bytes(f"landing/{name}", data)
    result = convert_file(lake, source or table(), f"landing/{name}", "out/e.parquet", "out/q.parquet")
    rows = read_parquet(lake, "out/e.parquet").to_pylist() if lake.exists("out/e.parquet") else []
    quarantined = read_parquet(lake, "out/q.parquet").to_pylist() if lake.exists("out/q.parquet") else []
    assert result.rows == result.accepted + result.quarantined  # nothing silently vanishes
    return result, rows, quarantined


def test_utf8_bom_is_not_part_of_the_first_column_name(lake: LocalLake) -> None:
    result, rows, _ = convert(lake, b"\xef\xbb\xbf" + (HEADER + "1,Ann,Lee,a@x.com,1990-01-02,5,true\n").encode())
    assert result.accepted == 1 and rows[0]["SourceKey"] == "1" and rows[0]["FirstName"] == "Ann"


def test_latin1_file_is_decoded(lake: LocalLake) -> None:
    data = (HEADER + "1,José,Núñez,j@x.com,1990-01-02,5,no\n").encode("latin-1")
    _, rows, _ = convert(lake, data)
    assert rows[0]["FirstName"] == "José" and rows[0]["LastName"] == "Núñez" and rows[0]["vip"] is False


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16"])
def test_utf16_without_a_bom_is_recognised_by_its_zero_bytes(lake: LocalLake, encoding: str) -> None:
    """Excel's 'Unicode Text' is UTF-16 and tab-separated; without a BOM it was read as UTF-8 (zero bytes are
    valid UTF-8) and failed with an unexpected csv.Error."""
    data = (HEADER.replace(",", "\t") + "1\tJosé\tNúñez\tj@x.com\t\t5\tyes\r\n").encode(encoding)
    result, rows, _ = convert(lake, data, "f.txt")
    assert result.error is None and [(r["FirstName"], r["LastName"], r["points"]) for r in rows] == [
        ("José", "Núñez", 5)]


def test_lines_ended_by_a_lone_carriage_return_are_read(lake: LocalLake) -> None:
    """Old Mac Excel ends lines with \\r alone: the header was 'unreadable' (the csv module saw a line break
    inside a field)."""
    data = (HEADER + "1,Ann,Lee,a@x.com,,5,\n2,Bo,Li,b@x.com,,6,\n").replace("\n", "\r").encode()
    result, rows, _ = convert(lake, data)
    assert result.error is None and [(r["SourceKey"], r["SourceLine"]) for r in rows] == [("1", 1), ("2", 2)]


def test_the_title_lines_of_a_report_export_are_skipped_before_the_header(lake: LocalLake) -> None:
    """A POS report opens with its title, a date and a blank line (csv.skip_lines: 3); rows keep their
    numbers counted from the header, as the quarantine names them."""
    data = ("Loyalty members, store 12\r\nExported 2026-11-30 23:00;by: system\r\n\r\n"
            + HEADER.replace(",", ";").replace("\n", "\r\n")
            + "1;Ann;Lee;a@x.com;;5;\r\n2;Bo\r\n3;Cy;Wu;c@x.com;;7;\r\n")
    source = load_config_text(CONFIG.replace("    format: csv\n", "    format: csv\n    csv: {skip_lines: 3}\n", 1)
                              ).source("contacts")
    result, rows, quarantined = convert(lake, data.encode(), source=source)
    assert result.error is None, result.error
    assert [(r["SourceKey"], r["SourceLine"], r["points"]) for r in rows] == [("1", 1, 5), ("3", 3, 7)]
    assert [(q["Row"], q["Reason"]) for q in quarantined] == [(2, "expected 7 fields, found 2")]
    unskipped, _, _ = convert(lake, data.encode(), "g.csv")
    assert unskipped.error is not None and "mapped column(s) missing" in unskipped.error


def test_semicolon_delimiter_is_detected(lake: LocalLake) -> None:
    data = (HEADER.replace(",", ";") + "1;Ann;Lee;a@x.com;02.01.1990;5;1\n").encode()
    _, rows, _ = convert(lake, data)
    assert str(rows[0]["BirthDate"]) == "1990-01-02" and rows[0]["points"] == 5


def test_excels_sep_line_names_the_delimiter_and_is_not_the_header(lake: LocalLake) -> None:
    data = ("\ufeffsep=;\r\n" + HEADER.replace(",", ";") +
            "1;Ann;Lee;a@x.com;;1;\r\n2;Bo;Li\r\n3;Cy;Wu;c@x.com;;3;\r\n").encode("utf-8")
    result, rows, quarantined = convert(lake, data)
    assert result.error is None, result.error
    assert [(r["SourceKey"], r["FirstName"]) for r in rows] == [("1", "Ann"), ("3", "Cy")]
    assert [(q["Row"], q["Reason"]) for q in quarantined] == [(2, "expected 7 fields, found 3")]


def test_quoted_newlines_stay_inside_their_field(lake: LocalLake) -> None:
    data = (HEADER + '1,"Ann\nMarie",Lee,a@x.com,,1,\n2,Bo,Li,b@x.com,,2,\n').encode()
    result, rows, _ = convert(lake, data)
    assert result.accepted == 2 and rows[0]["FirstName"] == "Ann\nMarie" and rows[1]["SourceLine"] == 2


def test_ragged_rows_are_quarantined_with_their_row_number(lake: LocalLake) -> None:
    data = (HEADER + "1,Ann,Lee,a@x.com,,1,\n2,Bo\n3,Cy,Wu,c@x.com,,3,,extra\n4,Di,Ng,d@x.com,,4,\n").encode()
    _result, rows, quarantined = convert(lake, data)
    assert [r["SourceKey"] for r in rows] == ["1", "4"]
    assert [r["SourceLine"] for r in rows] == [1, 4]
    assert {q["Row"] for q in quarantined} == {2, 3}
    assert all("fields, found" in q["Reason"] for q in quarantined)
    assert "2,Bo" in quarantined[0]["RawRow"]


def test_an_unclosed_quote_is_named_as_the_reason_its_row_runs_on(lake: LocalLake) -> None:
    """The row a stray quote opens takes in the lines after it: the reason says so, the lines are in RawRow."""
    data = (HEADER + '1,Ann,Lee,a@x.com,,1,\n2,Bo,"Li,b@x.com,,2,\n3,Cy,Wu,c@x.com,,3,\n').encode()
    _result, rows, quarantined = convert(lake, data)
    assert [r["SourceKey"] for r in rows] == ["1"]
    assert [(q["Row"], q["Reason"]) for q in quarantined] == [
        (2, 'expected 7 fields, found 3 (a " opened in this row is never closed: the row runs on over 2 lines)')]
    assert "3,Cy,Wu" in quarantined[0]["RawRow"]


def test_a_mapped_column_twice_in_the_header_rejects_the_file_naming_it(lake: LocalLake) -> None:
    """Two ``email`` columns: the first was read and the second ignored, silently; an unmapped column may
    repeat (its copies are not read)."""
    data = (HEADER.replace("vip", "vip,email") + "1,Ann,Lee,a@x.com,,1,,b@x.com\n").encode()
    result, rows, quarantined = convert(lake, data)
    assert rows == [] and result.error is not None
    assert "are named more than once in the file, so which to read is unclear: email (columns 4, 8)" in result.error
    assert [(q["Row"], q["Field"]) for q in quarantined] == [(None, "email")]
    twice = pa.Table.from_arrays([pa.array(["1"]), pa.array(["Ann"]), pa.array(["a@x.com"]), pa.array(["b@x.com"])],
                                 names=["id", "first", "email", "email"])  # Parquet allows it too
    buffer = io.BytesIO()
    pq.write_table(twice, buffer)
    lines = ("      last: Person.LastName\n", "      birth: Person.BirthDate\n", "      points: {data_type: int64}\n",
             "      vip: {data_type: boolean}\n")
    text = CONFIG
    for line in lines:
        text = text.replace(line, "", 1)
    parquet = load_config_text(text).source("contacts").model_copy(update={"format": "parquet"})
    result, rows, _ = convert(lake, buffer.getvalue(), name="f.parquet", source=parquet)
    assert rows == [] and result.error == ("MappingError: mapped column(s) are named more than once in the file, "
                                           "so which to read is unclear: email (columns 3, 4)"), result.error
    unmapped = load_config_text(CONFIG.replace("      vip: {data_type: boolean}\n", "")).source("contacts")
    result, rows, _ = convert(lake, (HEADER.replace(",vip", ",note,note") + "2,Bo,Li,b@x.com,,2,x,y\n").encode(),
                              name="g.csv", source=unmapped)
    assert result.error is None and [r["SourceKey"] for r in rows] == ["2"]


@pytest.mark.parametrize(("options", "values", "read", "refused"), [
    # a German ERP's export: decimal comma, thousands grouped by points
    ('{decimal: ",", thousands: "."}', ["12,50", "1.234,50", "-,5", "7", "12.5", "1,234.50", "1.23,4"],
     [12.5, 1234.5, -0.5, 7.0], ["12.5", "1,234.50", "1.23,4"]),
    ('{thousands: ","}', ["1,234.50", "12.5", "1,234,567", "12,50", "1e3"], [1234.5, 12.5, 1234567.0, 1000.0],
     ["12,50"]),
    ("{}", ["12.5", "12,50", "1,234.50"], [12.5], ["12,50", "1,234.50"]),  # the default: plain numbers only
])
def test_numbers_are_read_with_the_sources_decimal_and_thousands_separators(
        lake: LocalLake, options: str, values: list[str], read: list[float], refused: list[str]) -> None:
    """``12,50`` from a decimal-comma export was quarantined as 'not a number' with no way to read it; a
    value in another form than the one configured is still quarantined, never read as another number."""
    source = load_config_text(CONFIG.replace("    format: csv\n", f"    format: csv\n    csv: {options}\n", 1)
                              .replace("points: {data_type: int64}", "points: {data_type: double}")
                              ).source("contacts")
    data = HEADER.replace(",", ";") + "".join(f"{i};A;B;a@x.com;;{v};\n" for i, v in enumerate(values))
    _result, rows, quarantined = convert(lake, data.encode(), source=source)
    assert [r["points"] for r in rows] == read
    assert [q["Reason"].rsplit(": ", 1)[1] for q in quarantined] == [repr(v) for v in refused]
    assert all(q["Reason"].startswith("not a number") for q in quarantined)


def test_the_same_separator_cannot_be_decimal_and_thousands() -> None:
    from shared.errors import ConfigError

    with pytest.raises(ConfigError, match="thousands and decimal are both ','"):
        options = '    format: csv\n    csv: {decimal: ",", thousands: ","}\n'
        load_config_text(CONFIG.replace("    format: csv\n", options, 1))


def _workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    import openpyxl

    book = openpyxl.Workbook()
    book.remove(book.active)
    for title, rows in sheets.items():
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_an_excel_worksheet_is_read_as_its_cells_values(lake: LocalLake) -> None:
    """Dates, whole numbers and booleans as Excel holds them (a date cell is a datetime, 5 is 5.0); the
    formatted empty rows under a table are no rows; a cell right of the header rejects its row."""
    from datetime import datetime

    rows: list[list[object]] = [["id", "first", "last", "email", "birth", "points", "vip"],
                                [101, "Ann", "Lee", "a@x.com", datetime(1990, 1, 2), 5.0, True],
                                [None] * 7,
                                ["102", "Bo", "Li", "b@x.com", None, 7, False, "a note"],
                                ["103", "Cy", "Wu", "c@x.com", "1985-03-04", "x", None]]
    source = table(format="xlsx")
    result, accepted, quarantined = convert(lake, _workbook({"Contacts": rows, "Other": [["x"]]}), "c.xlsx", source)
    assert result.error is None and result.rows == 3
    assert [(r["SourceKey"], r["SourceLine"], str(r["BirthDate"]), r["points"], r["vip"]) for r in accepted] == [
        ("101", 1, "1990-01-02", 5, True)]
    assert [(q["Row"], q["Field"], q["Reason"]) for q in quarantined] == [
        (3, None, "expected 7 fields, found 8"), (4, "points", "not an integer: 'x'")]
    second = source.model_copy(update={"excel": source.excel.model_copy(update={"sheet": "Other"})})
    result, _, quarantined = convert(lake, _workbook({"Contacts": rows, "Other": [["x"], ["1"]]}), "d.xlsx", second)
    assert result.error is not None and result.error.startswith("MappingError: mapped column(s) missing"), result.error
    missing = source.model_copy(update={"excel": source.excel.model_copy(update={"sheet": "Kunden"})})
    result, _, quarantined = convert(lake, _workbook({"Contacts": rows}), "e.xlsx", missing)
    assert result.error == "SourceFileError: the workbook has no sheet 'Kunden' (it has: Contacts)"
    titled = source.model_copy(update={"excel": source.excel.model_copy(update={"skip_rows": 2})})
    result, accepted, _ = convert(lake, _workbook({"Report": [["Members, store 12"], [], *rows]}), "t.xlsx", titled)
    assert result.error is None and [(r["SourceKey"], r["SourceLine"]) for r in accepted] == [("101", 1)]
    result, _, _ = convert(lake, b"PK\x03\x04 not a zip", "f.xlsx", source)
    assert result.error is not None and result.error.startswith(
        "SourceFileError: not a readable Excel workbook (.xlsx)"), result.error


def test_a_json_array_document_is_read_element_by_element(lake: LocalLake) -> None:
    """``[{…}, {…}]`` as an API exports records: every line was 'not valid JSON'. Its rows are numbered by
    their place in the array; an element that is no object is rejected, the rest read."""
    records = [{"id": "1", "first": "Ann", "points": 5}, [1, 2], {"id": "3", "first": "Cy"}]
    data = json.dumps(records, indent=2).encode()
    result, rows, quarantined = convert(lake, data, "m.json", table("members"))
    assert result.error is None
    assert [(r["SourceKey"], r["SourceLine"], r["FirstName"], r["points"]) for r in rows] == [
        ("1", 1, "Ann", 5), ("3", 3, "Cy", None)]
    assert [(q["Row"], q["Reason"]) for q in quarantined] == [(2, "a JSON list, not an object")]
    result, rows, _ = convert(lake, b'[{"id": "1", "first": "Ann"}, {"id": }]', "n.json", table("members"))
    assert rows == [] and result.error == "SourceFileError: the JSON array is broken at element 2: Expecting value"


def test_the_records_member_of_an_odata_export_is_read_element_by_element(lake: LocalLake) -> None:
    """Dynamics 365 and Business Central APIs export ``{"@odata.context": …, "value": [{…}, …]}``: with
    ``json.records: value`` its records are the rows; the other members are skipped, whatever they hold."""
    document = {"@odata.context": "https://erp/api/$metadata#customers", "meta": {"pages": [1, 2], "x": "]}"},
                "value": [{"id": "1", "first": "Ann", "points": 5}, {"id": "2", "first": "Bo"}],
                "@odata.nextLink": "https://erp/api/customers?$skip=2"}
    source = load_config_text(CONFIG.replace("    format: jsonl\n", "    format: jsonl\n    json: {records: value}\n",
                                             1)).source("members")
    result, rows, _ = convert(lake, json.dumps(document, indent=1).encode(), "c.json", source)
    assert result.error is None, result.error
    assert [(r["SourceKey"], r["SourceLine"], r["FirstName"], r["points"]) for r in rows] == [
        ("1", 1, "Ann", 5), ("2", 2, "Bo", None)]
    result, rows, _ = convert(lake, json.dumps({"items": []}).encode(), "d.json", source)
    assert rows == [] and result.error == "SourceFileError: the JSON object has no member 'value' (json.records)"
    result, rows, _ = convert(lake, b'[{"id": "1"}]', "e.json", source)
    assert result.error is not None and "not a JSON object, whose member 'value' would hold" in result.error


def test_json_array_elements_do_not_depend_on_where_the_chunks_end() -> None:
    """Read a chunk at a time, an element cut by a chunk's end (a number too: ``12|345``) is read whole."""
    from shared.errors import SourceFileError
    from shared.ingest.readers import json_array_elements

    items = [{"id": str(i), "note": "a ] or , inside" * (i % 4)} if i % 5 else 1234567 for i in range(300)]
    for document in (json.dumps(items), json.dumps(items, indent=2)):
        for chunk in (1, 2, 7, 1 << 20):
            assert [v for _, v, _ in json_array_elements(io.StringIO(document), chunk=chunk)] == items
    for broken, message in [('[{"a": 1}, {"a": 2}', "broken after element 2: it is not closed with ]"),
                            ('[{"a": 1} {"a": 2}]', "broken after element 1: '{' where , or ] belongs"),
                            ("[1, 2,", "broken at element 3: it is not closed with ]")]:
        with pytest.raises(SourceFileError, match=message):
            list(json_array_elements(io.StringIO(broken), chunk=3))
    assert list(json_array_elements(io.StringIO(" [ ] "))) == []
    wrapped = json.dumps({"skip": {"a": [1, "]"]}, "value": items, "after": 1})
    for chunk in (1, 5, 1 << 20):
        assert [v for _, v, _ in json_array_elements(io.StringIO(wrapped), chunk=chunk, member="value")] == items


def test_formula_like_cells_are_quarantined(lake: LocalLake) -> None:
    data = (HEADER + "1,=cmd|' /C calc'!A0,Lee,a@x.com,,1,\n2,Ann,@SUM(A1:A9),b@x.com,,2,\n"
            "3,Bo,Li,+1@x.com,,3,\n").encode()
    _result, rows, quarantined = convert(lake, data)
    assert [r["SourceKey"] for r in rows] == ["3"]
    assert {(q["Row"], q["Field"]) for q in quarantined} == {(1, "first"), (2, "last")}
    assert all("formula" in q["Reason"] for q in quarantined)


def test_a_one_megabyte_cell_is_quarantined(lake: LocalLake) -> None:
    data = (HEADER + f"1,{'x' * 1_000_000},Lee,a@x.com,,1,\n2,Bo,Li,b@x.com,,2,\n").encode()
    _result, rows, quarantined = convert(lake, data)
    assert [r["SourceKey"] for r in rows] == ["2"]
    assert quarantined[0]["Field"] == "first" and "longer than" in quarantined[0]["Reason"]


def test_zero_byte_file_is_quarantined_whole(lake: LocalLake) -> None:
    result, rows, quarantined = convert(lake, b"")
    assert result.error and "empty" in result.error and not rows
    assert quarantined[0]["SourceFile"] == "landing/f.csv" and quarantined[0]["Row"] is None


def test_truncated_parquet_is_quarantined_whole(lake: LocalLake) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": ["1", "2"], "first": ["a", "b"], "points": [1, 2]}), buffer)
    source = table("members", format="parquet")
    result, rows, quarantined = convert(lake, buffer.getvalue()[:-200], "m.parquet", source)
    assert result.error and "Parquet" in result.error and not rows and len(quarantined) == 1


def test_json_lines_that_are_not_objects_are_quarantined(lake: LocalLake) -> None:
    lines = ['{"id": "1", "first": "Ann", "points": 3}', '[1, 2, 3]', '"just text"', '{"id": "2", "first": "Bo",',
             '{"id": "3", "first": {"nested": true}, "points": "7"}']
    _result, rows, quarantined = convert(lake, "\n".join(lines).encode(), "m.jsonl", table("members"))
    assert [r["SourceKey"] for r in rows] == ["1"]
    assert [q["Row"] for q in quarantined] == [2, 3, 4, 5]  # in the file's order
    reasons = {q["Row"]: q["Reason"] for q in quarantined}
    assert "list, not an object" in reasons[2] and "str, not an object" in reasons[3] and "not valid JSON" in reasons[4]


@pytest.mark.parametrize("arrow", [True, False], ids=["arrow", "lines"])
def test_json_lines_that_leave_out_null_fields_are_read_whole(lake: LocalLake, arrow: bool,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Serializers omit empty fields: the first record without ``points`` quarantined the whole file."""
    from shared.ingest import readers

    if not arrow:
        monkeypatch.setattr(readers.JsonLinesReader, "_arrow_reads_it", lambda self: False)
    lines = [{"id": "1", "first": "Ann"}, {"id": "2", "first": "Bo", "points": "3"}, {"id": "3"}]
    result, rows, _ = convert(lake, "\n".join(json.dumps(r) for r in lines).encode(), "m.jsonl", table("members"))
    assert result.error is None, result.error
    assert [(r["SourceKey"], r["FirstName"], r["points"]) for r in rows] == [
        ("1", "Ann", None), ("2", "Bo", 3), ("3", None, None)]
    # a mapped field that no line holds is still a mapping to fix, named for the whole file
    result, rows, quarantined = convert(lake, b'{"id": "1", "first": "Ann"}\n{"id": "2"}\n', "n.jsonl",
                                        table("members"))
    assert not rows and result.error is not None and "missing from the file: points" in result.error
    assert quarantined[0]["Field"] == "points"


def test_a_json_object_or_list_where_a_mapped_value_belongs_is_quarantined_naming_its_field(lake: LocalLake) -> None:
    """Kept as JSON text, ``{"given": "Ann"}`` would become a first name; unmapped nested fields stay as text."""
    lines = ['{"id": "1", "first": {"given": "Ann"}, "points": 3, "tags": ["vip"]}',
             '{"id": "2", "first": "Bo", "points": [4], "extra": {"a": 1}}',
             '{"id": {"n": 3}, "first": ["Cy"], "points": "x"}',
             '{"id": "4", "first": "Di", "points": null, "tags": {"t": 1}}']
    _result, rows, quarantined = convert(lake, "\n".join(lines).encode(), "m.jsonl", table("members"))
    assert [(r["SourceKey"], r["FirstName"]) for r in rows] == [("4", "Di")]
    by_row = {q["Row"]: q for q in quarantined}
    assert by_row[1]["Field"] == "first"
    assert by_row[1]["Reason"] == """a JSON object or list, not a single value: '{"given": "Ann"}'"""
    assert by_row[2]["Field"] == "points" and by_row[2]["Reason"].startswith("a JSON object or list")
    assert by_row[3]["Field"] == "id, first, points"  # the key and the name nested, the points not a number
    assert "points: not an integer: 'x'" in by_row[3]["Reason"]
    assert json.loads(by_row[1]["RawRow"])["first"] == '{"given": "Ann"}'


def test_a_parquet_column_of_structs_or_lists_that_is_mapped_is_named_for_the_whole_file(lake: LocalLake) -> None:
    buffer = io.BytesIO()
    pq.write_table(pa.table({"id": ["1"], "first": pa.array([{"given": "Ann"}]), "points": pa.array([[1, 2]]),
                             "tags": pa.array([["vip"]])}), buffer)
    result, rows, quarantined = convert(lake, buffer.getvalue(), "m.parquet", table("members", format="parquet"))
    assert not rows and result.error is not None
    assert "nested values" in result.error and "first (struct<given: string>)" in result.error
    assert "points (list<element: int64>)" in result.error and "tags" not in result.error
    assert quarantined[0]["Field"] == "first, points"


def test_null_keys_and_wrong_types_are_quarantined_naming_the_field(lake: LocalLake) -> None:
    data = (HEADER + ",Ann,Lee,a@x.com,,1,\n2,Bo,Li,b@x.com,1990-13-45,x2,maybe\n3,Cy,Wu,c@x.com,,3,\n").encode()
    _result, rows, quarantined = convert(lake, data)
    assert [r["SourceKey"] for r in rows] == ["3"]
    by_row = {q["Row"]: q for q in quarantined}
    assert by_row[1]["Field"] == "id" and "primary key" in by_row[1]["Reason"]
    assert by_row[2]["Field"] == "birth, points, vip"  # every field at fault, each named in the reason
    assert by_row[2]["Reason"] == ("birth: not a date: '1990-13-45'; points: not an integer: 'x2'; "
                                   "vip: not a boolean (true/false): 'maybe'")
    assert json.loads(by_row[2]["RawRow"])["points"] == "x2"


def test_schema_drift_extra_and_reordered_columns_are_fine(lake: LocalLake) -> None:
    data = b"vip,points,birth,email,last,first,id,loyalty_tier\ntrue,5,1990-01-02,a@x.com,Lee,Ann,1,gold\n"
    result, rows, _ = convert(lake, data)
    assert result.accepted == 1 and rows[0]["FirstName"] == "Ann" and "loyalty_tier" not in rows[0]


def test_schema_drift_missing_mapped_column_is_a_clear_error_for_the_file(lake: LocalLake) -> None:
    data = b"id,first,last,birth,points,vip\n1,Ann,Lee,,1,\n"
    result, rows, quarantined = convert(lake, data)
    assert result.error and "missing" in result.error and "email" in result.error and not rows
    assert "MappingError" in quarantined[0]["Reason"] and quarantined[0]["Field"] == "email"


def test_headerless_csv_with_configured_column_names(lake: LocalLake) -> None:
    from shared.config.model import CsvOptions

    source = table(csv=CsvOptions(header=False, columns=["id", "first", "last", "email", "birth", "points", "vip"]))
    _result, rows, _ = convert(lake, b"1,Ann,Lee,a@x.com,,1,\n2,Bo,Li,b@x.com,,2,\n", source=source)
    assert [r["SourceKey"] for r in rows] == ["1", "2"] and rows[1]["SourceLine"] == 2


MANY = b"".join(b'{"id": "%d", "first": "N\\u00e9%d"}\n' % (i, i) for i in range(40))  # many 64-byte blocks
JSON_LINES = {  # file → how it is read: Arrow when it reads the file as the line loop does, else the loop
    "strings and nulls": (b'{"id": "1", "first": "x\\u00e9\\n"}\n{"id": "2", "first": null}\n{}\n'
                          b'{"first": "z", "id": ""}\n', "arrow"),
    "a field first seen in the first block": (b'{"id": "1"}\n{"id": "2", "extra": "new"}\n', "arrow"),
    "CRLF, no final newline": (b'{"id": "1"}\r\n{"id": "2"}', "arrow"),
    "many blocks": (MANY, "arrow"),
    "a field first seen in a later block": (MANY + b'{"id": "x", "extra": "late"}\n' + MANY, "lines"),
    "a null field first seen in a later block": (MANY + b'{"id": "x", "extra": null}\n', "lines"),
    "a number in a later block": (MANY + b'{"id": 5}\n', "lines"),
    "a boolean": (b'{"id": "1", "vip": true}\n', "lines"),
    "a nested value": (b'{"id": "1", "first": {"k": [1, 2]}}\n', "lines"),
    "a blank line": (b'{"id": "1"}\n\n  \n{"id": "2"}\n', "lines"),
    "a broken line in a later block": (MANY + b'{"id": \n' + MANY, "lines"),
    "a line that is not an object": (b'{"id": "1"}\n[1]\n', "lines"),
    "a repeated key": (b'{"id": "1", "id": "2"}\n', "lines"),
    "a byte-order mark": (b'\xef\xbb\xbf{"id": "1"}\n', "lines"),
}


@pytest.mark.parametrize("name", list(JSON_LINES))
def test_json_lines_read_by_arrow_give_what_the_line_loop_gives(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Columns, values, row numbers and rejections are the line loop's, whichever reads the file."""
    from shared.ingest import readers

    monkeypatch.setattr(readers, "ARROW_JSON_BLOCK_BYTES", 64)  # a few lines per block
    data, engine = JSON_LINES[name]

    def read(arrow: bool) -> tuple[str | None, list[str], list[dict], list[int], list[tuple]]:
        reader = readers.JsonLinesReader(io.BytesIO(data), batch_rows=3, arrow=arrow)
        batches = list(reader.batches())
        return (reader.engine, reader.columns, [r for b in batches for r in b.table.to_pylist()],
                [int(n) for b in batches for n in b.rows], [(r.row, r.reason) for r in reader.rejected])

    fast, loop = read(True), read(False)
    assert fast[0] == engine and loop[0] == "lines"
    assert fast[1:] == loop[1:]


@pytest.mark.parametrize("data", [b"\n", b"\n  \n"], ids=["a newline", "blank lines"])
def test_json_lines_without_a_record_is_an_empty_extract_not_a_bad_file(lake: LocalLake, data: bytes) -> None:
    """A day with nothing to export: the demo's one-customer sources wrote such files, quarantined whole
    for 'mapped columns missing (the file has: )'. A CSV header without rows was always fine."""
    result, rows, quarantined = convert(lake, data, "m.jsonl", table("members"))
    assert result.error is None and (result.rows, result.accepted) == (0, 0) and not rows and not quarantined
    assert read_parquet(lake, "out/e.parquet").schema.names[:1] == ["SourceKey"]  # an empty, typed extract


def test_gzip_compressed_extracts_are_read_as_their_text(lake: LocalLake) -> None:
    csv_data = (HEADER + "1,Ann,Lee,a@x.com,1990-01-02,5,true\n2,Bo,Li,b@x.com,x,6,\n").encode()
    result, rows, quarantined = convert(lake, gzip.compress(csv_data), "f.csv.gz")
    assert (result.accepted, [r["FirstName"] for r in rows]) == (1, ["Ann"])
    assert [(q["Row"], q["Field"]) for q in quarantined] == [(2, "birth")]
    lines = "\n".join(json.dumps({"id": str(i), "first": f"N{i}", "points": i}) for i in range(3))
    result, rows, _ = convert(lake, gzip.compress(lines.encode()), "m.jsonl.gz", table("members"))
    assert [r["FirstName"] for r in rows] == ["N0", "N1", "N2"] and result.quarantined == 0


@pytest.mark.parametrize("damage", ["truncated", "not gzip"])
def test_a_damaged_gzip_extract_is_quarantined_whole_saying_so(lake: LocalLake, damage: str) -> None:
    data = (HEADER + "".join(f"{i},Ann,Lee,a@x.com,,{i},\n" for i in range(5000))).encode()
    packed = gzip.compress(data)[:-400] if damage == "truncated" else data
    result, rows, quarantined = convert(lake, packed, "f.csv.gz")
    assert not rows and result.error is not None and "gzip" in result.error, result.error
    assert len(quarantined) == 1 and quarantined[0]["Row"] is None


DAY_FIRST = """
version: 1
sources:
  - name: members
    data_source: POS
    table: Members
    landing: pos/members
    format: csv
    primary_key: id
    recency: changed
    columns:
      id: {data_type: string}
      birth: {type: Person.BirthDate, format: "%d/%m/%Y"}
      changed: {type: Measurement.Date.Modify, format: "%d/%m/%Y %H:%M"}
      seen: {data_type: dateTime, format: "%d.%m.%Y %H:%M%z"}
unification:
  match_order: [members]
"""


def test_a_date_format_reads_day_first_dates_and_quarantines_other_forms(lake: LocalLake) -> None:
    """Without ``format`` 03/04/1980 is read month first (4 March): a UK export's birth dates were wrong."""
    from datetime import UTC, date, datetime

    source = load_config_text(DAY_FIRST).source("members")
    data = ("id,birth,changed,seen\n"
            "1,03/04/1980,30/11/2026 10:05,30.11.2026 10:00+0200\n"
            "2,30/11/1979,01/12/2026 00:00,\n"
            "3,1980-04-03,30/11/2026 10:05,\n"        # ISO, not the configured form
            "4,31/02/1980,30/11/2026 10:05,\n"        # no such day
            "5,,13/30/2026 10:05,30.11.2026 10:00\n")  # month 30; no offset where %z wants one
    result, rows, quarantined = convert(lake, data.encode(), source=source)
    assert [(r["SourceKey"], r["BirthDate"]) for r in rows] == [("1", date(1980, 4, 3)), ("2", date(1979, 11, 30))]
    assert rows[0]["RecordModified"] == datetime(2026, 11, 30, 10, 5, tzinfo=UTC)
    assert rows[0]["seen"] == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)  # the offset converted to UTC
    by_row = {q["Row"]: q for q in quarantined}
    assert by_row[3]["Reason"] == "not a date in the form %d/%m/%Y: '1980-04-03'"
    assert by_row[4]["Field"] == "birth"
    assert by_row[5]["Field"] == "changed, seen"
    assert "changed: not a date/time in the form %d/%m/%Y %H:%M: '13/30/2026 10:05'" in by_row[5]["Reason"]
    assert result.accepted == 2 and result.quarantined == 3


def test_composite_keys_whose_parts_hold_the_separator_stay_distinct(lake: LocalLake) -> None:
    """``A|1`` + ``2`` and ``A`` + ``1|2`` were both ``A|1|2``: one record of the two dropped as a repeat."""
    source = table(primary_key=["id", "first"])
    data = (HEADER + "A|1,2,Lee,,,1,\nA,1|2,Li,,,2,\nx\\,y,Wu,,,3,\nx,\\y,Yu,,,4,\np,q,Xu,,,5,\n").encode()
    result, rows, _ = convert(lake, data, source=source)
    keys = [r["SourceKey"] for r in rows]
    assert result.accepted == 5 and len(set(keys)) == 5, keys
    assert keys[0] == "A\\|1|2" and keys[-1] == "p|q"  # plain parts read as before


NESTED = """
version: 1
sources:
  - name: accounts
    data_source: Shop
    table: Accounts
    landing: shop/accounts
    format: jsonl
    primary_key: id
    columns:
      id: {data_type: string}
      email: Identity.Service.Email
      default_address.city: Location.City
      default_address.geo.zip: Location.PostalCode
      stats.orders: {data_type: int64}
unification:
  match_order: [accounts]
"""


def test_fields_of_nested_objects_and_structs_are_mapped_by_their_dotted_path(lake: LocalLake) -> None:
    """A shop's JSON export nests the address; the same records as Parquet structs read alike."""
    source = load_config_text(NESTED).source("accounts")
    records = [
        {"id": "1", "email": "a@x.com", "default_address": {"city": "Leeds", "geo": {"zip": "LS1"}},
         "stats": {"orders": 3}, "tags": ["vip"]},
        {"id": "2", "email": "b@x.com", "default_address": None, "stats": {"orders": None}},
        {"id": "3", "email": "c@x.com", "default_address": {"city": "York"}, "stats": {"orders": "many"}},
    ]
    lines = "\n".join(json.dumps(r) for r in records).encode()
    _result, rows, quarantined = convert(lake, lines, "a.jsonl", source)
    assert [(r["SourceKey"], r["City"], r["PostalCode"], r["stats_orders"]) for r in rows] == [
        ("1", "Leeds", "LS1", 3), ("2", None, None, None)]
    assert [(q["Row"], q["Field"], q["Reason"]) for q in quarantined] == [
        (3, "stats.orders", "not an integer: 'many'")]
    assert json.loads(quarantined[0]["RawRow"])["default_address.city"] == "York"

    buffer = io.BytesIO()
    records[2]["stats"]["orders"] = 7
    for record in records:
        record.pop("tags", None)
    pq.write_table(pa.Table.from_pylist(records), buffer)
    as_parquet = source.model_copy(update={"format": "parquet"})
    result, parquet_rows, _ = convert(lake, buffer.getvalue(), "a.parquet", as_parquet)
    assert [(r["City"], r["PostalCode"], r["stats_orders"]) for r in parquet_rows] == [
        ("Leeds", "LS1", 3), (None, None, None), ("York", None, 7)]
    assert result.quarantined == 0
