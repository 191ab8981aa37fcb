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
    customer_id: pd.Series  # per profile
    previous: pd.Series  # per profile: ';'-joined previous ids, or None
    merges: int
    splits: int
    new: int


def system_id(natural_key: str) -> str:
    """``str(uuid.uuid5(NAMESPACE, natural_key))``, without building a UUID object (a million per run)."""
    digest = bytearray(hashlib.sha1(NAMESPACE.bytes + natural_key.encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def uuid5_sql(expression: str, namespace: uuid.UUID = NAMESPACE) -> str:
    """DuckDB SQL computing ``str(uuid.uuid5(namespace, expression))`` (RFC 4122 §4.3: SHA-1 of the
    namespace bytes and the UTF-8 name, version 5, variant 10) — vectorized, for a million keys at once."""
    digest = f"sha1(unhex('{namespace.bytes.hex()}') || encode({expression}))"
    return (f"(SELECT substr(d, 1, 8) || '-' || substr(d, 9, 4) || '-5' || substr(d, 14, 3) || '-' || "
            f"lower(printf('%x', (('0x' || substr(d, 17, 1))::INT & 3) | 8)) || substr(d, 18, 3) || '-' || "
            f"substr(d, 21, 12) FROM (SELECT {digest} AS d))")


def system_ids(natural_keys: list[str]) -> list[str]:
    """``system_id`` of many keys at once (SHA-1 in DuckDB): a million ids in a fraction of a second."""
    if not natural_keys:
        return []
    keys = pa.table({"k": pa.array(natural_keys, pa.string()), "i": pa.array(np.arange(len(natural_keys)))})
    with duckdb.connect() as connection:
        connection.register("keys", keys)
        return connection.execute(f"SELECT {uuid5_sql('k')} AS id FROM keys ORDER BY i").fetchnumpy()["id"].tolist()


def assign_ids(current: pd.DataFrame, previous: pd.DataFrame | pa.Table | None,
               custom_keys: pd.Series | None = None) -> IdAssignment:
    """Ids per profile.

    ``current``: one row per record with ``profile``, ``record_key`` (``DataSource|Table|SourceKey``) and
    ``is_primary`` (the profile's primary record). ``previous``: ``record_key``, ``CustomerId``,
    ``is_primary`` from the last published run (or None). ``custom_keys``: per profile, the natural key of a
    custom id (None where the fields are empty).

    Computed column-wise; when two profiles would get the same id (a custom key shared by two profiles, an
    id derived for a split-off part that another profile holds), ``_assign_in_order`` decides instead.
    """
    profiles = np.sort(current["profile"].unique())
    primaries = current[current["is_primary"]]
    primary_key = pd.Series(primaries["record_key"].to_numpy(), index=primaries["profile"].to_numpy())
    held, parts = _held_and_parts(current, previous)
    custom = (custom_keys.reindex(profiles) if custom_keys is not None
              else pd.Series(None, index=profiles, dtype=object))
    has_custom = custom.notna().to_numpy()
    held = held.sort_values(["profile", "n", "old"], ascending=[True, False, True])
    top = held.drop_duplicates("profile").set_index("profile")["old"].reindex(profiles)
    has_held = top.notna().to_numpy() & ~has_custom
    derived = ~has_custom & ~has_held
    ids = pd.Series(top.to_numpy(dtype=object), index=profiles)
    ids[has_custom] = system_ids(("custom|" + custom[has_custom].astype(str)).tolist())
    ids[derived] = system_ids(primary_key.reindex(profiles[derived]).astype(str).tolist())
    if ids.duplicated().any():  # a clash: who keeps the id and who gets a variant depends on the order
        return _assign_in_order(profiles, primary_key, held, parts, custom)
    # previous ids listed per profile: held ones other than the id kept; for a new id, those it split from
    listed = pd.concat([held[["profile", "old"]], parts[["profile", "old"]].loc[
        np.isin(parts["profile"].to_numpy(), profiles[derived])]], ignore_index=True)
    listed = listed[listed["old"].to_numpy() != ids.reindex(listed["profile"]).to_numpy()].drop_duplicates()
    joined = listed.sort_values(["profile", "old"]).groupby("profile")["old"].agg(";".join).reindex(profiles)
    previous_ids = pd.Series([v if isinstance(v, str) else None for v in joined.tolist()], index=profiles,
                             dtype=object)
    lists = joined.notna().to_numpy()
    return IdAssignment(ids, previous_ids, merges=int((has_held & lists).sum()), splits=int((derived & lists).sum()),
                        new=int((derived & ~lists).sum()))


def _held_and_parts(current: pd.DataFrame, previous: pd.DataFrame | pa.Table | None
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Which profile holds each previous id (profile, n records, old id), and every (profile, old id) overlap.

    The holder is the profile containing the id's primary record (the last such record in ``previous``
    if there are several), or, if that record is gone, the profile holding most of its records (ties:
    lowest profile). Joined in DuckDB: at a million customers both sides hold 2 M record keys.
    """
    empty = pd.DataFrame({"profile": pd.Series(dtype=np.int64), "n": pd.Series(dtype=np.int64),
                          "old": pd.Series(dtype=object)})
    if previous is None or not len(previous):
        return empty, empty[["profile", "old"]]
    before = previous if isinstance(previous, pa.Table) else pa.Table.from_pandas(
        previous[["record_key", "CustomerId", "is_primary"]], preserve_index=False)
    before = before.select(["record_key", "CustomerId", "is_primary"]).append_column(
        "row", pa.array(np.arange(len(before), dtype=np.int64)))
    now = pa.table({"record_key": pa.array(current["record_key"].to_numpy(dtype=object), pa.string()),
                    "profile": pa.array(current["profile"].to_numpy(np.int64))})
    with duckdb.connect() as connection:
        connection.register("before", before)
        connection.register("now", now)
        connection.execute("""
            CREATE TEMP TABLE counts AS
            SELECT b.CustomerId AS old, c.profile, count(*) AS n FROM before b JOIN now c USING (record_key)
            GROUP BY ALL""")
        parts = connection.execute(
            "SELECT profile, old FROM counts ORDER BY old, n DESC, profile").df()
        held = connection.execute("""
            WITH anchor AS (
                SELECT b.CustomerId AS old, arg_max(c.profile, b.row) AS profile
                FROM before b JOIN now c USING (record_key) WHERE b.is_primary GROUP BY ALL),
            most AS (SELECT old, arg_min(profile, (-n, profile)) AS profile, sum(n) AS n FROM counts GROUP BY old)
            SELECT coalesce(a.profile, m.profile) AS profile, m.n, m.old
            FROM most m LEFT JOIN anchor a USING (old) ORDER BY m.old""").df()
    held = pd.DataFrame({"profile": held["profile"].to_numpy(np.int64), "n": held["n"].to_numpy(np.int64),
                         "old": held["old"].to_numpy(dtype=object)})
    parts = pd.DataFrame({"profile": parts["profile"].to_numpy(np.int64), "old": parts["old"].to_numpy(dtype=object)})
    return held, parts


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
    ids = {p: ids[p] for p in profiles.tolist()}
    previous_ids = {p: previous_ids[p] for p in profiles.tolist()}
    return IdAssignment(pd.Series(ids, dtype=object), pd.Series(previous_ids, dtype=object), merges, splits, new)


def _unused(base: str, used: set[str]) -> str:
    """``base``, or a deterministic variant of it when another profile already has that id."""
    chosen, suffix = base, 0
    while chosen in used:
        suffix += 1
        chosen = system_id(f"{base}|{suffix}")
    return chosen
