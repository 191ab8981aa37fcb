"""Convert one landed file to its CDM entity (Parquet), streaming, with a row-level quarantine.

Nothing is lost: every input row is either written to the entity or to the quarantine (with file, row,
field, reason and the raw content); an unreadable file is quarantined whole. ``rows = accepted +
quarantined`` for every file (repeated keys are resolved when the table snapshot is built).
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import IO, cast

import pyarrow as pa

from shared.config.model import TableBase
from shared.errors import LakeNotFound, MappingError, SourceFileError, is_transient
from shared.ingest.cdm_source import read_cdm_entity
from shared.ingest.coerce import coerce_batch, entity_schema
from shared.ingest.landing import GZIP_SUFFIX
from shared.ingest.readers import Reader, Rejected, open_reader
from shared.lakeio import parquet_sink, write_parquet
from shared.ports import Lake

log = logging.getLogger(__name__)

QUARANTINE_SCHEMA = pa.schema([("SourceFile", pa.string()), ("Row", pa.int64()), ("Field", pa.string()),
                               ("Reason", pa.string()), ("RawRow", pa.string())])


@dataclass(frozen=True)
class Conversion:
    rows: int
    accepted: int
    quarantined: int
    error: str | None
    columns: tuple[str, ...] = ()  # the file's columns, as its reader named them (none for a CDM folder)


def wanted_columns(table: TableBase) -> set[str]:
    """The source columns conversion reads: the mapped ones, the key and the recency column."""
    return set(table.columns) | set(table.key_columns()) | ({table.recency} if table.recency else set())


def _check_mapping(reader: Reader, table: TableBase, optional: frozenset[str] = frozenset()) -> list[str]:
    """Raise naming the mapped columns the file lacks or names twice; returns the ``optional``
    ones it lacks."""
    wanted = wanted_columns(table)
    missing = sorted(wanted - set(reader.columns) - optional)
    repeated = sorted(wanted & set(reader.repeated))
    problems = []
    if missing:
        problems.append(f"mapped column(s) missing from the file: {', '.join(missing)} "
                        f"(the file has: {', '.join(reader.columns[:30])})")
    if repeated:
        problems.append("mapped column(s) are named more than once in the file, so which to read is unclear: "
                        + ", ".join(f"{c} (columns {', '.join(map(str, reader.repeated[c]))})" for c in repeated))
    if problems:
        raise MappingError("; ".join(problems), tuple(missing + repeated))
    nested = sorted(wanted & set(reader.nested))
    if nested:
        raise MappingError("mapped column(s) of nested values, not one value per row: "
                           + ", ".join(f"{c} ({reader.nested[c]})" for c in nested), tuple(nested))
    return sorted((wanted & optional) - set(reader.columns))


@contextmanager
def _decompressed(handle: IO[bytes], path: str) -> Iterator[IO[bytes]]:
    """The file's bytes: a ``.gz`` extract is read through gzip (streaming; a rewind decompresses again)."""
    if not path.lower().endswith(GZIP_SUFFIX):
        yield handle
        return
    with gzip.GzipFile(fileobj=handle, mode="rb") as unpacked:
        try:
            yield cast(IO[bytes], unpacked)
        except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
            raise SourceFileError(f"not a readable gzip file: {exc}") from exc


def _quarantine_table(source: str, rejected: list[Rejected]) -> pa.Table:
    return pa.table({"SourceFile": [source] * len(rejected), "Row": [r.row for r in rejected],
                     "Field": [r.field for r in rejected], "Reason": [r.reason for r in rejected],
                     "RawRow": [r.raw for r in rejected]}, schema=QUARANTINE_SCHEMA)


