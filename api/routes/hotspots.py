"""Commanders: hotspot sets by period (GeoJSON and the weekly map) and engagement plans.

A commander limited to NPUs sees, and may update the plans of, only the hotspots in them.
"""

from __future__ import annotations

import json

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, JSONResponse

from api.deps import ROUTE_RESPONSES, AnyRole, CacheDep, CommanderOnly, RecordId, StoreDep, force_area
from api.headers import map_headers
from api.schemas import (
    Activity,
    ActivityCreate,
    Coverage,
    CoverageRow,
    EngagementFlag,
    EngagementPlan,
    EngagementUpdate,
    FeatureCollection,
    HotspotRow,
    HotspotSetItem,
    problem,
)
from hotspots.core.errors import ValidationError
from hotspots.places.exports import hotspot_frame
from hotspots.services.access import visible_plans, visible_to
from hotspots.services.engagement import hotspot_flags, log_activity, visible_activities
from hotspots.services.weekly import load_set, set_map_page
from hotspots.services.weekly import update_engagement as record_engagement
from hotspots.store.hotspot_sets import list_sets as stored_sets

router = APIRouter(prefix="/hotspot-sets", tags=["commanders"], responses=ROUTE_RESPONSES)


class RenderedJSON(JSONResponse):
    """A JSON response whose body was rendered (and validated against its model) before."""

    def render(self, content: bytes) -> bytes:
        return content


@router.get("", response_model=list[HotspotSetItem])
def list_sets(store: StoreDep, principal: AnyRole) -> list[HotspotSetItem]:
    """Every stored hotspot set, newest first."""
    return [HotspotSetItem(**r) for r in stored_sets(store).to_dict("records")]


@router.get("/{set_id}/geojson", response_model=FeatureCollection, responses={404: problem("No such record in the store.")})
def set_geojson(set_id: RecordId, store: StoreDep, cache: CacheDep, principal: AnyRole) -> JSONResponse:
    """A set's hotspots with their geofences (WGS84), ranked; filtered to the caller's NPUs if it has any."""
    npus = principal.npus

    def render() -> bytes:
        hs = _visible(load_set(store, set_id), principal)
        doc = json.loads(hotspot_frame(hs).to_json(na="null", drop_id=True))
        p = hs.parameters
        body = FeatureCollection(features=doc["features"], properties={
            "set_id": p["set_id"], "period_label": p["period_label"], "period_start": str(p["period_start"]),
            "period_end": str(p["period_end"]), "version": p["version"], "resolution": p["resolution"]})
        return body.model_dump_json().encode()

    # Stored sets never change: the rendered document is kept per set and NPU filter.
    return RenderedJSON(cache.get(("geojson", set_id, npus), render))


@router.get("/{set_id}/coverage", response_model=Coverage, responses={404: problem("No such record in the store.")})
def set_coverage(set_id: RecordId, store: StoreDep, principal: AnyRole) -> Coverage:
    """The coverage table of a set (share of area, crime, harm and serious youth violence inside the
    hotspots in the last complete period, with PAI) and each hotspot's measures."""
    hs = _visible(load_set(store, set_id), principal)
    measures = [CoverageRow(**_plain(r)) for r in hs.parameters["coverage"].to_dict("records")]
    rows = hs.hotspots.drop(columns=["geofence", "centroid_lon", "centroid_lat"]).astype(object)
    hotspots = [HotspotRow(**_plain(r)) for r in rows.where(rows.notna(), None).to_dict("records")]
    return Coverage(set_id=hs.parameters["set_id"], period_label=hs.parameters["period_label"], measures=measures,
                    hotspots=hotspots)


@router.get("/{set_id}/map", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The weekly map page."},
                       404: problem("No such record in the store.")})
def set_map(set_id: RecordId, store: StoreDep, cache: CacheDep, principal: AnyRole) -> HTMLResponse:
    """The weekly map of a set (self-contained HTML); a commander limited to NPUs gets only their hotspots."""
    region = force_area(cache)
    if region is None:
        raise ValidationError("a map needs the force area; set HOTSPOTS_FORCE_AREA to its boundary file")
    page = set_map_page(store, load_set(store, set_id), region, npus=principal.npus)
    return HTMLResponse(page, headers=map_headers(page))


def _visible(hs, principal):
    """The set as the caller may see it: a commander limited to NPUs sees only their hotspots (only
    commanders' tokens carry NPUs: 'users add' refuses them for other roles)."""
    return visible_to(hs, principal.npus)


engagement_router = APIRouter(prefix="/engagement-plans", tags=["commanders"], responses=ROUTE_RESPONSES)


@engagement_router.get("", response_model=list[EngagementPlan])
def engagement_plans(store: StoreDep, principal: AnyRole,
                     hotspot_id: str | None = Query(None, max_length=16)) -> list[EngagementPlan]:
    """Current engagement plan of each hotspot (or of one); a commander limited to NPUs reads only theirs."""
    frame = visible_plans(store, principal.npus, hotspot_id)
    return [EngagementPlan(**_plain(r)) for r in frame.to_dict("records")]


@engagement_router.get("/flags", response_model=list[EngagementFlag])
def engagement_flags(store: StoreDep, principal: AnyRole, flagged_only: bool = False) -> list[EngagementFlag]:
    """Every designated hotspot's engagement state: flagged when it has no agreed plan N days after
    designation (HOTSPOTS_ENGAGEMENT_GRACE_DAYS, default 14) or its review is overdue."""
    frame = hotspot_flags(store, npus=principal.npus)
    if flagged_only:
        frame = frame[frame["flag"].ne("")]
    return [EngagementFlag(**_plain(r)) for r in frame.to_dict("records")]


@engagement_router.get("/{hotspot_id}/activities", response_model=list[Activity])
def engagement_activities(hotspot_id: str, store: StoreDep, principal: AnyRole) -> list[Activity]:
    """The engagement activities logged for a hotspot, oldest first (a limited commander: theirs only)."""
    return [Activity(**_plain(r)) for r in visible_activities(store, hotspot_id, principal.npus).to_dict("records")]


@engagement_router.post("/{hotspot_id}/activities", response_model=Activity, status_code=201,
                        responses={400: problem("A user error, in one line."), 404: problem("No such record in the store.")})
def add_engagement_activity(hotspot_id: str, body: ActivityCreate, store: StoreDep,
                            principal: CommanderOnly) -> Activity:
    """Log an engagement activity (commanders, within their NPUs); audited."""
    row = log_activity(store, hotspot_id, kind=body.kind, happened_on=body.happened_on, note=body.note,
                       actor=principal.actor, npus=principal.npus)
    return Activity(**row)


@engagement_router.put("/{hotspot_id}", response_model=EngagementPlan,
                       responses={400: problem("A user error, in one line."), 404: problem("No such record in the store.")})
def update_engagement(hotspot_id: str, change: EngagementUpdate, store: StoreDep,
                      principal: CommanderOnly) -> EngagementPlan:
    """Record a new version of a hotspot's engagement plan (commanders, within their NPUs); audited."""
    saved = record_engagement(store, hotspot_id, actor=principal.actor, npus=principal.npus, **change.model_dump())
    return EngagementPlan(**_plain(saved))


def _plain(record: dict) -> dict:
    return {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
