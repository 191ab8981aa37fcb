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

import numpy as np
import pandas as pd

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


def assign_ids(current: pd.DataFrame, previous: pd.DataFrame | None,
               custom_keys: pd.Series | None = None) -> IdAssignment:
    """Ids per profile.

    ``current``: one row per record with ``profile``, ``record_key`` (``DataSource|Table|SourceKey``) and
    ``is_primary`` (the profile's primary record). ``previous``: ``record_key``, ``CustomerId``,
    ``is_primary`` from the last published run (or None). ``custom_keys``: per profile, the natural key of a
    custom id (None where the fields are empty).
    """
    profiles = np.sort(current["profile"].unique())
    primaries = current[current["is_primary"]]
    primary_key = dict(zip(primaries["profile"].tolist(), primaries["record_key"].tolist(), strict=True))
    held: dict[int, list[tuple[int, str]]] = {int(p): [] for p in profiles}
    parts_of: dict[int, set[str]] = {int(p): set() for p in profiles}
    if previous is not None and len(previous):
        joined = current.merge(previous[["record_key", "CustomerId"]], on="record_key", how="inner")
        counts = joined.groupby(["CustomerId", "profile"]).size().rename("n").reset_index()
        prev_primary = previous[previous["is_primary"]][["record_key", "CustomerId"]]
        anchor = prev_primary.merge(current[["record_key", "profile"]], on="record_key", how="inner")
        anchor_of = dict(zip(anchor["CustomerId"], anchor["profile"], strict=True))
        counts = counts.sort_values(["CustomerId", "n", "profile"], ascending=[True, False, True])
        most = counts.drop_duplicates("CustomerId").set_index("CustomerId")["profile"]
        for old_id, n_records in counts.groupby("CustomerId")["n"].sum().items():
            holder = int(anchor_of.get(old_id, most[old_id]))
            held[holder].append((int(n_records), str(old_id)))
        for old_id, profile in zip(counts["CustomerId"], counts["profile"], strict=True):
            parts_of[int(profile)].add(str(old_id))
    ids, previous_ids = {}, {}
    merges = splits = new = 0
    # Held and custom ids first, so that an id derived for a split-off part never takes an id that
    # another profile holds (a split-off part's primary record may be the one an old id was minted from).
    derived: list[int] = []
    used: set[str] = set()
    for p in profiles.tolist():
        mine = sorted(held[p], key=lambda item: (-item[0], item[1]))
        if custom_keys is not None and custom_keys.get(p) is not None:
            ids[p] = _unused(system_id(f"custom|{custom_keys[p]}"), used)
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
        others = sorted(parts_of[p])
        splits += bool(others)
        new += not others
        previous_ids[p] = ";".join(others) if others else None
    ids = {p: ids[p] for p in profiles.tolist()}
    previous_ids = {p: previous_ids[p] for p in profiles.tolist()}
    return IdAssignment(pd.Series(ids), pd.Series(previous_ids), merges, splits, new)


def _unused(base: str, used: set[str]) -> str:
    """``base``, or a deterministic variant of it when another profile already has that id."""
    chosen, suffix = base, 0
    while chosen in used:
        suffix += 1
        chosen = system_id(f"{base}|{suffix}")
    return chosen
