"""How long a trial must run: power of the primary test.

The test planned for is the primary estimate of :func:`hotspots.trials.effects.fixed_effects`:
Poisson quasi-likelihood on each place's sums over the trial's phases, with place and phase
fixed effects, Wald test at ``level``. Its variance is ``phi`` times the inverse of

    I = X' W X,  W = diag(mu),

at the phase means the trial would have: each place's baseline mean per period times the
periods in the phase, times ``1 - reduction`` where patrolled. Because which places are
patrolled is random, the power is averaged over draws of the actual design.

The over-dispersion ``phi`` is measured the way the test will see it: the baseline weeks are
split into two halves, each place's halves summed, and ``phi`` is the Pearson chi-square of
the place and half effects model over its degrees of freedom (at least 1: crime counts are
never less variable than Poisson; for harm, at least Σ w² N / Σ w N, the variance over the mean
of a weighted Poisson sum, as the primary estimate floors it). The period-to-period pattern is
taken as flat.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from hotspots.core.errors import ValidationError
from hotspots.core.validate import check_fraction
from hotspots.trials.allocation import Allocation, redraw
from hotspots.trials.effects import null_expected, phase_cells, phase_design


@dataclass
class Baseline:
    """Place means per period and the over-dispersion of place sums over blocks of periods."""

    place_means: np.ndarray
    dispersion: float
    periods: int


def baseline(counts: np.ndarray, variance: np.ndarray | None = None) -> Baseline:
    """Means and over-dispersion from (n_places, n_periods) counts (or harm) before the trial (4 periods or more).

    ``variance`` is each value's Poisson variance, Σ w² for harm (see
    :class:`hotspots.trials.effects.Panel`); None for counts.
    """
    counts = np.asarray(counts, float)
    if counts.ndim != 2 or counts.shape[1] < 4:
        raise ValidationError("the power calculation needs at least 4 baseline periods of counts per place")
    if counts.sum() <= 0:
        raise ValidationError("the baseline holds no crimes in these places; no test can detect a reduction")
    half = counts.shape[1] // 2
    sums = np.column_stack([counts[:, :half].sum(axis=1), counts[:, half:].sum(axis=1)])
    sums = sums[sums.sum(axis=1) > 0]
    expected = null_expected(sums)
    chi2 = float((((sums - expected) ** 2)[expected > 0] / expected[expected > 0]).sum())
    dof = max(len(sums) - 1, 1)
    floor = 1.0 if variance is None else float(np.asarray(variance, float).sum() / counts.sum())
    return Baseline(place_means=counts.mean(axis=1), dispersion=max(chi2 / dof, floor), periods=counts.shape[1])


def _se_log_irr(mu: np.ndarray, treated: np.ndarray, during: np.ndarray, dispersion: float) -> float:
    """Standard error of the patrol coefficient of the phase model at expected means ``mu`` (n, T)."""
    keep = mu.sum(axis=1) > 0
    y, _, place, is_during, is_treated = phase_cells(mu[keep], treated[keep], during)
    x = phase_design(place, is_during, is_treated, int(keep.sum()))
    try:
        cov = np.linalg.inv(x.T @ (x * y[:, None]))
    except np.linalg.LinAlgError:
        return np.inf
    return float(np.sqrt(max(dispersion * cov[-1, -1], 0.0)))


def trial_power(base: Baseline, alloc: Allocation, reduction: float, *, before: int, during: int,
                level: float = 0.05, draws: int = 200, seed: int = 0) -> float:
    """Power to detect ``reduction`` (0.2 = 20% fewer crimes where patrolled) at ``level``, by simulation.

    Parameters
    ----------
    base : place means and over-dispersion from the baseline counts (:func:`baseline`).
    alloc : the allocation whose design is simulated.
    reduction : the true effect, a fraction of crimes prevented in patrolled place-periods.
    before, during : numbers of periods; a crossover design uses only ``during`` (its allocation's
        period count is ignored: arms alternate over ``during`` periods).
    level : the test's size. draws : simulated trials. seed : their seed.

    Returns
    -------
    float
        The share of simulated trials whose test rejects at ``level``.
    """
    check_fraction(reduction, "reduction")
    if not 0 < reduction < 1:
        raise ValidationError(f"reduction={reduction!r} must be above 0 and below 1 (e.g. 0.2 for 20% fewer crimes)", arguments="reduction")
    if during < 1:
        raise ValidationError(f"during={during!r} must be at least 1 period", arguments="during")
    rng = np.random.default_rng(seed)
    crossover = alloc.design == "crossover"
    before = 0 if crossover else before
    if not crossover and before < 1:
        raise ValidationError("a parallel design needs at least 1 period before the trial for its fixed effects")
    in_trial = np.arange(before + during) >= before
    z = stats.norm.ppf(1 - level / 2)
    effect = abs(np.log1p(-reduction))
    powers = []
    for arms in redraw(_template(alloc, during), rng, draws):
        treated = np.zeros((len(base.place_means), before + during), bool)
        treated[:, in_trial] = arms if crossover else arms[:, :1]
        mu = base.place_means[:, None] * np.where(treated, 1.0 - reduction, 1.0)
        se = _se_log_irr(mu, treated, in_trial, base.dispersion)
        powers.append(stats.norm.sf(z - effect / se) + stats.norm.cdf(-z - effect / se))
    return float(np.mean(powers))


def _template(alloc: Allocation, during: int) -> Allocation:
    if alloc.design != "crossover":
        return alloc
    params = {**alloc.parameters, "periods": during}
    return Allocation(places=alloc.places, treated=np.zeros((len(alloc.places), during), bool),
                      design=alloc.design, seed=alloc.seed, parameters=params)


def power_table(base: Baseline, alloc: Allocation, reductions: list[float], durations: list[int], *,
                before: int, level: float = 0.05, draws: int = 200, seed: int = 0) -> pd.DataFrame:
    """Power for each reduction and trial length.

    Parameters
    ----------
    base, alloc, before, level, draws, seed : as for :func:`trial_power`.
    reductions : effects to try (fractions). durations : periods during the trial to try.

    Returns
    -------
    pandas.DataFrame
        Columns reduction, periods_during, power; one row per pair.
    """
    rows = [{"reduction": r, "periods_during": d,
             "power": trial_power(base, alloc, r, before=before, during=d, level=level, draws=draws, seed=seed)}
            for r in reductions for d in durations]
    return pd.DataFrame(rows)


def periods_needed(base: Baseline, alloc: Allocation, reduction: float, *, before: int, target: float = 0.8,
                   level: float = 0.05, most: int = 104, draws: int = 200, seed: int = 0) -> int | None:
    """Fewest periods during the trial with power of at least ``target``.

    Parameters
    ----------
    base, alloc, reduction, before, level, draws, seed : as for :func:`trial_power`.
    target : the power wanted (0.8 by convention). most : the longest trial considered, in periods.

    Returns
    -------
    int or None
        None if ``most`` periods are not enough.
    """
    check_fraction(target, "target")
    low, high = 1, most
    if trial_power(base, alloc, reduction, before=before, during=most, level=level, draws=draws, seed=seed) < target:
        return None
    while low < high:  # power rises with trial length, so bisect
        mid = (low + high) // 2
        if trial_power(base, alloc, reduction, before=before, during=mid, level=level, draws=draws, seed=seed) >= target:
            high = mid
        else:
            low = mid + 1
    return low
