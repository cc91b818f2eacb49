"""Liveness and readiness, for load balancers and orchestrators: no token needed, nothing revealed."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.deps import StoreDep
from api.schemas import Health, Ready, problem

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health() -> Health:
    """The process is up."""
    return Health(status="ok")


@router.get("/ready", response_model=Ready, responses={503: problem("The store cannot be reached.")})
def ready(store: StoreDep) -> Ready:
    """The store answers; requests can be served."""
    try:
        with store.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the store cannot be reached") from None
    return Ready(status="ready", backend=store.backend)
