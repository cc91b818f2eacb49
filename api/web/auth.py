"""Signing in and out of the pages, and the start page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse

from api.deps import StoreDep
from api.web.render import page
from api.web.session import (
    HOME,
    SESSION_COOKIE,
    SIGN_IN_COOKIE,
    FormSession,
    client_of,
    mark_page,
    new_sign_in_token,
    set_cookie,
    sign_in_token_matches,
)
from hotspots.core.config import get_settings
from hotspots.store.sessions import end_session, live_session, recent_failures, record_failed_sign_in, start_session
from hotspots.store.tokens import principal_for

router = APIRouter(include_in_schema=False, dependencies=[Depends(mark_page)])
THROTTLE_WINDOW = dt.timedelta(minutes=15)


@router.get("/")
def start(request: Request, store: StoreDep):
    """Signed in: the role's first page; otherwise the sign-in page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session = live_session(store, cookie, dt.timedelta(minutes=get_settings().web_idle_minutes)) if cookie else None
    if session is None:
        return sign_in_page(request)
    return RedirectResponse(HOME[session.principal.role], status_code=303)


@router.get("/sign-in")
def sign_in_page(request: Request, error: str = "", name: str = "", status: int = 200):
    token = new_sign_in_token()
    response = page(request, "sign_in.html", title="Sign in", sign_in_token=token, error=error, name=name,
                    idle_minutes=get_settings().web_idle_minutes, status=status)
    set_cookie(response, request, SIGN_IN_COOKIE, token, max_age=3600)
    return response


@router.post("/sign-in")
def sign_in(request: Request, store: StoreDep, token: Annotated[str, Form(max_length=200)],
            csrf_token: Annotated[str, Form(max_length=100)] = "", name: Annotated[str, Form(max_length=64)] = ""):
    """A token (and, if typed, the name it was made for) opens a session; failures are audited and,
    past the configured number from one address in 15 minutes, refused without being checked."""
    client = client_of(request)
    if not sign_in_token_matches(request, csrf_token):
        return sign_in_page(request, "The sign-in form had expired. Try again.", name, status=403)
    if recent_failures(store, client, THROTTLE_WINDOW) >= get_settings().web_sign_in_attempts:
        record_failed_sign_in(store, client, name.strip())
        return sign_in_page(request, "Too many failed sign-ins from this address. Wait 15 minutes, then try again.",
                            name, status=429)
    principal = principal_for(store, token.strip())
    if principal is None or (name.strip() and name.strip() != principal.name):
        record_failed_sign_in(store, client, name.strip())
        return sign_in_page(request, "That token (and name) did not match a live token. Check them and try again.",
                            name, status=401)
    cookie = start_session(store, principal, client)
    response = RedirectResponse(HOME[principal.role], status_code=303)
    set_cookie(response, request, SESSION_COOKIE, cookie)
    response.delete_cookie(SIGN_IN_COOKIE, path="/")
    return response


@router.post("/sign-out")
def sign_out(request: Request, store: StoreDep, session: FormSession):
    """Ends the session in the store, so the cookie stops working wherever a copy of it is."""
    end_session(store, session)
    response = RedirectResponse("/sign-in", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
