"""Evaluators: registered trial allocations."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api.deps import AUTH_RESPONSES, Evaluator, RecordId, StoreDep
from api.schemas import Allocation, AllocationCreate, AllocationItem, PlaceArm, problem

router = APIRouter(prefix="/allocations", tags=["evaluators"], responses=AUTH_RESPONSES)


@router.get("", response_model=list[AllocationItem])
def list_allocations(store: StoreDep, principal: Evaluator) -> list[AllocationItem]:
    """Registered allocations, newest first."""
    from hotspots.store.trials import list_allocations as stored

    return [AllocationItem(**r) for r in stored(store).to_dict("records")]


@router.post("", response_model=Allocation, status_code=201,
             responses={400: problem("A user error, in one line."), 404: problem("No such hotspot set.")})
def create_allocation(body: AllocationCreate, store: StoreDep, principal: Evaluator) -> Allocation:
    """Randomise a hotspot set's places and register the allocation (never changed; audited)."""
    import secrets

    from hotspots.store.hotspot_sets import load_set
    from hotspots.store.trials import save_allocation
    from hotspots.trials.allocation import allocate, places_from_set

    hs = load_set(store, body.set_id)
    seed = secrets.randbits(48) if body.seed is None else body.seed
    alloc = allocate(places_from_set(hs, body.risk), body.design, seed=seed, share=body.share,
                     strata=tuple(body.strata), bands=body.bands, start=body.start or hs.parameters["period_start"],
                     periods=body.periods, period_days=body.period_days)
    alloc.parameters.update(risk=body.risk)
    save_allocation(store, alloc, trial=body.trial, set_id=int(hs.parameters["set_id"]), created_by=principal.actor,
                    reason=body.reason)
    return _allocation(alloc)


@router.get("/{allocation_id}", response_model=Allocation, responses={404: problem("No such record in the store.")})
def allocation(allocation_id: RecordId, store: StoreDep, principal: Evaluator) -> Allocation:
    """One allocation: design, seed, fingerprint, and each place's arm in each period."""
    from hotspots.store.trials import load_allocation

    return _allocation(load_allocation(store, allocation_id))


def _allocation(alloc) -> Allocation:
    arms = [["treatment" if t else "control" for t in row] for row in alloc.treated]
    places = [PlaceArm(place_id=r.place_id, npu=r.npu, risk=float(r.risk), block=int(r.block), pair=int(r.pair),
                       arms=a) for r, a in zip(alloc.places.itertuples(), arms, strict=True)]
    i = alloc.issue
    return Allocation(allocation_id=i["allocation_id"], trial=i["trial"], version=i["version"], design=alloc.design,
                      seed=alloc.seed, start=dt.date.fromisoformat(alloc.parameters["start"]),
                      fingerprint=alloc.fingerprint, parameters=alloc.parameters, places=places)
