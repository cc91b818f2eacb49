"""Registry versions as the predictor sees them: a trained model as a registry row, and a row back
as a model ready to forecast.

The tables are :mod:`hotspots.store.model_registry`'s and the use cases (register, load the
promoted model, forecast) :mod:`hotspots.services.models`'s. A version is written in one
transaction with its model, metrics and card, and never changed.

Models are stored pickled: load them only from a store this service wrote, never from a file
someone sent.
"""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hotspots.geo import cells as h3cells
from hotspots.geo.periods import Calendar
from models.card import model_card
from models.features import FeatureConfig, PointLayer
from models.predictor import RiskModel
from models.serving import ServedForecast
from models.target import Target, parse_target
from models.training import TrainedModel


@dataclass
class StoredModel:
    """A registry version loaded back: enough to forecast with it."""

    version: int
    model: RiskModel
    target: Target
    calendar: Calendar
    resolution: int
    crs: str
    feature_config: FeatureConfig
    layers: tuple[PointLayer, ...]
    row: dict
    served: ServedForecast | None = None

    def __post_init__(self):
        if self.served is None:  # a version stored before the served forecast was chosen serves its model
            self.served = ServedForecast.model_only(self.model, "stored before the served forecast was chosen")

    def predict(self, history, period: int) -> np.ndarray:
        """What this version serves for ``period``: expected counts per cell of ``history``, shape (m,)."""
        return self.served.predict(history, period)


def version_row(trained: TrainedModel, number: int) -> dict:
    """The registry columns of ``trained`` stored as version ``number``: its settings, metrics, card and
    pickled model."""
    blob = pickle.dumps({"model": trained.model, "layers": trained.layers, "served": trained.served},
                        protocol=pickle.HIGHEST_PROTOCOL)
    first, last = trained.forecast_bounds()
    metrics = trained.backtest.to_dict() if trained.backtest is not None else {}
    cal = trained.calendar
    return dict(
        target=trained.target.spec, period_kind=cal.kind,
        period_days=cal.length_days, period_anchor=cal.anchor, timezone=cal.timezone,
        resolution=trained.resolution, crs=trained.crs, training_start=trained.training_start,
        training_end=trained.training_end, forecast_start=first, forecast_end=last,
        n_incidents=trained.n_incidents, n_cells=trained.n_cells,
        features=json.dumps(trained.model.feature_names_), feature_config=json.dumps(trained.feature_config_dict()),
        parameters=json.dumps(trained.model.get_params()), data_fingerprint=trained.data_fingerprint,
        code_version=trained.code_version[:64], metrics=json.dumps(metrics, default=float),
        card=model_card(trained, number), model_blob=blob)


def stored_model(row: dict, blob: bytes) -> StoredModel:
    """A version with its fitted model, ready to forecast, from its registry row and model bytes."""
    payload = pickle.loads(blob)  # our own store's bytes; see the module docstring
    cfg = dict(row["feature_config"])
    cfg.pop("layers", None)
    groups = tuple(cfg.pop("covariate_groups"))
    config = FeatureConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()},
                           covariate_groups=groups)
    target = parse_target(row["target"], allow_police_detected=True)
    calendar = Calendar(row["period_kind"], row["period_anchor"], row["period_days"], row["timezone"])
    return StoredModel(row["version"], payload["model"], target, calendar, row["resolution"], row["crs"], config,
                       tuple(payload["layers"]), row, payload.get("served"))


def forecast_table(cells: np.ndarray, expected: np.ndarray, calendar: Calendar, period: int) -> pd.DataFrame:
    """One row per cell: ``h3_cell, lon, lat, period_start, period_end, expected, rank``, highest first."""
    lon, lat = h3cells.cell_centres(cells)
    start = calendar.start_day(np.array([period])).astype("datetime64[D]")[0]
    end = (calendar.end_day(np.array([period])) - 1).astype("datetime64[D]")[0]
    frame = pd.DataFrame({"h3_cell": h3cells.to_strings(cells), "lon": lon.round(6), "lat": lat.round(6),
                          "period_start": str(start), "period_end": str(end), "expected": expected})
    frame = frame.sort_values(["expected", "h3_cell"], ascending=[False, True], ignore_index=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame
