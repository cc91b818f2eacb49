"""Admins: the audit log of writes and roster downloads."""

from __future__ import annotations

import json

from fastapi import APIRouter, Query

from api.deps import ROUTE_RESPONSES, Admin, StoreDep
from api.schemas import AuditEvent
from hotspots.store.audit import audit_events

router = APIRouter(prefix="/audit", tags=["admin"], responses=ROUTE_RESPONSES)


@router.get("", response_model=list[AuditEvent])
def audit(store: StoreDep, principal: Admin,
          object_type: str | None = Query(None, max_length=32, description="e.g. roster, allocation, token"),
          object_id: str | None = Query(None, max_length=64),
          limit: int = Query(200, ge=1, le=5000)) -> list[AuditEvent]:
    """Events, newest first."""
    frame = audit_events(store, object_type, object_id, newest=limit).iloc[::-1]
    return [AuditEvent(**{**r, "detail": json.loads(r["detail"])}) for r in frame.to_dict("records")]
