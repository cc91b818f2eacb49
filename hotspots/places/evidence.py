"""The evidence floor: which cells have earned a place in a hotspot.

The area budget (1.4% of the force) and the most hotspots are ceilings, not quotas: a cell joins
a hotspot only if it clears a floor a commander can read, and a set stops early, saying why, when
no further cell does. The rules:

* ``gistar`` (default): the cell is significantly hot by Getis-Ord Gi* on its neighbourhood's
  incidents over the scoring history, after the Benjamini-Hochberg false discovery rate (5%) over
  every cell of the force;
* ``expected``: the cell's score, read as an expected count (the kernel density's expected
  incidents over the history, or a forecast's expected count), is at least ``min_expected``;
* ``none``: any positive score (the budget is filled; for comparison only).

Padding a new hotspot up to its minimum size takes only cells over a lower floor: at least one
incident in the scoring history and a positive score, never an empty cell. The rule, its values
and the number of cells that clear it are stored with the set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_choice, check_fraction

FLOOR_RULES = ("gistar", "expected", "none")
DEFAULT_FLOOR_RULE = "gistar"
DEFAULT_FDR = 0.05
DEFAULT_MIN_EXPECTED = 1.0


@dataclass(frozen=True)
class EvidenceFloor:
    """Which region cells may join a hotspot (``eligible``) and which may pad one (``padding``).

    Attributes
    ----------
    rule : one of FLOOR_RULES.
    eligible, padding : bool (n_cells,), in the region's cell order.
    description, padding_description : the floors in words, for the record and the commander.
    values : the rule's parameters (fdr or min_expected).
    """

    rule: str
    eligible: np.ndarray
    padding: np.ndarray
    description: str
    padding_description: str
    values: dict

    def as_dict(self) -> dict:
        return {"rule": self.rule, "description": self.description, "padding": self.padding_description,
                "eligible_cells": int(self.eligible.sum()), **self.values}

    @property
    def nothing_left(self) -> str:
        """Why a set stops when no further cell clears the floor, in a commander's words."""
        if self.rule == "gistar":
            return "no further cells are significantly hot"
        if self.rule == "expected":
            return f"no further cells expect {self.values['min_expected']:g} or more incidents"
        return "no further cells score above zero"


def evidence_floor(rule: str, scores: np.ndarray, history_counts: np.ndarray, *, gi_star_z: np.ndarray | None = None,
                   q_value: np.ndarray | None = None, fdr: float = DEFAULT_FDR,
                   min_expected: float = DEFAULT_MIN_EXPECTED) -> EvidenceFloor:
    """The floor of ``rule`` over the region's cells.

    Parameters
    ----------
    rule : gistar, expected or none.
    scores : (n,) the score each cell is ranked by (zero where unscored).
    history_counts : (n,) incidents in each cell over the scoring history.
    gi_star_z, q_value : (n,) Gi* z-scores and false-discovery-rate q-values (rule ``gistar``).
    fdr : the false discovery rate a Gi*-hot cell must clear (0.05: 95%).
    min_expected : the least expected count (rule ``expected``), in the score's units.

    Returns
    -------
    EvidenceFloor
    """
    check_choice(rule, FLOOR_RULES, "evidence_floor")
    scores = np.asarray(scores, float)
    positive = scores > 0
    padding = positive & (np.asarray(history_counts, float) >= 1)
    padding_words = "a cell with at least one incident in the scoring history"
    if rule == "gistar":
        check_fraction(fdr, "fdr")
        if gi_star_z is None or q_value is None:
            raise ValidationError("evidence_floor='gistar' needs the Gi* z-scores and q-values of the region's cells",
                                  arguments="evidence_floor")
        eligible = positive & (np.asarray(gi_star_z) > 0) & (np.asarray(q_value) <= fdr)
        return EvidenceFloor(rule, eligible, padding | eligible,
                             f"Gi* hot at a false discovery rate of {100 * fdr:g}% over the scoring history",
                             padding_words, {"fdr": fdr})
    if rule == "expected":
        if not min_expected > 0:
            raise ValidationError(f"min_expected={min_expected!r} must be above 0 (an expected count of incidents)",
                                  arguments="min_expected")
        eligible = scores >= min_expected
        return EvidenceFloor(rule, eligible, padding | eligible, f"an expected count of at least {min_expected:g}",
                             padding_words, {"min_expected": min_expected})
    return EvidenceFloor(rule, positive, np.ones(scores.size, bool), "any positive score (no evidence floor)",
                         "any cell", {})
