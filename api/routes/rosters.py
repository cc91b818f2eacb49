"""Tasking boards: issued rosters and their downloads. Every download is audited; nothing is cached."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, Response, status

from api.deps import AUTH_RESPONSES, RecordId, StoreDep, Tasking
from api.schemas import RosterItem, problem

router = APIRouter(prefix="/rosters", tags=["tasking"], responses=AUTH_RESPONSES)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_MEDIA = {"csv": "text/csv; charset=utf-8", "ics": "text/calendar; charset=utf-8", "json": "application/json"}


@router.get("", response_model=list[RosterItem])
def list_rosters(store: StoreDep, principal: Tasking, response: Response) -> list[RosterItem]:
    """Issued rosters, newest first."""
    from hotspots.store.rosters import list_rosters as stored

    response.headers.update(NO_STORE)
    return [RosterItem(**r) for r in stored(store).to_dict("records")]


@router.get("/{roster_id}/download/{fmt}", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "The roster file (OFFICIAL-SENSITIVE)."},
                       404: problem("No such roster.")})
def download(roster_id: RecordId, fmt: Literal["csv", "json"], store: StoreDep, principal: Tasking) -> Response:
    """A roster as CSV (one row per visit, spreadsheet formulas neutralised) or JSON; the download is audited."""
    from hotspots.patrol.exports import csv_text, roster_document, roster_stem

    roster = _load(store, roster_id)
    if fmt == "csv":
        body, name = csv_text(roster).encode(), f"{roster_stem(roster)}.csv"
    else:
        body, name = json.dumps(roster_document(roster), default=str).encode(), f"{roster_stem(roster)}.json"
    return _file(store, principal, roster_id, body, name, fmt, {"format": fmt})


@router.get("/{roster_id}/calendars/{unit}", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}, "description": "The unit's calendar (OFFICIAL-SENSITIVE)."},
                       404: problem("No such roster, or no such unit on it.")})
def calendar(roster_id: RecordId, unit: Annotated[str, Path(max_length=32, description="The unit's call sign.")],
             store: StoreDep, principal: Tasking) -> Response:
    """One unit's visits as iCalendar (RFC 5545); the download is audited."""
    from hotspots.patrol.exports import roster_stem, safe_name, unit_calendar

    roster = _load(store, roster_id)
    if unit not in set(roster.visits["unit"]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"roster {roster_id} has no unit {unit!r}")
    name = f"{roster_stem(roster)}-{safe_name(unit)}.ics"
    return _file(store, principal, roster_id, unit_calendar(roster, unit), name, "ics", {"format": "ics", "unit": unit})


def _load(store, roster_id: int):
    from hotspots.store.rosters import load_roster

    return load_roster(store, roster_id)


def _file(store, principal, roster_id: int, body: bytes, name: str, fmt: str, detail: dict) -> Response:
    """The download, after its audit event is committed (no event, no file)."""
    from hotspots.store.audit import record

    with store.engine.begin() as conn:
        record(conn, principal.actor, "roster.download", "roster", roster_id, detail)
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    return Response(content=body, media_type=_MEDIA[fmt], headers=headers)
