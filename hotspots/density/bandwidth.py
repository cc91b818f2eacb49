"""Choosing a kernel bandwidth from the data: likelihood cross-validation on a later period.

The surface is fitted on incidents *before* a split time and scored by how likely it makes the
places of the incidents *after* it (the held-out period), which is what a prospective hotspot
map is for. Each held-out incident's density is mixed with a uniform floor over the study
area, ``(1 - floor_share) f(x) / W + floor_share / A``, so a compact kernel that misses an
incident scores a finite penalty rather than minus infinity. The bandwidth with the highest
mean log-likelihood wins; every candidate's score is kept for the report.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.density.kde import density_at
from hotspots.density.kernels import DEFAULT_KERNEL, DEFAULT_TRUNCATE

log = logging.getLogger(__name__)

#: Candidate bandwidths in metres: street-segment scale to neighbourhood scale.
DEFAULT_CANDIDATES_M = (100.0, 150.0, 200.0, 250.0, 300.0, 400.0, 500.0, 600.0, 800.0, 1000.0, 1200.0, 1600.0)
DEFAULT_FLOOR_SHARE = 0.01
MIN_HELD_OUT = 10


@dataclass(frozen=True)
class BandwidthChoice:
    """The outcome of likelihood cross-validation.

    Attributes
    ----------
    bandwidth_m : the chosen bandwidth in metres.
    candidates_m, scores : every candidate and its mean held-out log-likelihood (log per m²).
    n_train, n_held_out : incidents used to fit and to score.
    """

    bandwidth_m: float
    candidates_m: tuple[float, ...]
    scores: tuple[float, ...]
    n_train: int
    n_held_out: int

    def describe(self) -> str:
        on_edge = self.bandwidth_m in (min(self.candidates_m), max(self.candidates_m))
        return (f"bandwidth {self.bandwidth_m:g} m chosen by likelihood cross-validation: fitted on {self.n_train:,} "
                f"incidents, scored on {self.n_held_out:,} later ones; candidates "
                f"{', '.join(f'{c:g}' for c in self.candidates_m)} m"
                + ("; the best is at the edge of the candidates, so consider a wider range" if on_edge else ""))


def choose_bandwidth(train_x, train_y, held_x, held_y, *, area_m2: float, train_weights=None,
                     candidates_m=DEFAULT_CANDIDATES_M, kernel: str = DEFAULT_KERNEL,
                     truncate: float = DEFAULT_TRUNCATE, floor_share: float = DEFAULT_FLOOR_SHARE) -> BandwidthChoice:
    """Pick the bandwidth that best predicts where the held-out (later) incidents happened.

    Parameters
    ----------
    train_x, train_y : earlier incidents, projected metres, shape (n,).
    held_x, held_y : later incidents, projected metres, shape (k,).
    area_m2 : area of the study region in m², for the uniform floor.
    train_weights : weights of the earlier incidents (harm, time decay), shape (n,).
    candidates_m : bandwidths to try, metres.
    kernel, truncate : as for :func:`hotspots.density.kde.density_at`.
    floor_share : share of probability spread uniformly over the area (0 < share < 1).

    Returns
    -------
    BandwidthChoice
    """
    candidates = tuple(sorted({float(c) for c in candidates_m}))
    if not candidates or min(candidates) <= 0:
        raise ValidationError(f"candidates_m={candidates_m!r} must hold at least one bandwidth above zero, in metres", arguments="candidates_m")
    if not 0.0 < floor_share < 1.0:
        raise ValidationError(f"floor_share={floor_share!r} must be between 0 and 1 (exclusive), e.g. 0.01", arguments="floor_share")
    if not area_m2 > 0:
        raise ValidationError(f"area_m2={area_m2!r} must be the study area in square metres, above zero", arguments="area_m2")
    train_x = np.asarray(train_x, float)
    held_x = np.asarray(held_x, float)
    weights = np.ones(train_x.size) if train_weights is None else np.asarray(train_weights, float)
    total = float(weights.sum())
    if train_x.size == 0 or total <= 0:
        raise NotReadyError("no earlier incidents to fit on; widen the date range or give a fixed bandwidth")
    if held_x.size < MIN_HELD_OUT:
        raise ValidationError(f"only {held_x.size} held-out incidents (need {MIN_HELD_OUT}) to choose a bandwidth; "
                            "hold out a longer period or give a fixed bandwidth, e.g. bandwidth 400",
                              arguments="bandwidth")
    scores = []
    for h in candidates:
        dens = density_at(train_x, train_y, held_x, held_y, bandwidth=h, kernel=kernel, weights=weights,
                          truncate=truncate)
        mixed = (1.0 - floor_share) * dens / total + floor_share / area_m2
        scores.append(float(np.mean(np.log(mixed))))
    best = int(np.argmax(scores))
    choice = BandwidthChoice(candidates[best], candidates, tuple(scores), train_x.size, held_x.size)
    log.info("%s", choice.describe())
    if not math.isfinite(scores[best]):
        raise ValidationError("every candidate bandwidth scored minus infinity; check the coordinates are projected metres")
    return choice
