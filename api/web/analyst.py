"""The analyst's pages: upload incidents, start training and backtests as jobs with live progress,
read model cards, compare versions, promote and roll back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse

from api.deps import CacheDep, RecordId, StoreDep, force_area
from api.uploads import as_uploaded, save_upload
from api.web.forms import form_day
from api.web.render import page
from api.web.session import FormSession, mark_page, page_for
from hotspots.core.config import get_settings
from hotspots.core.errors import ValidationError
from hotspots.ingest.files import IngestOptions
from hotspots.services.ingest import ingest_upload
from hotspots.services.models import (
    backtest_job,
    list_models,
    model_row,
    promote_audited,
    promoted_version,
    rollback_audited,
    train_job,
)
from hotspots.store.jobs import get_job, list_jobs
from hotspots.store.sessions import Session
from maps.charts import bar_chart_svg
from models.backtest import HEADLINE, MODEL
from models.runs import check_run

router = APIRouter(prefix="/analyst", include_in_schema=False, dependencies=[Depends(mark_page)])
Analyst = Annotated[Session, page_for("analyst")]
PERIODS = ("tactical", "week", "month")


@router.get("")
def analyst_page(request: Request, store: StoreDep, session: Analyst):
    return page(request, "analyst.html", title="Predictor", for_role="analysts",
                jobs=list_jobs(store, newest=20).to_dict("records"), models=list_models(store).to_dict("records"),
                periods=PERIODS, resolution=get_settings().h3_resolution)


@router.post("/incidents")
def upload(request: Request, store: StoreDep, cache: CacheDep, session: Analyst, form: FormSession,
           file: Annotated[UploadFile, File()], encoding: Annotated[str, Form(max_length=40)] = ""):
    """One file, one all-or-nothing batch; the page lists what was loaded and every rejected line's reason."""
    s = get_settings()
    if not file.filename:
        raise ValidationError("file: choose an incident file to upload")
    path = save_upload(file, s.data_dir / "uploads")
    with as_uploaded(path, file.filename):
        report, rejects = ingest_upload(path, store, IngestOptions(force_area=force_area(cache), timezone=s.timezone,
                                                                  h3_resolution=s.h3_resolution,
                                                                  encoding=encoding or None),
                                        filename=file.filename, actor=session.principal.actor, shown_rejects=500)
    return page(request, "upload_result.html", title=f"Loaded {file.filename}", for_role="analysts",
                file=file.filename, report=report, rejects=rejects, back="/analyst")


@router.post("/jobs/{kind}")
def start_job(request: Request, kind: str, store: StoreDep, cache: CacheDep, session: Analyst, form: FormSession,
              target: Annotated[str, Form(max_length=200)], period: Annotated[str, Form(max_length=16)] = "tactical",
              resolution: Annotated[int, Form(ge=7, le=11)] = 10, cutoff: Annotated[str, Form(max_length=10)] = "",
              seed: Annotated[int, Form(ge=0, le=2**32 - 1)] = 0, periods: Annotated[int, Form(ge=1, le=24)] = 6,
              allow_police_detected: Annotated[bool, Form()] = False):
    """A training (backtest, fit, register) or a backtest, run after this answers; its page shows progress."""
    if kind not in ("train", "backtest"):
        raise ValidationError(f"kind={kind!r}: start a train or a backtest job")
    if period not in PERIODS:
        raise ValidationError(f"period={period!r}: choose one of {', '.join(PERIODS)}")
    check_run(period, resolution, target, allow_police_detected)
    run = {"period": period, "resolution": resolution, "target": target.strip(), "cutoff": form_day(cutoff, "cutoff"), "seed": seed,
           "allow_police_detected": allow_police_detected}
    if kind == "train":
        run["backtest_periods"] = periods
        work = train_job(store, force_area(cache), run)
    else:
        run["periods"] = periods
        work = backtest_job(store, force_area(cache), run)
    job_id = request.app.state.jobs.submit(kind, {**run, "cutoff": cutoff or None}, session.principal.actor, work)
    return RedirectResponse(f"/analyst/jobs/{job_id}", status_code=303)


@router.get("/jobs/{job_id}")
def job_page(request: Request, job_id: RecordId, store: StoreDep, session: Analyst):
    job = get_job(store, job_id)
    result = job["result"] or {}
    backtest = result.get("backtest") or result  # a training's result holds its backtest; a backtest's is one
    return page(request, "job.html", title=f"Job {job_id}: {job['kind']}", for_role="analysts", job=job,
                summary=backtest.get("summary"))


@router.get("/jobs/{job_id}/state")
def job_state(job_id: RecordId, store: StoreDep, session: Analyst) -> JSONResponse:
    """What the job page's script polls: status, share done and the latest line."""
    job = get_job(store, job_id)
    return JSONResponse({"status": job["status"], "progress": job["progress"], "message": job["message"],
                         "finished": job["status"] not in ("queued", "running")},
                        headers={"Cache-Control": "no-store"})


@router.get("/models/compare")
def compare(request: Request, store: StoreDep, session: Analyst,
            versions: Annotated[list[int], Query(max_length=10)] = ()):
    """The stored backtest of several versions side by side: the model against its baselines."""
    if len(set(versions)) < 2:
        raise ValidationError("versions: tick two or more model versions to compare")
    rows = [model_row(store, v) for v in sorted(set(versions))]
    measures: dict[str, list] = {}
    charts = {}
    for i, row in enumerate(rows):
        summary = row["metrics"].get("summary", [])
        own = next((r for r in summary if r.get("method") == MODEL), {})
        for key, value in own.items():
            if key != "method":
                measures.setdefault(key, [None] * len(rows))[i] = value
        charts[row["version"]] = bar_chart_svg(
            [(r["method"], r.get(HEADLINE)) for r in summary], highlight=MODEL,
            title=f"Version {row['version']}: {HEADLINE.replace('pai', 'PAI').replace('@', ' at ')} per method "
                  "(mean of the test periods)")
    return page(request, "compare.html", title="Compare model versions", for_role="analysts", rows=rows,
                measures=measures, charts=charts)


@router.get("/models/{version}")
def model_page(request: Request, version: RecordId, store: StoreDep, session: Analyst):
    row = model_row(store, version)
    return page(request, "model.html", title=f"Model version {version}", for_role="analysts", row=row,
                promoted=promoted_version(store) == row["version"])


@router.post("/models/{version}/promote")
def promote(version: RecordId, store: StoreDep, session: Analyst, form: FormSession,
            note: Annotated[str, Form(max_length=1000)] = ""):
    promote_audited(store, version, note.strip(), actor=session.principal.actor)
    return RedirectResponse(f"/analyst/models/{version}", status_code=303)


@router.post("/models/rollback")
def rollback(store: StoreDep, session: Analyst, form: FormSession, note: Annotated[str, Form(max_length=1000)] = ""):
    version = rollback_audited(store, note.strip(), actor=session.principal.actor)
    return RedirectResponse(f"/analyst/models/{version}", status_code=303)

