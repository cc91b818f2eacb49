"""What a trained version serves: by default a blend of the model and the best count baseline; the
model alone or a baseline alone where the rolling backtest says it ranks clearly better; recalibrated
so its total matches what happened.

The choice and the recalibration are walked forward through the backtest itself: the forecast
``served`` for a test period is chosen on the test periods *before* it and scaled by observed /
forecast over them, so the ``served`` row of a backtest scores exactly what would have been served,
with nothing chosen or fitted on the period it is scored on. The version trained for the next period
makes the same choice over every backtest period.

* ``blend``: the model's expected counts and the best count baseline's (rescaled to the model's
  total), half each: the model's covariates and seasonality with the baseline's long memory. On
  the nine real data sets of benchmarks/results/model.md it ranked at or above the best baseline on
  seven, where the model alone did on four.
* the choice: the blend, unless the model or a baseline had a mean PAI at 1.4% over the earlier test
  periods more than :data:`SWITCH_MARGIN` above the blend's. Picking the best of ten methods on a
  handful of noisy periods picks noise: served that way, the choice fell below the best baseline on
  six of the nine.
* recalibration: expected counts times Σ observed / Σ forecast over the last six earlier test
  periods; the ranking, so PAI and PEI, is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from models.baselines import BASELINES
from models.features import CellHistory
from models.metrics import score_forecast
from models.predictor import RiskModel

MODEL = "model"
BLEND = "blend"
SERVED = "served"
#: Methods of a backtest that are not baselines: what the verdicts compare against the baselines.
NOT_BASELINES = (MODEL, BLEND, SERVED)
#: The model's weight in the blend.
BLEND_WEIGHT = 0.5
#: Test periods the recalibration is fitted on, the latest before the forecast: recent enough to follow
#: a change in the level of crime (Vancouver's thefts fell by a third in spring 2020), long enough
#: that a few hundred incidents set it.
RECALIBRATION_PERIODS = 6
#: How much better (relatively, in mean PAI at 1.4% over the earlier test periods) another method must
#: have ranked than the blend to be served instead.
SWITCH_MARGIN = 0.05
#: The blend's partner before any test period has been scored.
DEFAULT_PARTNER = "tuned_counts"


def blend(model_forecast: np.ndarray, baseline_forecast: np.ndarray, weight: float = BLEND_WEIGHT) -> np.ndarray:
    """``weight`` of the model's expected counts and the rest of the baseline's, rescaled to the model's total."""
    total, other = float(model_forecast.sum()), float(baseline_forecast.sum())
    rescaled = baseline_forecast * (total / other) if other > 0 else np.zeros_like(model_forecast)
    return weight * model_forecast + (1.0 - weight) * rescaled


@dataclass
class ServedForecast:
    """The forecast a version serves, and why.

    Attributes
    ----------
    method : ``"model"``, a baseline's name, or ``"blend"``.
    calibration : expected counts are multiplied by it (observed / forecast over the backtest).
    model : the fitted model (kept for every method: the card describes it).
    partner : the baseline of a blend, or the baseline served.
    reason : one sentence for the model card.
    """

    method: str
    calibration: float
    model: RiskModel
    partner: str | None = None
    reason: str = ""

    @classmethod
    def model_only(cls, model: RiskModel, reason: str = "no backtest was run, so the model is served as fitted"):
        return cls(MODEL, 1.0, model, None, reason)

    def raw(self, history: CellHistory, period: int) -> np.ndarray:
        """Expected counts per cell before recalibration, shape (m,)."""
        if self.method == MODEL:
            return self.model.predict(history, period)
        base = BASELINES[self.partner].forecast(history, period)
        if self.method == BLEND:
            return blend(self.model.predict(history, period), base)
        return base

    def predict(self, history: CellHistory, period: int) -> np.ndarray:
        """Expected target incidents per cell of ``history`` in ``period``, recalibrated, shape (m,)."""
        return self.raw(history, period) * self.calibration

    def describe(self) -> str:
        what = {MODEL: "the model", BLEND: f"a blend of the model and {self.partner}"}.get(self.method,
                                                                                          f"the baseline {self.method}")
        return f"{what}, expected counts times {self.calibration:.3f}"


def _calibration(forecasts: list[np.ndarray], observed: list[np.ndarray]) -> float:
    """Observed over forecast totals of the last :data:`RECALIBRATION_PERIODS` periods given (1 if none)."""
    total = float(sum(f.sum() for f in forecasts[-RECALIBRATION_PERIODS:]))
    seen = float(sum(o.sum() for o in observed[-RECALIBRATION_PERIODS:]))
    return seen / total if total > 0 and seen > 0 else 1.0


def _best(scores: pd.DataFrame, candidates: list[str]) -> str:
    """The candidate with the best mean headline (the first listed among equals; NaN periods skipped)."""
    means = scores[candidates].mean(axis=0, skipna=True)
    if means.isna().all():
        return candidates[0]
    return str(means.fillna(-np.inf).idxmax())


