"""The true people behind the demo: identities, households, twins, moves — vectorised with numpy."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from c360_cli.demo import vocab


def zipf_weights(n: int, offset: float = 3.0, power: float = 0.9) -> np.ndarray:
    weights = 1.0 / (np.arange(n) + offset) ** power
    return weights / weights.sum()


def synthetic_surnames() -> list[str]:
    middles = ["", "", "a", "e", "i", "o", "en", "er"]
    names = {a + m + b for a in vocab.SYLLABLES_A for m in middles for b in vocab.SYLLABLES_B}
    return sorted(names - set(vocab.SURNAMES))


@dataclass(frozen=True)
class People:
    """One row per real person (``frame``) plus their alternative address and email."""

    frame: pd.DataFrame


def _choice(rng: np.random.Generator, values: list[str], size: int, p: np.ndarray | None = None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), size=size, p=p)]


def _addresses(rng: np.random.Generator, n: int) -> pd.DataFrame:
    city = rng.integers(0, len(vocab.CITIES), n)
    cities = np.asarray([c[0] for c in vocab.CITIES], dtype=object)[city]
    states = np.asarray([c[1] for c in vocab.CITIES], dtype=object)[city]
    zip3 = np.asarray([c[2] for c in vocab.CITIES], dtype=object)[city]
    area = np.asarray([c[3] for c in vocab.CITIES], dtype=object)[city]
    suffix = rng.integers(0, len(vocab.SUFFIXES), n)
    direction = np.where(rng.random(n) < 0.15, rng.integers(0, len(vocab.DIRECTIONS), n), -1)
    number = rng.integers(1, 9999, n).astype(str)
    street = _choice(rng, vocab.STREETS, n)
    full_suffix = np.asarray([s[0] for s in vocab.SUFFIXES], dtype=object)[suffix]
    dir_full = np.where(direction >= 0, np.asarray([d[0] + " " for d in vocab.DIRECTIONS] + [""],
                                                   dtype=object)[direction], "")
    unit = np.where(rng.random(n) < 0.12, " Apt " + pd.Series(rng.integers(1, 40, n)).astype(str).to_numpy()
                    + _choice(rng, ["", "A", "B", "C"], n), "")
    return pd.DataFrame({
        "street_number": number, "street_dir": direction, "street_name": street, "street_suffix": suffix,
        "street": number + " " + dir_full + street + " " + full_suffix + unit,
        "city": cities, "state": states,
        "postal_code": zip3 + pd.Series(rng.integers(0, 100, n)).astype(str).str.zfill(2).to_numpy(),
        "area_code": area,
    })


def _phones(rng: np.random.Generator, area: np.ndarray) -> np.ndarray:
    n = len(area)
    own_area = np.where(rng.random(n) < 0.8, area, rng.integers(201, 990, n).astype(str))
    exchange = rng.integers(200, 999, n).astype(str)
    line = pd.Series(rng.integers(0, 10000, n)).astype(str).str.zfill(4).to_numpy()
    return "1" + own_area.astype(object) + exchange.astype(object) + line.astype(object)


def _emails(rng: np.random.Generator, first: np.ndarray, last: np.ndarray, birth_year: np.ndarray) -> np.ndarray:
    n = len(first)
    f = pd.Series(first).str.lower().str.replace(r"[^a-z]", "", regex=True).to_numpy(dtype=object)
    l_ = pd.Series(last).str.lower().str.replace(r"[^a-z]", "", regex=True).to_numpy(dtype=object)
    pattern = rng.integers(0, 6, n)
    locals_ = np.select(
        [pattern == 0, pattern == 1, pattern == 2, pattern == 3, pattern == 4],
        [f + "." + l_, f + l_, pd.Series(f).str[0].to_numpy(dtype=object) + l_, f + "_" + l_, l_ + "." + f],
        default=f + pd.Series(l_).str[:3].to_numpy(dtype=object))
    suffix = np.where(rng.random(n) < 0.55, pd.Series(rng.integers(1, 999, n)).astype(str).to_numpy(dtype=object),
                      np.where(rng.random(n) < 0.5, (birth_year % 100).astype(str).astype(object), ""))
    weights = np.asarray([w for _, w in vocab.EMAIL_DOMAINS], dtype=float)
    domains = _choice(rng, [d for d, _ in vocab.EMAIL_DOMAINS], n, weights / weights.sum())
    return locals_ + suffix + "@" + domains


def _unique_addresses(email: np.ndarray, alt_email: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A mail provider never hands one address to two people: a taken address gets the next free number
    (``jsmith@…`` → ``jsmith2@…``), as sign-up forms suggest. Without this, 3.5% of a million people
    would share an address with a stranger and no matcher could tell them apart."""
    both = pd.Series(np.concatenate([email, alt_email]), dtype=object)
    taken = set()
    out = both.to_numpy(dtype=object).copy()
    duplicated = both.duplicated().to_numpy()
    taken.update(both[~duplicated].tolist())
    for index in np.flatnonzero(duplicated):
        local, domain = out[index].split("@", 1)
        number = 2
        while f"{local}{number}@{domain}" in taken:
            number += 1
        out[index] = f"{local}{number}@{domain}"
        taken.add(out[index])
    return out[: len(email)], out[len(email):]


