"""A ``CustomerId`` that is stable across runs, with Customer Insights' merge and split semantics.

The previous run's crosswalk (source record → CustomerId, and which record was each profile's
primary) decides. For every previous id, its *holder* is the new profile containing that id's
primary record, or, if that record is gone, the profile holding most of its records (ties: lowest
profile). A profile keeps the id it holds (when it holds several — a merge — the one with most
records, ties to the smaller GUID) and lists the other held ids in ``PreviousCustomerId`` (``;``).
A profile holding none but made of records of previous profiles (a split-off part) gets a new id
and lists the ids it split from. New ids are UUIDv5 of the primary record, so a rebuild from scratch
reproduces them; custom ids are UUIDv5 of up to five configured fields (first non-null per field in
match order, as ``TableName`` + value).
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

NAMESPACE = uuid.UUID("6f1c0e55-6c36-4d5e-9a53-3c6b3a2f0c36")


@dataclass(frozen=True)
class IdAssignment:
    table: pa.Table  # one row per profile, ascending: profile, CustomerId, PreviousCustomerId (';'-joined or null)
    merges: int
    splits: int
    new: int

    @property
    def customer_id(self) -> pd.Series:
        return pd.Series(self.table.column("CustomerId").to_pylist(), index=self.table.column("profile").to_numpy(),
                         dtype=object)

    @property
    def previous(self) -> pd.Series:
        return pd.Series(self.table.column("PreviousCustomerId").to_pylist(),
                         index=self.table.column("profile").to_numpy(), dtype=object)


def system_id(natural_key: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, natural_key))``, without building a UUID object (a million per run)."""
    digest = bytearray(hashlib.sha1(NAMESPACE.bytes + natural_key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid5_sql(expression: str, namespace: uuid.UUID = NAMESPACE) -> str:
    """DuckDB SQL computing ``str(uuid.uuid5(namespace, expression))`` (RFC 4122 §4.3: SHA-1 of the
    namespace bytes and the UTF-8 name, version 5, variant 10) — vectorized, for a million keys at once.
    The digest is named once by a lambda, a plain projection: a scalar subquery naming it was planned as
    a join over the whole input held in memory (at 10 M records it ran out of the merge's 640 MB)."""
    digest = f"sha1(unhex('{namespace.bytes.hex()}') || encode({expression}))"
    # one concat and a looked-up variant digit: a chain of ``||`` and a printf took 6.5 s per 10 M keys, this 3.9
    variant = "['8', '9', 'a', 'b'][(('0x' || substr(d, 17, 1))::INT & 3) + 1]"
    return (f"list_transform([{digest}], lambda d: CASE WHEN d IS NOT NULL THEN concat(substr(d, 1, 8), '-', "
            f"substr(d, 9, 4), '-5', substr(d, 14, 3), '-', {variant}, substr(d, 18, 3), '-', substr(d, 21, 12)) "
            "END)[1]")


def _arrow(frame: pd.DataFrame | pa.Table, columns: list[str]) -> pa.Table:
    if isinstance(frame, pa.Table):
        return frame.select(columns)
    return pa.Table.from_pandas(frame[columns], preserve_index=False)


def _custom_table(custom_keys: pd.Series | pa.Table | None) -> pa.Table:
    if isinstance(custom_keys, pa.Table):
        return custom_keys.select(["profile", "natural_key"])
    keys = custom_keys if custom_keys is not None else pd.Series(dtype=object)
    return pa.table({"profile": pa.array(np.asarray(keys.index, dtype=np.int64)),
                     "natural_key": pa.array([v if isinstance(v, str) else None for v in keys.tolist()], pa.string())})


def assign_ids(current: pd.DataFrame | pa.Table, previous: pd.DataFrame | pa.Table | None,
               custom_keys: pd.Series | pa.Table | None = None) -> IdAssignment:
    """Ids per profile (``assign_ids_in`` on a connection of its own, the result fetched).

    ``current``: one row per record with ``profile``, ``record_key`` (``DataSource|Table|SourceKey``) and
    ``is_primary`` (the profile's primary record). ``previous``: ``record_key``, ``CustomerId``,
    ``is_primary`` from the last published run (or None). ``custom_keys``: per profile, the natural key of a
    custom id (None where the fields are empty).
    """
    with duckdb.connect() as con:
        con.register("ids_current", _arrow(current, ["record_key", "profile", "is_primary"]))
        merges, splits, new = assign_ids_in(con, "ids_current", previous, custom_keys)
        table = con.sql("SELECT profile, CustomerId, PreviousCustomerId FROM ids_assigned ORDER BY profile"
                        ).to_arrow_table()
    return IdAssignment(table, merges, splits, new)


def assign_ids_in(con: duckdb.DuckDBPyConnection, current: str, previous: pd.DataFrame | pa.Table | str | None,
                  custom_keys: pd.Series | pa.Table | None = None) -> tuple[int, int, int]:
    """Leaves the temp table ``ids_assigned`` (profile, CustomerId, PreviousCustomerId) in ``con``; returns
    (merges, splits, new ids). ``current`` names a table or view of ``con`` with the columns of
    ``assign_ids``' ``current``; ``previous`` is ``assign_ids``' ``previous``, or names a view of ``con`` with
    its columns and ``row`` (the record's position in the crosswalk), which DuckDB reads as it goes.

    Computed in DuckDB, column-wise, so that no id, key or profile becomes a Python object (at ten million
    records that alone would take a 2 GB instance); when two profiles would get the same id (a custom key
    shared by two profiles, an id derived for a split-off part that another profile holds),
    ``_assign_in_order`` decides instead.
    """
    con.register("ids_custom", _custom_table(custom_keys))
    _held_and_parts_tables(con, current, previous)
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ids_chosen AS
        WITH profiles AS (
            SELECT profile::BIGINT AS profile, min(record_key) FILTER (WHERE is_primary) AS primary_key
            FROM {current} GROUP BY profile),
        top AS (SELECT profile, arg_min(old, (-n, old)) AS old FROM ids_held GROUP BY profile)
        SELECT p.profile, p.primary_key, c.natural_key, t.old AS held,
               CASE WHEN c.natural_key IS NOT NULL THEN {uuid5_sql("'custom|' || c.natural_key")}
                    WHEN t.old IS NOT NULL THEN t.old ELSE {uuid5_sql('p.primary_key')} END AS CustomerId
        FROM profiles p LEFT JOIN (SELECT * FROM ids_custom WHERE natural_key IS NOT NULL) c USING (profile)
        LEFT JOIN top t USING (profile)""")
    (clashes,) = con.execute("SELECT count(*) - count(DISTINCT CustomerId) FROM ids_chosen").fetchall()[0]
    if clashes:  # who keeps the id and who gets a variant depends on the order
        assignment = _in_order_from(con)
        con.register("ids_in_order", assignment.table)
        con.execute("CREATE OR REPLACE TEMP TABLE ids_assigned AS SELECT * FROM ids_in_order")
        con.unregister("ids_in_order")
        return assignment.merges, assignment.splits, assignment.new
    # previous ids listed per profile: held ones other than the id kept; for a new id, those it split from
    con.execute("""
        CREATE OR REPLACE TEMP TABLE ids_assigned AS
        WITH listed AS (
            SELECT DISTINCT l.profile, l.old FROM (
                SELECT profile, old FROM ids_held
                UNION ALL SELECT p.profile, p.old FROM ids_counts p JOIN ids_chosen c USING (profile)
                          WHERE c.natural_key IS NULL AND c.held IS NULL) l
            JOIN ids_chosen c USING (profile) WHERE l.old <> c.CustomerId)
        SELECT c.profile, c.CustomerId, p.PreviousCustomerId,
               c.natural_key IS NULL AND c.held IS NOT NULL AS kept_held,
               c.natural_key IS NULL AND c.held IS NULL AS derived
        FROM ids_chosen c LEFT JOIN (SELECT profile, string_agg(old, ';' ORDER BY old) AS PreviousCustomerId
                                     FROM listed GROUP BY profile) p USING (profile)""")
    con.execute("DROP TABLE ids_chosen")
    merges, splits, new = con.execute("""
        SELECT count(*) FILTER (WHERE kept_held AND PreviousCustomerId IS NOT NULL),
               count(*) FILTER (WHERE derived AND PreviousCustomerId IS NOT NULL),
               count(*) FILTER (WHERE derived AND PreviousCustomerId IS NULL) FROM ids_assigned""").fetchall()[0]
    return int(merges), int(splits), int(new)


def _held_and_parts_tables(con: duckdb.DuckDBPyConnection, current: str,
                           previous: pd.DataFrame | pa.Table | str | None) -> None:
    """Temp tables ``ids_held`` (profile, n, old: who holds each previous id) and ``ids_counts`` (old,
    profile, n: every overlap of a profile and a previous id), from ``current`` and the previous crosswalk.

    The holder is the profile containing the id's primary record (the last such record in ``previous``
    if there are several), or, if that record is gone, the profile holding most of its records (ties:
    lowest profile).
    """
    if previous is None or (not isinstance(previous, str) and not len(previous)):
        con.execute("CREATE OR REPLACE TEMP TABLE ids_held (profile BIGINT, n BIGINT, old VARCHAR)")
        con.execute("CREATE OR REPLACE TEMP TABLE ids_counts (old VARCHAR, profile BIGINT, n BIGINT)")
        return
    if isinstance(previous, str):  # a view of ``con`` that already numbers its rows
        con.execute(f"CREATE OR REPLACE TEMP VIEW ids_before AS SELECT * FROM {previous}")
    else:
        before = _arrow(previous, ["record_key", "CustomerId", "is_primary"])
        con.register("ids_before", before.append_column("row", pa.array(np.arange(len(before), dtype=np.int64))))
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ids_counts AS
        SELECT b.CustomerId AS old, c.profile::BIGINT AS profile, count(*) AS n
        FROM ids_before b JOIN {current} c USING (record_key) GROUP BY ALL""")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE ids_held AS
        WITH anchor AS (
            SELECT b.CustomerId AS old, arg_max(c.profile::BIGINT, b.row) AS profile
            FROM ids_before b JOIN {current} c USING (record_key) WHERE b.is_primary GROUP BY ALL),
        most AS (SELECT old, arg_min(profile, (-n, profile)) AS profile, sum(n) AS n FROM ids_counts GROUP BY old)
        SELECT coalesce(a.profile, m.profile) AS profile, m.n, m.old FROM most m LEFT JOIN anchor a USING (old)""")
    if isinstance(previous, str):
        con.execute("DROP VIEW ids_before")
    else:
        con.unregister("ids_before")


def _held_and_parts(current: pd.DataFrame, previous: pd.DataFrame | pa.Table | None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``ids_held`` and the overlaps as frames (held ordered by old id; parts by old, n desc, profile)."""
    with duckdb.connect() as con:
        con.register("ids_current", _arrow(current, ["record_key", "profile"]))
        _held_and_parts_tables(con, "ids_current", previous)
        return _held_parts_frames(con)


