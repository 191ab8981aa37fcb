"""Orchestrator ↔ activity payloads: small frozen dataclasses of lake paths, counts and ids.

The task hub stores every input and output, so no customer value may ever appear here (a test scans
a demo run's history for values from the source files).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from shared.paths import RunPaths

T = TypeVar("T", bound="Payload")


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        non_none = [a for a in args if a is not type(None)]
        return _decode(non_none[0], value) if len(non_none) == 1 else value
    if isinstance(hint, type) and issubclass(hint, Payload):
        return hint.from_dict(value)
    if origin is tuple:
        return tuple(_decode(args[0], v) for v in value)
    if origin is dict:
        return {k: _decode(args[1], v) for k, v in value.items()}
    return value


class Payload:
    """``to_dict``/``from_dict`` for dataclass payloads (nested payloads, tuples and dicts of them)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload,no-any-return]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        hints = typing.get_type_hints(cls)
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown field(s) {sorted(unknown)}")
        return cls(**{k: _decode(hints[k], v) for k, v in data.items()})


@dataclass(frozen=True)
class RetryPolicy(Payload):
    attempts: int = 3
    interval_ms: int = 5000


@dataclass(frozen=True)
class RunRequest(Payload):
    """The orchestration input: what kind of run, and the knobs the orchestrator may not read itself."""

    mode: str = "incremental"  # incremental | full | full_since | match_only
    since: str | None = None
    trigger: str = "event"
    quiet_period_seconds: int = 0
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    follow_ups: int = 0


@dataclass(frozen=True)
class LandingState(Payload):
    """Pending files in the ledger and when the newest of them arrived (for the quiet period)."""

    pending: int
    newest_seen_at: str | None


@dataclass(frozen=True)
class PrepareInput(Payload):
    run_id: str
    mode: str
    since: str | None
    trigger: str
    started_at: str


@dataclass(frozen=True)
class FileRef(Payload):
    path: str
    etag: str
    size: int
    table: str
    kind: str  # full | upsert | delete
    hour: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class RunPlan(Payload):
    run_id: str
    mode: str
    files: tuple[FileRef, ...]
    deferred_files: int = 0
    recheck_at: str | None = None  # when the next incremental hour closes
    published_before: bool = True  # a run has published: its tables are the base of a run without new files


@dataclass(frozen=True)
class ConvertInput(Payload):
    run_id: str
    file: FileRef


@dataclass(frozen=True)
class ConvertResult(Payload):
    run_id: str
    file: FileRef
    rows: int
    accepted: int
    quarantined: int
    output: str | None
    quarantine: str | None
    error: str | None = None


@dataclass(frozen=True)
class ApplyInput(Payload):
    run_id: str
    converted: tuple[ConvertResult, ...]


@dataclass(frozen=True)
class TableRef(Payload):
    table: str
    path: str
    rows: int
    changed: bool
    duplicates: int = 0


@dataclass(frozen=True)
class ApplyResult(Payload):
    run_id: str
    tables: tuple[TableRef, ...]


@dataclass(frozen=True)
class RecordSlice(Payload):
    """Record ids ``first`` to ``first + records`` (through the tables in match order) whose normalized
    features one ``write_features`` activity writes."""

    run_id: str
    index: int
    first: int
    records: int


@dataclass(frozen=True)
class BlockSlice(Payload):
    """One slice of records whose block rows one ``write_block_rows`` activity writes."""

    run_id: str
    index: int
    partitions: int


@dataclass(frozen=True)
class MatchPlan(Payload):
    run_id: str
    records: int
    partition_count: int
    slices: tuple[RecordSlice, ...]  # each writes its features, then its block rows

    def block_slices(self) -> tuple[BlockSlice, ...]:
        return tuple(BlockSlice(self.run_id, s.index, self.partition_count) for s in self.slices)

    def partitions(self, written: tuple[SliceResult, ...]) -> tuple[PartitionRef, ...]:
        """Each match partition's files: one per slice that wrote rows to it."""
        paths = RunPaths(self.run_id)
        ordered = sorted(written, key=lambda w: w.index)
        return tuple(PartitionRef(self.run_id, p,
                                  tuple(paths.match_partition(p, w.index) for w in ordered if w.rows[p]),
                                  sum(w.rows[p] for w in ordered)) for p in range(self.partition_count))


@dataclass(frozen=True)
class SliceResult(Payload):
    run_id: str
    index: int
    rows: tuple[int, ...]  # block rows written per partition


@dataclass(frozen=True)
class PartitionRef(Payload):
    run_id: str
    index: int
    paths: tuple[str, ...]  # the partition's block rows, a file per slice that has some
    records: int


@dataclass(frozen=True)
class MatchResult(Payload):
    run_id: str
    index: int
    path: str
    candidate_pairs: int
    matched_pairs: int


@dataclass(frozen=True)
class MergeInput(Payload):
    run_id: str
    matches: tuple[MatchResult, ...]
    match_only: bool = False


@dataclass(frozen=True)
class MergeResult(Payload):
    run_id: str
    records: int
    customers: int
    merged_records: int
    new_ids: int = 0
    merges: int = 0
    splits: int = 0
    suspect_clusters: int = 0
    shards: int = 1  # of the Customer table, each written by one ``write_customer_shard`` activity

    def customer_shards(self) -> tuple[CustomerShard, ...]:
        return tuple(CustomerShard(self.run_id, i, self.shards) for i in range(self.shards))


@dataclass(frozen=True)
class CustomerShard(Payload):
    """The profiles ``profile % shards = index`` whose Customer rows one activity writes."""

    run_id: str
    index: int
    shards: int


@dataclass(frozen=True)
class LineageTable(Payload):
    """One lineage table (``shared.names.Lineage``) that one activity writes, and the run's pair files
    (none for a table that does not read them)."""

    run_id: str
    table: str
    pairs: tuple[str, ...]


@dataclass(frozen=True)
class TableRows(Payload):
    """Rows written per unified table by one activity."""

    run_id: str
    rows: dict[str, int]


@dataclass(frozen=True)
class ActivitiesResult(Payload):
    run_id: str
    rows: int
    linked: int
    unlinked: int


@dataclass(frozen=True)
class EnrichInput(Payload):
    run_id: str
    enrichment: str


@dataclass(frozen=True)
class EnrichResult(Payload):
    run_id: str
    enrichment: str
    rows: int
    path: str | None
    metrics: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ExportPartInput(Payload):
    """One part of the export (``shared.names.ExportPart``), for one ``export_tables`` activity."""

    run_id: str
    part: str
    enrichments: tuple[EnrichResult, ...]


@dataclass(frozen=True)
class ExportPartResult(Payload):
    run_id: str
    part: str
    tables: dict[str, int]


@dataclass(frozen=True)
class ExportInput(Payload):
    """Every part written: ``describe_export`` writes the export's metadata."""

    run_id: str
    parts: tuple[ExportPartResult, ...]


@dataclass(frozen=True)
class ExportResult(Payload):
    run_id: str
    location: str
    tables: dict[str, int]


@dataclass(frozen=True)
class PublishInput(Payload):
    run_id: str
    export: ExportResult


@dataclass(frozen=True)
class PublishResult(Payload):
    run_id: str
    views: tuple[str, ...]
    endpoint: str


@dataclass(frozen=True)
class FinishInput(Payload):
    run_id: str
    status: str  # Completed | Failed
    error: str | None = None
    published: bool = False


@dataclass(frozen=True)
class RunSummary(Payload):
    run_id: str
    status: str
    customers: int = 0
    records: int = 0
    pending_files: int = 0
    report: str | None = None
