"""The evaluator's pages: register an allocation, upload GPS patrol logs, read compliance per
hotspot, and open the evaluation report."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from api.deps import RecordId, StoreDep
from api.headers import PAGE_CSP
from api.uploads import as_uploaded, save_upload
from api.web.forms import form_day, form_seed
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.core.config import get_settings
from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.services.trials import (
    evaluate_stored_trial,
    load_allocation,
    load_gps_log,
    register_allocation,
    trial_compliance,
)
from hotspots.store.hotspot_sets import list_sets
from hotspots.store.sessions import Session
from hotspots.store.trials import list_allocations
from hotspots.trials.allocation import DESIGNS
from maps.trial_report import render

router = APIRouter(prefix="/evaluator", include_in_schema=False, dependencies=[Depends(mark_page)])
Evaluator = Annotated[Session, page_for("evaluator")]


@router.get("")
def evaluator_page(request: Request, store: StoreDep, session: Evaluator):
    return page(request, "evaluator.html", title="Trials", for_role="evaluators",
                allocations=list_allocations(store).to_dict("records"), sets=list_sets(store).to_dict("records"),
                designs=DESIGNS)


@router.post("/allocations")
def register(store: StoreDep, session: Evaluator, form: FormSession, trial: Annotated[str, Form(min_length=1, max_length=64)],
             set_id: Annotated[int, Form(ge=1)], design: Annotated[str, Form(max_length=16)] = "blocked",
             seed: Annotated[str, Form(max_length=20)] = "", share: Annotated[float, Form(ge=0, le=1)] = 0.5,
             start: Annotated[str, Form(max_length=10)] = "", reason: Annotated[str, Form(max_length=1000)] = ""):
    """Randomise the set's places to patrol and control, register it (never changed; audited)."""
    alloc, _ = register_allocation(store, trial=trial.strip(), set_id=set_id, design=design, seed=form_seed(seed),
                                   share=share, strata=("npu", "risk_band"), bands=3, risk="harm",
                                   start=form_day(start, "start"), periods=8, period_days=7,
                                   created_by=session.principal.actor, reason=reason.strip())
    return RedirectResponse(f"/evaluator/allocations/{alloc.issue['allocation_id']}", status_code=303)


@router.post("/patrol-logs")
def upload_gps(request: Request, store: StoreDep, session: Evaluator, form: FormSession,
               file: Annotated[UploadFile, File()]):
    """One GPS/AVL log (unit, timestamp, lon, lat); pings stored before are not added twice."""
    if not file.filename:
        raise ValidationError("file: choose a GPS log to upload")
    s = get_settings()
    path = save_upload(file, s.data_dir / "uploads")
    with as_uploaded(path, file.filename):
        got = load_gps_log(store, path, loaded_by=session.principal.actor, timezone=s.timezone)
    rejects = got.get("rejects")
    return page(request, "gps_result.html", title=f"Loaded {file.filename}", for_role="evaluators", file=file.filename,
                got=got, rejects=[] if rejects is None else rejects.head(500).to_dict("records"), back="/evaluator")


@router.get("/allocations/{allocation_id}")
def allocation_page(request: Request, allocation_id: RecordId, store: StoreDep, session: Evaluator):
    """The allocation's places and arms, and patrol delivered against plan where GPS logs are stored."""
    alloc = load_allocation(store, allocation_id)
    arms = [{"place_id": r.place_id, "npu": r.npu, "risk": r.risk, "block": r.block,
             "arm": "crossover" if alloc.design == "crossover" else ("treatment" if t[0] else "control")}
            for r, t in zip(alloc.places.itertuples(), alloc.treated, strict=True)]
    compliance, summary, not_yet = [], {}, ""
    try:
        _, table, summary = trial_compliance(store, allocation_id, timezone=get_settings().timezone)
        compliance = table.to_dict("records")
    except NotReadyError as exc:
        not_yet = str(exc)
    return page(request, "allocation.html", title=f"Allocation {allocation_id}: {alloc.issue['trial']}",
                for_role="evaluators", alloc=alloc, issue=alloc.issue, arms=arms, compliance=compliance,
                summary=summary, not_yet=not_yet)


@router.get("/allocations/{allocation_id}/report")
def report(allocation_id: RecordId, store: StoreDep, session: Evaluator) -> Response:
    """The evaluation report as a printable page (audited)."""
    got = evaluate_stored_trial(store, allocation_id, timezone=get_settings().timezone,
                                actor=session.principal.actor, detail={"format": "html", "from": "web"})
    return Response(render(got), media_type="text/html; charset=utf-8",
                    headers={"Content-Security-Policy": PAGE_CSP, "Cache-Control": "no-store"})
