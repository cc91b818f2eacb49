"""Rolling-origin backtests: the model beside every baseline, on periods none of them has seen.

For each test period ``p`` the model is fitted on the periods before ``p`` only, every baseline
forecasts ``p`` from what was known before it, and all are scored on what happened in ``p``
(:mod:`models.metrics`). Then the origin moves on one period.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from hotspots.core.errors import ValidationError
from models.baselines import get_baselines
from models.features import CellHistory
from models.metrics import hits_at, score_forecast
from models.predictor import RiskModel
from models.serving import BLEND, MODEL, NOT_BASELINES, SERVED, walk_forward

log = logging.getLogger(__name__)

__all__ = ["BLEND", "HEADLINE", "MODEL", "SERVED", "BacktestResult", "noise_ceiling", "rolling_backtest"]
#: The metric the verdict is about: Project Guardian's hotspots cover 1.4% of the force area.
HEADLINE = "pai@1.4%"
SUMMARY_METRICS = ["hit_rate@1.4%", "pai@1%", "pai@1.4%", "pai@5%", "pei@1.4%", "poisson_deviance",
                   "calibration_ratio", "calibration_slope"]


@dataclass
class BacktestResult:
    """Per-period scores of the model and the baselines, and what they add up to."""

    per_period: pd.DataFrame
    baselines: dict[str, str]
    seconds: dict[str, float] = field(default_factory=dict)
    #: Per test period: the partner of the blend, the method served, its calibration factor, and the
    #: served forecast's total over the observed (see :mod:`models.serving`).
    choices: pd.DataFrame | None = None
    #: Per method, its forecast of each test period (cells of the history), oldest first; in memory only.
    forecasts: dict[str, list[np.ndarray]] | None = field(default=None, repr=False)
    observed: list[np.ndarray] | None = field(default=None, repr=False)

    @property
    def summary(self) -> pd.DataFrame:
        """Mean of each metric over the test periods, one row per method, the model first."""
        frame = self.per_period.groupby("method", sort=False)[SUMMARY_METRICS].mean()
        frame.insert(0, "periods", self.per_period.groupby("method", sort=False).size())
        wins = self._wins()
        frame["headline_wins"] = [wins.get(m, np.nan) for m in frame.index]
        return frame

    def _wins(self) -> dict[str, int]:
        wide = self.per_period.pivot(index="period", columns="method", values=HEADLINE)
        return {m: int((wide[MODEL] > wide[m]).sum()) for m in wide.columns if m != MODEL}

    def best_baseline(self, metric: str = HEADLINE) -> str:
        means = self.summary[metric]
        means = means[[m for m in means.index if m not in NOT_BASELINES]]
        return str(means.idxmax() if metric != "poisson_deviance" else means.idxmin())

    def verdict(self) -> str:
        """One sentence: does the model beat the best baseline on PAI at 1.4% of the area?"""
        s = self.summary
        if s[HEADLINE].isna().all():
            return ("PAI at 1.4% of the area is undefined in every test period (none held an incident of the "
                    "target), so this backtest cannot say whether the model beats the baselines; choose a cutoff "
                    "inside the data, or a broader target.")
        best = self.best_baseline()
        model, other = s.loc[MODEL, HEADLINE], s.loc[best, HEADLINE]
        n = int(s.loc[MODEL, "periods"])
        wins = self._wins()[best]
        word = "beats" if model > other else "does not beat"
        return (f"The model {word} the best baseline on PAI at 1.4% of the area: {model:.2f} against "
                f"{other:.2f} ({best}), mean of {n} test periods; higher in {wins} of {n}.")

    def served_verdict(self) -> str:
        """One sentence on what would have been served, each period chosen on the periods before it."""
        s = self.summary
        if SERVED not in s.index or s[HEADLINE].isna().all():
            return ""
        best = self.best_baseline()
        served, other = s.loc[SERVED, HEADLINE], s.loc[best, HEADLINE]
        wide = self.per_period.pivot(index="period", columns="method", values=HEADLINE)
        wins = int((wide[SERVED] >= wide[best]).sum())
        ratio = s.loc[SERVED, "calibration_ratio"]
        return (f"Served (each period chosen and recalibrated on the periods before it: the blend, unless another "
                f"method ranked more than 5% better): "
                f"PAI at 1.4% {served:.2f}, {served / other:.3f} times the best baseline's ({best}), at least as high "
                f"in {wins} of {len(wide)} periods; forecast/observed {ratio:.3f}.")

    def to_dict(self) -> dict:
        s = self.summary.reset_index().replace({np.nan: None})
        out = {"summary": s.to_dict("records"), "verdict": self.verdict(), "baselines": self.baselines,
               "seconds": self.seconds}
        if self.choices is not None:
            out["served"] = {"verdict": self.served_verdict(),
                             "periods": self.choices.replace({np.nan: None}).to_dict("records")}
        return out


def noise_ceiling(history: CellHistory, periods, share: float = 0.014, draws: int = 200, seed: int = 0) -> float:
    """The best mean PAI at ``share`` of the area that Poisson noise allows over ``periods``: a yardstick.

    Parameters
    ----------
    history : the counted incidents.
    periods : the test periods (indices of the history's calendar).
    share : the share of the area the PAI is taken at.
    draws : Poisson draws per period.
    seed : seed of the draws.

    Returns
    -------
    float
        The mean PAI over every draw of every period (NaN when no period held an incident).

    The intensity is each cell's long-run mean count over every period of the history, the test
    periods included: the best available estimate of the truth, smoothed in time only (blending
    cells in space was tried, and put this "ceiling" below what plain counts reach on real data,
    whose hot cells are single cells). It is scaled to each period's observed total; counts are
    drawn from it and ranked by the intensity itself, which no forecast can beat on average when
    the intensity is true and the counts Poisson. Two things move it: the long-run mean still holds
    some of its periods' noise, which sets the ceiling high (the synthetic city's is above its true
    background's PAI); and real counts vary more than Poisson about it, which sets it low (on 11
    months of central Birmingham the count baselines pass it). It is a yardstick, not a bound.
    """
    rate = history.known_counts.mean(axis=0)
    areas = history.areas_m2
    rng = np.random.default_rng(seed)
    pais = []
    for p in periods:
        total = float(history.observed(int(p)).sum())
        if total <= 0 or rate.sum() <= 0:
            continue
        lam = rate * (total / rate.sum())
        for _ in range(draws):
            y = rng.poisson(lam)
            if y.sum() > 0:
                pais.append(hits_at(rate, y, areas, share) / y.sum() / share)
    return float(np.mean(pais)) if pais else float("nan")


def test_periods_for(history: CellHistory, n: int, warmup: int) -> np.ndarray:
    """The last ``n`` complete periods that leave ``warmup`` training periods before the first."""
    complete = history.complete_periods()
    usable = complete[complete >= history.first_period + warmup + 1]
    if usable.size == 0:
        labels = history.calendar.label(np.array([history.first_period, history.last_period]))
        raise ValidationError(f"the data ({labels[0]} to {labels[1]}) is too short to backtest: a test period needs "
                            f"{warmup + 1} complete periods before it; load more history or use shorter periods")
    return usable[-n:]


def rolling_backtest(history: CellHistory, n_periods: int = 6, model: RiskModel | None = None,
                     baselines=None, progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Score the model and the baselines on each of the last ``n_periods`` complete periods.

    Each test period is forecast from the periods before it only.

    Parameters
    ----------
    history : the counted incidents.
    n_periods : test periods, the latest complete ones.
    model : the model's settings (a fresh copy is fitted per test period); default settings if None.
    baselines : baseline names (all by default).
    progress : called with a line after each test period.

    Returns
    -------
    BacktestResult
        One row per method and test period (PAI, PEI, deviance, ...), and the summary.
    """
    template = model or RiskModel()
    chosen = get_baselines(baselines)
    rows = []
    seconds = {MODEL: 0.0, **{b.name: 0.0 for b in chosen}}
    areas = history.areas_m2
    kept: dict[str, list[np.ndarray]] = {MODEL: [], **{b.name: [] for b in chosen}}
    observed_all, labels = [], []
    for p in test_periods_for(history, n_periods, template.warmup_periods):
        observed = history.observed(int(p))
        label = history.calendar.label(np.array([p]))[0]
        observed_all.append(observed)
        labels.append(label)
        t = time.perf_counter()
        fitted = RiskModel(**template.get_params()).fit(history, int(p))
        forecasts = {MODEL: fitted.predict(history, int(p))}
        seconds[MODEL] += time.perf_counter() - t
        for b in chosen:
            t = time.perf_counter()
            forecasts[b.name] = b.forecast(history, int(p))
            seconds[b.name] += time.perf_counter() - t
        for name, expected in forecasts.items():
            kept[name].append(expected)
            rows.append({"method": name, "period": label, **score_forecast(expected, observed, areas)})
        if progress:
            got = {r["method"]: r[HEADLINE] for r in rows if r["period"] == label}
            progress(f"{label}: PAI@1.4% " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()))
    walked = walk_forward(labels, kept, observed_all, areas, HEADLINE) if chosen else None
    if walked is not None:
        rows += walked.rows
    return BacktestResult(pd.DataFrame(rows), {b.name: b.describe() for b in chosen},
                          {k: round(v, 3) for k, v in seconds.items()},
                          walked.choices if walked is not None else None, kept, observed_all)
