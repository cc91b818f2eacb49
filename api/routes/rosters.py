"""Tasking boards: issued rosters and their downloads. Every download is audited; nothing is cached."""

from __future__ import annotations

import json
from typing import Literal

from fastapi import APIRouter, HTTPException, Query, Response, status

from api.deps import StoreDep, Tasking
from api.schemas import Problem, RosterItem

router = APIRouter(prefix="/rosters", tags=["tasking"])
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MEDIA = {"csv": "text/csv; charset=utf-8", "ics": "text/calendar; charset=utf-8", "json": "application/json"}


@router.get("", response_model=list[RosterItem])
def list_rosters(store: StoreDep, principal: Tasking, response: Response) -> list[RosterItem]:
    """Issued rosters, newest first."""
    from hotspots.store.rosters import list_rosters as stored

    response.headers.update(NO_STORE)
    return [RosterItem(**r) for r in stored(store).to_dict("records")]


@router.get("/{roster_id}/download/{fmt}", response_class=Response,
            responses={200: {"content": {m.split(";")[0]: {} for m in _MEDIA.values()},
                             "description": "The roster file (OFFICIAL-SENSITIVE)."},
                       400: {"model": Problem}, 404: {"model": Problem}})
def download(roster_id: int, fmt: Literal["csv", "ics", "json"], store: StoreDep, principal: Tasking,
             unit: str | None = Query(None, max_length=32, description="Call sign: required for ics (one calendar per unit).")):
    """A roster as CSV (one row per visit), iCalendar for one unit, or JSON; the download is audited."""
    from hotspots.patrol.exports import csv_text, roster_document, roster_stem, safe_name, unit_calendar
    from hotspots.store.audit import record
    from hotspots.store.rosters import load_roster

    roster = load_roster(store, roster_id)
    if fmt == "ics":
        if unit is None or unit not in set(roster.visits["unit"]):
            raise HTTPException(status.HTTP_400_BAD_REQUEST, "ics needs ?unit= with a call sign on this roster")
        body, name = unit_calendar(roster, unit), f"{roster_stem(roster)}-{safe_name(unit)}.ics"
    elif fmt == "csv":
        body, name = csv_text(roster).encode(), f"{roster_stem(roster)}.csv"
    else:
        body, name = json.dumps(roster_document(roster), default=str).encode(), f"{roster_stem(roster)}.json"
    with store.engine.begin() as conn:
        record(conn, principal.actor, "roster.download", "roster", roster_id, {"format": fmt, "unit": unit})
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content=body, media_type=_MEDIA[fmt], headers=headers)
