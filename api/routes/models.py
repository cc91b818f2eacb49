"""Analysts: training and backtests as background jobs, the model registry, and forecasts per period.

A training or backtest answers 202 with a job at once; ``GET /jobs/{id}`` reports its progress
and, when done, its result (the new model version, or the backtest's measures).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import Field

from api.deps import ROUTE_RESPONSES, Analyst, CacheDep, RecordId, StoreDep, force_area, npu_areas, require
from api.schemas import (
    NOT_READY,
    BacktestRequest,
    Forecast,
    ForecastCell,
    Job,
    JobItem,
    ModelCard,
    ModelComparison,
    ModelItem,
    Promotion,
    TrainRequest,
    problem,
)
from hotspots.core.config import get_settings
from hotspots.services.models import (
    backtest_job,
    forecast_promoted,
    model_row,
    promote_audited,
    promoted_version,
    rollback_audited,
    train_job,
)
from hotspots.services.models import (
    list_models as stored_models,
)
from hotspots.store.jobs import get_job
from hotspots.store.jobs import list_jobs as stored_jobs
from hotspots.store.model_registry import forecast_inputs_version
from hotspots.store.tokens import Principal
from models.backtest import MODEL
from models.runs import check_run

jobs_router = APIRouter(prefix="/jobs", tags=["analysts"], responses=ROUTE_RESPONSES)
models_router = APIRouter(prefix="/models", tags=["analysts"], responses=ROUTE_RESPONSES)
forecasts_router = APIRouter(prefix="/forecasts", tags=["analysts"], responses=ROUTE_RESPONSES)

#: Forecasts are read by analysts and by the commanders and tasking boards who act on them.
ForecastReader = Annotated[Principal, require("analyst", "commander", "tasking")]
_NOT_FOUND = {404: problem("No such record in the store.")}
_USER_ERROR = {400: problem("A user error, in one line.")}


@jobs_router.post("/train", response_model=Job, status_code=202, responses=_USER_ERROR)
def start_training(body: TrainRequest, request: Request, store: StoreDep, cache: CacheDep, principal: Analyst) -> Job:
    """Backtest and train a model on the stored incidents, then register it (not promoted). Audited."""
    check_run(body.period, body.resolution, body.target, body.allow_police_detected)  # a 400 now, not a failed job later
    work = train_job(store, force_area(cache), body.model_dump())
    return _job(request, store, "train", body.model_dump(mode="json"), principal, work)


@jobs_router.post("/backtest", response_model=Job, status_code=202, responses=_USER_ERROR)
def start_backtest(body: BacktestRequest, request: Request, store: StoreDep, cache: CacheDep,
                   principal: Analyst) -> Job:
    """Rolling-origin backtest of the model beside every baseline on the stored incidents. Audited."""
    check_run(body.period, body.resolution, body.target, body.allow_police_detected)
    work = backtest_job(store, force_area(cache), body.model_dump())
    return _job(request, store, "backtest", body.model_dump(mode="json"), principal, work)


def _job(request: Request, store, kind: str, parameters: dict, principal, work) -> Job:
    job_id = request.app.state.jobs.submit(kind, parameters, principal.actor, work)
    return Job(**get_job(store, job_id))


@jobs_router.get("", response_model=list[JobItem])
def list_jobs(store: StoreDep, principal: Analyst) -> list[JobItem]:
    """The latest 100 jobs, newest first."""
    frame = stored_jobs(store).astype(object)
    return [JobItem(**r) for r in frame.where(frame.notna(), None).to_dict("records")]


@jobs_router.get("/{job_id}", response_model=Job, responses=_NOT_FOUND)
def job(job_id: RecordId, store: StoreDep, principal: Analyst) -> Job:
    """A job's state, progress (0 to 1, and its latest line) and, when done, its result."""
    return Job(**get_job(store, job_id))


