"""The methods an analyst would use without the model, computed on the same cells and periods.

Each baseline is registered by name and forecasts the expected count of target incidents per
cell in a period from what was known before it (:meth:`CellHistory.known_targets`):

* ``last_period``: last period's counts.
* ``decayed_counts``: counts of all earlier periods halved every ``half_life`` periods, as a
  weighted mean per period.
* ``all_counts``: every earlier period's counts, as a mean per period.
* ``tuned_counts``: decayed counts, blended with their ring's mean over 0, 1 or 2 grid steps, with the
  half-life and radius chosen by a rolling backtest on the periods before each forecast only.
* ``eb_shrinkage``: empirical-Bayes Poisson-gamma rates, each cell's shrunk toward its
  neighbourhood's mean rate.
* ``retrospective_kde``: a quartic kernel density of every earlier incident, per period.
* ``prospective``: prospective hotspotting (Bowers, Johnson and Pease 2004): every incident of
  the last ``window_days`` within ``bandwidth_m`` adds ``1/(1 + d) × 1/(1 + w)`` to a cell, ``d``
  its distance in ``distance_unit_m`` steps and ``w`` its age in whole weeks.
* ``sepp``: the grid self-exciting point process of Mohler et al. (2015, JASA 110:1399), fitted
  by EM: in each cell ``λ(t) = μ_c + Σ_{t_j < t} θ ω exp(−ω (t − t_j))``; the forecast is its
  integral over the period.

Rankings that are not counts (prospective) are scaled so their total equals the mean count of
the last 12 periods, so that deviance and calibration compare like with like; the ranking, and so
hit rate, PAI and PEI, is unchanged.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from hotspots.core.errors import ValidationError
from models._sepp_numba import sepp_estep
from models.features import CellHistory, neighbour_matrix

log = logging.getLogger(__name__)

_RECENT_PERIODS = 12
#: The share of the area the tuned baseline is tuned for (Project Guardian's 1.4%).
HEADLINE_SHARE = 0.014


def _recent_mean_total(history: CellHistory, period: int) -> float:
    i = period - history.first_period
    lo = max(i - _RECENT_PERIODS, 0)
    return float(history.known_counts[lo:i].sum() / max(i - lo, 1))


def _scaled(risk: np.ndarray, total: float) -> np.ndarray:
    s = float(risk.sum())
    return risk * (total / s) if s > 0 else np.full(risk.size, total / max(risk.size, 1))


@dataclass(frozen=True)
class LastPeriod:
    name: str = "last_period"

    def describe(self) -> str:
        return "last period's counts"

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        return history.known_counts[i - 1].copy()


@dataclass(frozen=True)
class DecayedCounts:
    half_life: float = 3.0
    name: str = "decayed_counts"

    def describe(self) -> str:
        return f"all earlier counts, halved every {self.half_life:g} periods, per period"

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        a = 0.5 ** (1.0 / self.half_life)
        w = a ** np.arange(i)[::-1]  # weight of periods 0..i-1
        return (w @ history.known_counts[:i]) / w.sum()


@dataclass(frozen=True)
class RetrospectiveKDE:
    bandwidth_m: float = 300.0
    name: str = "retrospective_kde"

    def describe(self) -> str:
        return f"quartic kernel density of all earlier incidents, {self.bandwidth_m:g} m, per period"

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        return history.target_kde(period, self.bandwidth_m) / i


@dataclass(frozen=True)
class Prospective:
    bandwidth_m: float = 400.0
    window_days: float = 56.0
    distance_unit_m: float = 50.0
    name: str = "prospective"

    def describe(self) -> str:
        return (f"prospective hotspotting (Bowers, Johnson & Pease 2004): {self.bandwidth_m:g} m, "
                f"{self.window_days:g} days, 1/(1+d/{self.distance_unit_m:g} m) x 1/(1+weeks)")

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        history.check_period(period)
        rows = history.known_targets(period, self.window_days)
        risk = np.zeros(history.cells.size)
        if rows.size:
            cutoff = float(history.calendar.start_day(np.array([period]))[0])
            weeks = np.floor((cutoff - history.middle_days(rows)) / 7.0)
            x, y = history.projected
            pairs = history.centre_tree.sparse_distance_matrix(
                cKDTree(np.column_stack([x[rows], y[rows]])), self.bandwidth_m, output_type="coo_matrix")
            add = 1.0 / (1.0 + pairs.data / self.distance_unit_m) / (1.0 + weeks[pairs.col])
            risk = np.bincount(pairs.row, weights=add, minlength=risk.size)
        return _scaled(risk, _recent_mean_total(history, period))


@dataclass
class SeppFit:
    """A fitted grid self-exciting point process.

    Attributes
    ----------
    mu : background events per day per cell, shape (m,).
    theta : expected offspring per event. omega : triggering decay rate per day (mean lag 1/ω days).
    loglik : log-likelihood at the fit. iterations : EM steps taken.
    """

    mu: np.ndarray
    theta: float
    omega: float
    loglik: float
    iterations: int

    def expected(self, times: np.ndarray, cell: np.ndarray, t_end: float, length: float) -> np.ndarray:
        """Expected events per cell in ``[t_end, t_end + length)`` given the events before ``t_end``."""
        carry = np.exp(-self.omega * (t_end - times)) - np.exp(-self.omega * (t_end + length - times))
        return self.mu * length + self.theta * np.bincount(cell, weights=carry, minlength=self.mu.size)


def _sorted_by_cell(times: np.ndarray, cell: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.lexsort((times, cell))
    starts = np.zeros(n_cells + 1, np.int64)
    np.cumsum(np.bincount(cell, minlength=n_cells), out=starts[1:])
    return np.ascontiguousarray(times[order], dtype=np.float64), starts


def fit_grid_sepp(times, cell, n_cells: int, t0: float, t_end: float, max_iter: int = 500,
                  tol: float = 1e-7) -> SeppFit:
    """Fit ``μ_c``, ``θ`` and ``ω`` by EM (Mohler et al. 2015) to events in ``[t0, t_end)``.

    The M-step is exact for ``μ_c`` and ``θ`` (with the window's edge: an event near ``t_end`` has
    had less time to trigger); for ``ω`` it is Mohler's closed form, which ignores that edge.

    Parameters
    ----------
    times : event times in days, shape (n,).
    cell : each event's cell index in ``[0, n_cells)``, shape (n,).
    n_cells : cells in the grid.
    t0, t_end : the observation window in days.
    max_iter, tol : stop after ``max_iter`` steps or when the log-likelihood gains less than
        ``tol`` relatively.

    Returns
    -------
    SeppFit
        Background rate per cell (events per day), offspring per event ``θ``, decay ``ω`` (per
        day), the log-likelihood and the EM steps taken.
    """
    times = np.asarray(times, dtype=float)
    cell = np.asarray(cell, dtype=np.int64)
    if times.shape != cell.shape:
        raise ValidationError("times and cell must have one value per event")
    if not t_end > t0:
        raise ValidationError(f"the observation window [{t0}, {t_end}) is empty")
    if times.size and (times.min() < t0 or times.max() >= t_end):
        raise ValidationError("every event must fall inside the observation window")
    span = t_end - t0
    if times.size == 0:
        return SeppFit(np.zeros(n_cells), 0.0, 0.1, 0.0, 0)
    sorted_times, starts = _sorted_by_cell(times, cell, n_cells)
    counts = np.diff(starts).astype(float)
    mu, theta, omega = counts / (2 * span), 0.5, 0.1
    previous = -np.inf
    it = 0
    loglik = -np.inf
    for it in range(1, max_iter + 1):
        background, trig, trig_lag, ll_cells = sepp_estep(sorted_times, starts, mu, theta, omega)
        compensator = mu.sum() * span + theta * np.sum(1 - np.exp(-omega * (t_end - times)))
        loglik = float(ll_cells.sum() - compensator)
        mu = background / span
        total_trig, total_lag = float(trig.sum()), float(trig_lag.sum())
        if total_lag > 0 and total_trig > 0:
            omega = min(max(total_trig / total_lag, 1e-4), 10.0)
        theta = total_trig / float(np.sum(1 - np.exp(-omega * (t_end - times))))
        if math.isfinite(previous) and abs(loglik - previous) <= tol * abs(previous):
            break
        previous = loglik
    return SeppFit(mu, float(theta), float(omega), loglik, it)


@dataclass(frozen=True)
class GridSEPP:
    max_iter: int = 500
    name: str = "sepp"

    def describe(self) -> str:
        return "grid self-exciting point process (Mohler et al. 2015), fitted by EM on all earlier incidents"

    def fit(self, history: CellHistory, period: int) -> tuple[SeppFit, np.ndarray, np.ndarray, float]:
        history.check_period(period)
        rows = history.known_targets(period)
        t0 = float(history.calendar.start_day(np.array([history.first_period]))[0])
        t_end = float(history.calendar.start_day(np.array([period]))[0])
        times = np.clip(history.middle_days(rows), t0, np.nextafter(t_end, -np.inf))
        cell = history.cell_index[rows]
        return fit_grid_sepp(times, cell, history.cells.size, t0, t_end, self.max_iter), times, cell, t_end

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        fit, times, cell, t_end = self.fit(history, period)
        length = float(history.calendar.end_day(np.array([period]))[0]) - t_end
        log.debug("sepp: theta %.3f, mean lag %.1f days, %d EM steps", fit.theta, 1 / fit.omega, fit.iterations)
        return fit.expected(times, cell, t_end, length)


@dataclass(frozen=True)
class AllCounts:
    name: str = "all_counts"

    def describe(self) -> str:
        return "all earlier counts, per period (each cell's long-run mean)"

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        return history.known_counts[:i].mean(axis=0)


#: Half-lives (periods) and smoothing radii (H3 grid steps) the tuned baseline chooses among.
TUNED_HALF_LIVES = (1.0, 2.0, 3.0, 6.0, 12.0, 24.0, math.inf)
TUNED_STEPS = (0, 1, 2)


def _decayed_mean(counts: np.ndarray, half_life: float) -> np.ndarray:
    """Weighted mean of ``counts`` rows (oldest first), each halved every ``half_life`` rows back."""
    w = 0.5 ** (np.arange(counts.shape[0])[::-1] / half_life) if math.isfinite(half_life) else np.ones(counts.shape[0])
    return (w @ counts) / w.sum()


def _ring(history: CellHistory, steps: int):
    """The history's ring matrix of ``steps`` (the features' own, when they use that radius)."""
    rings = history._neighbours
    return rings[steps] if steps in rings else neighbour_matrix(history.cells, steps)


def _smoothed(rate: np.ndarray, history: CellHistory, steps: int) -> np.ndarray:
    """Each cell's rate blended with its ring of ``steps`` (itself counting as much as the ring's mean)."""
    if steps == 0:
        return rate
    ring = _ring(history, steps)
    size = np.asarray(ring.sum(axis=1)).ravel()
    ring_mean = np.divide(ring @ rate, size, out=np.zeros_like(rate), where=size > 0)
    return 0.5 * rate + 0.5 * ring_mean


def _top_hits(scores: np.ndarray, observed: np.ndarray, k: int) -> float:
    """Observed incidents in the ``k`` best-scored cells."""
    k = min(k, scores.size)
    return float(observed[np.argpartition(-scores, k - 1)[:k]].sum()) if k else 0.0


@dataclass(frozen=True)
class TunedCounts:
    """Decayed, optionally smoothed counts with the half-life and radius chosen by a rolling backtest
    on the ``tuning_periods`` before the forecast period only (hits in the best 1.4% of the area)."""

    tuning_periods: int = 6
    name: str = "tuned_counts"

    def describe(self) -> str:
        return (f"decayed counts smoothed over 0-{max(TUNED_STEPS)} grid steps, half-life and radius chosen by a "
                f"rolling backtest on the {self.tuning_periods} periods before each forecast")

    def choose(self, history: CellHistory, period: int) -> tuple[float, int]:
        """The (half-life, steps) with the most hits over the tuning periods before ``period``."""
        i = history.check_period(period)
        counts, areas = history.known_counts, history.areas_m2
        # Cells of one resolution differ little in area: the budget is taken as a number of cells, so
        # each candidate costs a partition rather than a sort (ties fall either way; it only tunes).
        k = max(1, int(round(HEADLINE_SHARE * areas.sum() / areas.mean())))
        tests = range(max(2, i - self.tuning_periods), i)
        hits = {}
        for half_life in TUNED_HALF_LIVES:
            decayed = {t: _decayed_mean(counts[:t], half_life) for t in tests}
            for steps in TUNED_STEPS:
                hits[half_life, steps] = sum(_top_hits(_smoothed(decayed[t], history, steps), counts[t], k)
                                             for t in tests)
        best = max(hits.values())
        return next(c for c, got in hits.items() if got > best - 1e-9)  # the first of the grid among the best

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        half_life, steps = self.choose(history, period)
        log.debug("tuned_counts: half-life %s periods, %d steps", half_life, steps)
        return _smoothed(_decayed_mean(history.known_counts[:i], half_life), history, steps)


@dataclass(frozen=True)
class ShrunkCounts:
    """Empirical-Bayes (Poisson-gamma) rates: each cell's count over the earlier periods shrunk toward the
    mean rate of its ring of ``steps``, by a prior whose variance is the rates' variance beyond Poisson noise."""

    steps: int = 2
    name: str = "eb_shrinkage"

    def describe(self) -> str:
        return (f"empirical-Bayes Poisson-gamma rates, each cell shrunk toward its {self.steps}-step "
                "neighbourhood's mean")

    def forecast(self, history: CellHistory, period: int) -> np.ndarray:
        i = history.check_period(period)
        n = history.known_counts[:i].sum(axis=0)
        rate = n / i
        mean = float(rate.mean())
        prior_var = max(float(rate.var()) - mean / i, 1e-12)  # variance beyond Poisson noise
        ring = _ring(history, self.steps)
        size = np.asarray(ring.sum(axis=1)).ravel() + 1.0
        local = np.maximum((ring @ rate + rate) / size, 1e-9)  # the ring's mean rate, the cell included
        shape, scale_rate = local ** 2 / prior_var, local / prior_var  # gamma prior with mean local, var prior_var
        return (n + shape) / (i + scale_rate)


BASELINES = {b.name: b for b in (LastPeriod(), DecayedCounts(), AllCounts(), TunedCounts(), ShrunkCounts(),
                                 RetrospectiveKDE(), Prospective(), GridSEPP())}


def get_baselines(names=None) -> list:
    """Baselines by name (all by default); an unknown name raises listing the valid ones."""
    if names is None:
        return list(BASELINES.values())
    out = []
    for n in names:
        if n not in BASELINES:
            raise ValidationError(f"baseline={n!r} is not known; use one of: {', '.join(BASELINES)}", arguments="baseline")
        out.append(BASELINES[n])
    return out
