"""Emerging-hotspot classes over a run of periods: Gi* per period and a Mann-Kendall trend.

The classes follow the emerging hot spot analysis of ArcGIS's space-time pattern mining, read
per cell over its series of periods (oldest first):

==============  ==========================================================================
new             hot in the final period, and never before
consecutive     hot in an unbroken run of two or more final periods, never hot before the
                run, and hot in under 90% of periods
intensifying    hot in at least 90% of periods including the final, Gi* z rising (trend)
persistent      hot in at least 90% of periods including the final, no trend
diminishing     hot in at least 90% of periods including the final, Gi* z falling (trend)
sporadic        hot in the final period, on and off before, under 90%, never cold
oscillating     hot in the final period, cold in some earlier period, under 90% hot
historical      not hot in the final period, but hot in at least 90% of periods
no pattern      none of these
==============  ==========================================================================

"Hot" and "cold" are Gi* classes at the chosen false discovery rate in that period; the trend
is a Mann-Kendall test on the cell's Gi* z-scores at the 5% level.
"""

from __future__ import annotations

from collections.abc import MutableMapping

import numpy as np
import pandas as pd
from scipy.special import erfc

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_fraction
from hotspots.geo import cells as h3cells
from hotspots.places.gistar import gistar_periods

EMERGING_CLASSES = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic",
                    "oscillating", "historical", "no pattern")
EMERGING_COLUMNS = ["h3_cell", "emerging_class", "hot_periods", "cold_periods", "periods", "final_z",
                    "trend_s", "trend_z", "trend_p"]
_MOSTLY = 0.9