@models_router.get("", response_model=list[ModelItem])
def list_models(store: StoreDep, principal: Analyst) -> list[ModelItem]:
    """The registry's versions, newest first; the promoted one is marked."""
    return [ModelItem(**r) for r in stored_models(store).to_dict("records")]


@models_router.get("/compare", response_model=ModelComparison, responses=_NOT_FOUND)
def compare(store: StoreDep, principal: Analyst,
            versions: Annotated[list[Annotated[int, Field(ge=1, le=2_147_483_647)]],
                                Query(min_length=2, max_length=10, description="Two or more versions.")]
            ) -> ModelComparison:
    """The stored backtest measures of several versions, side by side (the model's own row of each)."""
    rows = [model_row(store, v) for v in versions]
    measures: dict[str, list[float | None]] = {}
    for i, row in enumerate(rows):
        own = next((r for r in row["metrics"].get("summary", []) if r.get("method") == MODEL), {})
        for key, value in own.items():
            if key != "method":
                measures.setdefault(key, [None] * len(rows))[i] = None if value is None else float(value)
    return ModelComparison(versions=[r["version"] for r in rows], measures=measures,
                           verdicts=[r["metrics"].get("verdict") for r in rows])


@models_router.get("/{version}", response_model=ModelCard, responses=_NOT_FOUND)
def model(version: RecordId, store: StoreDep, principal: Analyst) -> ModelCard:
    """A version's card: target, training window, features, parameters, backtest against baselines."""
    row = model_row(store, version)
    return ModelCard(**row, promoted=promoted_version(store) == row["version"])


@models_router.post("/{version}/promote", response_model=ModelItem, responses={**_NOT_FOUND, **_USER_ERROR})
def promote(version: RecordId, body: Promotion, store: StoreDep, principal: Analyst) -> ModelItem:
    """Make a version the one that serves forecasts. Audited."""
    promote_audited(store, version, body.note, actor=principal.actor)
    return ModelItem(**model_row(store, version), promoted=True)


@models_router.post("/rollback", response_model=ModelItem, responses=_USER_ERROR)
def rollback(body: Promotion, store: StoreDep, principal: Analyst) -> ModelItem:
    """Return to the version promoted before the current one. Audited."""
    version = rollback_audited(store, body.note, actor=principal.actor)
    return ModelItem(**model_row(store, version), promoted=True)


@forecasts_router.get("", response_model=Forecast, responses={**_USER_ERROR, **NOT_READY})
def forecast(store: StoreDep, cache: CacheDep, principal: ForecastReader,
             day: Annotated[dt.date | None, Query(alias="for", description="A day in the period to forecast "
                                                                             "(default: the period after the data).")] = None,
             limit: Annotated[int, Query(ge=1, le=200_000, description="Cells returned, highest first.")] = 500
             ) -> Forecast:
    """The promoted model's expected count per cell for a period, on the stored incidents; a commander
    limited to NPUs gets the cells in them (ranked among themselves), given the NPU boundaries."""
    settings = get_settings()
    key = ("forecast", forecast_inputs_version(store), day, principal.npus, settings.npu_areas, settings.force_area)
    version, table = cache.get(key, lambda: _forecast_table(store, cache, day, principal.npus))
    top = table.head(limit)
    return Forecast(version=version, period_start=table["period_start"].iloc[0],
                    period_end=table["period_end"].iloc[0], cells_scored=len(table),
                    expected_total=float(table["expected"].sum()),
                    cells=[ForecastCell(**r) for r in top[["h3_cell", "lon", "lat", "expected", "rank"]]
                           .to_dict("records")])


def _forecast_table(store, cache, day, npus):
    """The promoted model's forecast table, kept in the worker's cache under the store's forecast inputs
    version (any load or promotion, in any worker, makes a new key)."""
    stored, table = forecast_promoted(store, force_area(cache), day, npus=npus, npu_areas=npu_areas(cache))
    return stored.version, table
