"""Evaluators: registered trial allocations, patrol delivered against plan, and evaluation reports."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from api.deps import ROUTE_RESPONSES, Evaluator, RecordId, StoreDep
from api.headers import PAGE_CSP
from api.schemas import (
    NOT_READY,
    Allocation,
    AllocationCreate,
    AllocationItem,
    Compliance,
    ComplianceRow,
    PlaceArm,
    problem,
)
from hotspots.core.config import get_settings
from hotspots.services.trials import (
    evaluate_stored_trial,
    load_allocation,
    register_allocation,
    report_json,
    trial_compliance,
)
from hotspots.store.trials import list_allocations as stored
from maps.trial_report import render

router = APIRouter(prefix="/allocations", tags=["evaluators"], responses=ROUTE_RESPONSES)


@router.get("", response_model=list[AllocationItem])
def list_allocations(store: StoreDep, principal: Evaluator) -> list[AllocationItem]:
    """Registered allocations, newest first."""
    return [AllocationItem(**r) for r in stored(store).to_dict("records")]


@router.post("", response_model=Allocation, status_code=201,
             responses={400: problem("A user error, in one line."), 404: problem("No such hotspot set.")})
def create_allocation(body: AllocationCreate, store: StoreDep, principal: Evaluator) -> Allocation:
    """Randomise a hotspot set's places and register the allocation (never changed; audited)."""


    alloc, _ = register_allocation(store, trial=body.trial, set_id=body.set_id, design=body.design, seed=body.seed,
                                   share=body.share, strata=tuple(body.strata), bands=body.bands, risk=body.risk,
                                   start=body.start, periods=body.periods, period_days=body.period_days,
                                   created_by=principal.actor, reason=body.reason)
    return _allocation(alloc)


@router.get("/{allocation_id}", response_model=Allocation, responses={404: problem("No such record in the store.")})
def allocation(allocation_id: RecordId, store: StoreDep, principal: Evaluator) -> Allocation:
    """One allocation: design, seed, fingerprint, and each place's arm in each period."""
    return _allocation(load_allocation(store, allocation_id))


def _allocation(alloc) -> Allocation:
    arms = [["treatment" if t else "control" for t in row] for row in alloc.treated]
    places = [PlaceArm(place_id=r.place_id, npu=r.npu, risk=float(r.risk), block=int(r.block), pair=int(r.pair),
                       arms=a) for r, a in zip(alloc.places.itertuples(), arms, strict=True)]
    i = alloc.issue
    return Allocation(allocation_id=i["allocation_id"], trial=i["trial"], version=i["version"], design=alloc.design,
                      seed=alloc.seed, start=dt.date.fromisoformat(alloc.parameters["start"]),
                      fingerprint=alloc.fingerprint, parameters=alloc.parameters, places=places)


Weeks = Annotated[int | None, Query(ge=1, le=520, description="Weeks of the trial from its start (parallel designs); "
                                                                  "default: up to the last stored ping or incident.")]
MaxGap = Annotated[float, Query(ge=10, le=3600, description="Seconds between pings that still continue a visit.")]
MinVisit = Annotated[float, Query(ge=0, le=3600, description="Seconds a visit must last to count.")]
_NOT_MEASURABLE = {400: problem("A user error, in one line."), 404: problem("No such allocation."), **NOT_READY}


@router.get("/{allocation_id}/compliance", response_model=Compliance, responses=_NOT_MEASURABLE)
def compliance(allocation_id: RecordId, store: StoreDep, principal: Evaluator, weeks: Weeks = None,
               max_gap_s: MaxGap = 180.0, min_visit_s: MinVisit = 120.0) -> Compliance:
    """Dosage: each place's planned minutes and visits (issued rosters) against GPS-delivered ones,
    the share of Koper-length visits, and patrol seen in control places."""
    got, table, summary = trial_compliance(store, allocation_id, weeks, max_gap_s=max_gap_s, min_visit_s=min_visit_s,
                                           timezone=get_settings().timezone)
    rows = table.astype(object).where(table.notna(), None).to_dict("records")
    return Compliance(allocation_id=allocation_id, weeks=got.weeks, first_day=got.alloc.start, end=got.end,
                      summary=summary, hotspots=[ComplianceRow(**r) for r in rows])


@router.get("/{allocation_id}/evaluation", response_class=Response,
            responses={200: {"content": {"application/json": {}, "text/html": {}},
                             "description": "The evaluation report: JSON, or a self-contained HTML page."},
                       **_NOT_MEASURABLE})
def evaluation(allocation_id: RecordId, store: StoreDep, principal: Evaluator,
               fmt: Annotated[Literal["json", "html"], Query(alias="format")] = "json",
               outcome: Literal["count", "harm"] = "count", weeks: Weeks = None,
               weeks_before: Annotated[int, Query(ge=1, le=520)] = 12,
               draws: Annotated[int, Query(ge=100, le=20_000, description="Re-draws for randomisation inference.")] = 1000,
               rings: Annotated[int, Query(ge=1, le=5, description="Buffer rings for displacement.")] = 2,
               seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
               max_gap_s: MaxGap = 180.0, min_visit_s: MinVisit = 120.0) -> Response:
    """Evaluate the trial on the stored incidents (and GPS visits): design, compliance, every
    estimate with its interval, displacement, and what the estimates do and do not show. Audited."""
    report = evaluate_stored_trial(store, allocation_id, weeks=weeks, weeks_before=weeks_before, outcome=outcome,
                                   draws=draws, rings=rings, seed=seed, max_gap_s=max_gap_s, min_visit_s=min_visit_s,
                                   timezone=get_settings().timezone, actor=principal.actor, detail={"format": fmt})
    if fmt == "html":

        return Response(render(report), media_type="text/html; charset=utf-8", headers={"Content-Security-Policy": PAGE_CSP})
    return Response(report_json(report), media_type="application/json")
