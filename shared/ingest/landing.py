"""The landing layout: which table a landed file belongs to, and whether it is full or incremental data.

``<landing>/<table folder>/FullData/…`` is a full load; ``…/IncrementalData/yyyy/mm/dd/hh/Upserts|Deletes/…``
are changes for one UTC hour, processed only after that hour has closed. Files directly under the table
folder count as full data. For ``cdm`` tables only the metadata documents are work items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from shared.config.model import TableBase, UnificationConfig

_HOUR = re.compile(r"^IncrementalData/(\d{4})/(\d{2})/(\d{2})/(\d{2})/(Upserts|Deletes)/.+")
GZIP_SUFFIX = ".gz"  # a text extract compressed with gzip (``contacts.csv.gz``), as pipelines often land them
_CSV, _JSON = (".csv", ".tsv", ".txt"), (".jsonl", ".ndjson", ".json")
# a file's format by its name; a table reads only files of its own format
FORMAT_SUFFIXES = {"csv": (*_CSV, *(s + GZIP_SUFFIX for s in _CSV)),
                   "jsonl": (*_JSON, *(s + GZIP_SUFFIX for s in _JSON)),
                   "parquet": (".parquet",), "xlsx": (".xlsx",)}
CDM_DOCUMENTS = ("model.json", ".manifest.cdm.json")

Kind = Literal["full", "upsert", "delete"]


@dataclass(frozen=True)
class LandedFile:
    """A landed file resolved against the config."""

    path: str
    table: str
    kind: Kind
    hour: datetime | None  # the UTC hour of incremental data

    def hour_closed(self, now: datetime) -> bool:
        return self.hour is None or now >= self.hour + timedelta(hours=1)


@dataclass(frozen=True)
class Ignored:
    """Why a landed file is no work item; ``marker``: a file pipelines write beside data (``_SUCCESS``, a
    ``.crc``, a hidden file), not worth a warning."""

    reason: str
    marker: bool = False


def classify(path: str, landing_prefix: str, config: UnificationConfig) -> LandedFile | None:
    """Resolve a lake path to its table and kind, or ``None`` when it is no table's work item."""
    landed = resolve(path, landing_prefix, config)
    return landed if isinstance(landed, LandedFile) else None


def resolve(path: str, landing_prefix: str, config: UnificationConfig) -> LandedFile | Ignored:
    """``classify``, saying why a file is ignored."""
    prefix = landing_prefix.strip("/") + "/"
    if not path.startswith(prefix):
        return Ignored(f"outside the landing zone {prefix}")
    relative = path[len(prefix):]
    table = _owning_table(relative, config)
    if table is None:
        return Ignored("in no configured table's landing folder")
    inside = relative[len(table.landing) + 1:]
    name = inside.rsplit("/", 1)[-1].lower()
    if name.startswith((".", "_")) or name.endswith(".crc"):
        return Ignored("a hidden or marker file", marker=True)
    if table.format == "cdm":
        return (LandedFile(path, table.name, "full", None) if name.endswith(CDM_DOCUMENTS)
                else Ignored(f"not a CDM document of {table.name} (model.json or *.manifest.cdm.json)", marker=True))
    own = FORMAT_SUFFIXES[table.format]
    if not name.endswith(own):
        other = next((f for f, suffixes in FORMAT_SUFFIXES.items() if name.endswith(suffixes)), None)
        if other is not None:  # read as this table's format, a workbook or a Parquet file was garbage
            return Ignored(f"the file's format is {other}, and {table.name}'s is {table.format} ({', '.join(own)})")
        if name.endswith((".xls", ".xlsb")):  # Excel formats openpyxl does not read
            return Ignored(f"an Excel workbook in a format c360 does not read ({name.rsplit('.', 1)[-1]}): "
                           "save it as .xlsx or CSV")
        return Ignored(f"not a data file of {table.name} ({', '.join(own)})")
    match = _HOUR.match(inside)
    if match:
        year, month, day, hour, kind = match.groups()
        moment = datetime(int(year), int(month), int(day), int(hour), tzinfo=UTC)
        return LandedFile(path, table.name, "upsert" if kind == "Upserts" else "delete", moment)
    if inside.startswith("IncrementalData/"):
        return Ignored(f"not in {table.name}'s IncrementalData/yyyy/mm/dd/hh/Upserts|Deletes/ layout")
    return LandedFile(path, table.name, "full", None)


def _owning_table(relative: str, config: UnificationConfig) -> TableBase | None:
    for table in config.all_tables():
        if relative.startswith(table.landing + "/"):
            return table
    return None
