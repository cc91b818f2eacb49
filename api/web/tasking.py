"""The tasking board's pages: issue a period's roster (or a scheduled draft), read its dosage per
hotspot, unit and NPU with shortfalls marked, and download it (each download audited, never cached)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse

from api.deps import AuditDep, CacheDep, RecordId, StoreDep
from api.routes.rosters import roster_file
from api.web.forms import form_day, form_seed
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.core.config import SHIPPED_DATA, get_settings
from hotspots.core.errors import FormatError, ValidationError
from hotspots.patrol import PatrolResources
from hotspots.patrol.dosage import PRIORITIES
from hotspots.services.rosters import issue_roster, load_roster
from hotspots.services.schedule import ROSTER_DRAFT, issue_draft
from hotspots.store.hotspot_sets import list_sets
from hotspots.store.rosters import list_rosters
from hotspots.store.schedule import list_runs
from hotspots.store.sessions import Session

router = APIRouter(prefix="/tasking", include_in_schema=False, dependencies=[Depends(mark_page)])
Tasking = Annotated[Session, page_for("tasking")]
EXAMPLE_RESOURCES = SHIPPED_DATA / "patrol" / "demo_resources.toml"
MAX_RESOURCES_BYTES = 200_000


@router.get("")
def tasking_page(request: Request, store: StoreDep, session: Tasking):
    return page(request, "tasking.html", title="Patrol rosters", for_role="tasking boards",
                sets=list_sets(store).to_dict("records"), rosters=list_rosters(store).to_dict("records"),
                drafts=list_runs(store, ROSTER_DRAFT).to_dict("records"), priorities=PRIORITIES,
                example=EXAMPLE_RESOURCES.read_text(encoding="utf-8"), scheduled=bool(get_settings().schedule_resources))


@router.post("/rosters")
def issue(store: StoreDep, session: Tasking, form: FormSession,
          set_id: Annotated[int, Form(ge=1)], days: Annotated[int, Form(ge=1, le=91)] = 28,
          start: Annotated[str, Form(max_length=10)] = "", seed: Annotated[str, Form(max_length=20)] = "",
          priority: Annotated[str, Form(max_length=16)] = "harm", resources: Annotated[str, Form(max_length=MAX_RESOURCES_BYTES)] = "",
          resources_file: Annotated[UploadFile | None, File()] = None, reason: Annotated[str, Form(max_length=500)] = ""):
    """Issue a roster from the form's resources (an uploaded TOML wins over the typed one); the seed,
    given or fresh, is recorded with it."""
    text = resources
    if resources_file is not None and resources_file.filename:
        raw = resources_file.file.read(MAX_RESOURCES_BYTES + 1)
        if len(raw) > MAX_RESOURCES_BYTES:
            raise ValidationError(f"resources_file: over {MAX_RESOURCES_BYTES:,} bytes; a resources file is a few kB")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"resources_file={resources_file.filename!r} is not UTF-8 text (a TOML file)") from None
    if not text.strip():
        raise ValidationError("resources: type the patrol resources (TOML) or upload a resources file")
    spec = PatrolResources.from_text(text, where="resources")
    roster, _ = issue_roster(store, spec, set_id=set_id, start=form_day(start, "start"), days=days,
                             seed=form_seed(seed), priority=priority, reason=reason.strip(),
                             notes={"from": "web"}, actor=session.principal.actor, timezone=get_settings().timezone)
    return RedirectResponse(f"/tasking/rosters/{roster.issue['roster_id']}", status_code=303)


@router.post("/drafts/{run_id}/issue")
def issue_scheduled(run_id: RecordId, store: StoreDep, session: Tasking, form: FormSession):
    """Issue the roster the service drafted at the period's start (its set, seed and the configured resources)."""
    roster, _ = issue_draft(store, run_id, actor=session.principal.actor)
    return RedirectResponse(f"/tasking/rosters/{roster.issue['roster_id']}", status_code=303)


@router.get("/rosters/{roster_id}")
def roster_page(request: Request, roster_id: RecordId, store: StoreDep, session: Tasking):
    roster = load_roster(store, roster_id)
    return page(request, "roster.html", title=f"Roster {roster_id}", for_role="tasking boards", roster=roster,
                issue=roster.issue, parameters=roster.parameters, npus=roster.npus.to_dict("records"),
                units=roster.units.to_dict("records"), dosage=roster.dosage.to_dict("records"),
                warnings=roster.warnings)


@router.get("/rosters/{roster_id}/download/{fmt}")
def download(roster_id: RecordId, fmt: str, store: StoreDep, cache: CacheDep, audit: AuditDep, session: Tasking):
    if fmt not in ("csv", "json"):
        raise ValidationError(f"format={fmt!r}: choose csv or json")
    return roster_file(store, cache, audit, roster_id, fmt, None, session.principal.actor)


@router.get("/rosters/{roster_id}/units/{unit}/{fmt}")
def unit_download(roster_id: RecordId, unit: str, fmt: str, store: StoreDep, cache: CacheDep, audit: AuditDep,
                  session: Tasking):
    if fmt not in ("ics", "html"):
        raise ValidationError(f"format={fmt!r}: choose ics (calendar) or html (printable briefing)")
    return roster_file(store, cache, audit, roster_id, fmt, unit[:32], session.principal.actor)

