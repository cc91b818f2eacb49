"""Response bodies (Pydantic), kept apart from the database tables in hotspots/store/schema.py."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field


class Health(BaseModel):
    status: str


class Ready(BaseModel):
    status: str
    backend: str


class Problem(BaseModel):
    detail: str


def problem(description: str) -> dict:
    """An error response for the OpenAPI document: JSON ``{"detail": ...}`` whatever the route's own media type."""
    return {"description": description, "content": {"application/json": {"schema": Problem.model_json_schema()}}}


#: The store does not yet hold what a route needs (hotspots.core.errors.NotReadyError).
NOT_READY = {409: problem("The store does not yet hold what this needs: no incidents or GPS pings in the window, "
                          "or no promoted model.")}


class HotspotSetItem(BaseModel):
    set_id: int
    period_label: str
    period_start: dt.date
    period_end: dt.date
    version: int
    created_at: dt.datetime
    score_source: str
    hotspots: int


class Feature(BaseModel):
    type: str = "Feature"
    geometry: dict[str, Any]
    properties: dict[str, Any]


class FeatureCollection(BaseModel):
    type: str = "FeatureCollection"
    features: list[Feature]
    properties: dict[str, Any] = Field(default_factory=dict)


class RosterItem(BaseModel):
    roster_id: int
    set_id: int
    period_start: dt.date
    period_end: dt.date
    version: int
    created_at: dt.datetime
    issued_by: str
    seed: int
    visits: int
    reason: str


class AllocationItem(BaseModel):
    allocation_id: int
    trial: str
    version: int
    set_id: int
    design: str
    start: dt.date
    places: int
    seed: int
    created_at: dt.datetime
    created_by: str
    reason: str


class PlaceArm(BaseModel):
    place_id: str
    npu: str
    risk: float
    block: int
    pair: int
    arms: list[str]


class Allocation(BaseModel):
    allocation_id: int
    trial: str
    version: int
    design: str
    seed: int
    start: dt.date
    fingerprint: str
    parameters: dict[str, Any]
    places: list[PlaceArm]


class AuditEvent(BaseModel):
    event_id: int
    at: dt.datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    detail: dict[str, Any]


class RejectedRow(BaseModel):
    line: int
    reason: str
    raw: str


class LoadResult(BaseModel):
    file: str
    batch_id: int | None
    already_loaded: bool
    rows_read: int
    loaded: int
    already_stored: int
    rejected: int
    rejects: list[RejectedRow] = Field(default_factory=list, description="The first 100 rejected rows.")


class EngagementPlan(BaseModel):
    hotspot_id: str
    owner: str
    owner_role: str = ""
    stakeholders: str
    status: str
    next_review: dt.date | None
    notes: str
    updated_at: dt.datetime
    plan_version: int


class EngagementUpdate(BaseModel):
    owner: str | None = Field(None, max_length=200, description="A role or team, never a person's name.")
    owner_role: str | None = Field(None, max_length=200, description="The rank or role answerable for the plan.")
    stakeholders: str | None = Field(None, max_length=1000)
    status: Literal["not started", "drafted", "agreed", "in progress", "under review", "closed"] | None = None
    next_review: dt.date | None = None
    notes: str | None = Field(None, max_length=4000, description="Free text; no personal data.")


class EngagementFlag(BaseModel):
    """A designated hotspot's engagement state; ``flag`` is empty when nothing is due."""

    hotspot_id: str
    designated: dt.date = Field(description="First day of the first set that held the hotspot.")
    status: str
    next_review: dt.date | None
    flag: str
    days_over: int = Field(description="Days past the deadline the flag is about (0 when not flagged).")


class ActivityCreate(BaseModel):
    kind: Literal["meeting", "survey", "knife sweep", "youth provision", "update given"]
    happened_on: dt.date
    note: str = Field("", max_length=2000, description="Free text; no personal data.")


class Activity(ActivityCreate):
    activity_id: int
    hotspot_id: str
    recorded_by: str
    recorded_at: dt.datetime


class StopSearchReport(BaseModel):
    """Stop and search in and out of a set's hotspots (counts only; see 'hotspots stop-search report')."""

    set_id: int
    period_label: str
    months: list[str]
    days: dict[str, int] = Field(description="Days of the before and during windows the loaded months cover.")
    searches: int
    unplaced: int
    find_measure: str
    notes: list[str]
    tables: dict[str, list[dict[str, Any]]]


class DetectionEffect(BaseModel):
    """Police-detected offences in stored hotspots during designation against the window before, relative
    to the rest of the force; observational (a trial's evaluation has the randomised estimate)."""

    periods: list[dict[str, Any]]
    pooled: dict[str, float | int | None]
    sentence: str


class StopSearchLoaded(BaseModel):
    load_id: int
    set_id: int
    added: bool = Field(description="False when these files were already loaded for this set (nothing added).")
    rows_read: int
    rows_rejected: int
    months: list[str]


class AllocationCreate(BaseModel):
    """A new allocation of a stored hotspot set's places (see 'hotspots trial allocate')."""

    trial: str = Field(min_length=1, max_length=64, description="The trial's name; a second allocation is a new version.")
    set_id: int | None = Field(None, ge=1, le=2_147_483_647, description="Hotspot set (default: the latest).")
    design: Literal["simple", "blocked", "pair", "crossover"] = "blocked"
    seed: int | None = Field(None, ge=0, le=2**48 - 1, description="Default: a fresh seed, recorded.")
    share: float = Field(0.5, ge=0.0, le=1.0)
    strata: list[Literal["npu", "risk_band"]] = Field(default_factory=lambda: ["npu", "risk_band"])
    bands: int = Field(3, ge=1, le=10)
    risk: Literal["harm", "score", "incidents"] = "harm"
    start: dt.date | None = Field(None, description="First day of the trial (default: the set's first day).")
    periods: int = Field(8, ge=2, le=104, description="Crossover: number of periods.")
    period_days: int = Field(7, ge=1, le=28, description="Crossover: days per period.")
    reason: str = Field("", max_length=1000, description="Required when replacing a registered allocation.")


