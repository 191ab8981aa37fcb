"""Streaming readers for CSV, Parquet, JSON Lines and Excel worksheets: batches of raw columns, never a
whole file in memory.

Each reader yields ``RawBatch`` objects (raw column arrays plus the 1-based row number of every row in
the file) and collects ``Rejected`` rows it could not parse (ragged CSV rows, JSON lines that are not
objects) with the raw text and a reason.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from shared.config.model import CsvOptions, ExcelOptions, JsonOptions
from shared.errors import SourceFileError

BLOCK_BYTES = 4 << 20  # memory per batch is ~30x this (intermediate columns); 4 MB keeps a worker small
SAMPLE_BYTES = 1 << 16
JSON_BATCH_ROWS = 50_000
ARROW_JSON_BLOCK_BYTES = 16 << 20  # about 50 k lines of a customer extract, as JSON_BATCH_ROWS
DELIMITERS = [",", ";", "\t", "|"]
_LINE_END = re.compile(r"\r\n|\n|\r")
_SEP_HINT = re.compile(r'^"?sep=(.)"?\r?\n', re.IGNORECASE)


@dataclass
class Rejected:
    """A row that could not be read or converted: where, which field, why, and the raw content."""

    row: int | None
    reason: str
    raw: str
    field: str | None = None


@dataclass
class RawBatch:
    table: pa.Table
    rows: np.ndarray  # int64 row numbers (1-based, data rows; the header is not counted)
    # per column, the rows whose value was a JSON object or list (JSON Lines; kept as JSON text): such a
    # value is no single value of a mapped attribute, so conversion rejects it there
    nested: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass
class Reader:
    """Base: ``columns`` are known after construction; ``rejected`` fills while iterating. ``nested``: columns
    whose type holds no single value per row (a Parquet struct, list or map), with their type. ``repeated``:
    header names the file holds more than once, with their 1-based positions (the copies are read as
    ``name_2``, …)."""

    columns: list[str] = field(default_factory=list)
    nested: dict[str, str] = field(default_factory=dict)
    repeated: dict[str, list[int]] = field(default_factory=dict)
    rejected: list[Rejected] = field(default_factory=list)
    encoding: str | None = None
    delimiter: str | None = None

    def batches(self) -> Iterator[RawBatch]:
        raise NotImplementedError


def detect_encoding(sample: bytes) -> str:
    """BOM first; UTF-16 by its zero bytes; then UTF-8 if the sample decodes; else Windows-1252 (a superset of
    Latin-1's printables)."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # UTF-16 without a BOM (some exports): text whose every other byte is zero, which UTF-8 would accept
    pairs = len(sample) // 2
    if pairs >= 4:
        even, odd = sample[0:pairs * 2:2].count(0), sample[1:pairs * 2:2].count(0)
        if odd >= 0.3 * pairs and even <= 0.05 * pairs:
            return "utf-16-le"
        if even >= 0.3 * pairs and odd <= 0.05 * pairs:
            return "utf-16-be"
    try:
        sample.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a multi-byte character cut by the sample boundary
            return "utf-8"
        return "cp1252"


def detect_delimiter(text: str) -> str:
    """The candidate delimiter that splits the first lines most consistently (ties: the most frequent)."""
    lines = [line for line in text.splitlines()[:20] if line.strip()]
    if not lines:
        return ","
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters="".join(DELIMITERS)).delimiter
    except csv.Error:
        counts = {d: lines[0].count(d) for d in DELIMITERS}
        return max(counts, key=lambda d: counts[d])


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        name = name.strip() or "column"
        count = seen.get(name, 0)
        seen[name] = count + 1
        out.append(name if count == 0 else f"{name}_{count + 1}")
    return out


def _repeated(names: list[str]) -> dict[str, list[int]]:
    """The names that occur more than once, with their 1-based positions."""
    positions: dict[str, list[int]] = {}
    for position, name in enumerate(names, start=1):
        positions.setdefault(name, []).append(position)
    return {name: found for name, found in positions.items() if len(found) > 1}


def _header(names: list[str]) -> tuple[list[str], dict[str, list[int]]]:
    """A header's column names (a blank one ``column``, repeats numbered ``name_2``, …) and the names it
    holds more than once, with their positions."""
    cleaned = [name.strip() or "column" for name in names]
    return _unique(cleaned), _repeated(cleaned)


