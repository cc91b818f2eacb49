"""The analyst's job: train and backtest the predictor on the stored incidents, keep every version in
the registry, promote one, and forecast with it.

The registry's listings, promotion and rollback are the store's (:mod:`hotspots.store.model_registry`)
and are named here so that the front ends find every model use case in one module.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pandas as pd

from hotspots.core.config import get_settings
from hotspots.core.errors import NotReadyError
from hotspots.geo.areas import NamedAreas
from hotspots.services.access import check_may_read_cells, visible_cells
from hotspots.services.detection import detection_in_hotspots
from hotspots.services.ingest import stored_frame
from hotspots.store.audit import record
from hotspots.store.db import Store
from hotspots.store.model_registry import (
    add_version,
    events,
    list_models,
    model_blob,
    model_row,
    promote,
    promoted_version,
    rollback,
)
from models.backtest import BacktestResult, rolling_backtest
from models.features import CellHistory, PointLayer
from models.predictor import RiskModel
from models.registry import StoredModel, forecast_table, stored_model, version_row
from models.runs import build_history, region_cells
from models.training import TrainedModel, history_before, train

__all__ = ["StoredModel", "backtest_job", "backtest_stored", "events", "forecast_promoted", "list_models",
           "load_model", "load_promoted", "model_row", "promote", "promote_audited", "promoted_version", "register",
           "rollback", "rollback_audited", "stored_history", "train_job", "train_stored"]

#: What a background job does: given a progress callback (share 0..1, one line), its result and a last line.
Report = Callable[[float, str], None]


def register(store: Store, trained: TrainedModel) -> int:
    """Store a trained model as a new version (one transaction, never changed); returns its version number."""
    return add_version(store, lambda number: version_row(trained, number))


def load_model(store: Store, version: int) -> StoredModel:
    """A version with its fitted model, ready to forecast."""
    row = model_row(store, version)
    return stored_model(row, model_blob(store, row["version"]))


def load_promoted(store: Store) -> StoredModel:
    """The model that serves forecasts; none promoted is a NotReadyError that says what to do."""
    version = promoted_version(store)
    if version is None:
        raise NotReadyError("no model is promoted yet; train one ('hotspots model train'), read its card "
                            "('hotspots model show N') and promote it ('hotspots model promote N')")
    return load_model(store, version)


def stored_history(store: Store, area, *, period: str, resolution: int, target: str, cutoff: dt.date | None,
                   layers: tuple[PointLayer, ...] = (), allow_police_detected: bool = False):
    """The stored incidents counted per cell and period for a run, on ``area``'s cells (or around the
    incidents, without one), in the configured calendar.

    Parameters
    ----------
    store : the store to read.
    area : the force area (:class:`hotspots.geo.areas.Area`) or None.
    period : tactical, week or month. resolution : H3 resolution of the cells.
    target : the offences to forecast (``knife_syv`` or offence types, comma-separated).
    cutoff : the first day of the forecast period, or None for the period after the data.
    layers : point layers (schools, stops, ...) for distance and count features.
    allow_police_detected : let the target include offences found by police activity.

    Returns
    -------
    (CellHistory, int | None)
        The history, and the period that starts on ``cutoff`` (None without a cutoff).
    """
    s = get_settings()
    frame, crs = stored_frame(store)
    return build_history(frame, crs, period=period, resolution=resolution, target=target, cutoff=cutoff, area=area,
                         anchor=s.period_anchor, period_days=s.period_days, timezone=s.timezone, layers=layers,
                         allow_police_detected=allow_police_detected)


def train_stored(store: Store, history: CellHistory, forecast: int | None, *, seed: int, backtest_periods: int,
                 progress: Callable[[str], None] | None = None) -> tuple[int, TrainedModel]:
    """Backtest and train the predictor on ``history`` and register it (not promoted).

    Parameters
    ----------
    store : where the version is registered.
    history, forecast : as :func:`stored_history` returns them.
    seed : the model's random seed. backtest_periods : complete periods scored before the fit.
    progress : called with a line after each test period and after the final fit.

    Returns
    -------
    (int, TrainedModel)
        The registered version and the trained model with its backtest.
    """
    trained = train(history, forecast, RiskModel(seed=seed), backtest_periods, progress=progress)
    trained.notes.append(detection_in_hotspots(store, timezone=history.calendar.timezone)[2])
    return register(store, trained), trained


def backtest_stored(history: CellHistory, forecast: int | None, *, periods: int, seed: int,
                    progress: Callable[[str], None] | None = None) -> BacktestResult:
    """Rolling-origin backtest of the model beside every baseline, on the periods before ``forecast``.

    Parameters
    ----------
    history, forecast : as :func:`stored_history` returns them.
    periods : complete periods to score, the latest before ``forecast``.
    seed : the model's random seed.
    progress : called with a line after each test period.

    Returns
    -------
    BacktestResult
    """
    if forecast is not None:
        history = history_before(history, forecast)
    return rolling_backtest(history, periods, RiskModel(seed=seed), progress=progress)


def forecast_promoted(store: Store, area, day: dt.date | None = None, *, npus: tuple[str, ...] = (),
                      npu_areas: NamedAreas | None = None) -> tuple[StoredModel, pd.DataFrame]:
    """The promoted model's forecast on the stored incidents for the period holding ``day``
    (default: the period after the data).

    Parameters
    ----------
    store : the store holding the incidents and the promoted model.
    area : the force area (its cells are scored), or None for the cells the incidents touch.
    day : a day in the period to forecast; None for the period after the data.
    npus : for a reader limited to these NPUs, only the cells in them
        (``services.access.visible_cells``).
    npu_areas : the NPU boundaries; a limited reader without them gets ForbiddenError.

    Returns
    -------
    (StoredModel, pandas.DataFrame)
        The model, and one row per cell (``models.registry.forecast_table``), highest first.
    """
    check_may_read_cells(npus, npu_areas)
    stored = load_promoted(store)
    frame, _ = stored_frame(store)
    history = CellHistory(frame, region_cells(area, frame, stored.resolution), stored.calendar, stored.target,
                          stored.crs, stored.feature_config, stored.layers)
    period = stored.calendar.period_of(day) if day else history.next_period()
    table = forecast_table(history.cells, stored.predict(history, period), stored.calendar, period)
    return stored, visible_cells(table, npus, npu_areas)


def _steps(total: int, report: Report) -> Callable[[str], None]:
    """A progress callback counting lines out of ``total`` steps (never 100% before the job ends)."""
    done = [0]

    def step(line: str) -> None:
        done[0] += 1
        report(min(done[0] / total, 0.99), line)

    return step


def train_job(store: Store, area, run: dict) -> Callable[[Report], tuple[dict, str]]:
    """The work of a training job (for a job runner): count the stored incidents for ``run``
    (period, resolution, target, cutoff, allow_police_detected, seed, backtest_periods), backtest,
    train and register the model; its result is the new version and its backtest."""
    def work(report: Report) -> tuple[dict, str]:
        report(0.0, "counting incidents per cell and period")
        history, forecast = _history(store, area, run)
        version, trained = train_stored(store, history, forecast, seed=run["seed"],
                                        backtest_periods=run["backtest_periods"],
                                        progress=_steps(run["backtest_periods"] + 1, report))
        first, last = trained.forecast_bounds()
        result = {"version": version, "forecast_start": first, "forecast_end": last,
                  "backtest": trained.backtest.to_dict() if trained.backtest is not None else None}
        return result, f"model version {version} stored; not promoted"

    return work


def backtest_job(store: Store, area, run: dict) -> Callable[[Report], tuple[dict, str]]:
    """The work of a backtest job: as :func:`train_job`, with ``periods`` test periods and no model stored."""
    def work(report: Report) -> tuple[dict, str]:
        report(0.0, "counting incidents per cell and period")
        history, forecast = _history(store, area, run)
        result = backtest_stored(history, forecast, periods=run["periods"], seed=run["seed"],
                                 progress=_steps(run["periods"], report))
        return result.to_dict(), result.verdict()

    return work


def _history(store: Store, area, run: dict):
    return stored_history(store, area, period=run["period"], resolution=run["resolution"], target=run["target"],
                          cutoff=run["cutoff"], allow_police_detected=run["allow_police_detected"])


def promote_audited(store: Store, version: int, note: str, *, actor: str) -> None:
    """Promote ``version`` (see :func:`promote`) and record who did it and why."""
    promote(store, version, note)
    with store.engine.begin() as conn:
        record(conn, actor, "model.promote", "model", version, {"note": note})


def rollback_audited(store: Store, note: str, *, actor: str) -> int:
    """Roll back to the previously promoted version (see :func:`rollback`), audited; returns it."""
    version = rollback(store, note)
    with store.engine.begin() as conn:
        record(conn, actor, "model.rollback", "model", version, {"note": note})
    return version
