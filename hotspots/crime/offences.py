"""One offence vocabulary for every source, and harm weights from the Cambridge Crime Harm Index.

``data/offences.csv`` lists the canonical offences: police.uk crime types and the finer Home
Office offence subgroups, each with its police.uk offence group, its Home Office group,
whether police activity detects it (so it measures patrol effort as much as crime), and
where its harm weight comes from. Codes, labels, police API slugs and the aliases in
``data/offence_aliases.csv`` all map to a canonical offence; anything else maps to
``other`` and is reported, never dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from hotspots.core.config import SHIPPED_DATA
from hotspots.core.errors import FormatError, ValidationError

UNKNOWN = "other"
#: Offences that count as serious violence when the victim is under 25 (serious youth violence):
#: homicide, violence with injury and personal robbery, after the Home Office's serious violence
#: definition. Any violence or robbery flagged knife-enabled counts too.
SERIOUS_VIOLENCE = frozenset({"homicide", "violence_with_injury", "robbery_of_personal_property"})
_VIOLENT_GROUPS = frozenset({"violence_and_sexual_offences", "robbery"})
_HARM_TABLES = {
    "category": ("cchi_weights_by_category.csv", "crime_type"),
    "subgroup": ("cchi_weights_by_prc_subgroup.csv", "prc_subgroup"),
}


def normalise_name(text: str) -> str:
    """'Criminal-damage & arson ' -> 'criminal damage arson': the key aliases are matched on."""
    return " ".join(re.sub(r"[^0-9a-z]+", " ", str(text).lower()).split())


@dataclass(frozen=True)
class OffenceVocabulary:
    """Canonical offences and the names that map to them."""

    table: pd.DataFrame  # one row per canonical offence, indexed by code
    aliases: dict[str, str]

    @property
    def codes(self) -> list[str]:
        return list(self.table.index)

    def lookup(self, names: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map source offence names to canonical codes.

        Returns ``(codes, known)``: object array of codes (``other`` where unknown) and a
        boolean array that is False where the name was not recognised.
        """
        # Each distinct name looked up once, then spread back by its index (NA is index -1).
        index, uniques = pd.factorize(pd.Series(np.asarray(names, dtype=object), dtype=object), sort=False)
        found = [self.aliases.get(normalise_name(u)) for u in uniques] + [None]
        known = np.asarray([f is not None for f in found])[index]
        codes = np.asarray([UNKNOWN if f is None else f for f in found], dtype=object)[index]
        return codes, known

    def group_of(self, codes: np.ndarray) -> np.ndarray:
        index, uniques = pd.factorize(pd.Series(np.asarray(codes, dtype=object), dtype=object), sort=False)
        groups = self.table["offence_group"]
        return np.asarray([groups.get(u) for u in uniques] + [None], dtype=object)[index]

    def police_detected(self) -> list[str]:
        """Offences that police activity detects: by default never a predictor target."""
        return list(self.table.index[self.table["police_detected"].astype(bool)])

    def check(self, code: str, name: str = "offence") -> str:
        found = self.aliases.get(normalise_name(code))
        if found is None:
            raise ValidationError(f"{name}={code!r} is not a known offence; use one of: {', '.join(self.codes)}", arguments=name)
        return found


@lru_cache(maxsize=4)
def vocabulary(data_dir: Path = SHIPPED_DATA) -> OffenceVocabulary:
    table = pd.read_csv(data_dir / "offences.csv", dtype=str).set_index("offence")
    table["police_detected"] = table["police_detected"].astype(int).astype(bool)
    aliases: dict[str, str] = {}
    for code, row in table.iterrows():
        aliases[normalise_name(code)] = code
        aliases[normalise_name(row["label"])] = code
    extra = pd.read_csv(data_dir / "offence_aliases.csv", dtype=str)
    for alias, code in zip(extra["alias"], extra["offence"], strict=True):
        if code not in table.index:
            raise FormatError(f"offence_aliases.csv maps {alias!r} to unknown offence {code!r}")
        aliases[normalise_name(alias)] = code
    return OffenceVocabulary(table=table, aliases=aliases)


def harm_weights(override: str | Path | None = None, data_dir: Path = SHIPPED_DATA) -> dict[str, float]:
    """Harm weight (Cambridge Crime Harm Index, days of imprisonment) for every canonical offence.

    ``override`` is a CSV with columns ``offence,cchi_days``; its offences may be codes,
    labels or aliases, and it replaces the shipped weight of each offence it names.
    """
    vocab = vocabulary(data_dir)
    tables = {
        kind: pd.read_csv(data_dir / "harm" / fname).set_index(key)["cchi_days"].astype(float)
        for kind, (fname, key) in _HARM_TABLES.items()
    }
    weights: dict[str, float] = {}
    for code, row in vocab.table.iterrows():
        kind, key = row["cchi_table"], row["cchi_key"]
        weights[code] = 0.0 if kind == "none" else float(tables[kind][key])
    if override is not None:
        path = Path(override)
        if not path.is_file():
            raise ValidationError(f"harm_table: no such file {str(path)!r}; give a CSV with columns offence,cchi_days", arguments="harm_table")
        frame = pd.read_csv(path, dtype=str)
        if not {"offence", "cchi_days"} <= set(frame.columns):
            raise ValidationError(
                f"harm_table {str(path)!r} needs columns offence,cchi_days; it has {', '.join(frame.columns)}"
            )
        for line, (name, days) in enumerate(zip(frame["offence"], frame["cchi_days"], strict=True), start=2):
            code = vocab.check(name, f"harm_table line {line} offence")
            try:
                value = float(days)
            except ValueError:
                raise FormatError(f"harm_table line {line}: cchi_days={days!r} is not a number") from None
            if not value >= 0:
                raise FormatError(f"harm_table line {line}: cchi_days={days!r} must be zero or more days")
            weights[code] = value
    return weights


def serious_youth_violence(frame: pd.DataFrame) -> tuple[np.ndarray, bool]:
    """Which incidents are serious youth violence, and whether the data can tell at all.

    Serious violence (``SERIOUS_VIOLENCE``, or violence and robbery flagged knife-enabled)
    against a victim under 25. Where no incident records the victim's age (data.police.uk never
    does), the answer is ``(all False, False)``: unknown, not none.
    """
    under25 = frame["victim_under_25"]
    known = bool(under25.notna().any())
    knife = frame["knife_enabled"].fillna(False).astype(bool).to_numpy()
    serious = frame["offence"].isin(SERIOUS_VIOLENCE).to_numpy() | (
        knife & frame["offence_group"].isin(_VIOLENT_GROUPS).to_numpy())
    return serious & under25.fillna(False).astype(bool).to_numpy(), known