class CoverageRow(BaseModel):
    measure: str
    in_hotspots: float | None = Field(description="Inside the hotspots (m² for area); null if the data does not record it.")
    total: float | None
    share: float | None
    pai: float | None = Field(description="Predictive accuracy index: share of the measure over share of the area.")


class HotspotRow(BaseModel):
    hotspot_id: str
    rank: int
    name: str | None
    area_name: str | None
    status: str
    n_cells: int
    area_m2: float
    score: float
    incidents: float | None
    harm: float | None
    knife_enabled: float | None
    serious_youth_violence: float | None
    gi_hot_cells: int | None
    emerging_class: str | None


class Coverage(BaseModel):
    """A set's coverage of the last complete period (force-wide) and each hotspot's measures."""

    set_id: int
    period_label: str
    measures: list[CoverageRow]
    hotspots: list[HotspotRow] = Field(description="Ranked; a commander limited to NPUs gets only theirs.")


class ComplianceRow(BaseModel):
    hotspot_id: str
    arm: str
    planned_minutes: float | None
    delivered_minutes: float
    delivered_share: float | None
    planned_visits: float | None
    delivered_visits: int
    koper_share: float | None = Field(description="Share of visits of Koper length (10 to 20 minutes).")


class Compliance(BaseModel):
    """Planned against delivered (GPS) patrol per place of a trial."""

    allocation_id: int
    weeks: int | None = Field(description="Weeks measured from the start; null for crossover designs (their periods).")
    first_day: dt.date
    end: dt.date = Field(description="First day after the window.")
    summary: dict[str, Any]
    hotspots: list[ComplianceRow]


class RosterCreate(BaseModel):
    """A new roster for a stored hotspot set (see 'hotspots patrol plan')."""

    resources: dict[str, Any] = Field(description="NPUs, units, shifts and funded hours: the resources TOML as JSON "
                                                  "(see data/patrol/demo_resources.toml).")
    set_id: int | None = Field(None, ge=1, le=2_147_483_647, description="Hotspot set (default: the latest).")
    start: dt.date | None = Field(None, description="First day (default: the set's first day).")
    days: int = Field(28, ge=1, le=91)
    seed: int | None = Field(None, ge=0, le=2**48 - 1, description="Default: a fresh seed, recorded.")
    priority: Literal["harm", "score", "equal"] = "harm"
    visit_minutes: int = Field(15, ge=10, le=20, description="Minutes per visit (Koper: about 15).")
    visits_per_day: int = Field(3, ge=1, le=12)
    min_gap_minutes: int = Field(60, ge=0, le=720)
    floor_minutes: float | None = Field(None, ge=0, le=600)
    hotspot_share: float | None = Field(None, gt=0, le=1, description="Share of funded hours for hotspots.")
    allocation_id: int | None = Field(None, ge=1, le=2_147_483_647,
                                      description="A registered trial allocation whose control places (or days) get no visits.")
    history_days: int = Field(365, ge=0, le=3650)
    reason: str = Field("", max_length=1000)


class JobItem(BaseModel):
    job_id: int
    kind: str
    status: Literal["queued", "running", "done", "failed", "interrupted"]
    progress: float = Field(description="Share done, 0 to 1.")
    message: str
    created_by: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


class Job(JobItem):
    parameters: dict[str, Any]
    result: dict[str, Any] | None


class RunSettings(BaseModel):
    period: Literal["tactical", "week", "month"] = "tactical"
    resolution: int = Field(10, ge=7, le=11)
    target: str = Field("knife_syv", max_length=200,
                        description="knife_syv, or offence types, e.g. 'Violence and sexual offences,Robbery'.")
    cutoff: dt.date | None = Field(None, description="Use what was known before this day (default: all data).")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    allow_police_detected: bool = False


class TrainRequest(RunSettings):
    backtest_periods: int = Field(6, ge=0, le=24, description="Test periods of the backtest stored with the model.")


class BacktestRequest(RunSettings):
    periods: int = Field(6, ge=1, le=24, description="Test periods, the latest complete ones.")


class ModelItem(BaseModel):
    version: int
    promoted: bool
    created_at: dt.datetime
    target: str
    period_kind: str
    resolution: int
    training_start: dt.date
    training_end: dt.date
    forecast_start: dt.date
    n_incidents: int
    data_fingerprint: str


class ModelCard(ModelItem):
    forecast_end: dt.date
    features: list[str]
    parameters: dict[str, Any]
    metrics: dict[str, Any] = Field(description="The backtest stored with the model (empty if none).")
    code_version: str
    card: str = Field(description="The model card, as Markdown.")


class ModelComparison(BaseModel):
    """Backtest measures of each version side by side (the model's own row of each backtest)."""

    versions: list[int]
    measures: dict[str, list[float | None]]
    verdicts: list[str | None]


class Promotion(BaseModel):
    note: str = Field("", max_length=1000, description="Why, for the record.")


class ForecastCell(BaseModel):
    h3_cell: str
    lon: float
    lat: float
    expected: float
    rank: int


class Forecast(BaseModel):
    version: int
    period_start: dt.date
    period_end: dt.date
    cells_scored: int
    expected_total: float
    cells: list[ForecastCell] = Field(description="Highest first, up to the limit asked for.")
