"""How good a forecast was, scored on one period it never saw.

* **Hit rate** at an area share ``a``: the share of the period's target incidents inside the
  highest-scored cells that together cover ``a`` of the region's area.
* **Predictive Accuracy Index** (Chainey, Tompson and Uhlig 2008): hit rate / area share.
* **Predictive Efficiency Index** (Hunt 2016): hit rate / the best hit rate any choice of cells
  of that area could have had (the cells ranked by what actually happened).
* **Poisson deviance**, mean per cell, with forecasts floored at :data:`DEVIANCE_FLOOR`.
* **Calibration**: forecast total / observed total, and the least-squares slope of observed on
  forecast counts (1 is calibrated; below 1 over-confident).

Ties are handled without luck: cells are taken in groups of equal score, and the group that
crosses the area budget counts with the share of it that fits, which is the expected hit rate
of breaking the tie at random.
"""

from __future__ import annotations

import numpy as np

from hotspots.core.errors import ValidationError

#: The area shares scored by default: 1%, Project Guardian's 1.4%, and 5%.
AREA_SHARES = (0.01, 0.014, 0.05)
#: A forecast of zero where something happened has infinite deviance; forecasts are floored here.
DEVIANCE_FLOOR = 1e-4


def hits_at(scores: np.ndarray, observed: np.ndarray, areas: np.ndarray, share: float) -> float:
    """Observed incidents inside the best-scored ``share`` of the area (expected under random tie-breaks)."""
    scores, observed, areas = (np.asarray(a, dtype=float) for a in (scores, observed, areas))
    if not (scores.shape == observed.shape == areas.shape):
        raise ValidationError("scores, observed and areas must have one value per cell")
    if not 0 < share <= 1:
        raise ValidationError(f"share={share!r} must be a fraction of the area above 0 and at most 1", arguments="share")
    if scores.size == 0:
        return 0.0
    budget = share * areas.sum()
    # Groups of equal score, best first.
    uniq, inverse = np.unique(-scores, return_inverse=True)
    g_area = np.bincount(inverse, weights=areas, minlength=uniq.size)
    g_hits = np.bincount(inverse, weights=observed, minlength=uniq.size)
    cum_area = np.cumsum(g_area)
    full = cum_area <= budget * (1 + 1e-12)
    hits = float(g_hits[full].sum())
    nxt = int(full.sum())
    if nxt < uniq.size:
        left = budget - (cum_area[nxt - 1] if nxt else 0.0)
        hits += g_hits[nxt] * max(left, 0.0) / g_area[nxt]
    return hits


def coverage_metrics(scores, observed, areas, shares=AREA_SHARES) -> dict[str, float]:
    """Hit rate, PAI and PEI at each area share, as ``{"hit_rate@1.4%": ..., "pai@1.4%": ..., ...}``."""
    observed = np.asarray(observed, dtype=float)
    total = float(observed.sum())
    out: dict[str, float] = {}
    for share in shares:
        key = f"{share * 100:g}%"
        got = hits_at(scores, observed, areas, share)
        best = hits_at(observed, observed, areas, share)
        hit_rate = got / total if total > 0 else np.nan
        out[f"hit_rate@{key}"] = hit_rate
        out[f"pai@{key}"] = hit_rate / share if total > 0 else np.nan
        out[f"pei@{key}"] = got / best if best > 0 else np.nan
    return out


def poisson_deviance(expected, observed, floor: float = DEVIANCE_FLOOR) -> float:
    """Mean Poisson deviance per cell: 2 Σ [y log(y/μ) − (y − μ)] / n, with μ floored at ``floor``."""
    mu = np.maximum(np.asarray(expected, dtype=float), floor)
    y = np.asarray(observed, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(y > 0, y * np.log(y / mu), 0.0)
    return float(2.0 * np.mean(term - (y - mu))) if y.size else np.nan


def calibration(expected, observed) -> dict[str, float]:
    """``calibration_ratio`` (forecast total / observed total) and ``calibration_slope``."""
    mu = np.asarray(expected, dtype=float)
    y = np.asarray(observed, dtype=float)
    total = float(y.sum())
    centred = mu - mu.mean()
    denom = float(centred @ centred)
    return {
        "calibration_ratio": float(mu.sum()) / total if total > 0 else np.nan,
        "calibration_slope": float(centred @ (y - y.mean())) / denom if denom > 0 else np.nan,
    }


def score_forecast(expected, observed, areas, shares=AREA_SHARES) -> dict[str, float]:
    """Every metric of one forecast period (see the module docstring)."""
    out = coverage_metrics(expected, observed, areas, shares)
    out["poisson_deviance"] = poisson_deviance(expected, observed)
    out.update(calibration(expected, observed))
    out["observed"] = float(np.sum(observed))
    return out
