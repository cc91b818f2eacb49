"""The predictor: gradient boosting with a Poisson loss on cell × period features.

:class:`RiskModel` follows scikit-learn: parameters in ``__init__``, ``fit`` learns, ``predict``
returns the expected count of target incidents per cell. It is fitted on the rows of every
period before ``until_period`` (each row's features from before its own period), so a model
fitted for period ``p`` has never seen ``p`` or anything after it.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor

from hotspots.core.errors import NotReadyError, ValidationError
from models.features import CellHistory

log = logging.getLogger(__name__)


@dataclass
class RiskModel:
    """Expected target incidents per cell in a period.

    Parameters
    ----------
    max_iter, learning_rate, max_leaf_nodes, min_samples_leaf, l2_regularization :
        scikit-learn ``HistGradientBoostingRegressor(loss="poisson")`` settings.
    zero_rows_per_period : cells without an incident drawn per training period (weighted back up).
    warmup_periods : periods of history a training period needs before it.
    seed : every random draw (row sampling, the booster) comes from it.
    """

    # A small, strongly regularised booster: on the nine real data sets of benchmarks/results/model.md
    # ("Levers") 100 iterations of 7-leaf trees with leaves of 200 rows and λ = 100 ranked better
    # than 250 iterations of 15-leaf trees with leaves of 50 and λ = 20 on six, by up to 9% (City of
    # London); the larger booster learnt the noise of sparse counts. The larger one was better on
    # three: central Birmingham (11 months, 768 cells) and the two LSOA runs (12 months each).
    max_iter: int = 100
    learning_rate: float = 0.05
    max_leaf_nodes: int = 7
    min_samples_leaf: int = 200
    # scikit-learn's booster has no cap on a leaf's Newton step (XGBoost's max_delta_step): with a
    # Poisson loss, a leaf of rare incidents among cells already forecast near zero has a tiny
    # hessian, and a step of G / (H + λ) overshoots to 1e26 and beyond. A larger λ bounds the step
    # (on three force-wide synthetic years λ = 1 exploded) and keeps sparse leaves near the mean.
    l2_regularization: float = 100.0
    zero_rows_per_period: int = 20_000
    warmup_periods: int = 3
    seed: int = 0
    feature_names_: list[str] = field(default_factory=list, repr=False)
    trained_periods_: tuple[int, int] | None = field(default=None, repr=False)
    n_rows_: int = field(default=0, repr=False)
    booster_: HistGradientBoostingRegressor | None = field(default=None, repr=False)

    def get_params(self) -> dict:
        return {k: v for k, v in asdict(self).items() if not k.endswith("_")}

    def training_periods(self, history: CellHistory, until_period: int) -> np.ndarray:
        periods = history.covered_periods()
        return periods[(periods >= history.first_period + self.warmup_periods) & (periods < until_period)]

    def fit(self, history: CellHistory, until_period: int) -> RiskModel:
        """Learn from every period with ``warmup_periods`` of history before it, up to ``until_period``."""
        periods = self.training_periods(history, until_period)
        if periods.size == 0:
            first = history.calendar.label(np.array([history.first_period]))[0]
            raise ValidationError(
                f"not enough history to train: the data starts in {first} and a model needs "
                f"{self.warmup_periods + 1} periods before the one it forecasts; load more history or move the cutoff")
        parts = [history.training_rows(int(p), self.zero_rows_per_period, self.seed) for p in periods]
        X = np.concatenate([p[0] for p in parts])
        y = np.concatenate([p[1] for p in parts])
        w = np.concatenate([p[2] for p in parts])
        self.fit_rows(X, y, w, list(history.feature_names), (int(periods[0]), int(periods[-1])))
        log.info("model fitted on %d rows from %d periods (%s to %s)", y.size, periods.size,
                 *history.calendar.label(np.array(self.trained_periods_)))
        return self

    def fit_rows(self, X: np.ndarray, y: np.ndarray, w: np.ndarray, feature_names: list[str],
                 periods: tuple[int, int]) -> RiskModel:
        """Learn from training rows built elsewhere (a cluster's parts).

        Parameters
        ----------
        X : (n, f) features. y : (n,) observed counts. w : (n,) sample weights.
        feature_names : the f column names. periods : (first, last) period of the rows.

        Returns
        -------
        RiskModel
            ``self``, fitted.
        """
        self.booster_ = HistGradientBoostingRegressor(
            loss="poisson", max_iter=self.max_iter, learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes, min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization, early_stopping=False, random_state=self.seed)
        self.booster_.fit(X, y, sample_weight=w)
        self.feature_names_ = list(feature_names)
        self.trained_periods_ = periods
        self.n_rows_ = int(y.size)
        return self

    def predict(self, history: CellHistory, period: int) -> np.ndarray:
        """Expected target incidents per cell of ``history`` in ``period``, shape (m,)."""
        if self.booster_ is None:
            raise NotReadyError("the model is not trained yet; call fit first")
        X = history.features(period)
        names = list(history.feature_names)
        if names != self.feature_names_:
            # A stored model applied to new data: covariate groups it never saw are dropped,
            # groups the data lacks are zero.
            X = pd.DataFrame(X, columns=names).reindex(columns=self.feature_names_, fill_value=0.0)
            X = X.to_numpy(np.float32)
        return self.booster_.predict(X)
