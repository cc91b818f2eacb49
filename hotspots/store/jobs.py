"""Background jobs (training, backtests) in the store, so every worker of the service sees the same state.

A job goes queued → running → done | failed; a job whose process died is marked ``interrupted``
when its host's service next starts. Progress is a share from 0 to 1 with the last line of news.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import socket

import pandas as pd
from sqlalchemy import insert, select, update

from hotspots.core.errors import NotFoundError
from hotspots.store import audit
from hotspots.store.db import Store
from hotspots.store.schema import jobs

LIST_COLUMNS = ["job_id", "kind", "status", "progress", "message", "created_by", "created_at", "started_at",
                "finished_at"]


def this_worker() -> str:
    """This process as ``host:pid``."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}"


def create_job(store: Store, kind: str, parameters: dict, *, actor: str) -> int:
    """A queued job of this worker, audited as ``actor`` in the same transaction; returns its id."""
    with store.engine.begin() as conn:
        job_id = conn.execute(insert(jobs).values(
            kind=kind, status="queued", parameters=json.dumps(parameters, sort_keys=True, default=str), progress=0.0,
            message="queued", created_by=actor[:80], created_at=_now(), worker=this_worker())).inserted_primary_key[0]
        audit.record(conn, actor, f"job.{kind}", "job", job_id, parameters)
    return int(job_id)


def start_job(store: Store, job_id: int) -> None:
    _set(store, job_id, "queued", status="running", started_at=_now(), message="started")


def report_progress(store: Store, job_id: int, progress: float, message: str) -> None:
    _set(store, job_id, "running", progress=min(max(float(progress), 0.0), 1.0), message=message[:500])


def finish_job(store: Store, job_id: int, result: dict, message: str) -> None:
    _set(store, job_id, "running", status="done", progress=1.0, message=message[:500], finished_at=_now(),
         result=json.dumps(result, default=str))


def fail_job(store: Store, job_id: int, message: str) -> None:
    _set(store, job_id, "running", status="failed", message=message[:500], finished_at=_now())


_INTERRUPTED = "interrupted: the service stopped before it finished; start it again"


def interrupt_worker(store: Store, worker: str) -> int:
    """Mark the unfinished jobs of ``worker`` (host:pid) interrupted, as it stops; returns how many."""
    with store.engine.begin() as conn:
        return conn.execute(update(jobs).where(jobs.c.worker == worker, jobs.c.status.in_(("queued", "running")))
                            .values(status="interrupted", finished_at=_now(), message=_INTERRUPTED)).rowcount


def interrupt_orphans(store: Store) -> int:
    """Mark as interrupted the unfinished jobs of this host whose process is gone; returns how many."""
    host = socket.gethostname()[:60]
    with store.engine.begin() as conn:
        rows = conn.execute(select(jobs.c.job_id, jobs.c.worker)
                            .where(jobs.c.status.in_(("queued", "running")))).all()
        gone = [job_id for job_id, worker in rows
                if worker.rpartition(":")[0] == host and not _alive(int(worker.rpartition(":")[2]))]
        if gone:
            conn.execute(update(jobs).where(jobs.c.job_id.in_(gone)).values(
                status="interrupted", finished_at=_now(), message=_INTERRUPTED))
    return len(gone)


def get_job(store: Store, job_id: int) -> dict:
    """A job's row with its parameters and result decoded; an unknown id is a NotFoundError."""
    with store.engine.connect() as conn:
        row = conn.execute(select(jobs).where(jobs.c.job_id == int(job_id))).mappings().first()
    if row is None:
        raise NotFoundError(f"job {job_id} is not in the store")
    job = dict(row)
    job["parameters"] = json.loads(job["parameters"])
    job["result"] = json.loads(job["result"]) if job["result"] else None
    return job


def list_jobs(store: Store, kind: str | None = None, newest: int = 100) -> pd.DataFrame:
    """The ``newest`` jobs, newest first, optionally of one kind."""
    query = select(*[jobs.c[c] for c in LIST_COLUMNS]).order_by(jobs.c.job_id.desc()).limit(newest)
    if kind is not None:
        query = query.where(jobs.c.kind == kind)
    with store.engine.connect() as conn:
        return pd.read_sql(query, conn)


def _set(store: Store, job_id: int, while_status: str, **values) -> None:
    """Update a job still in ``while_status``: a job marked interrupted as its worker stopped stays so."""
    with store.engine.begin() as conn:
        conn.execute(update(jobs).where(jobs.c.job_id == int(job_id), jobs.c.status == while_status).values(**values))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