def _held_parts_frames(con: duckdb.DuckDBPyConnection) -> tuple[pd.DataFrame, pd.DataFrame]:
    held = con.execute("SELECT profile, n, old FROM ids_held ORDER BY old").df()
    parts = con.execute("SELECT profile, old FROM ids_counts ORDER BY old, n DESC, profile").df()
    held = pd.DataFrame({"profile": held["profile"].to_numpy(np.int64), "n": held["n"].to_numpy(np.int64),
                         "old": held["old"].to_numpy(dtype=object)})
    parts = pd.DataFrame({"profile": parts["profile"].to_numpy(np.int64), "old": parts["old"].to_numpy(dtype=object)})
    return held, parts


def _in_order_from(con: duckdb.DuckDBPyConnection) -> IdAssignment:
    """The clash path: the profile-by-profile rules over the tables ``assign_ids`` built."""
    chosen = con.execute("SELECT profile, primary_key, natural_key FROM ids_chosen ORDER BY profile").df()
    held, parts = _held_parts_frames(con)
    profiles = chosen["profile"].to_numpy(np.int64)
    primary_key = pd.Series(chosen["primary_key"].to_numpy(dtype=object), index=profiles)
    custom = pd.Series([v if isinstance(v, str) else None for v in chosen["natural_key"].tolist()], index=profiles,
                       dtype=object)
    return _assign_in_order(profiles, primary_key, held, parts, custom)


