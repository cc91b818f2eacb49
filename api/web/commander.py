"""The NPU commander's page: the period's hotspot map and table, coverage, change since last period,
and each hotspot's engagement plan (edited here, every version kept)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from api.deps import CacheDep, RecordId, StoreDep, force_area
from api.headers import map_headers
from api.web.forms import form_day
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.services.schedule import WEEKLY_SET
from hotspots.services.weekly import load_set, period_view, set_map_page, update_engagement
from hotspots.store.hotspot_sets import ENGAGEMENT_STATUSES
from hotspots.store.hotspot_sets import list_sets as stored_sets
from hotspots.store.schedule import list_runs
from hotspots.store.sessions import Session

router = APIRouter(prefix="/commander", include_in_schema=False, dependencies=[Depends(mark_page)])
Commander = Annotated[Session, page_for("commander")]


@router.get("")
def commander_page(request: Request, store: StoreDep, session: Commander, set_id: int | None = None):
    """The chosen set (default: the latest) as this commander may see it."""
    sets = stored_sets(store)
    if sets.empty:
        raise NotReadyError("no hotspot set is stored yet; the weekly run (or 'hotspots select') makes one")
    view = period_view(store, set_id, session.principal.npus)
    hs = view.hotspot_set
    rows = hs.hotspots.drop(columns=["geofence"])
    return page(request, "commander.html", title=f"Hotspots {hs.parameters['period_label']}",
                for_role="NPU commanders", sets=sets.to_dict("records"), p=hs.parameters,
                hotspots=rows.to_dict("records"), dropped=view.dropped.to_dict("records"), change=view.change,
                coverage=view.coverage.to_dict("records"), plans=_plans(view.plans, rows["hotspot_id"]),
                history=_by_hotspot(view.plan_history.to_dict("records")),
                flags={r.hotspot_id: r.flag for r in view.flags.itertuples() if r.flag},
                statuses=ENGAGEMENT_STATUSES, npus=session.principal.npus,
                runs=list_runs(store, WEEKLY_SET, newest=5).to_dict("records"))


def _plans(current, hotspot_ids) -> dict[str, dict]:
    """Each hotspot's current plan; a hotspot without one shows an empty, not-started plan."""
    empty = {"status": "not started", "owner": "", "owner_role": "", "stakeholders": "", "next_review": None, "notes": ""}
    stored = {r["hotspot_id"]: r for r in current.to_dict("records")}
    return {h: stored.get(h, empty) for h in hotspot_ids}


def _by_hotspot(records: list[dict]) -> dict[str, list[dict]]:
    """Plan versions per hotspot, newest first."""
    grouped: dict[str, list[dict]] = {}
    for r in sorted(records, key=lambda r: -r["plan_version"]):
        grouped.setdefault(r["hotspot_id"], []).append(r)
    return grouped


@router.get("/sets/{set_id}/map", response_class=HTMLResponse)
def framed_map(set_id: RecordId, store: StoreDep, cache: CacheDep, session: Commander) -> HTMLResponse:
    """The weekly map of a set, for the commander's page to frame (this site only)."""
    region = force_area(cache)
    if region is None:
        raise ValidationError("a map needs the force area; set HOTSPOTS_FORCE_AREA to its boundary file")
    page = set_map_page(store, load_set(store, set_id), region, npus=session.principal.npus)
    return HTMLResponse(page, headers=map_headers(page, framed=True))


@router.post("/engagement/{hotspot_id}")
def edit_plan(hotspot_id: str, store: StoreDep, commander: Commander, form: FormSession,
              status: Annotated[str, Form(max_length=16)], set_id: Annotated[int, Form(ge=1)],
              owner: Annotated[str, Form(max_length=200)] = "", stakeholders: Annotated[str, Form(max_length=500)] = "",
              next_review: Annotated[str, Form(max_length=10)] = "", notes: Annotated[str, Form(max_length=2000)] = ""):
    """A new version of the plan (the old ones stay), audited; back to the hotspot on the page."""
    review = form_day(next_review, "next_review")
    if status not in ENGAGEMENT_STATUSES:
        raise ValidationError(f"status={status!r}: choose one of {', '.join(ENGAGEMENT_STATUSES)}")
    update_engagement(store, hotspot_id, actor=commander.principal.actor, npus=commander.principal.npus, status=status,
                      owner=owner.strip(), stakeholders=stakeholders.strip(), next_review=review, notes=notes.strip())
    return RedirectResponse(f"/commander?set_id={set_id}#{hotspot_id}", status_code=303)