def convert_file(lake: Lake, table: TableBase, source_path: str, output: str, quarantine: str,
                 cdm_entity: str | None = None, optional: frozenset[str] = frozenset()) -> Conversion:
    """Convert ``source_path`` into ``output``; rejected rows (or the whole file) go to ``quarantine``.
    Mapped columns in ``optional`` may be absent from the file: they read as null."""
    accepted, rejected_all, columns = 0, list[Rejected](), tuple[str, ...]()
    try:
        if table.format == "cdm":
            accepted, rejected_all = _convert_cdm(lake, table, source_path, output, cdm_entity or table.table)
        else:
            with lake.open_read(source_path) as stored, _decompressed(stored, source_path) as handle:
                reader = open_reader(handle, table.format, table.csv, table.excel, table.json_)
                # JSON leaves out what is null (serializers omit empty fields): a mapped field may first appear
                # on any line, and one no line holds is named once the whole file has been read. JSON Lines
                # without a record (an export of nothing that day) has nothing to check: 0 rows
                late = table.format == "jsonl"
                absent = [] if late else _check_mapping(reader, table, optional)
                with parquet_sink(lake, output, entity_schema(table)) as writer:
                    for raw in reader.batches():
                        for column in wanted_columns(table) - set(raw.table.column_names) if late else absent:
                            raw = replace(raw, table=raw.table.append_column(
                                column, pa.nulls(raw.table.num_rows, pa.string())))
                        coerced = coerce_batch(raw, table, source_path)
                        writer.write_table(coerced.table)
                        accepted += coerced.table.num_rows
                        rejected_all.extend(coerced.rejected)
                if late and reader.columns:
                    _check_mapping(reader, table, optional)
                columns = tuple(reader.columns)
                # in the file's order: rows the reader could not read beside rows that did not convert
                rejected_all = sorted(reader.rejected + rejected_all, key=lambda r: r.row or 0)
    except Exception as exc:
        if is_transient(exc):  # storage hiccups are retried by the activity, not quarantined
            raise
        known = isinstance(exc, (SourceFileError, MappingError, LakeNotFound))
        reason = f"{type(exc).__name__}: {exc}" if known else f"conversion failed: {type(exc).__name__}: {exc}"
        if not known:
            log.exception("unexpected error converting %s; the file is quarantined", source_path)
        log.warning("file quarantined whole: %s (%s)", source_path, reason)
        lake.delete(output)
        fields = ", ".join(exc.fields) if isinstance(exc, MappingError) and exc.fields else None
        write_parquet(lake, quarantine, _quarantine_table(source_path, [Rejected(None, reason, "", fields)]))
        return Conversion(rows=0, accepted=0, quarantined=0, error=reason)
    if rejected_all:
        write_parquet(lake, quarantine, _quarantine_table(source_path, rejected_all))
    return Conversion(rows=accepted + len(rejected_all), accepted=accepted, quarantined=len(rejected_all), error=None,
                      columns=columns)


def _convert_cdm(lake: Lake, table: TableBase, document: str, output: str, entity: str) -> tuple[int, list[Rejected]]:
    accepted, rejected = 0, []
    with parquet_sink(lake, output, entity_schema(table)) as writer:
        for partition, reader in read_cdm_entity(lake, document, entity):
            _check_mapping(reader, table)
            for raw in reader.batches():
                coerced = coerce_batch(raw, table, partition)
                writer.write_table(coerced.table)
                accepted += coerced.table.num_rows
                rejected.extend(coerced.rejected)
            rejected = reader.rejected + rejected
    return accepted, rejected


def quarantine_summary(lake: Lake, path: str, top: int = 5) -> list[dict[str, object]]:
    """The most frequent reasons in a quarantine file (for the run report)."""
    from shared.lakeio import read_parquet

    frame = read_parquet(lake, path, ["Field", "Reason"]).to_pandas()
    frame["Reason"] = frame["Reason"].str.split(":").str[0]
    counts = frame.groupby(["Field", "Reason"], dropna=False).size().sort_values(ascending=False).head(top)
    return [{"field": f, "reason": r, "rows": int(n)} for (f, r), n in counts.items()]


