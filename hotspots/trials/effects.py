"""Patrolled against control places: effect estimates with intervals.

Every estimator takes a :class:`Panel`: an outcome per place and period (counts of crimes, or
their harm), which place-periods were patrolled, and which periods fall in the trial. A
parallel trial (simple, blocked, pair) has periods before and during; a crossover trial has
only periods during, each place patrolled in some of them.

* :func:`difference_in_differences`: the 2x2 table of sums, the difference in differences in
  crimes per period (Wheeler and Ratcliffe's local WDD) and the relative incidence rate ratio
  (Wilson 2021), both with Poisson intervals. Parallel designs only.
* :func:`fixed_effects`: the primary estimate (:func:`phase_model`: Poisson quasi-likelihood on
  each place's sums before and during, place and phase fixed effects), and weekly Poisson and
  negative-binomial regressions with place and week fixed effects (statsmodels); the incidence
  rate ratio of patrol and its interval from each.
* :func:`randomisation_test`: the score statistic of the fixed-effects Poisson model,
  re-computed under re-draws of the actual design; its p-value needs no model to be right.
* :func:`dose_response`: the incidence rate ratio per hour of delivered patrol.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats

from hotspots.core.errors import ValidationError
from hotspots.trials.allocation import Allocation, redraw

Z95 = float(stats.norm.ppf(0.975))


@dataclass
class Panel:
    """Outcomes per place and period.

    place_ids : n place ids.
    outcome : (n, T) float, crimes (or harm) per place and period.
    treated : (n, T) bool, patrolled place-periods.
    during : (T,) bool, periods inside the trial (False: before it).
    arm : (n,) bool, place in the treatment arm (parallel designs), or None for crossover.
    variance : (n, T) float, each outcome's variance if crimes were Poisson: the count itself, or
        Σ w² of the harm weights for harm (a weighted count's variance is Σ w² N, not Σ w N).
        None means the outcome is a count.
    counts : (n, T) float, the crimes behind a weighted outcome (harm), whose over-dispersion
        the harm inherits; None for counts.
    """

    place_ids: list[str]
    outcome: np.ndarray
    treated: np.ndarray
    during: np.ndarray
    arm: np.ndarray | None = None
    variance: np.ndarray | None = None
    counts: np.ndarray | None = None

    def __post_init__(self):
        n, t = self.outcome.shape
        if self.treated.shape != (n, t) or self.during.shape != (t,):
            raise ValidationError(f"panel shapes disagree: outcome {self.outcome.shape}, treated "
                                  f"{self.treated.shape}, during {self.during.shape}")
        if self.variance is not None and self.variance.shape != (n, t):
            raise ValidationError(f"panel shapes disagree: outcome {self.outcome.shape}, variance {self.variance.shape}")

    @property
    def poisson_variance(self) -> np.ndarray:
        """Each outcome's variance if crimes were Poisson (see ``variance``)."""
        return self.outcome if self.variance is None else self.variance


def _interval(estimate: float, se: float) -> tuple[float, float]:
    return estimate - Z95 * se, estimate + Z95 * se


def difference_in_differences(panel: Panel) -> dict:
    """Sums before and during, per arm; DiD in crimes (or harm) per period and the RIRR, with 95% intervals.

    The DiD is per period, so before and during may differ in length (time weights as in
    Wheeler's WDD); its variance treats crimes as Poisson: ``Vtd/nd² + Vtb/nb² + Vcd/nd² + Vcb/nb²``
    with each ``V`` the sum's Poisson variance (the count itself; Σ w² for harm). The RIRR is
    ``(T_during / T_before) / (C_during / C_before)`` with ``var(log) = Vtb/Tb² + Vtd/Td² + Vcb/Cb²
    + Vcd/Cd²`` (for counts ``1/Tb + 1/Td + 1/Cb + 1/Cd``, Wilson 2021). Both ignore over-dispersion
    and the weeks' correlation: :func:`fixed_effects` does not.
    """
    if panel.arm is None:
        raise ValidationError("difference in differences needs a parallel design with periods before the trial")
    before, during = ~panel.during, panel.during
    nb, nd = int(before.sum()), int(during.sum())
    if nb == 0 or nd == 0:
        raise ValidationError("difference in differences needs periods both before and during the trial")
    y, v = panel.outcome, panel.poisson_variance
    tb, td = y[panel.arm][:, before].sum(), y[panel.arm][:, during].sum()
    cb, cd = y[~panel.arm][:, before].sum(), y[~panel.arm][:, during].sum()
    vtb, vtd = v[panel.arm][:, before].sum(), v[panel.arm][:, during].sum()
    vcb, vcd = v[~panel.arm][:, before].sum(), v[~panel.arm][:, during].sum()
    did = (td / nd - tb / nb) - (cd / nd - cb / nb)
    did_se = float(np.sqrt(vtd / nd**2 + vtb / nb**2 + vcd / nd**2 + vcb / nb**2))
    out = {"treatment_before": float(tb), "treatment_during": float(td), "control_before": float(cb),
           "control_during": float(cd), "periods_before": nb, "periods_during": nd,
           "did_per_period": float(did), "did_per_period_se": did_se,
           "did_per_period_ci": list(_interval(did, did_se)), "did_total": float(did * nd),
           "did_total_ci": [v * nd for v in _interval(did, did_se)]}
    if min(tb, td, cb, cd) > 0:
        log_rirr = np.log(td / tb) - np.log(cd / cb)
        se = float(np.sqrt(vtb / tb**2 + vtd / td**2 + vcb / cb**2 + vcd / cd**2))
        low, high = _interval(log_rirr, se)
        out.update(rirr=float(np.exp(log_rirr)), rirr_ci=[float(np.exp(low)), float(np.exp(high))],
                   rirr_p=float(2 * stats.norm.sf(abs(log_rirr) / se)))
    else:
        out.update(rirr=None, rirr_ci=None, rirr_p=None)
    return out


def moment_alpha(y: np.ndarray, mu: np.ndarray) -> float:
    """NB2 over-dispersion by moments (Cameron and Trivedi's auxiliary regression through 0).

    ``Var(y) = mu + alpha mu^2``, so ``alpha = sum((y - mu)^2 - y) / sum(mu^2)``, at least 1e-8.
    """
    y, mu = np.asarray(y, float).ravel(), np.asarray(mu, float).ravel()
    denom = float((mu**2).sum())
    if denom <= 0:
        return 1e-8
    return max(float((((y - mu) ** 2) - y).sum() / denom), 1e-8)


def null_expected(outcome: np.ndarray) -> np.ndarray:
    """Fitted values of the Poisson model with place and period effects only: row x column / total."""
    total = outcome.sum()
    if total <= 0:
        return np.zeros_like(outcome, dtype=float)
    return np.outer(outcome.sum(axis=1), outcome.sum(axis=0)) / total


def _design(n: int, t: int, extra: list[np.ndarray]) -> np.ndarray:
    """Rows place-major: place dummies (n), period dummies (t - 1), then the extra columns."""
    place = np.kron(np.eye(n), np.ones((t, 1)))
    period = np.kron(np.ones((n, 1)), np.eye(t)[:, 1:])
    return np.column_stack([place, period] + [e.ravel().astype(float) for e in extra])


def _informative(panel: Panel, extra: list[np.ndarray]):
    """Drop places and periods with no crimes at all: their fixed effects run to minus infinity."""
    y = panel.outcome
    rows, cols = y.sum(axis=1) > 0, y.sum(axis=0) > 0
    return y[rows][:, cols], [e[rows][:, cols] for e in extra], rows


def phase_cells(outcome: np.ndarray, treated: np.ndarray, during: np.ndarray):
    """Each place's outcome summed over its phases: before; during and patrolled; during and not.

    Returns y, exposure (periods summed), place index, during and patrolled flags, one entry per
    non-empty (place, phase). Summing over weeks before fitting lets the phase-level
    over-dispersion carry any correlation between a place's weeks (Bertrand, Duflo and
    Mullainathan 2004), which a weekly model would miss.
    """
    parts = []
    for flag_during, flag_treated in ((False, False), (True, True), (True, False)):
        mask = (during[None, :] == flag_during) & (treated == flag_treated)
        exposure = mask.sum(axis=1)
        keep = np.flatnonzero(exposure > 0)
        parts.append((np.where(mask, outcome, 0.0).sum(axis=1)[keep], exposure[keep], keep,
                      np.full(keep.size, flag_during), np.full(keep.size, flag_treated)))
    y, exposure, place, is_during, is_treated = (np.concatenate(c) for c in zip(*parts, strict=True))
    return y.astype(float), exposure.astype(float), place.astype(int), is_during.astype(bool), is_treated.astype(bool)


def phase_design(place: np.ndarray, is_during: np.ndarray, is_treated: np.ndarray, n: int) -> np.ndarray:
    """Place dummies, a during dummy where some phases are before the trial, and the patrol indicator last."""
    columns = [np.eye(n)[place]]
    if (~is_during).any() and is_during.any():
        columns.append(is_during[:, None].astype(float))
    columns.append(is_treated[:, None].astype(float))
    return np.column_stack(columns)


def phase_model(panel: Panel) -> dict:
    """The primary estimate: Poisson quasi-likelihood on place x phase sums, place and phase effects,
    over-dispersion from the Pearson chi-square (with its degrees of freedom).

    For harm (a panel with ``variance``), the over-dispersion is at least what a sum of weights over
    clustered crimes has: ``Var(S)/E(S) = E[w²]/E[w] + (phi_N - 1) E[w]``, with ``phi_N`` the crimes'
    own over-dispersion (the same model on the counts, when the panel has them) and the weights'
    moments from every crime in the panel. The Pearson statistic alone, from a few dozen phase
    sums, misses the rare grave crimes that make harm variable: its interval covered a known harm
    effect only 91% of the time in simulation (tests/test_trial_harm.py); with the floor, 95%.
    """
    import statsmodels.api as sm

    keep = panel.outcome.sum(axis=1) > 0
    y, exposure, place, is_during, is_treated = phase_cells(panel.outcome[keep], panel.treated[keep], panel.during)
    n = int(keep.sum())
    design = phase_design(place, is_during, is_treated, n)
    if n < 3 or is_treated.all() or not is_treated.any() or design.shape[0] <= design.shape[1]:
        raise ValidationError("too few places with crimes, in too few phases, to estimate the effect of patrol")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IRLS warns on near-empty places
        fit = sm.GLM(y, design, family=sm.families.Poisson(), offset=np.log(exposure)).fit(scale="X2")
        count_dispersion = 1.0
        if panel.variance is not None and panel.counts is not None:
            counts = phase_cells(panel.counts[keep], panel.treated[keep], panel.during)[0]
            count_dispersion = float(sm.GLM(counts, design, family=sm.families.Poisson(),
                                            offset=np.log(exposure)).fit(scale="X2").scale)
        floor = weighted_dispersion(panel, count_dispersion)
        source = "Pearson"
        if floor > fit.scale:
            fit = sm.GLM(y, design, family=sm.families.Poisson(), offset=np.log(exposure)).fit(scale=floor)
            source = "harm weights' moments and the crimes' over-dispersion"
    out = _irr(fit, f"Poisson, place and phase fixed effects on place x phase sums, over-dispersion "
                    f"{fit.scale:.2f} ({source}); {n} places")
    out["dispersion"] = float(fit.scale)
    return out


def weighted_dispersion(panel: Panel, count_dispersion: float = 1.0) -> float:
    """Variance over mean of a harm sum: ``E[w²]/E[w] + (count_dispersion - 1) E[w]``; 0 for counts.

    ``E[w]`` needs the crimes (``panel.counts``); without them only ``Σ w² N / Σ w N``, the floor
    for Poisson crimes, is known.
    """
    if panel.variance is None or panel.outcome.sum() <= 0:
        return 0.0
    out = float(panel.variance.sum() / panel.outcome.sum())
    if panel.counts is not None and panel.counts.sum() > 0 and count_dispersion > 1:
        out += (count_dispersion - 1.0) * float(panel.outcome.sum() / panel.counts.sum())
    return out


def fixed_effects(panel: Panel, count_outcome: bool = True, extra: np.ndarray | None = None,
                  name: str = "patrolled") -> dict:
    """Incidence rate ratio of ``treated`` (or of ``extra``, e.g. hours of patrol), with intervals.

    * ``primary`` (the effect of patrol only): :func:`phase_model`, the estimate whose type I
      error, coverage and power are checked by simulation and planned by :func:`trial_power`;
    * ``poisson``: weekly Poisson quasi-likelihood with place and period fixed effects,
      standard errors clustered by place;
    * ``negative_binomial`` (counts only): weekly NB2 with place and period fixed effects, alpha
      by moments from the Poisson fit, model-based standard errors. It assumes weeks of a place
      are independent; under near-repeat clustering its interval is too narrow (see
      benchmarks/results/trials.md).
    """
    import statsmodels.api as sm

    column = panel.treated.astype(float) if extra is None else np.asarray(extra, float)
    y, (x,), rows = _informative(panel, [column])
    n, t = y.shape
    if n < 2 or t < 1 or np.ptp(x) == 0:
        raise ValidationError(f"cannot estimate the effect of {name}: it does not vary across places and periods "
                            "that had any crime")
    design = _design(n, t, [x])
    groups = np.repeat(np.arange(n), t)
    out = {"places": int(n), "periods": int(t), "places_left_out_no_crime": int((~rows).sum())}
    if extra is None:
        out["primary"] = phase_model(panel)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # IRLS warns on near-empty places; results are checked below
        poisson = sm.GLM(y.ravel(), design, family=sm.families.Poisson()).fit(
            cov_type="cluster", cov_kwds={"groups": groups})
        out["poisson"] = _irr(poisson, f"Poisson, place and period fixed effects, SEs clustered by place ({n} places)")
        if count_outcome:
            alpha = moment_alpha(y, poisson.fittedvalues)
            nb = sm.GLM(y.ravel(), design, family=sm.families.NegativeBinomial(alpha=alpha)).fit()
            out["negative_binomial"] = _irr(nb, "negative binomial (NB2), place and period fixed effects, "
                                                "model-based SEs")
            out["negative_binomial"]["alpha"] = alpha
    return out


def _irr(result, label: str) -> dict:
    beta, se = float(result.params[-1]), float(result.bse[-1])
    low, high = _interval(beta, se)
    return {"model": label, "irr": float(np.exp(beta)), "irr_ci": [float(np.exp(low)), float(np.exp(high))],
            "log_irr": beta, "se": se, "p": float(2 * stats.norm.sf(abs(beta) / se)) if se > 0 else None}


def score_statistic(outcome: np.ndarray, treated: np.ndarray) -> np.ndarray:
    """Crimes in patrolled place-periods minus those expected with no effect; (draws,) for (draws, n, T) ``treated``."""
    excess = outcome - null_expected(outcome)
    return np.tensordot(np.asarray(treated, float), excess, axes=([-2, -1], [0, 1]))


def randomisation_test(panel: Panel, alloc: Allocation, draws: int = 1000, seed: int = 0) -> dict:
    """Two-sided randomisation p-value of the score statistic over ``draws`` re-draws of the design.

    Under the null of no effect anywhere the outcomes are fixed and only the allocation varies,
    so the p-value is exact whatever the counts' distribution, over-dispersion or correlation.
    """
    if draws < 1:
        raise ValidationError(f"draws={draws!r} must be at least 1 (1,000 or more for a reported p-value)", arguments="draws")
    rng = np.random.default_rng(seed)
    observed = float(score_statistic(panel.outcome, panel.treated))
    chunks = []
    for size in np.diff(np.r_[0:draws:500, draws]):
        d = redraw(alloc, rng, int(size))
        chunks.append(score_statistic(panel.outcome, _expand(d, panel)))
    null = np.concatenate(chunks)
    p = (1 + np.sum(np.abs(null) >= abs(observed) - 1e-9)) / (draws + 1)
    return {"statistic": observed, "draws": int(draws), "seed": int(seed), "p": float(p),
            "null_quantiles": {q: float(np.quantile(null, q)) for q in (0.025, 0.5, 0.975)},
            "null": null}


def _expand(draws: np.ndarray, panel: Panel) -> np.ndarray:
    """Re-drawn arms (draws, n, 1 or T) as patrolled place-periods (draws, n, T) on the panel's periods."""
    if draws.shape[2] == 1:
        return draws & panel.during[None, None, :]
    during = np.flatnonzero(panel.during)
    out = np.zeros((draws.shape[0], draws.shape[1], panel.during.size), bool)
    out[:, :, during] = draws[:, :, : during.size]
    return out


def dose_response(panel: Panel, minutes: np.ndarray) -> dict:
    """IRR per hour of delivered patrol in a place-period, with place and period effects.

    Delivered dose is not randomised (units patrol more where they expect trouble), so this is
    an association within places over time, not an experimental estimate.
    """
    hours = np.asarray(minutes, float) / 60.0
    if hours.shape != panel.outcome.shape:
        raise ValidationError(f"minutes shape {hours.shape} does not match the panel {panel.outcome.shape}")
    return fixed_effects(panel, count_outcome=True, extra=hours, name="hours of patrol")