def decode_column(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """Binary → UTF-8 string; values that are not valid UTF-8 are decoded as Windows-1252 instead."""
    column = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
    try:
        return pc.cast(column, pa.string())
    except pa.ArrowInvalid:
        values = [None if v is None else _decode_value(v) for v in column.to_pylist()]
        return pa.array(values, pa.string())


def _decode_value(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", errors="replace")


class CsvReader(Reader):
    def __init__(self, handle: IO[bytes], options: CsvOptions) -> None:
        super().__init__()
        sample = handle.read(SAMPLE_BYTES)
        handle.seek(0)
        if not sample:
            raise SourceFileError("the file is empty (0 bytes)")
        self.encoding = options.encoding or detect_encoding(sample)
        text = sample.decode(self.encoding, errors="replace").lstrip("\ufeff")
        self._skip = options.skip_lines  # a report's title lines before the header
        for _ in range(self._skip):
            end = _LINE_END.search(text)
            if end is None:
                raise SourceFileError(f"the file has no line after the {self._skip} to skip (csv.skip_lines)")
            text = text[end.end():]
        # Excel writes ``sep=;`` as a first line naming the delimiter (European exports): a hint, not data
        hint = _SEP_HINT.match(text)
        self._hint_lines = 1 if hint else 0
        if hint:
            text = text[hint.end():]
        self.delimiter = options.delimiter or (hint.group(1) if hint else detect_delimiter(text))
        if options.header:
            try:  # newline="": the csv module ends lines at \r\n, \n or a lone \r (old Mac exports), as Arrow does
                first = next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter,
                                        quotechar=options.quote), None)
            except csv.Error as exc:  # text that is not what the encoding says
                raise SourceFileError(f"unreadable CSV header (is the encoding right?): {exc}") from exc
            if not first:
                raise SourceFileError("the header row is empty")
            self.columns, self.repeated = _header(first)
        elif options.columns:
            self.columns = list(options.columns)
        else:
            width = len(next(csv.reader(io.StringIO(text, newline=""), delimiter=self.delimiter), []))
            self.columns = [f"column{i + 1}" for i in range(width)]
        self._handle = handle
        self._options = options

    def batches(self) -> Iterator[RawBatch]:
        header = 1 if self._options.header else 0
        skipped: list[int] = []

        def on_invalid(row: Any) -> str:
            number = row.number - header - self._hint_lines - self._skip if row.number is not None else None
            if number is not None:
                skipped.append(number)
            reason = f"expected {row.expected_columns} fields, found {row.actual_columns}"
            quote = self._options.quote
            if quote and row.text.count(quote) % 2 and "\n" in row.text:  # a quote opened and never closed
                reason += (f" (a {quote} opened in this row is never closed: the row runs on over "
                           f"{row.text.count(chr(10)) + 1} lines)")
            self.rejected.append(Rejected(number, reason, row.text))
            return "skip"

        utf8 = self.encoding in ("utf-8", "utf8")
        read_options = pacsv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False, column_names=self.columns,
                                         skip_rows=self._skip + self._hint_lines + header,
                                         encoding="utf8" if utf8 else self.encoding)
        parse_options = pacsv.ParseOptions(delimiter=self.delimiter, quote_char=self._options.quote,
                                           newlines_in_values=True, invalid_row_handler=on_invalid)
        convert_options = pacsv.ConvertOptions(column_types={c: pa.binary() if utf8 else pa.string()
                                                             for c in self.columns},
                                               strings_can_be_null=False, quoted_strings_can_be_null=False)
        try:
            stream = pacsv.open_csv(self._handle, read_options, parse_options, convert_options)
            next_row = 1
            for batch in stream:
                rows, next_row = _row_numbers(batch.num_rows, next_row, skipped)
                table = pa.Table.from_batches([batch])
                if utf8:
                    table = pa.table({c: decode_column(table.column(c)) for c in self.columns})
                yield RawBatch(table, rows)
        except (pa.ArrowInvalid, UnicodeDecodeError) as exc:
            raise SourceFileError(f"unreadable CSV: {exc}") from exc


