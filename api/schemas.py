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
    stakeholders: str
    status: str
    next_review: dt.date | None
    notes: str
    updated_at: dt.datetime
    plan_version: int


class EngagementUpdate(BaseModel):
    owner: str | None = Field(None, max_length=200, description="A role or team, never a person's name.")
    stakeholders: str | None = Field(None, max_length=1000)
    status: Literal["not started", "drafted", "agreed", "in progress", "under review", "closed"] | None = None
    next_review: dt.date | None = None
    notes: str | None = Field(None, max_length=4000, description="Free text; no personal data.")


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