def mann_kendall(series: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mann-Kendall trend test on each row of ``series`` (cells × periods, oldest first).

    Returns S (the sum of signs over ordered pairs), Z (normal score with continuity correction
    and the tie-corrected variance) and the two-sided p-value, each shape (cells,).
    """
    x = np.atleast_2d(np.asarray(series, dtype=float))
    rows, n = x.shape
    s = np.zeros(rows)
    for a in range(n - 1):
        s += np.sign(x[:, a + 1:] - x[:, a:a + 1]).sum(axis=1)
    # Tie correction: Σ t(t-1)(2t+5) over groups of equal values within each row.
    ordered = np.sort(x, axis=1)
    run = np.concatenate([np.zeros((rows, 1), int), np.cumsum(np.diff(ordered, axis=1) != 0, axis=1)], axis=1)
    flat = (np.arange(rows)[:, None] * n + run).ravel()
    sizes = np.bincount(flat, minlength=rows * n).reshape(rows, n).astype(float)
    ties = (sizes * (sizes - 1) * (2 * sizes + 5)).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - ties) / 18.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(s > 0, (s - 1) / np.sqrt(var), np.where(s < 0, (s + 1) / np.sqrt(var), 0.0))
    z = np.where(var > 0, z, 0.0)
    return s, z, erfc(np.abs(z) / np.sqrt(2.0))


def classify_series(hot: np.ndarray, cold: np.ndarray, trend_z: np.ndarray, trend_p: np.ndarray,
                    trend_alpha: float = 0.05) -> np.ndarray:
    """Emerging class of each row from its hot/cold flags per period.

    Parameters
    ----------
    hot, cold : bool (rows, periods), oldest period first: significantly hot or cold.
    trend_z, trend_p : (rows,) Mann-Kendall trend statistic and its p-value.
    trend_alpha : level at which a trend counts as rising or falling.

    Returns
    -------
    numpy.ndarray
        (rows,) object array of class names (new, consecutive, intensifying, persistent,
        diminishing, sporadic, oscillating, historical, no pattern).
    """
    hot = np.atleast_2d(np.asarray(hot, dtype=bool))
    cold = np.atleast_2d(np.asarray(cold, dtype=bool))
    rows, n = hot.shape
    label = np.full(rows, "no pattern", dtype=object)
    if n == 0:
        return label
    share = hot.sum(axis=1) / n
    final = hot[:, -1]
    mostly = share >= _MOSTLY
    # Length of the run of hot periods ending at the final one.
    not_hot_before = np.where(~hot, np.arange(n), -1).max(axis=1)
    final_run = n - 1 - not_hot_before
    hot_before_run = (hot & (np.arange(n) < (not_hot_before[:, None] + 1))).any(axis=1)
    rising = (trend_p <= trend_alpha) & (trend_z > 0)
    falling = (trend_p <= trend_alpha) & (trend_z < 0)
    ever_cold = cold[:, :-1].any(axis=1)
    hot_before_final = hot[:, :-1].any(axis=1)

    label[~final & mostly] = "historical"
    recent = final & ~mostly
    label[recent & ever_cold] = "oscillating"
    label[recent & ~ever_cold] = "sporadic"
    label[recent & (final_run >= 2) & ~hot_before_run] = "consecutive"
    label[final & ~hot_before_final] = "new"
    label[final & mostly] = "persistent"
    label[final & mostly & rising] = "intensifying"
    label[final & mostly & falling] = "diminishing"
    return label


def hotspot_emerging(
    counts: pd.DataFrame,
    cells: np.ndarray,
    *,
    value: str = "incidents",
    k: int = 2,
    rate: float = 0.05,
    permutations: int = 9_999,
    seed: int = 0,
    cache: MutableMapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Emerging-hotspot class of every cell of a region over the periods in ``counts``.

    Parameters
    ----------
    counts : long table with ``h3_cell``, ``period_start`` and ``value`` columns (the cell table
        of :func:`hotspots.crime.aggregate.aggregate_cells`); periods are ordered by ``period_start``.
    cells : sorted unique uint64 cells of the region.
    value : the column to analyse (incidents, harm, knife_enabled, ...).
    k : Gi* neighbourhood radius in grid steps.
    rate : false discovery rate at which a cell is hot or cold in a period.
    permutations : most Gi* permutations per cell and period (sequential stopping keeps this
        cheap); 0 uses the normal approximation, quicker but anti-conservative for sparse counts.
    seed : seed of the permutations; every period draws from the same stream (see
        :func:`hotspots.places.gistar.gistar_periods`).
    cache : each period's Gi* p-values kept from earlier runs (see
        :func:`hotspots.places.gistar.gistar_periods`); None draws every period.

    Returns
    -------
    DataFrame with EMERGING_COLUMNS, one row per cell, in the order of ``cells``.
    """
    check_fraction(rate, "rate")
    missing = {"h3_cell", "period_start", value} - set(counts.columns)
    if missing:
        raise ValidationError(f"counts lacks column(s) {', '.join(sorted(missing))}; pass the cell table")
    periods = sorted(counts["period_start"].unique())
    if len(periods) < 2:
        raise ValidationError(f"emerging hotspots need two or more periods; the counts hold {len(periods)}")
    cells = np.asarray(cells, dtype=np.uint64)
    # One row per cell of the region, one column per period: cells with no incident count 0.
    table = counts.pivot_table(index="h3_cell", columns="period_start", values=value, aggfunc="sum")
    x = table.reindex(index=h3cells.to_strings(cells), columns=periods).fillna(0.0).to_numpy(float)
    z, q = gistar_periods(x, cells, k=k, permutations=permutations, seed=seed, cache=cache)
    hot = (q <= rate) & (z > 0)
    cold = (q <= rate) & (z < 0)
    s, tz, tp = mann_kendall(z)
    frame = pd.DataFrame({
        "h3_cell": h3cells.to_strings(cells), "emerging_class": classify_series(hot, cold, tz, tp),
        "hot_periods": hot.sum(axis=1), "cold_periods": cold.sum(axis=1), "periods": len(periods),
        "final_z": z[:, -1], "trend_s": s, "trend_z": tz, "trend_p": tp,
    })
    frame.attrs.update(k=k, rate=rate, permutations=permutations, first_period=str(periods[0]),
                       last_period=str(periods[-1]))
    return frame
