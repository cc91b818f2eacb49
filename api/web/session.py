"""Browser sessions for the pages: the cookie, the signed-in person's role, and CSRF checks.

The JSON API keeps its bearer tokens; the pages use a session cookie (HttpOnly, SameSite=Lax,
Secure over TLS) whose value the store keeps only as a hash. Every state-changing form carries
the session's CSRF token; the sign-in form, before any session exists, carries a one-off token
that must match a cookie set with the form (double submit).
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request

from api.deps import StoreDep
from hotspots.core.config import get_settings
from hotspots.store.sessions import Session, live_session

SESSION_COOKIE = "hotspots_session"
SIGN_IN_COOKIE = "hotspots_sign_in"

#: Which pages each role opens first, and what the navigation offers it (admin sees everything).
HOME = {"commander": "/commander", "analyst": "/analyst", "tasking": "/tasking", "evaluator": "/evaluator",
        "admin": "/admin"}
NAVIGATION = [("/commander", "Hotspots", ("commander",)), ("/analyst", "Predictor", ("analyst",)),
              ("/tasking", "Rosters", ("tasking",)), ("/evaluator", "Trials", ("evaluator",)),
              ("/accountability", "Accountability", ("commander", "analyst")),
              ("/admin", "Admin", ())]


class SignInNeeded(Exception):
    """No live session: the page answers with a redirect to the sign-in page."""


class PageRefused(Exception):
    """A page the session's role may not open, or a form without its CSRF token: a 403 page."""

    def __init__(self, message: str, status: int = 403, role_needed: tuple[str, ...] = ()):
        super().__init__(message)
        self.status = status
        self.role_needed = role_needed


def mark_page(request: Request) -> None:
    """Errors on this request are rendered as pages, not JSON (every page router depends on this)."""
    request.state.page = True


def current_session(request: Request, store: StoreDep) -> Session:
    """The live session of the request's cookie; without one, the sign-in page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    idle = dt.timedelta(minutes=get_settings().web_idle_minutes)
    session = live_session(store, cookie, idle) if cookie else None
    if session is None:
        raise SignInNeeded()
    request.state.session = session
    return session


def page_for(*roles: str):
    """A dependency that lets the given roles (and admin) open a page; any other role gets the 403 page."""
    allowed = tuple(roles) + ("admin",)

    def check(session: Annotated[Session, Depends(current_session)]) -> Session:
        if session.principal.role not in allowed:
            raise PageRefused(f"This page is for the {_roles(roles)}; you are signed in as "
                              f"{session.principal.role}.", role_needed=tuple(roles))
        return session

    return Depends(check)


async def checked_form(request: Request, session: Annotated[Session, Depends(current_session)]) -> Session:
    """The session, once the posted form's CSRF token matches it (a 403 page otherwise)."""
    form = await request.form()
    sent = form.get("csrf_token")
    if not isinstance(sent, str) or not hmac.compare_digest(sent, session.csrf_token):
        raise PageRefused("The form was missing its security token or it had expired. Reload the page and try again.")
    return session


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(24)


def sign_in_token_matches(request: Request, sent: str) -> bool:
    cookie = request.cookies.get(SIGN_IN_COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie, sent)


def set_cookie(response, request: Request, name: str, value: str, max_age: int | None = None) -> None:
    """A cookie the page's scripts cannot read, sent back only to this site (and only over TLS when
    the service is served over TLS)."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax", path="/",
                        secure=request.url.scheme == "https")


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _roles(roles: tuple[str, ...]) -> str:
    names = {"commander": "NPU commanders", "analyst": "analysts", "tasking": "tasking boards",
             "evaluator": "evaluators"}
    listed = [names[r] for r in roles] + ["admins"]
    return ", ".join(listed[:-1]) + " and " + listed[-1] if len(listed) > 1 else listed[0]


SessionDep = Annotated[Session, Depends(current_session)]
FormSession = Annotated[Session, Depends(checked_form)]
