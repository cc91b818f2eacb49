"""The service: ``create_app`` builds the FastAPI app; ``hotspots serve`` runs it under uvicorn.

Nothing happens at import time: the store is opened when the app starts (its lifespan), from
the URL given or the settings. Errors never show internals: a user error (HotspotsError) is a
400 (404 for a missing record, 409 for a store that does not yet hold what is asked
for) with its one line, anything else a 500 with a generic message, logged in full.
"""

from __future__ import annotations

import gc
import logging
import sqlite3
from contextlib import asynccontextmanager
from importlib.metadata import version

import psycopg
from anyio import to_thread
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from api import web
from api.cache import RenderCache
from api.deps import force_area
from api.headers import SecurityHeaders
from api.jobs import JobRunner
from api.limits import BodyLimit
from api.routes import audit, health, hotspots, legitimacy, models, rosters, trials, uploads
from api.schedule import ScheduleClock
from hotspots.core.config import get_settings
from hotspots.core.errors import ForbiddenError, HotspotsError, IntegrityError, NotFoundError, NotReadyError
from hotspots.store import open_store
from hotspots.store.audit import AuditGroup
from hotspots.store.db import store_fault
from hotspots.store.jobs import interrupt_orphans
from hotspots.store.principals import PrincipalReader

log = logging.getLogger("hotspots.api")


def create_app(database_url: str | None = None, max_upload_bytes: int | None = None,
               docs: bool | None = None, freeze_startup_heap: bool = False) -> FastAPI:
    """The app on the store at ``database_url`` (default: the settings' store); bodies over
    ``max_upload_bytes`` (default: the settings' ``api_max_upload_mb``) are refused with 413; the
    OpenAPI document and pages are served only with ``docs`` (default: the settings' ``api_docs``).
    With ``freeze_startup_heap`` (a server process, see :func:`serving_app`), what exists once the app
    has started is left out of the garbage collector's scans."""
    docs = get_settings().api_docs if docs is None else docs

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        to_thread.current_default_thread_limiter().total_tokens = get_settings().api_threads
        app.state.store = open_store(database_url or get_settings().resolved_database_url())
        app.state.cache = RenderCache()
        app.state.audit = AuditGroup(app.state.store)
        app.state.principals = PrincipalReader(app.state.store)
        app.state.jobs = JobRunner(app.state.store)
        interrupt_orphans(app.state.store)
        settings = get_settings()
        clock = None
        if settings.schedule_weekly or settings.schedule_resources:
            clock = ScheduleClock(app.state.store, lambda: force_area(app.state.cache))
            clock.start()
        if freeze_startup_heap:
            # The modules, the settings and the store's engine live as long as the process, yet each
            # full collection walked them all: 150 to 230 ms with every request stalled, several times
            # in a 15 s load run (the p99). Frozen, a full collection took about 5 ms.
            gc.collect()
            gc.freeze()
        yield
        if clock is not None:
            clock.stop()
        try:
            app.state.jobs.stop()
        except Exception as exc:  # a store that is down at shutdown must not turn a clean stop into a crash
            if store_fault(exc) is None:
                raise
            log.warning("could not mark this worker's jobs interrupted: %s", store_fault(exc))
        app.state.audit.close()
        app.state.principals.close()
        app.state.store.dispose()

    app = FastAPI(title="hotspots", version=version("hotspots"), lifespan=lifespan,
                  openapi_url="/openapi.json" if docs else None, docs_url="/docs" if docs else None,
                  redoc_url="/redoc" if docs else None,
                  description="Hotspots, patrol rosters and trial evaluation for place-based violence reduction. "
                              "Every route but health needs a bearer token; each role sees what its job needs.")

    @app.exception_handler(HotspotsError)
    async def user_error(request: Request, exc: HotspotsError):
        if web.is_page(request):
            return web.error_page(request, str(exc), error_status(exc))
        return JSONResponse({"detail": str(exc)}, status_code=error_status(exc))

    # Database errors get their own handler (run inside the app, so the connection stays usable): the
    # store failing (unreachable, read-only, full) is a 503 the client may retry; anything else a 500.
    @app.exception_handler(DBAPIError)
    @app.exception_handler(sqlite3.Error)
    @app.exception_handler(psycopg.Error)
    async def store_error(request: Request, exc: Exception):
        fault = store_fault(exc)
        if fault is None:
            return await server_error(request, exc)
        log.warning("store fault on %s %s: %s", request.method, request.url.path, str(exc).splitlines()[0])
        if web.is_page(request):
            return web.error_page(request, fault[0].upper() + fault[1:] + ".", 503)
        return JSONResponse({"detail": fault}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(Exception)
    async def server_error(request: Request, exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if web.is_page(request):
            return web.error_page(request, "An internal error stopped this page; it has been logged.", 500)
        return JSONResponse({"detail": "internal error; it has been logged"}, status_code=500)

    for router in (health.router, hotspots.router, hotspots.engagement_router, rosters.router, trials.router,
                   uploads.router, models.jobs_router, models.models_router, models.forecasts_router, audit.router,
                   legitimacy.router, legitimacy.public_router):
        app.include_router(router)
    web.install(app)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(BodyLimit, max_bytes=max_upload_bytes or _settings_limit())
    return app


def serving_app() -> FastAPI:
    """The app as ``hotspots serve`` runs it in each worker process."""
    return create_app(freeze_startup_heap=True)


def error_status(exc: HotspotsError) -> int:
    """The HTTP status of a user error, by its type."""
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ForbiddenError):
        return 403
    return 409 if isinstance(exc, NotReadyError | IntegrityError) else 400


def _settings_limit() -> int:
    return int(get_settings().api_max_upload_mb * 2**20)
