"""The accountability page (commanders, analysts): engagement flags, stop and search in and out of a
set's hotspots (and its upload), the feedback loop measured, and the quarterly return; with a link to
the public transparency summary, which needs no sign-in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response

from api.deps import StoreDep
from api.routes.legitimacy import Format, Quarter, as_download, count_upload
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.core.config import get_settings
from hotspots.core.errors import NotReadyError, ValidationError
from hotspots.services.detection import detection_in_hotspots
from hotspots.services.engagement import hotspot_flags
from hotspots.services.returns import quarterly_return
from hotspots.services.stop_search import stop_search_report
from hotspots.store.hotspot_sets import list_sets
from hotspots.store.sessions import Session
from hotspots.store.stop_search import stop_search_sets

router = APIRouter(prefix="/accountability", include_in_schema=False, dependencies=[Depends(mark_page)])
Reader = Annotated[Session, page_for("commander", "analyst")]


def _quarter(day) -> str:
    return f"{day.year}Q{(day.month - 1) // 3 + 1}"


@router.get("")
def accountability_page(request: Request, store: StoreDep, session: Reader,
                        set_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None):
    npus = session.principal.npus
    sets = list_sets(store)
    loaded = stop_search_sets(store)
    chosen = set_id or (int(loaded["set_id"].iloc[-1]) if len(loaded) else None)
    report = None
    if chosen is not None:
        try:
            report = stop_search_report(store, chosen, npus=npus)
        except NotReadyError:
            report = None
    flags = hotspot_flags(store, npus=npus)
    _, _, detection = detection_in_hotspots(store, timezone=get_settings().timezone)
    quarters = sorted({_quarter(d) for d in sets["period_start"]}, reverse=True)
    return page(request, "accountability.html", title="Accountability", for_role="commanders and analysts",
                flags=flags[flags["flag"].ne("")].to_dict("records"), sets=sets.to_dict("records"),
                loaded=loaded.to_dict("records"), chosen=chosen, report=report, detection=detection,
                quarters=quarters)


@router.post("/stop-search")
def upload_stop_search(store: StoreDep, session: Reader, form: FormSession, set_id: Annotated[int, Form(ge=1)],
                       file: Annotated[UploadFile, File()], before_days: Annotated[int, Form(ge=1, le=730)] = 84):
    """Count a stop-and-search file on a set's hotspots; only the counts are kept, the upload is deleted."""
    if not file.filename:
        raise ValidationError("file: choose a stop-and-search file to upload")
    count_upload(store, set_id, file, actor=session.principal.actor, before_days=before_days)
    return RedirectResponse(f"/accountability?set_id={set_id}#stop-search-h", status_code=303)


@router.get("/returns/{quarter}")
def quarterly(store: StoreDep, session: Reader, quarter: Quarter, format: Format = "html") -> Response:
    """The quarterly return as a printable page (or CSV), as the API serves it."""
    ret = quarterly_return(store, quarter, timezone=get_settings().timezone)
    return as_download(format, ret.page() if format == "html" else ret.csv(), f"hotspot-return-{ret.quarter}.csv")