def _row_numbers(count: int, start: int, skipped: list[int]) -> tuple[np.ndarray, int]:
    """The row numbers of ``count`` accepted rows from ``start`` on, stepping over skipped rows."""
    skip = np.asarray(sorted(s for s in skipped if s >= start), dtype=np.int64)
    candidates = np.arange(start, start + count + len(skip), dtype=np.int64)
    rows = candidates[~np.isin(candidates, skip)][:count]
    return rows, (int(rows[-1]) + 1 if len(rows) else start)


def _with_struct_fields(fields: list[pa.Field], prefix: str = "") -> list[tuple[str, pa.Field]]:
    """Every column by name, a struct's fields after it as ``parent.child`` (recursively), as JSON Lines
    objects are read: an address struct's ``address.city`` can be mapped."""
    out: list[tuple[str, pa.Field]] = []
    for item in fields:
        name = f"{prefix}{item.name}"
        out.append((name, item))
        if pa.types.is_struct(item.type):
            out += _with_struct_fields(list(item.type), f"{name}.")
    return out


def _add_struct_fields(table: pa.Table) -> pa.Table:
    """The batch with its struct columns' fields appended as ``parent.child`` columns."""
    def children(name: str, column: pa.ChunkedArray) -> Iterator[tuple[str, pa.ChunkedArray]]:
        for index, child in enumerate(column.type):
            values = pa.chunked_array([pc.struct_field(chunk, [index]) for chunk in column.chunks], child.type)
            yield f"{name}.{child.name}", values
            if pa.types.is_struct(child.type):
                yield from children(f"{name}.{child.name}", values)

    for name in [n for n, c in zip(table.column_names, table.columns, strict=True) if pa.types.is_struct(c.type)]:
        for child_name, values in children(name, table.column(name)):
            if child_name not in table.column_names:
                table = table.append_column(child_name, values)
    return table


class ParquetReader(Reader):
    def __init__(self, handle: IO[bytes], batch_rows: int = 100_000) -> None:
        super().__init__()
        try:
            self._file = pq.ParquetFile(handle)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFileError(f"not a readable Parquet file: {exc}") from exc
        fields = _with_struct_fields(list(self._file.schema_arrow))
        self.columns = [name for name, _ in fields]
        self.repeated = _repeated(self.columns)
        self.nested = {name: str(f.type) for name, f in fields if pa.types.is_nested(f.type)}
        self._batch_rows = batch_rows

    def batches(self) -> Iterator[RawBatch]:
        start = 1
        try:
            for batch in self._file.iter_batches(batch_size=self._batch_rows):
                table = pa.Table.from_batches([batch])
                yield RawBatch(_add_struct_fields(table), np.arange(start, start + batch.num_rows))
                start += batch.num_rows
        except (pa.ArrowInvalid, OSError) as exc:
            raise SourceFileError(f"Parquet file is damaged after row {start - 1}: {exc}") from exc


