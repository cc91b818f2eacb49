"""What routes depend on: the store, the caller's token, and the roles a route allows."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import Depends, HTTPException, Path, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.cache import RenderCache
from api.schemas import problem
from hotspots.core.config import get_settings
from hotspots.geo.areas import NamedAreas
from hotspots.services.ingest import load_area
from hotspots.store.audit import AuditGroup
from hotspots.store.db import Store
from hotspots.store.principals import UNKNOWN, PrincipalReader
from hotspots.store.tokens import Principal

#: What every authenticated route may answer besides its own responses, for the OpenAPI document.
#: Every guarded route can answer these: the two auth refusals, and the typed user errors as
#: api.main maps them (hotspots.core.errors), whatever layer below raised them.
ROUTE_RESPONSES = {401: problem("No bearer token, or an unknown or revoked one."),
                   403: problem("The token's role may not do this."),
                   400: problem("A user error, in one line: a bad argument or a file that is not what it claims."),
                   404: problem("No such record in the store."),
                   409: problem("The store does not yet hold what this needs (no incidents, GPS pings or promoted "
                                "model), or a stored record no longer matches its fingerprint.")}

#: A record id in a path: the store's integer keys (out-of-range ids are a 422, not a database overflow).
RecordId = Annotated[int, Path(ge=1, le=2_147_483_647)]

_bearer = HTTPBearer(auto_error=False, description="An API token from 'hotspots users add'.")


# The dependencies that only fetch what the app holds are coroutines: a plain function would be
# run in a worker thread, one hand-off to it and back per dependency per request.
async def get_store(request: Request) -> Store:
    return request.app.state.store


StoreDep = Annotated[Store, Depends(get_store)]


async def get_cache(request: Request) -> RenderCache:
    return request.app.state.cache


CacheDep = Annotated[RenderCache, Depends(get_cache)]


async def get_audit(request: Request) -> AuditGroup:
    return request.app.state.audit


#: The process's audit log writer: events of concurrent requests committed together (group commit).
AuditDep = Annotated[AuditGroup, Depends(get_audit)]


def force_area(cache: RenderCache):
    """The configured force area (None for 'none'), read once per worker: the outline has ~50k vertices."""
    path = get_settings().force_area
    return cache.get(("force-area", path), lambda: None if path.lower() == "none" else load_area(path))


def npu_areas(cache: RenderCache):
    """The configured NPU boundaries (None when not set), read once per worker."""
    s = get_settings()
    if not s.npu_areas:
        return None
    return cache.get(("npu-areas", s.npu_areas, s.npu_field),
                     lambda: NamedAreas.from_file(s.npu_areas, s.npu_field or None))


async def authenticate(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> Principal:
    """The caller's principal; 401 without a live bearer token. Answered without a worker thread
    when the process's reader can (hotspots.store.principals), else read in one."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", headers=challenge)
    reader: PrincipalReader = request.app.state.principals
    principal = reader.lookup(credentials.credentials)
    if principal is UNKNOWN:
        principal = await to_thread.run_sync(reader.load, credentials.credentials)
    if principal is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "unknown or revoked token", headers=challenge)
    return principal


def require(*roles: str):
    """A dependency that lets through the given roles (and admin); 403 for any other role."""
    allowed = set(roles) | {"admin"}

    async def check(principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN,
                                f"role {principal.role!r} may not do this; it needs one of: {', '.join(sorted(allowed))}")
        return principal

    return Depends(check)


AnyRole = Annotated[Principal, require("commander", "analyst", "tasking", "evaluator")]
CommanderOnly = Annotated[Principal, require("commander")]
Analyst = Annotated[Principal, require("analyst")]
Tasking = Annotated[Principal, require("tasking")]
Evaluator = Annotated[Principal, require("evaluator")]
Admin = Annotated[Principal, require()]
