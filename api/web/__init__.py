"""The web pages: server-rendered, one module per user's job, on the same services, store, roles and
audit as the JSON API. Pages sign in with a session cookie; the JSON API keeps its bearer tokens."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exception_handlers import request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles

from api.web import accountability, admin, analyst, auth, commander, evaluator, tasking
from api.web.render import page
from api.web.session import HOME, PageRefused, SignInNeeded

STATIC = Path(__file__).resolve().parent.parent / "static"


def install(app: FastAPI) -> None:
    """Add the pages, their static files and their error pages to ``app``."""
    for module in (auth, commander, analyst, tasking, evaluator, admin, accountability):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/favicon.ico", include_in_schema=False)
    async def favicon():
        return FileResponse(STATIC / "favicon.svg", media_type="image/svg+xml")

    @app.exception_handler(SignInNeeded)
    async def sign_in_needed(request: Request, exc: SignInNeeded):
        return RedirectResponse("/sign-in", status_code=303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, exc: PageRefused):
        return refused_page(request, str(exc), exc.status)

    @app.exception_handler(RequestValidationError)
    async def invalid_form(request: Request, exc: RequestValidationError):
        if not is_page(request):
            return await request_validation_exception_handler(request, exc)
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'][1:]) or 'form'}: {e['msg']}" for e in exc.errors())
        return error_page(request, f"The form was not filled in as expected ({problems}).", 422)


def is_page(request: Request) -> bool:
    """Whether the request is for a page (its errors are pages, not JSON)."""
    return getattr(request.state, "page", False)


def refused_page(request: Request, message: str, status: int = 403):
    session = getattr(request.state, "session", None)
    return page(request, "refused.html", title="Not for your role" if status == 403 else "Refused", status=status,
                message=message, home=HOME[session.principal.role] if session else "/sign-in")


def error_page(request: Request, message: str, status: int):
    """A user error (or an internal one, in general terms) as a page with a way back."""
    back = request.headers.get("referer", "")
    own = str(request.base_url)
    return page(request, "error.html", title="That did not work" if status < 500 else "Something went wrong",
                status=status, message=message, back=back[len(own) - 1:] if back.startswith(own) else "/")
