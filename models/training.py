"""Train a model for the period after a cutoff: backtest it, fit it, describe it.

:func:`train` does all of it in memory and returns a :class:`TrainedModel`; nothing is stored
until the registry is handed the finished result in one transaction, so a training that fails
or is interrupted leaves the registry as it was.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import subprocess
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

import hotspots
from hotspots.geo.periods import Calendar, day_from_number
from models.backtest import HEADLINE, BacktestResult, rolling_backtest
from models.features import CellHistory, FeatureConfig, PointLayer
from models.predictor import RiskModel
from models.serving import ServedForecast, choose_served
from models.target import Target

log = logging.getLogger(__name__)


def data_fingerprint(incidents: pd.DataFrame) -> str:
    """BLAKE2b-256 of the incidents' ids, times and offences, in id order: same data, same fingerprint."""
    frame = incidents[["incident_id", "occurred_from", "occurred_to", "offence"]].sort_values("incident_id")
    digest = hashlib.blake2b(digest_size=32)
    for col in frame.columns:
        digest.update("\x1f".join(frame[col].astype(str)).encode())
        digest.update(b"\x1e")
    return digest.hexdigest()


@lru_cache(maxsize=1)
def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    root = Path(hotspots.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True,
                                text=True, timeout=5, check=False).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return f"hotspots {hotspots.__version__}" + (f" ({commit})" if commit else "")


@dataclass
class TrainedModel:
    """A fitted model and everything the registry records with it."""

    model: RiskModel
    target: Target
    calendar: Calendar
    resolution: int
    crs: str
    feature_config: FeatureConfig
    covariate_groups: tuple[str, ...]
    layers: tuple[PointLayer, ...]
    forecast_period: int
    training_start: dt.date
    training_end: dt.date  # last day of data used, inclusive
    data_fingerprint: str
    code_version: str
    backtest: BacktestResult | None
    n_incidents: int
    n_cells: int
    served: ServedForecast | None = None  # what the version serves; None: the model as fitted
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.served is None:
            self.served = ServedForecast.model_only(self.model)

    def forecast_bounds(self) -> tuple[dt.date, dt.date]:
        p = np.array([self.forecast_period])
        return (day_from_number(int(self.calendar.start_day(p)[0])),
                day_from_number(int(self.calendar.end_day(p)[0]) - 1))

    def feature_config_dict(self) -> dict:
        return {**asdict(self.feature_config), "covariate_groups": list(self.covariate_groups),
                "layers": [layer.name for layer in self.layers]}


def train(history: CellHistory, forecast_period: int | None = None, model: RiskModel | None = None,
          backtest_periods: int = 6, progress=None) -> TrainedModel:
    """Backtest and fit a model for ``forecast_period``.

    Parameters
    ----------
    history : the counted incidents.
    forecast_period : the period to forecast (default: the period after the last complete one);
        only periods before it are used.
    model : the model's settings; default settings if None.
    backtest_periods : complete periods before the forecast period scored first (0: none).
    progress : called with a line after each test period and after the final fit.

    Returns
    -------
    TrainedModel
        The fitted model with its target, calendar, feature settings and backtest.
    """
    template = model or RiskModel()
    if forecast_period is None:
        forecast_period = history.next_period()
    history.check_period(forecast_period)
    backtest = None
    if backtest_periods > 0:
        backtest = rolling_backtest(history_before(history, forecast_period), backtest_periods, template,
                                    progress=progress)
        log.info(backtest.verdict())
    fitted = RiskModel(**template.get_params()).fit(history, forecast_period)
    if progress:
        progress("final model fitted")
    served = (choose_served(fitted, backtest.per_period, backtest.forecasts, backtest.observed, HEADLINE)
              if backtest is not None else None)
    if served is not None:
        log.info("serves %s: %s", served.describe(), served.reason)
    cutoff = int(history.calendar.start_day(np.array([forecast_period]))[0])
    used = history.end_day <= cutoff
    return TrainedModel(
        model=fitted, target=history.target, calendar=history.calendar, resolution=history.resolution,
        crs=history.crs, feature_config=history.config, covariate_groups=history.covariate_groups,
        layers=history.layers, forecast_period=forecast_period,
        training_start=day_from_number(int(history.start_day[used].min())),
        training_end=day_from_number(cutoff - 1),
        data_fingerprint=data_fingerprint(history.incidents_used[used]), code_version=code_version(),
        backtest=backtest, n_incidents=int(used.sum()), n_cells=int(history.cells.size), served=served)


def history_before(history: CellHistory, period: int) -> CellHistory:
    """The history as it stood when ``period`` began, so backtests never score beyond the cutoff."""
    cutoff = int(history.calendar.start_day(np.array([period]))[0])
    if int(history.end_day.max()) <= cutoff:
        return history
    keep = history.end_day <= cutoff
    return CellHistory(history.incidents_used[keep], history.cells, history.calendar, history.target, history.crs,
                       history.config, history.layers)
