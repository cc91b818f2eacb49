"""Tasking boards: issued rosters and their downloads. Every download is audited; nothing is cached."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Response
from fastapi.responses import HTMLResponse

from api.deps import ROUTE_RESPONSES, AuditDep, CacheDep, RecordId, StoreDep, Tasking
from api.headers import NO_STORE, PAGE_CSP
from api.schemas import RosterCreate, RosterItem, problem
from hotspots.core.config import get_settings
from hotspots.core.errors import NotFoundError, ValidationError
from hotspots.patrol import PatrolResources
from hotspots.patrol.exports import csv_text, roster_document, roster_stem, safe_name, unit_calendar
from hotspots.services.rosters import issue_roster, load_roster
from hotspots.services.trials import load_allocation
from hotspots.services.weekly import load_set
from hotspots.store.rosters import list_rosters as stored
from maps.briefing import briefing as unit_briefing

router = APIRouter(prefix="/rosters", tags=["tasking"], responses=ROUTE_RESPONSES)
_MEDIA = {"csv": "text/csv; charset=utf-8", "ics": "text/calendar; charset=utf-8", "json": "application/json",
          "html": "text/html; charset=utf-8"}


@router.get("", response_model=list[RosterItem])
def list_rosters(store: StoreDep, principal: Tasking, response: Response) -> list[RosterItem]:
    """Issued rosters, newest first."""
    response.headers.update(NO_STORE)
    return [RosterItem(**r) for r in stored(store).to_dict("records")]


@router.post("", response_model=RosterItem, status_code=201,
             responses={400: problem("A user error, in one line (e.g. resources that do not add up)."),
                        404: problem("No such hotspot set or allocation.")})
def create_roster(body: RosterCreate, store: StoreDep, principal: Tasking, response: Response) -> RosterItem:
    """Plan a randomised roster for a hotspot set and issue it (stored, never changed; audited).
    With an allocation, its control places (or days) get no visits."""
    spec = PatrolResources.from_dict(body.resources).with_share(body.hotspot_share)
    arms = None
    if body.allocation_id is not None:
        alloc = load_allocation(store, body.allocation_id)
        if body.set_id is not None and alloc.issue["set_id"] != body.set_id:
            raise ValidationError(f"allocation {body.allocation_id} is of set {alloc.issue['set_id']}, not set {body.set_id}")
        arms = alloc.patrol_arms()
    set_id = body.set_id if body.allocation_id is None else alloc.issue["set_id"]
    roster, _ = issue_roster(
        store, spec, set_id=set_id, start=body.start, days=body.days, seed=body.seed, priority=body.priority,
        visit_minutes=body.visit_minutes, visits_per_day=body.visits_per_day, min_gap_minutes=body.min_gap_minutes,
        floor_minutes=body.floor_minutes, arms=arms, history_days=body.history_days, reason=body.reason,
        notes={"allocation_id": body.allocation_id}, actor=principal.actor, timezone=get_settings().timezone)
    response.headers.update(NO_STORE)
    i, p = roster.issue, roster.parameters  # the issued roster describes itself; no listing is re-read
    return RosterItem(roster_id=i["roster_id"], set_id=i["set_id"], period_start=p["start"], period_end=p["end"],
                      version=i["version"], created_at=i["created_at"], issued_by=i["issued_by"], seed=p["seed"],
                      visits=len(roster.visits), reason=i["reason"])


@router.get("/{roster_id}/download/{fmt}", response_class=Response,
            responses={200: {"content": {"text/csv": {}, "application/json": {}},
                             "description": "The roster file (OFFICIAL-SENSITIVE)."},
                       404: problem("No such roster.")})
def download(roster_id: RecordId, fmt: Literal["csv", "json"], store: StoreDep, cache: CacheDep,
             audit: AuditDep, principal: Tasking) -> Response:
    """A roster as CSV (one row per visit, spreadsheet formulas neutralised) or JSON; the download is audited."""
    return roster_file(store, cache, audit, roster_id, fmt, None, principal.actor)


Unit = Annotated[str, Path(max_length=32, description="The unit's call sign.")]
_NO_UNIT = problem("No such roster, or no such unit on it.")


@router.get("/{roster_id}/calendars/{unit}", response_class=Response,
            responses={200: {"content": {"text/calendar": {}}, "description": "The unit's calendar (OFFICIAL-SENSITIVE)."},
                       404: _NO_UNIT})
def calendar(roster_id: RecordId, unit: Unit, store: StoreDep, cache: CacheDep, audit: AuditDep,
             principal: Tasking) -> Response:
    """One unit's visits as iCalendar (RFC 5545); the download is audited."""
    return roster_file(store, cache, audit, roster_id, "ics", unit, principal.actor)


@router.get("/{roster_id}/briefings/{unit}", response_class=HTMLResponse,
            responses={200: {"content": {"text/html": {}}, "description": "The unit's printable briefing (OFFICIAL-SENSITIVE)."},
                       404: _NO_UNIT})
def briefing(roster_id: RecordId, unit: Unit, store: StoreDep, cache: CacheDep, audit: AuditDep,
             principal: Tasking) -> Response:
    """One unit's printable briefing: a page per patrol day with its visits and an SVG map; audited."""
    return roster_file(store, cache, audit, roster_id, "html", unit, principal.actor)


def roster_file(store, cache, audit, roster_id: int, fmt: str, unit: str | None, actor: str) -> Response:
    """An issued roster as a download, after its audit event is committed (no event, no file): the whole
    roster as CSV or JSON, or one unit's calendar (ics) or printable briefing (html). The event goes
    through the process's group commit (``audit``), so concurrent downloads share one transaction."""
    roster = _load(store, cache, roster_id)
    stem = roster_stem(roster)
    if unit is None:
        def render():
            if fmt == "csv":
                return csv_text(roster).encode(), f"{stem}.csv"
            return json.dumps(roster_document(roster), default=str).encode(), f"{stem}.json"

        body, name = cache.get(("roster-file", roster_id, fmt), render)
        detail = {"format": fmt}
    else:
        if unit not in set(roster.visits["unit"]):
            raise NotFoundError(f"roster {roster_id} has no unit {unit!r}")
        if fmt == "ics":
            body, name = unit_calendar(roster, unit), f"{stem}-{safe_name(unit)}.ics"
        else:
            hot = load_set(store, roster.issue["set_id"]).hotspots
            body = unit_briefing(roster, unit, dict(zip(hot["hotspot_id"], hot["geofence"], strict=True))).encode()
            name = f"{stem}-{safe_name(unit)}-briefing.html"
        detail = {"format": fmt, "unit": unit}
    audit.record(actor, "roster.download", "roster", roster_id, detail)
    headers = {**NO_STORE, "Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "html":
        headers["Content-Security-Policy"] = PAGE_CSP
    return Response(content=body, media_type=_MEDIA[fmt], headers=headers)


def _load(store, cache, roster_id: int):
    """The issued roster, its fingerprint checked on first load; kept, since it can never change."""
    return cache.get(("roster", roster_id), lambda: load_roster(store, roster_id))
