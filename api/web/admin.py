"""The admin's pages: users (tokens, each shown once) and roles, and the audit log with filters."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import StoreDep
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.store.audit import audit_events
from hotspots.store.sessions import Session
from hotspots.store.tokens import ROLES, add_token, list_tokens, revoke_token

router = APIRouter(prefix="/admin", include_in_schema=False, dependencies=[Depends(mark_page)])
Admin = Annotated[Session, page_for()]


@router.get("")
def admin_page(request: Request, store: StoreDep, session: Admin, action: str = "", actor: str = "",
               object_type: str = "", object_id: str = "", limit: int = 200, new_token: str = "", new_name: str = ""):
    filters = {"action": action[:64], "actor": actor[:64], "object_type": object_type[:32], "object_id": object_id[:64]}
    events = audit_events(store, filters["object_type"] or None, filters["object_id"] or None,
                          newest=max(1, min(limit, 5000)), action=filters["action"] or None,
                          actor=filters["actor"] or None).iloc[::-1]
    users = list_tokens(store)
    users["npus"] = users["npus"].map(lambda v: ", ".join(json.loads(v)))
    return page(request, "admin.html", title="Admin", for_role="admins", users=users.to_dict("records"), roles=ROLES,
                events=events.to_dict("records"), filters=filters, limit=limit, new_token=new_token, new_name=new_name)


@router.post("/users")
def add_user(request: Request, store: StoreDep, session: Admin, form: FormSession,
             name: Annotated[str, Form(max_length=64)], role: Annotated[str, Form(max_length=16)],
             npus: Annotated[str, Form(max_length=1000)] = ""):
    """A token for a post or team; the page shows it this once (it is stored only as a hash)."""
    limited = [n.strip() for n in npus.split(",") if n.strip()]
    token = add_token(store, name, role, limited, actor=session.principal.actor)
    return admin_page(request, store, session, new_token=token, new_name=name.strip())


@router.post("/users/{name}/revoke")
def revoke(name: str, store: StoreDep, session: Admin, form: FormSession):
    """The token stops working at once, and so does every session signed in with it."""
    revoke_token(store, name, actor=session.principal.actor)
    return RedirectResponse("/admin", status_code=303)
