"""Analysts upload incident files; evaluators upload GPS patrol logs. Rejected rows come back with reasons."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, UploadFile

from api.deps import ROUTE_RESPONSES, Analyst, CacheDep, Evaluator, StoreDep, force_area
from api.schemas import LoadResult, RejectedRow, problem
from api.uploads import as_uploaded, save_upload
from hotspots.core.config import get_settings
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_upload
from hotspots.services.trials import load_gps_log

router = APIRouter(tags=["uploads"], responses=ROUTE_RESPONSES)
_ERRORS = {400: problem("A user error, in one line."), 413: problem("The upload is over the size limit.")}


@router.post("/incidents", response_model=LoadResult, responses=_ERRORS)
def upload_incidents(store: StoreDep, cache: CacheDep, principal: Analyst,
                     file: Annotated[UploadFile, File(description="An incident file any 'hotspots ingest' reader reads.")],
                     encoding: Annotated[str | None, Query(max_length=40, description="Text encoding of a CSV, e.g. "
                                                           "cp1252 (default UTF-8).")] = None,
                     delimiter: Annotated[Literal["auto", "comma", "semicolon", "tab", "pipe"], Query(
                         description="CSV field delimiter (default: told from the header).")] = "auto") -> LoadResult:
    """Load one incident file as one all-or-nothing batch; loading the same file again adds nothing."""
    s = get_settings()
    opts = IngestOptions(force_area=force_area(cache), timezone=s.timezone, h3_resolution=s.h3_resolution,
                         encoding=encoding, delimiter=delimiter)
    path = save_upload(file, s.data_dir / "uploads")
    with as_uploaded(path, file.filename):
        report, rejects = ingest_upload(path, store, opts,
                                        filename=file.filename or path.name, actor=principal.actor)
    return LoadResult(file=file.filename or path.name, batch_id=report.batch_id,
                      already_loaded=bool(report.skipped_reason), rows_read=report.rows_read, loaded=report.loaded,
                      already_stored=report.already_stored, rejected=report.rejected,
                      rejects=[RejectedRow(**r) for r in rejects])


@router.post("/patrol-logs", response_model=LoadResult, responses=_ERRORS)
def upload_patrol_log(store: StoreDep, principal: Evaluator,
                      file: Annotated[UploadFile, File(description="GPS/AVL CSV: unit, timestamp, lon, lat.")]) -> LoadResult:
    """Load one GPS log (audited); pings already stored are not added twice."""
    s = get_settings()
    path = save_upload(file, s.data_dir / "uploads")
    with as_uploaded(path, file.filename):
        got = load_gps_log(store, path, loaded_by=principal.actor, timezone=s.timezone)
    rejects = got.get("rejects")
    return LoadResult(file=file.filename or path.name, batch_id=got["batch_id"], already_loaded=got["already_loaded"],
                      rows_read=got["read"], loaded=got["loaded"], already_stored=got["already_stored"],
                      rejected=got["rejected"],
                      rejects=[] if rejects is None else [RejectedRow(**r) for r in rejects.head(100).to_dict("records")])