def _with_object_fields(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """The record's fields, each object's fields after it as ``parent.child`` (recursively; a list stays
    whole). The object itself stays, as JSON text: mapped, it is no single value."""
    out: dict[str, Any] = {}
    for key, value in record.items():
        out.setdefault(f"{prefix}{key}", value)
        if isinstance(value, dict):
            for child, inner in _with_object_fields(value, f"{prefix}{key}.").items():
                out.setdefault(child, inner)
    return out


class JsonLinesReader(Reader):
    """One JSON object per line; nested values are kept as JSON text (``RawBatch.nested`` marks them: in a
    mapped column conversion rejects them, naming the field), and an object's fields are columns of their own
    too, ``address.city`` (so they can be mapped).

    A file whose values are all strings or null, in UTF-8 without blank lines (the usual extract), is read
    by Arrow's JSON reader, in C++: a first pass checks that it reads the file as the line loop would, a
    second yields its batches (500 k lines: 2.0–2.4 s instead of 7.8–9.7 s). Any other file (numbers, booleans,
    nested values, a broken line, a field first seen late) goes through the line loop, which keeps every
    value's text and rejects what it cannot read, line by line. Either way one batch at a time. A file that
    opens with ``[`` is a JSON array document instead: its elements are the rows (``json_array_elements``)."""

    def __init__(self, handle: IO[bytes], batch_rows: int = JSON_BATCH_ROWS, arrow: bool = True,
                 records: str | None = None) -> None:
        super().__init__()
        sample = handle.read(SAMPLE_BYTES)
        handle.seek(0)
        if not sample:
            raise SourceFileError("the file is empty (0 bytes)")
        self.encoding = detect_encoding(sample)
        self._handle = handle
        self._batch_rows = batch_rows
        first = next((line for line in io.BytesIO(sample).read().splitlines() if line.strip()), b"{}")
        try:
            obj = json.loads(first.decode(self.encoding, errors="replace").lstrip("\ufeff"))
            self.columns = list(_with_object_fields(obj)) if isinstance(obj, dict) else []
        except json.JSONDecodeError:
            self.columns = []
        # a JSON array document ([{…}, {…}], as APIs export records) instead of one object per line, or the
        # array one member of the document's object holds ({"value": [{…}, …]}, an OData export)
        self._records = records
        self._array = records is not None or sample.removeprefix(codecs.BOM_UTF8).lstrip().startswith(b"[")
        if records is not None:
            self.columns = []
        self._arrow = arrow and self.encoding == "utf-8" and not sample.startswith(codecs.BOM_UTF8) \
            and not self._array
        self.engine: str | None = None  # how ``batches`` read the file: "arrow", "lines" or "array"

    def batches(self) -> Iterator[RawBatch]:
        if self._array:
            self.engine = "array"
            yield from self._array_batches()
            return
        self.engine = "arrow" if self._arrow and self._arrow_reads_it() else "lines"
        yield from self._arrow_batches() if self.engine == "arrow" else self._line_batches()

    def _array_batches(self) -> Iterator[RawBatch]:
        """The elements of a JSON array document as rows, numbered by their place in the array."""
        self._handle.seek(0)
        text = io.TextIOWrapper(self._handle, encoding=self.encoding, errors="replace")
        elements = json_array_elements(text, member=self._records)
        yield from self._record_batches((number, value, raw[:2000]) for number, value, raw in elements)
        text.detach()

    def _record_batches(self, values: Iterator[tuple[int, Any, str]]) -> Iterator[RawBatch]:
        """Batches of the JSON objects among ``values`` ((row number, value, its text)); any other value is
        rejected. Fields seen for the first time become columns."""
        records: list[dict[str, Any]] = []
        rows: list[int] = []
        for number, value, raw in values:
            if not isinstance(value, dict):
                self.rejected.append(Rejected(number, f"a JSON {type(value).__name__}, not an object", raw))
                continue
            value = _with_object_fields(value)
            for key in value:
                if key not in self.columns:
                    self.columns.append(key)
            records.append(value)
            rows.append(number)
            if len(records) >= self._batch_rows:
                yield self._batch(records, rows)
                records, rows = [], []
        if records:
            yield self._batch(records, rows)

    def _open_arrow(self) -> pajson.JSONStreamingReader:
        self._handle.seek(0)
        schema = pa.schema([(c, pa.string()) for c in self.columns])
        # one thread, as the CSV reader: a reader that failed mid-file left a thread that aborted the process
        options = pajson.ReadOptions(block_size=ARROW_JSON_BLOCK_BYTES, use_threads=False)
        return pajson.open_json(self._handle, read_options=options,
                                parse_options=pajson.ParseOptions(explicit_schema=schema,
                                                                  unexpected_field_behavior="infer"))

    def _arrow_reads_it(self) -> bool:
        """Whether Arrow reads the file as the line loop would: one row per line (no blank line), every
        value a string or null, every field seen in the first block. Reads the file twice, a block at a time."""
        lines = 0
        self._handle.seek(0)
        for line in self._handle:
            if not line.strip():
                return False
            lines += 1
        rows, reader = 0, None
        try:  # the reader closed on every way out, as soon as the answer is known
            reader = self._open_arrow()
            if not all(pa.types.is_string(f.type) or pa.types.is_null(f.type) for f in reader.schema):
                return False
            for batch in reader:
                rows += batch.num_rows
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
            return False
        finally:
            if reader is not None:
                reader.close()
        return rows == lines and bool(self.columns)

    def _arrow_batches(self) -> Iterator[RawBatch]:
        reader = self._open_arrow()
        try:
            self.columns = list(reader.schema.names)
            strings = pa.schema([(c, pa.string()) for c in self.columns])
            start = 1
            for batch in reader:
                table = pa.Table.from_batches([batch]).cast(strings)
                yield RawBatch(table, np.arange(start, start + table.num_rows, dtype=np.int64))
                start += table.num_rows
        finally:
            reader.close()

    def _line_batches(self) -> Iterator[RawBatch]:
        self._handle.seek(0)
        text = io.TextIOWrapper(self._handle, encoding=self.encoding, errors="replace", newline="\n")

        def parsed() -> Iterator[tuple[int, Any, str]]:
            for number, line in enumerate(text, start=1):
                line = line.strip().lstrip("\ufeff")
                if not line:
                    continue
                try:
                    yield number, json.loads(line), line
                except json.JSONDecodeError as exc:
                    self.rejected.append(Rejected(number, f"not valid JSON: {exc.msg}", line))

        yield from self._record_batches(parsed())
        text.detach()

    def _batch(self, records: list[dict[str, Any]], rows: list[int]) -> RawBatch:
        def as_text(value: Any) -> str | None:
            if value is None:
                return None
            if isinstance(value, (dict, list)):
                return json.dumps(value, ensure_ascii=False)
            if isinstance(value, bool):
                return "true" if value else "false"
            return str(value)

        columns = {c: pa.array([as_text(r.get(c)) for r in records], pa.string()) for c in self.columns}
        nested = {c: mask for c in self.columns
                  if (mask := np.fromiter((isinstance(r.get(c), (dict, list)) for r in records), bool,
                                          len(records))).any()}
        return RawBatch(pa.table(columns), np.asarray(rows, dtype=np.int64), nested)


def json_array_elements(text: IO[str], chunk: int = 1 << 20, largest: int = 64 << 20,
                        member: str | None = None) -> Iterator[tuple[int, Any, str]]:
    """(1-based place, value, its JSON text) for each element of the JSON array document ``text`` — or, with
    ``member``, of the array that member of the document's top-level object holds (an OData export's
    ``value``) — read a chunk at a time: memory holds one element and a chunk, not the document. A broken
    document raises ``SourceFileError`` naming the element (after the elements before it were yielded)."""
    decoder = json.JSONDecoder()
    buffer, position, ended = "", 0, False

    def fill() -> bool:  # the next chunk after what is still unread; False at the end of the text
        nonlocal buffer, position, ended
        more = text.read(chunk)
        if not more:
            ended = True
            return False
        buffer, position = buffer[position:] + more, 0
        return True

    def blank_skipped() -> str | None:  # the next character that is no blank, None at the end
        nonlocal position
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n\ufeff":
                position += 1
            if position < len(buffer):
                return buffer[position]
            if not fill():
                return None

    def whole(what: str) -> tuple[Any, int]:  # the value at ``position``, reading on while it runs to the end
        while True:
            try:
                value, end = decoder.raw_decode(buffer, position)
                if end < len(buffer) or ended:
                    return value, end
            except json.JSONDecodeError as exc:
                if ended or len(buffer) - position > largest:
                    raise SourceFileError(f"the JSON {what}: {exc.msg}") from exc
            fill()

    if member is not None:  # to the value of the member that holds the records
        if blank_skipped() != "{":
            raise SourceFileError(f"not a JSON object, whose member {member!r} would hold the records (json.records)")
        position += 1
        while True:
            if blank_skipped() in ("}", None):
                raise SourceFileError(f"the JSON object has no member {member!r} (json.records)")
            key, position = whole("object is broken at a member's name")
            if blank_skipped() != ":":
                raise SourceFileError(f"the JSON object is broken after the member name {key!r}")
            position += 1
            if blank_skipped() is None:
                raise SourceFileError(f"the JSON object is broken after the member name {key!r}")
            if key == member:
                break
            _, position = whole(f"object is broken in member {key!r}")
            after = blank_skipped()
            if after == "}" or after is None:
                raise SourceFileError(f"the JSON object has no member {member!r} (json.records)")
            if after != ",":
                raise SourceFileError(f"the JSON object is broken after member {key!r}")
            position += 1
    if blank_skipped() != "[":
        raise SourceFileError("not a JSON array" + (f" in member {member!r}" if member is not None else ""))
    position += 1
    if blank_skipped() == "]":
        return
    number = 0
    while True:
        number += 1
        if blank_skipped() is None:
            raise SourceFileError(f"the JSON array is broken at element {number}: it is not closed with ]")
        value, end = whole(f"array is broken at element {number}")
        yield number, value, buffer[position:end]
        position = end
        after = blank_skipped()
        if after == "]":
            return
        if after != ",":
            raise SourceFileError(f"the JSON array is broken after element {number}: "
                                  + ("it is not closed with ]" if after is None else f"{after!r} where , or ] belongs"))
        position += 1


def _cell_text(value: Any) -> str | None:
    """A worksheet cell as the text a CSV export would hold: dates in ISO form (a midnight date/time as
    its date), whole numbers without ``.0``, booleans as true/false."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2 ** 53:
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.date().isoformat() if value.time() == datetime.time() and value.tzinfo is None \
            else value.isoformat()
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


class ExcelReader(Reader):
    """One worksheet of an Excel workbook (``.xlsx``), streamed row by row (openpyxl's read-only mode), the
    cells' cached values rather than their formulas. The first row is the header; rows with no value at all
    (the formatted empty rows below a table) are skipped; row numbers are the data rows' (the sheet's row
    less the header), as a CSV's."""

    def __init__(self, handle: IO[bytes], options: ExcelOptions, batch_rows: int = JSON_BATCH_ROWS) -> None:
        super().__init__()
        import zipfile

        import openpyxl

        try:
            self._book = openpyxl.load_workbook(handle, read_only=True, data_only=True)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise SourceFileError(f"not a readable Excel workbook (.xlsx): {exc}") from exc
        names = self._book.sheetnames
        if options.sheet is not None and options.sheet not in names:
            self._book.close()
            raise SourceFileError(f"the workbook has no sheet {options.sheet!r} (it has: {', '.join(names)})")
        sheet = self._book[options.sheet] if options.sheet is not None else self._book.worksheets[0]
        sheet.reset_dimensions()  # a workbook's recorded size may be wrong (some writers): read to the last row
        self._rows = sheet.iter_rows(values_only=True, min_row=options.skip_rows + 1)
        first = next(self._rows, None)
        header = [_cell_text(v) for v in first or ()]
        while header and header[-1] is None:  # the empty cells right of the header
            header.pop()
        if not header:
            self._book.close()
            raise SourceFileError("the header row is empty")
        self.columns, self.repeated = _header([name or "" for name in header])
        self._batch_rows = batch_rows

    def batches(self) -> Iterator[RawBatch]:
        width = len(self.columns)
        values: list[list[str | None]] = [[] for _ in range(width)]
        rows: list[int] = []
        try:
            for number, row in enumerate(self._rows, start=1):
                cells = [_cell_text(v) for v in row]
                if all(c is None for c in cells):
                    continue
                if any(c is not None for c in cells[width:]):
                    found = max(i for i, c in enumerate(cells) if c is not None) + 1
                    self.rejected.append(Rejected(number, f"expected {width} fields, found {found}",
                                                  json.dumps(cells, ensure_ascii=False)))
                    continue
                cells += [None] * (width - len(cells))
                for column, cell in zip(values, cells, strict=False):
                    column.append(cell)
                rows.append(number)
                if len(rows) == self._batch_rows:
                    yield self._batch(values, rows)
                    values, rows = [[] for _ in range(width)], []
            if rows:
                yield self._batch(values, rows)
        finally:
            self._book.close()

    def _batch(self, values: list[list[str | None]], rows: list[int]) -> RawBatch:
        table = pa.table({c: pa.array(v, pa.string()) for c, v in zip(self.columns, values, strict=True)})
        return RawBatch(table, np.asarray(rows, dtype=np.int64))


def open_reader(handle: IO[bytes], file_format: str, csv_options: CsvOptions,
                excel_options: ExcelOptions | None = None, json_options: JsonOptions | None = None) -> Reader:
    if file_format == "csv":
        return CsvReader(handle, csv_options)
    if file_format == "xlsx":
        return ExcelReader(handle, excel_options or ExcelOptions())
    if file_format == "parquet":
        return ParquetReader(handle)
    if file_format == "jsonl":
        return JsonLinesReader(handle, records=json_options.records if json_options else None)
    raise SourceFileError(f"unsupported format {file_format!r}")
