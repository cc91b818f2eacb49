"""Evaluators: registered trial allocations."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter

from api.deps import AUTH_RESPONSES, Evaluator, RecordId, StoreDep
from api.schemas import Allocation, AllocationItem, PlaceArm, problem

router = APIRouter(prefix="/allocations", tags=["evaluators"], responses=AUTH_RESPONSES)


@router.get("", response_model=list[AllocationItem])
def list_allocations(store: StoreDep, principal: Evaluator) -> list[AllocationItem]:
    """Registered allocations, newest first."""
    from hotspots.store.trials import list_allocations as stored

    return [AllocationItem(**r) for r in stored(store).to_dict("records")]


@router.get("/{allocation_id}", response_model=Allocation, responses={404: problem("No such record in the store.")})
def allocation(allocation_id: RecordId, store: StoreDep, principal: Evaluator) -> Allocation:
    """One allocation: design, seed, fingerprint, and each place's arm in each period."""
    from hotspots.store.trials import load_allocation

    alloc = load_allocation(store, allocation_id)
    arms = [["treatment" if t else "control" for t in row] for row in alloc.treated]
    places = [PlaceArm(place_id=r.place_id, npu=r.npu, risk=float(r.risk), block=int(r.block), pair=int(r.pair),
                       arms=a) for r, a in zip(alloc.places.itertuples(), arms, strict=True)]
    i = alloc.issue
    return Allocation(allocation_id=i["allocation_id"], trial=i["trial"], version=i["version"], design=alloc.design,
                      seed=alloc.seed, start=dt.date.fromisoformat(alloc.parameters["start"]),
                      fingerprint=alloc.fingerprint, parameters=alloc.parameters, places=places)