def make_people(n: int, rng: np.random.Generator, as_of: date) -> People:
    """``n`` people: 28% living in a household with another person, 0.6% twins, 12% who moved."""
    gender = np.where(rng.random(n) < 0.5, "F", "M")
    first = np.where(gender == "F", _choice(rng, vocab.FEMALE, n, zipf_weights(len(vocab.FEMALE))),
                     _choice(rng, vocab.MALE, n, zipf_weights(len(vocab.MALE))))
    tail = synthetic_surnames()
    last = np.where(rng.random(n) < 0.75, _choice(rng, vocab.SURNAMES, n, zipf_weights(len(vocab.SURNAMES), 10, 0.8)),
                    _choice(rng, tail, n))
    age_days = np.clip(rng.normal(44, 15, n), 18, 90) * 365.25
    birth = (np.datetime64(as_of) - age_days.astype("timedelta64[D]")).astype("datetime64[D]")
    address = _addresses(rng, n)

    # households: a person joins the household of an earlier person (same surname mostly, address, home phone)
    joins = rng.random(n) < 0.28
    joins[0] = False
    host = np.where(joins, (rng.random(n) * np.arange(n)).astype(np.int64), np.arange(n))
    host = host[host]  # flatten one level so households are stars
    same_surname = rng.random(n) < 0.85
    last = np.where(joins & same_surname, last[host], last)
    address = address.iloc[host].reset_index(drop=True)
    home_phone = _phones(rng, address["area_code"].to_numpy())[host]
    # twins: same surname, address, phone and birth date, a different first name
    twins = joins & (rng.random(n) < 0.02)
    birth = np.where(twins, birth[host], birth)
    last = np.where(twins, last[host], last)
    twin_first = np.where(gender == "F", _choice(rng, vocab.FEMALE, n), _choice(rng, vocab.MALE, n))
    first = np.where(twins & (twin_first == first[host]), twin_first[::-1], np.where(twins, twin_first, first))

    mobile = _phones(rng, address["area_code"].to_numpy())
    birth_year = birth.astype("datetime64[Y]").astype(int) + 1970
    email = _emails(rng, first, last, birth_year)
    alt_email = _emails(rng, first, last, birth_year + 1)
    email, alt_email = _unique_addresses(email, alt_email)
    moved = rng.random(n) < 0.12
    old_address = _addresses(rng, n)
    frame = pd.DataFrame({
        "person_id": pd.Series(np.arange(n) + 1).map("P{:08d}".format).to_numpy(),
        "gender": gender, "first": first, "last": last, "birth_date": birth,
        "street": address["street"], "city": address["city"], "state": address["state"],
        "postal_code": address["postal_code"], "home_phone": home_phone, "mobile": mobile,
        "email": email, "alt_email": alt_email, "has_alt_email": rng.random(n) < 0.2,
        "moved": moved, "old_street": old_address["street"], "old_city": old_address["city"],
        "old_state": old_address["state"], "old_postal_code": old_address["postal_code"],
        "household": host, "twin": twins,
    })
    return People(frame)
