"""Commanders: hotspot sets by period, as GeoJSON; a commander limited to NPUs sees only theirs."""

from __future__ import annotations

import json

from fastapi import APIRouter

from api.deps import Commander, StoreDep
from api.schemas import FeatureCollection, HotspotSetItem, Problem

router = APIRouter(prefix="/hotspot-sets", tags=["commanders"])


@router.get("", response_model=list[HotspotSetItem])
def list_sets(store: StoreDep, principal: Commander) -> list[HotspotSetItem]:
    """Every stored hotspot set, newest first."""
    from hotspots.store.hotspot_sets import list_sets as stored_sets

    return [HotspotSetItem(**r) for r in stored_sets(store).to_dict("records")]


@router.get("/{set_id}/geojson", response_model=FeatureCollection, responses={404: {"model": Problem}})
def set_geojson(set_id: int, store: StoreDep, principal: Commander) -> FeatureCollection:
    """A set's hotspots with their geofences (WGS84), ranked; filtered to the caller's NPUs if it has any."""
    from hotspots.exports import hotspot_frame
    from hotspots.store.hotspot_sets import load_set

    hs = load_set(store, set_id)
    frame = hotspot_frame(hs)
    if principal.role == "commander" and principal.npus:
        frame = frame[frame["area_name"].isin(principal.npus)]
    doc = json.loads(frame.to_json(na="null", drop_id=True))
    p = hs.parameters
    return FeatureCollection(features=doc["features"], properties={
        "set_id": p["set_id"], "period_label": p["period_label"], "period_start": str(p["period_start"]),
        "period_end": str(p["period_end"]), "version": p["version"], "resolution": p["resolution"]})
