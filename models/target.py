"""What the predictor forecasts: the target offences.

The default target is knife-enabled serious youth violence (``knife_syv``): serious violence
flagged knife-enabled against a victim under 25 (:func:`hotspots.crime.offences.serious_youth_violence`).
Data that records neither a knife flag nor victim age (data.police.uk) cannot give it; there
the analyst names offence types instead, e.g. ``"Violence and sexual offences,Robbery"``. A
name that is an offence group (``robbery``) takes every offence in the group.

Offences that police activity detects (possession of weapons, drugs, stop and search) are
refused as targets unless ``allow_police_detected`` is given: a forecast of them would send
patrols where patrols already found them, and the forecast would feed itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from hotspots.crime.offences import serious_youth_violence, vocabulary

KNIFE_SYV = "knife_syv"


@dataclass(frozen=True)
class Target:
    """A target definition.

    Attributes
    ----------
    spec : the text it was parsed from (stored with a model).
    offences : canonical offence codes (or groups) counted, empty for ``knife_syv``.
    """

    spec: str
    offences: tuple[str, ...] = ()

    @property
    def is_knife_syv(self) -> bool:
        return self.spec == KNIFE_SYV

    def records(self, frame: pd.DataFrame) -> bool:
        """Whether the incidents record what the target needs (knife flag and victim age for knife_syv)."""
        if not self.is_knife_syv:
            return True
        _, known = serious_youth_violence(frame)
        return bool(known and frame["knife_enabled"].notna().any())

    def check_recorded(self, recorded: bool) -> None:
        if not recorded:
            raise ValidationError(
                "target='knife_syv' needs the knife flag and victim age, which these incidents do not record "
                "(data.police.uk has neither); name offence types instead, e.g. "
                "target='Violence and sexual offences,Robbery'", arguments="target")

    def mask(self, frame: pd.DataFrame, check: bool = True) -> np.ndarray:
        """Which incidents (rows of a normalised incident frame) are target incidents; ``check`` first
        makes sure they record what the target needs (a part of a region, which may hold none of
        the incidents that do, is checked with the whole region instead)."""
        if self.is_knife_syv:
            if check:
                self.check_recorded(self.records(frame))
            syv, _ = serious_youth_violence(frame)
            return syv & frame["knife_enabled"].fillna(False).astype(bool).to_numpy()
        codes = list(self.offences)
        return (frame["offence"].isin(codes) | frame["offence_group"].isin(codes)).to_numpy()

    def describe(self) -> str:
        if self.is_knife_syv:
            return "knife-enabled serious youth violence (homicide, violence with injury or personal robbery, " \
                   "or knife-enabled violence or robbery, against a victim under 25)"
        labels = vocabulary().table["label"]
        return ", ".join(str(labels.get(c, c)) for c in self.offences)


def parse_target(spec: str = KNIFE_SYV, allow_police_detected: bool = False) -> Target:
    """Parse ``knife_syv`` or a comma-separated list of offence types, groups, labels or aliases."""
    text = (spec or "").strip()
    if not text:
        raise ValidationError("target='' names no offences; use knife_syv or offence types such as "
                            "'Violence and sexual offences,Robbery'", arguments="target")
    if text.lower() == KNIFE_SYV:
        return Target(KNIFE_SYV)
    vocab = vocabulary()
    codes = []
    for name in (part.strip() for part in text.split(",")):
        if name:
            codes.append(vocab.check(name, "target"))
    detected = sorted(set(vocab.police_detected()) & set(codes))
    groups_detected = {vocab.table.loc[c, "offence_group"] for c in vocab.police_detected()}
    detected += sorted(c for c in codes if c in groups_detected and c not in detected)
    if detected and not allow_police_detected:
        raise ValidationError(
            f"target={spec!r} includes {', '.join(detected)}, found by police activity: forecasting it would let "
            "patrols feed their own forecasts; leave it out, or pass allow_police_detected to insist",
            arguments=("target", "allow_police_detected"))
    unique = tuple(dict.fromkeys(codes))
    return Target(",".join(unique), unique)
