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
DATA_SUFFIXES = (".csv", ".tsv", ".txt", ".parquet", ".jsonl", ".ndjson", ".json")
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


def classify(path: str, landing_prefix: str, config: UnificationConfig) -> LandedFile | None:
    """Resolve a lake path to its table and kind, or ``None`` when no table's landing folder holds it."""
    prefix = landing_prefix.strip("/") + "/"
    if not path.startswith(prefix):
        return None
    relative = path[len(prefix):]
    table = _owning_table(relative, config)
    if table is None:
        return None
    inside = relative[len(table.landing) + 1:]
    name = inside.rsplit("/", 1)[-1].lower()
    if table.format == "cdm":
        return LandedFile(path, table.name, "full", None) if name.endswith(CDM_DOCUMENTS) else None
    if not name.endswith(DATA_SUFFIXES) or name.startswith((".", "_")):
        return None
    match = _HOUR.match(inside)
    if match:
        year, month, day, hour, kind = match.groups()
        moment = datetime(int(year), int(month), int(day), int(hour), tzinfo=UTC)
        return LandedFile(path, table.name, "upsert" if kind == "Upserts" else "delete", moment)
    if inside.startswith("IncrementalData/"):
        return None  # not in the documented yyyy/mm/dd/hh/{Upserts,Deletes} layout
    return LandedFile(path, table.name, "full", None)


def _owning_table(relative: str, config: UnificationConfig) -> TableBase | None:
    for table in config.all_tables():
        if relative.startswith(table.landing + "/"):
            return table
    return None