def _assign_in_order(profiles: np.ndarray, primary_key: pd.Series, held: pd.DataFrame, parts: pd.DataFrame,
                     custom: pd.Series) -> IdAssignment:
    """Profile by profile: held and custom ids first, so that an id derived for a split-off part never takes
    an id another profile holds (a split-off part's primary record may be the one an old id was minted
    from); an id already given gets a deterministic variant."""
    held_of: dict[int, list[tuple[int, str]]] = {}
    for p, n, old in zip(held["profile"].tolist(), held["n"].tolist(), held["old"].tolist(), strict=True):
        held_of.setdefault(int(p), []).append((int(n), str(old)))
    parts_of: dict[int, set[str]] = {}
    for p, old in zip(parts["profile"].tolist(), parts["old"].tolist(), strict=True):
        parts_of.setdefault(int(p), set()).add(str(old))
    ids, previous_ids = {}, {}
    merges = splits = new = 0
    derived: list[int] = []
    used: set[str] = set()
    for p in profiles.tolist():
        mine = sorted(held_of.get(p, []), key=lambda item: (-item[0], item[1]))
        if pd.notna(custom.get(p)):
            ids[p] = _unused(system_id(f"custom|{custom[p]}"), used)
            others = sorted(i for _, i in mine if i != ids[p])
        elif mine:
            ids[p] = mine[0][1]
            others = sorted(i for _, i in mine[1:])
            merges += bool(others)
        else:
            derived.append(p)
            continue
        used.add(ids[p])
        previous_ids[p] = ";".join(others) if others else None
    for p in derived:
        chosen = _unused(system_id(str(primary_key[p])), used)
        used.add(chosen)
        ids[p] = chosen
        others = sorted(parts_of.get(p, set()))
        splits += bool(others)
        new += not others
        previous_ids[p] = ";".join(others) if others else None
    order = profiles.tolist()
    table = pa.table({"profile": pa.array(order, pa.int64()),
                      "CustomerId": pa.array([ids[p] for p in order], pa.string()),
                      "PreviousCustomerId": pa.array([previous_ids[p] for p in order], pa.string())})
    return IdAssignment(table, merges, splits, new)


def _unused(base: str, used: set[str]) -> str:
    """``base``, or a deterministic variant of it when another profile already has that id."""
    chosen, suffix = base, 0
    while chosen in used:
        suffix += 1
        chosen = system_id(f"{base}|{suffix}")
    return chosen
