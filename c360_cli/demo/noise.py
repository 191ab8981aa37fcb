"""The noise real source systems add: typos, nicknames, formats, case, missing values."""

from __future__ import annotations

import numpy as np
import pandas as pd

from c360_cli.demo import vocab

_KEYBOARD = "qwertyuiopasdfghjklzxcvbnm"
_ACCENTS = {"Jose": "José", "Maria": "María", "Lucia": "Lucía", "Sofia": "Sofía", "Ramon": "Ramón",
            "Andre": "André", "Chloe": "Chloé", "Zoe": "Zoë", "Nunez": "Núñez", "Munoz": "Muñoz",
            "Pena": "Peña", "Ibarra": "Ibárra", "Garcia": "García", "Hernandez": "Hernández", "Lopez": "López",
            "Ramirez": "Ramírez", "Gomez": "Gómez", "Perez": "Pérez", "Martinez": "Martínez", "Diaz": "Díaz"}


def typo(text: str, rng: np.random.Generator) -> str:
    """One keyboard-style edit: delete, insert, substitute or transpose one character."""
    if len(text) < 3:
        return text
    i = int(rng.integers(1, len(text) - 1))
    op = int(rng.integers(0, 4))
    char = _KEYBOARD[int(rng.integers(0, len(_KEYBOARD)))]
    if text[i - 1].isupper() and i == 1:
        char = char.upper()
    if op == 0:
        return text[:i] + text[i + 1:]
    if op == 1:
        return text[:i] + char + text[i:]
    if op == 2:
        return text[:i] + char + text[i + 1:]
    return text[:i - 1] + text[i] + text[i - 1] + text[i + 1:]


def apply_typos(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = values.copy()
    for i in np.flatnonzero(rng.random(len(values)) < rate):
        if isinstance(out[i], str):
            out[i] = typo(out[i], rng)
    return out


def nicknames(first: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = first.copy()
    for i in np.flatnonzero(rng.random(len(first)) < rate):
        options = vocab.NICKNAMES.get(out[i])
        if options:
            out[i] = options[int(rng.integers(0, len(options)))]
    return out


def accents(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    accented = series.map(_ACCENTS)
    use = accented.notna() & (rng.random(len(values)) < rate)
    return series.where(~use, accented).to_numpy(dtype=object)


def blank(values: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    out = values.astype(object).copy()
    out[rng.random(len(values)) < rate] = None
    return out


def case(values: np.ndarray, upper_rate: float, lower_rate: float, rng: np.random.Generator) -> np.ndarray:
    series = pd.Series(values, dtype=object)
    draw = rng.random(len(values))
    upper = series.str.upper()
    lower = series.str.lower()
    return series.where(draw >= upper_rate, upper).where((draw < upper_rate) | (draw >= upper_rate + lower_rate),
                                                          lower).to_numpy(dtype=object)


def phone_format(digits: np.ndarray, style: str, rng: np.random.Generator) -> np.ndarray:
    """Format ``1AAAEEELLLL`` digit strings the way a system stores them."""
    s = pd.Series(digits, dtype=object)
    area, exchange, line = s.str[1:4], s.str[4:7], s.str[7:11]
    if style == "us_paren":
        formatted = "(" + area + ") " + exchange + "-" + line
    elif style == "intl_dash":
        formatted = "+1 " + area + "-" + exchange + "-" + line
    elif style == "dots":
        formatted = area + "." + exchange + "." + line
    elif style == "digits":
        formatted = area + exchange + line
    elif style == "e164":
        formatted = "+1" + area + exchange + line
    else:
        raise ValueError(style)
    return formatted.where(s.notna(), None).to_numpy(dtype=object)


def abbreviate_streets(streets: np.ndarray, rate: float, rng: np.random.Generator) -> np.ndarray:
    series = pd.Series(streets, dtype=object)
    use = rng.random(len(streets)) < rate
    short = series.copy()
    for full, abbr in [*vocab.SUFFIXES, *vocab.DIRECTIONS]:
        short = short.str.replace(rf"\b{full}\b", abbr, regex=True)
    return series.where(~use, short).to_numpy(dtype=object)
