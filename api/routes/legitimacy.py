"""Legitimacy and accountability: stop and search in hotspots (commanders, analysts), the quarterly
return (commanders, analysts) and the public transparency summary (no token: it holds no operational
detail, only aggregates of a quarter past its publication lag, small numbers suppressed)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Path, Query, UploadFile
from fastapi.responses import HTMLResponse, PlainTextResponse

from api.deps import ROUTE_RESPONSES, RecordId, StoreDep, require
from api.headers import PAGE_CSP
from api.schemas import DetectionEffect, StopSearchLoaded, StopSearchReport, problem
from api.uploads import as_uploaded, save_upload
from hotspots.core.config import get_settings
from hotspots.core.tables import json_records
from hotspots.services.detection import detection_in_hotspots
from hotspots.services.engagement import local_today
from hotspots.services.returns import quarterly_return, transparency_summary
from hotspots.services.stop_search import load_stop_search, report_json, stop_search_report
from hotspots.store.tokens import Principal

CommanderOrAnalyst = Annotated[Principal, require("commander", "analyst")]
AnalystOrEvaluator = Annotated[Principal, require("analyst", "evaluator")]
Quarter = Annotated[str, Path(pattern=r"^(19|2[0-9])[0-9]{2}-?[Qq][1-4]$", description="A quarter, e.g. 2024Q1.")]
Format = Annotated[Literal["html", "csv"], Query(description="A printable HTML page or CSV.")]

router = APIRouter(tags=["accountability"], responses=ROUTE_RESPONSES)
public_router = APIRouter(tags=["public"])


@router.post("/hotspot-sets/{set_id}/stop-search", response_model=StopSearchLoaded, status_code=201,
             responses={400: problem("A user error, in one line."), 404: problem("No such hotspot set.")})
def upload_stop_search(set_id: RecordId, store: StoreDep, principal: CommanderOrAnalyst,
                       file: Annotated[UploadFile, File(description="A data.police.uk stop-and-search CSV.")],
                       before_days: Annotated[int, Query(ge=1, le=730)] = 84) -> StopSearchLoaded:
    """Count a stop-and-search file on a set's hotspots and store only the counts (the upload is deleted
    once counted); the same file for the same set again adds nothing."""
    load = count_upload(store, set_id, file, actor=principal.actor, before_days=before_days)
    return StopSearchLoaded(load_id=load.load_id, set_id=load.set_id, added=load.added, rows_read=load.rows_read,
                            rows_rejected=load.rows_rejected, months=load.months)


def count_upload(store, set_id: int, file: UploadFile, *, actor: str, before_days: int):
    """Save an uploaded stop-and-search file, count it on the set, and delete it whatever happens."""
    s = get_settings()
    path = save_upload(file, s.data_dir / "uploads")
    try:
        with as_uploaded(path, file.filename):
            return load_stop_search(store, set_id, [path], loaded_by=actor, before_days=before_days,
                                    timezone=s.timezone)
    finally:
        path.unlink(missing_ok=True)  # it describes people: nothing of it outlives the counting


@router.get("/hotspot-sets/{set_id}/stop-search", response_model=StopSearchReport)
def stop_search(set_id: RecordId, store: StoreDep, principal: CommanderOrAnalyst) -> StopSearchReport:
    """Stop and search in and out of the set's hotspots, before and during designation, and the outcome test
    (a commander limited to NPUs gets per-hotspot rows of theirs only)."""
    return StopSearchReport(**report_json(stop_search_report(store, set_id, npus=principal.npus)))


@router.get("/returns/{quarter}", response_class=HTMLResponse,
            responses={200: {"content": {"text/csv": {}, "text/html": {}}}})
def quarterly(quarter: Quarter, store: StoreDep, principal: CommanderOrAnalyst, format: Format = "html"):
    """The quarterly serious-violence return (patrol planned and delivered, crime, harm and stop and search in
    hotspots against the rest), as a printable page or CSV."""
    ret = quarterly_return(store, quarter, timezone=get_settings().timezone)
    return as_download(format, ret.page() if format == "html" else ret.csv(), f"hotspot-return-{ret.quarter}.csv")


@router.get("/detection-effect", response_model=DetectionEffect)
def detection_effect(store: StoreDep, principal: AnalystOrEvaluator) -> DetectionEffect:
    """Police-detected offences (weapons, drugs) in each stored period's hotspots against the window before,
    relative to the rest of the force: the feedback loop, measured (analysts, evaluators)."""
    table, pooled, sentence = detection_in_hotspots(store, timezone=get_settings().timezone)
    return DetectionEffect(periods=json_records(table), pooled={k: (None if isinstance(v, float) and v != v else v)
                                                 for k, v in pooled.items()}, sentence=sentence)


@public_router.get("/public/transparency/{quarter}", response_class=HTMLResponse,
                   responses={200: {"content": {"text/csv": {}, "text/html": {}}},
                              409: problem("The quarter is not yet past its publication lag, or no hotspot set "
                                           "starts in it.")})
def transparency(quarter: Quarter, store: StoreDep, format: Format = "html"):
    """The public transparency summary of a past quarter: aggregates only, no hotspot locations, small
    numbers suppressed; published 28 days after the quarter ends. No token needed."""
    summary = transparency_summary(store, quarter, today=local_today(), timezone=get_settings().timezone)
    return as_download(format, summary.page() if format == "html" else summary.csv(), f"transparency-{summary.quarter}.csv")


def as_download(format: str, body: str, filename: str):
    """A rendered return or summary: CSV as an attachment, or the printable page with its CSP."""
    if format == "csv":
        return PlainTextResponse(body, media_type="text/csv",
                                 headers={"Content-Disposition": f'attachment; filename="{filename}"'})
    return HTMLResponse(body, headers={"Content-Security-Policy": PAGE_CSP})
