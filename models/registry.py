"""The model registry: every trained model, which one is promoted, and the history of promotions.

A version is written in one transaction with its model, metrics and card, so a training that
fails, or a process killed while writing, leaves the registry as it was. Versions are never
changed. Promotion and rollback append events; the promoted model is the one the events leave
on top (a rollback returns to the model promoted before the current one). Only the promoted
model serves forecasts (:func:`load_promoted`).

Models are stored pickled: load them only from a store this service wrote, never from a file
someone sent.
"""

from __future__ import annotations

import datetime as dt
import json
import pickle
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import func, select

from hotspots.errors import HotspotsError, NotFoundError, NotReadyError
from hotspots.periods import Calendar
from hotspots.store.db import Store
from hotspots.store.schema import model_events, model_versions
from models.card import model_card
from models.features import FeatureConfig, PointLayer
from models.predictor import RiskModel
from models.target import Target, parse_target
from models.training import TrainedModel

_LIST_COLUMNS = ["version", "created_at", "target", "period_kind", "resolution", "training_start", "training_end",
                 "forecast_start", "n_incidents", "data_fingerprint"]


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


def register(store: Store, trained: TrainedModel) -> int:
    """Store a trained model as a new version (one transaction); returns its version number."""
    blob = pickle.dumps({"model": trained.model, "layers": trained.layers}, protocol=pickle.HIGHEST_PROTOCOL)
    first, last = trained.forecast_bounds()
    metrics = trained.backtest.to_dict() if trained.backtest is not None else {}
    cal = trained.calendar
    with store.engine.begin() as conn:
        number = int(conn.execute(select(func.coalesce(func.max(model_versions.c.version), 0))).scalar()) + 1
        card = model_card(trained, number)
        version = conn.execute(model_versions.insert().values(
            version=number, created_at=dt.datetime.now(dt.UTC), target=trained.target.spec, period_kind=cal.kind,
            period_days=cal.length_days, period_anchor=cal.anchor, timezone=cal.timezone,
            resolution=trained.resolution, crs=trained.crs, training_start=trained.training_start,
            training_end=trained.training_end, forecast_start=first, forecast_end=last,
            n_incidents=trained.n_incidents, n_cells=trained.n_cells,
            features=json.dumps(trained.model.feature_names_), feature_config=json.dumps(trained.feature_config_dict()),
            parameters=json.dumps(trained.model.get_params()), data_fingerprint=trained.data_fingerprint,
            code_version=trained.code_version[:64], metrics=json.dumps(metrics, default=float), card=card,
            model_blob=blob)).inserted_primary_key[0]
    return int(version)


def list_models(store: Store) -> pd.DataFrame:
    """Every version, newest first, with a ``promoted`` flag on the one that serves."""
    with store.engine.connect() as conn:
        frame = pd.read_sql(select(*[model_versions.c[c] for c in _LIST_COLUMNS]).order_by(
            model_versions.c.version.desc()), conn)
    current = promoted_version(store)
    frame["promoted"] = frame["version"] == current
    return frame


def model_row(store: Store, version: int) -> dict:
    """A version's registry row (without the model bytes); an unknown version is a user error."""
    cols = [c for c in model_versions.c if c.name != "model_blob"]
    with store.engine.connect() as conn:
        row = conn.execute(select(*cols).where(model_versions.c.version == int(version))).mappings().first()
    if row is None:
        raise NotFoundError(f"model version {version} is not in the registry; 'hotspots model list' shows them")
    out = dict(row)
    for key in ("features", "feature_config", "parameters", "metrics"):
        out[key] = json.loads(out[key])
    return out


def _stack(store: Store) -> list[int]:
    """Promoted versions, oldest first, as the event log leaves them."""
    with store.engine.connect() as conn:
        events = conn.execute(select(model_events.c.version, model_events.c.action)
                              .order_by(model_events.c.event_id)).all()
    stack: list[int] = []
    for version, action in events:
        if action == "promote":
            stack.append(int(version))
        elif action == "rollback" and stack:
            stack.pop()
    return stack


def promoted_version(store: Store) -> int | None:
    stack = _stack(store)
    return stack[-1] if stack else None


def promote(store: Store, version: int, note: str = "") -> None:
    """Make ``version`` the model that serves forecasts."""
    row = model_row(store, version)
    if promoted_version(store) == row["version"]:
        raise HotspotsError(f"model version {version} is already the promoted model")
    with store.engine.begin() as conn:
        conn.execute(model_events.insert().values(version=row["version"], action="promote",
                                                  at=dt.datetime.now(dt.UTC), note=note))


def rollback(store: Store, note: str = "") -> int:
    """Return to the model promoted before the current one; returns its version."""
    stack = _stack(store)
    if len(stack) < 2:
        raise HotspotsError("nothing to roll back to: fewer than two promotions are on record")
    with store.engine.begin() as conn:
        conn.execute(model_events.insert().values(version=stack[-1], action="rollback",
                                                  at=dt.datetime.now(dt.UTC), note=note))
    return stack[-2]


def events(store: Store) -> pd.DataFrame:
    with store.engine.connect() as conn:
        return pd.read_sql(select(model_events).order_by(model_events.c.event_id), conn)


def load_model(store: Store, version: int) -> StoredModel:
    """A version with its fitted model, ready to forecast."""
    row = model_row(store, version)
    with store.engine.connect() as conn:
        blob = conn.execute(select(model_versions.c.model_blob).where(model_versions.c.version == row["version"])).scalar()
    payload = pickle.loads(blob)  # our own store's bytes; see the module docstring
    cfg = dict(row["feature_config"])
    cfg.pop("layers", None)
    groups = tuple(cfg.pop("covariate_groups"))
    config = FeatureConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()},
                           covariate_groups=groups)
    target = parse_target(row["target"], allow_police_detected=True)
    calendar = Calendar(row["period_kind"], row["period_anchor"], row["period_days"], row["timezone"])
    return StoredModel(row["version"], payload["model"], target, calendar, row["resolution"], row["crs"], config,
                       tuple(payload["layers"]), row)


def load_promoted(store: Store) -> StoredModel:
    """The model that serves forecasts; none promoted is a user error that says what to do."""
    version = promoted_version(store)
    if version is None:
        raise NotReadyError("no model is promoted yet; train one ('hotspots model train'), read its card "
                            "('hotspots model show N') and promote it ('hotspots model promote N')")
    return load_model(store, version)


def forecast_table(cells: np.ndarray, expected: np.ndarray, calendar: Calendar, period: int) -> pd.DataFrame:
    """One row per cell: ``h3_cell, lon, lat, period_start, period_end, expected, rank``, highest first."""
    from hotspots import cells as h3cells

    lon, lat = h3cells.cell_centres(cells)
    start = calendar.start_day(np.array([period])).astype("datetime64[D]")[0]
    end = (calendar.end_day(np.array([period])) - 1).astype("datetime64[D]")[0]
    frame = pd.DataFrame({"h3_cell": h3cells.to_strings(cells), "lon": lon.round(6), "lat": lat.round(6),
                          "period_start": str(start), "period_end": str(end), "expected": expected})
    frame = frame.sort_values(["expected", "h3_cell"], ascending=[False, True], ignore_index=True)
    frame["rank"] = np.arange(1, len(frame) + 1)
    return frame