def _choice(means: pd.Series) -> str:
    """The blend, unless another method's mean beats the blend's by more than :data:`SWITCH_MARGIN`."""
    if means.isna().all() or np.isnan(means.get(BLEND, np.nan)):
        return BLEND
    best = str(means.fillna(-np.inf).idxmax())
    return best if means[best] > means[BLEND] * (1.0 + SWITCH_MARGIN) else BLEND


@dataclass
class WalkForward:
    """The blend and served rows of a backtest, and each test period's choice."""

    rows: list[dict]
    choices: pd.DataFrame


def walk_forward(periods: list[str], forecasts: dict[str, list[np.ndarray]], observed: list[np.ndarray],
                 areas: np.ndarray, headline: str) -> WalkForward:
    """Score the blend and the served forecast on each test period, chosen on the periods before it.

    Parameters
    ----------
    periods : the test periods' labels, oldest first.
    forecasts : per method (the model and each baseline), its forecast of each test period, shape (m,) each.
    observed : each test period's observed counts per cell, shape (m,) each.
    areas : each cell's area in m², shape (m,).
    headline : the metric the choice is made on (e.g. ``"pai@1.4%"``).

    Returns
    -------
    WalkForward
        Score rows for ``blend`` and ``served``, and per test period the partner, the method
        served, its calibration factor and the served forecast's total over the observed.
    """
    baselines = [m for m in forecasts if m not in NOT_BASELINES]
    scores = pd.DataFrame({m: [score_forecast(f, o, areas)[headline] for f, o in zip(fs, observed, strict=True)]
                           for m, fs in forecasts.items()})
    forecasts = {**forecasts, BLEND: []}
    rows, choices = [], []
    for t, label in enumerate(periods):
        before = scores.iloc[:t]
        partner = _best(before, baselines) if t else (
            DEFAULT_PARTNER if DEFAULT_PARTNER in baselines else baselines[0])
        blended = blend(forecasts[MODEL][t], forecasts[partner][t])
        forecasts[BLEND].append(blended)
        blended_score = score_forecast(blended, observed[t], areas)
        rows.append({"method": BLEND, "period": label, **blended_score})
        scores.loc[t, BLEND] = blended_score[headline]
        # The blend's earlier periods were scored with the partners chosen then: what would have been served.
        method = _choice(before[[MODEL, BLEND, *baselines]].mean(axis=0, skipna=True)) if t else BLEND
        factor = _calibration(forecasts[method][:t], observed[:t])
        served = forecasts[method][t] * factor
        row = {"method": SERVED, "period": label, **score_forecast(served, observed[t], areas)}
        rows.append(row)
        choices.append({"period": label, "served": method, "partner": partner, "calibration": factor,
                        "forecast/observed": row["calibration_ratio"]})
    return WalkForward(rows, pd.DataFrame(choices))


def choose_served(model: RiskModel, per_period: pd.DataFrame, forecasts: dict[str, list[np.ndarray]] | None,
                  observed: list[np.ndarray] | None, headline: str) -> ServedForecast:
    """What the version for the next period serves, chosen and recalibrated on every backtest period.

    Parameters
    ----------
    model : the model fitted for the next period.
    per_period : the backtest's score rows (``method``, ``period``, metrics).
    forecasts, observed : the backtest's forecasts per method and observed counts, as for :func:`walk_forward`;
        None when the backtest did not keep them.
    headline : the metric the choice is made on.

    Returns
    -------
    ServedForecast
        The blend, unless the model or a baseline had a mean headline more than :data:`SWITCH_MARGIN`
        above it over the backtest; and its recalibration.
    """
    if forecasts is None or observed is None or not observed:
        return ServedForecast.model_only(model)
    means = per_period.groupby("method", sort=False)[headline].mean()
    baselines = [m for m in means.index if m not in NOT_BASELINES]
    candidates = [MODEL, BLEND, *baselines]
    partner = str(means[baselines].idxmax())
    method = _choice(means[candidates])
    chosen_forecasts = ([blend(m, b) for m, b in zip(forecasts[MODEL], forecasts[partner], strict=True)]
                        if method == BLEND else forecasts[method])
    factor = _calibration(chosen_forecasts, observed)
    n = len(observed)
    why = ("no method ranked more than {:.0%} above the blend".format(SWITCH_MARGIN) if method == BLEND else
           "it ranked more than {:.0%} above the blend".format(SWITCH_MARGIN))
    reason = (f"over the {n} backtest periods {why} (mean {headline}: the blend {means[BLEND]:.2f}, the model "
              f"{means[MODEL]:.2f}, the best baseline {partner} {means[partner]:.2f}); "
              f"its expected counts are scaled by {factor:.3f}, observed over forecast in the last "
              f"{min(n, RECALIBRATION_PERIODS)} of those periods")
    return ServedForecast(method, factor, model, None if method == MODEL else partner if method == BLEND else method,
                          reason)
